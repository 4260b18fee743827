"""The corpus file against its seed article, its sections, and the chunks cut from them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from advisor_bot.chunks import Chunk, section_chunks
from advisor_bot.config import PROJECT_ROOT, Settings
from advisor_bot.corpus import PREAMBLE_HEADING, Document, Section, parse_sections, read_document
from advisor_bot.testing import FakeEmbedder

CORPUS = PROJECT_ROOT / "corpus"
# The article the corpus renders (shared/seeds/000_d8e90ed96cb45ebb.txt), kept with the tests so a
# fresh clone needs nothing outside the repository.
SEED = PROJECT_ROOT / "tests" / "data" / "seed.txt"
FRAMEWORK = CORPUS / "cro-cdmo-framework.md"
PROMOTIONAL = ("Why ChemContract Spans the CRO-CDMO Continuum", "Partner With Industry Veterans")
MAX_TOKENS = 256  # all-MiniLM-L6-v2 silently truncates input past this many word-pieces
_TABLE_SEPARATOR = re.compile(r"^[\s|:-]+$")


def _seed_lines() -> list[str]:
    return [line.strip() for line in SEED.read_text(encoding="utf-8").splitlines() if line.strip()]


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|") if c.strip()]


def _sentences(line: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", line) if s]


@pytest.fixture(scope="module")
def doc() -> Document:
    return read_document(FRAMEWORK, corpus_dir=CORPUS)


@pytest.fixture(scope="module")
def sections(doc: Document) -> list[Section]:
    return parse_sections(doc)


def _table_blocks(sections: list[Section]):
    return [(sec, b) for sec in sections for b in sec.blocks if b.kind == "table"]


# -- 1. corpus fidelity ------------------------------------------------------


def test_seed_is_the_expected_article():
    lines = _seed_lines()
    assert lines[0].startswith("The acronyms CRO and CDMO appear constantly")
    assert sum(1 for line in lines if line.startswith("|")) > 20


def test_every_seed_sentence_appears_verbatim_in_corpus():
    corpus = FRAMEWORK.read_text(encoding="utf-8")
    prose = [s for line in _seed_lines() if not line.startswith("|") for s in _sentences(line)]
    assert len(prose) > 150
    missing = [s for s in prose if s not in corpus]
    assert missing == []


def test_every_seed_table_cell_appears_verbatim_in_corpus():
    corpus = FRAMEWORK.read_text(encoding="utf-8")
    table_lines = [line for line in _seed_lines() if line.startswith("|")]
    cells = [c for line in table_lines if not _TABLE_SEPARATOR.match(line) for c in _cells(line)]
    assert len(cells) == 4 * (4 + 1) * 2 + 4 * (7 + 1) * 2  # two 4-row and two 7-row tables, 4 columns each
    missing = [c for c in cells if c not in corpus]
    assert missing == []
    # Rows are kept whole, so a cell never drifts into another row.
    corpus_lines = {line.strip() for line in corpus.splitlines()}
    assert [line for line in table_lines if not _TABLE_SEPARATOR.match(line) and line not in corpus_lines] == []


def test_corpus_body_adds_nothing_but_markdown_structure(doc: Document):
    seed_lines = set(_seed_lines())
    body_lines = [re.sub(r"^#{1,6}\s+", "", line).strip() for line in doc.text[doc.body_start :].splitlines()]
    extra = [line for line in body_lines if line and line not in seed_lines and not _TABLE_SEPARATOR.match(line)]
    assert extra == []


def test_front_matter_has_title_publisher_and_promotional_sections(doc: Document):
    raw = FRAMEWORK.read_text(encoding="utf-8")
    meta = yaml.safe_load(raw.split("---\n")[1])
    assert meta["title"] == doc.title == "CRO vs CDMO: A Decision Framework for Chemical Development Outsourcing"
    assert meta["publisher"] == doc.publisher == "ChemContract"
    assert tuple(meta["promotional_sections"]) == doc.promotional_sections == PROMOTIONAL
    # The promotional names are real headings of the body, not typos.
    for name in PROMOTIONAL:
        assert re.search(rf"^# {re.escape(name)}$", raw, re.MULTILINE)
    assert doc.text[: doc.body_start].startswith("---\n") and doc.text[: doc.body_start].endswith("---\n")
    assert doc.text[doc.body_start :].lstrip().startswith("The acronyms CRO and CDMO")


# -- sections ----------------------------------------------------------------


def _expected_heading_paths(text: str) -> list[tuple[str, ...]]:
    """An independent oracle: walk the ATX headings of the file."""
    paths: list[tuple[str, ...]] = []
    stack: list[tuple[int, str]] = []
    for m in re.finditer(r"^(#{1,6}) (.+?)\s*$", text, re.MULTILINE):
        level, title = len(m.group(1)), m.group(2)
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        paths.append(tuple(t for _, t in stack))
    return paths


def test_section_heading_paths(doc: Document, sections: list[Section]):
    paths = [s.heading_path for s in sections]
    assert paths[0] == (PREAMBLE_HEADING,)
    assert paths[1:] == _expected_heading_paths(doc.text[doc.body_start :])
    texts = {s.path_text for s in sections}
    for expected in (
        "The Decision Matrix > Project Stage Decision Matrix",
        "The Decision Matrix > Organizational Profile Decision Matrix",
        "Cost Structures: How CROs and CDMOs Price Their Services > CRO Pricing Models",
        "Common Outsourcing Mistakes > Mistake 3: Underestimating Technology Transfer Complexity",
        "Frequently Asked Questions > When should I transition from a CRO to a CDMO?",
        "Why ChemContract Spans the CRO-CDMO Continuum",
    ):
        assert expected in texts
    assert {s.level for s in sections} == {1, 2}


def test_section_anchors_are_unique_slugs(sections: list[Section]):
    anchors = [s.anchor for s in sections]
    assert len(anchors) == len(set(anchors))
    assert all(re.fullmatch(r"[a-z0-9]+(?:-+[a-z0-9]+)*", a) for a in anchors)
    by_path = {s.path_text: s.anchor for s in sections}
    assert by_path["The Decision Matrix > Project Stage Decision Matrix"] == "the-decision-matrix--project-stage-decision-matrix"


def test_section_offsets_point_at_their_headings(doc: Document, sections: list[Section]):
    intro = sections[0]
    assert doc.text[intro.start :].startswith("The acronyms CRO and CDMO")
    for sec in sections[1:]:
        heading = f"{'#' * sec.level} {sec.title}"
        assert doc.text[sec.start : sec.start + len(heading)] == heading
        assert sec.start == 0 or doc.text[sec.start - 1] == "\n"
    for prev, nxt in zip(sections, sections[1:]):
        assert prev.start < prev.end <= nxt.start
        assert doc.text[prev.end : nxt.start].strip() == ""
    assert doc.text[sections[-1].end :].strip() == ""
    for sec in sections:
        assert doc.text[sec.start : sec.end] == doc.text[sec.start : sec.end].rstrip()
        for block in sec.blocks:
            assert sec.start <= block.start < block.end <= sec.end


def test_section_blocks_have_expected_kinds(sections: list[Section]):
    by_path = {s.path_text: s for s in sections}
    stage = by_path["The Decision Matrix > Project Stage Decision Matrix"]
    assert [b.kind for b in stage.blocks] == ["table"]
    cro = by_path["Defining the Terms: CRO and CDMO Are Not Interchangeable > Contract Research Organizations (CROs)"]
    assert [b.kind for b in cro.blocks] == ["paragraph", "list", "paragraph"]
    assert len(_table_blocks(sections)) == 4


def test_promotional_flag_only_on_the_two_promotional_sections(sections: list[Section]):
    flagged = [s.path_text for s in sections if s.promotional]
    assert flagged == list(PROMOTIONAL)


def test_duplicate_headings_get_distinct_anchors_and_promotion_reaches_subsections(tmp_path: Path):
    path = tmp_path / "dup.md"
    path.write_text(
        "---\ntitle: Dup\npromotional_sections:\n  - Buy Now\n---\n"
        "# Notes\n\nFirst.\n\n# Notes\n\nSecond.\n\n# Buy Now\n\nPitch.\n\n## Details\n\nMore pitch.\n",
        encoding="utf-8",
    )
    d = read_document(path, corpus_dir=tmp_path)
    secs = parse_sections(d)
    assert [s.anchor for s in secs] == ["notes", "notes-2", "buy-now", "buy-now--details"]
    assert [s.promotional for s in secs] == [False, False, True, True]
    assert d.text[secs[1].start : secs[1].end] == "# Notes\n\nSecond."


# -- 2. chunks ---------------------------------------------------------------


@pytest.fixture(scope="module")
def real_chunks(doc: Document, sections: list[Section], embedder) -> list[Chunk]:
    limit = Settings().chunk_tokens
    return [c for sec in sections for c in section_chunks(doc, sec, count_tokens=embedder.count_tokens, limit=limit)]


def test_chunk_ids_are_unique(real_chunks: list[Chunk]):
    ids = [c.id for c in real_chunks]
    assert len(ids) == len(set(ids))
    slots = [c.slot for c in real_chunks]
    assert len(slots) == len(set(slots))


def test_no_section_chunk_cuts_a_table(sections: list[Section], real_chunks: list[Chunk]):
    section_units = [c for c in real_chunks if c.kind == "section"]
    for sec, table in _table_blocks(sections):
        overlapping = [c for c in section_units if c.start < table.end and table.start < c.end]
        assert len(overlapping) == 1, sec.path_text
        assert overlapping[0].start <= table.start and table.end <= overlapping[0].end


def test_no_section_chunk_cuts_a_table_even_with_the_smallest_budget(doc: Document, sections: list[Section]):
    fake = FakeEmbedder()
    units = [c for sec in sections for c in section_chunks(doc, sec, count_tokens=fake.count_tokens, limit=32)]
    section_units = [c for c in units if c.kind == "section"]
    assert len(section_units) > len(sections)  # the small budget really did split prose
    for _, table in _table_blocks(sections):
        overlapping = [c for c in section_units if c.start < table.end and table.start < c.end]
        assert len(overlapping) == 1
        assert overlapping[0].start <= table.start and table.end <= overlapping[0].end


def test_each_table_row_has_a_row_chunk_with_the_header(doc: Document, sections: list[Section], real_chunks: list[Chunk]):
    rows_seen = 0
    for sec, table in _table_blocks(sections):
        lines = doc.text[table.start : table.end].split("\n")
        header, rows = lines[0], lines[2:]
        assert header.startswith("|") and _TABLE_SEPARATOR.match(lines[1])
        units = [c for c in real_chunks if c.kind == "row" and c.anchor == sec.anchor]
        assert len(units) == len(rows)
        for row, unit in zip(rows, units):
            assert doc.text[unit.start : unit.end] == row
            assert header in unit.text and row in unit.text
            assert unit.text.index(header) < unit.text.index(row)
            assert unit.section == sec.path_text
        rows_seen += len(rows)
    assert rows_seen == 7 + 7 + 4 + 4


def test_ind_enabling_row_chunk(real_chunks: list[Chunk]):
    rows = [c for c in real_chunks if c.kind == "row" and "| IND-enabling studies |" in c.text]
    assert len(rows) == 1
    assert rows[0].section == "The Decision Matrix > Project Stage Decision Matrix"
    assert "| Project Stage | Primary Need | Recommended Model | Key Selection Criteria |" in rows[0].text
    assert "| CDMO |" in rows[0].text


def test_every_chunk_span_is_contained_in_its_text(doc: Document, real_chunks: list[Chunk]):
    for c in real_chunks:
        assert c.start < c.end
        span = doc.text[c.start : c.end]
        assert span.strip() and span in c.text, c.slot
        assert c.text.startswith(c.section + "\n")


def test_section_chunks_cover_every_block(doc: Document, sections: list[Section], real_chunks: list[Chunk]):
    covered: set[int] = set()
    for c in real_chunks:
        if c.kind == "section":
            covered.update(range(c.start, c.end))
    lost = [
        (sec.path_text, i)
        for sec in sections
        for b in sec.blocks
        for i in range(b.start, b.end)
        if not doc.text[i].isspace() and i not in covered
    ]
    assert lost == []


def test_non_table_section_chunks_fit_the_model(sections: list[Section], real_chunks: list[Chunk], embedder):
    tables = [b for _, b in _table_blocks(sections)]
    prose = [c for c in real_chunks if c.kind == "section" and not any(c.start <= t.start < c.end for t in tables)]
    assert len(prose) > 30
    too_long = {c.slot: embedder.count_tokens(c.text) for c in prose if embedder.count_tokens(c.text) > MAX_TOKENS}
    assert too_long == {}


def test_long_paragraph_is_split_into_pieces_that_fit(tmp_path: Path, embedder):
    sentence = "Technology transfer between a CRO and a separate CDMO introduces information loss and delays. "
    path = tmp_path / "long.md"
    path.write_text("# Long\n\n" + sentence * 40 + "\n", encoding="utf-8")
    d = read_document(path, corpus_dir=tmp_path)
    (sec,) = parse_sections(d)
    units = section_chunks(d, sec, count_tokens=embedder.count_tokens, limit=200)
    assert len(units) > 1
    assert all(embedder.count_tokens(u.text) <= MAX_TOKENS for u in units)
    assert "".join(d.text[u.start : u.end] for u in units).replace(" ", "") == (sentence * 40).replace(" ", "")


def test_row_spans_exclude_line_terminators_in_crlf_files(tmp_path: Path):
    """A corpus file saved with Windows line endings must quote rows without a stray '\\r'."""
    path = tmp_path / "crlf.md"
    path.write_bytes(b"# T\r\n\r\n| a | b |\r\n|---|---|\r\n| 1 | 2 |\r\n| 3 | 4 |\r\n\r\nText.\r\n")
    d = read_document(path, corpus_dir=tmp_path)
    (sec,) = parse_sections(d)
    rows = [c for c in section_chunks(d, sec, count_tokens=FakeEmbedder().count_tokens, limit=200) if c.kind == "row"]
    assert [d.text[c.start : c.end] for c in rows] == ["| 1 | 2 |", "| 3 | 4 |"]
