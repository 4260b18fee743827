"""Index mechanics with the fake embedder: idempotent ingest, incremental updates, safe failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor_bot.advisor import Advisor
from advisor_bot.config import Settings
from advisor_bot.corpus import slugify
from advisor_bot.errors import AdvisorError, CorpusError, IndexMissingError, IndexStaleError
from advisor_bot.index import Index
from advisor_bot.testing import FakeEmbedder

FRAMEWORK = "cro-cdmo-framework.md"
WHERE_CROS = "the-capability-gap-between-cros-and-cdmos--where-cros-excel"
WHERE_CDMOS = "the-capability-gap-between-cros-and-cdmos--where-cdmos-excel"


def make_index(corpus: Path, data: Path, embedder: FakeEmbedder | None = None, **settings) -> Index:
    return Index(settings=Settings(corpus_dir=corpus, data_dir=data, **settings), embedder=embedder or FakeEmbedder())


def calls(embedder: FakeEmbedder) -> int:
    return getattr(embedder, "calls", 0)


def ids_by_anchor(index: Index) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for c in index.load().chunks:
        out.setdefault(c.anchor, set()).add(c.id)
    return out


def assert_spans_match(index: Index) -> None:
    snap = index.load()
    for c in snap.chunks:
        assert snap.documents[c.document].text[c.start : c.end] in c.text, c.slot


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture()
def built(corpus_copy: Path, data_dir: Path) -> Index:
    index = make_index(corpus_copy, data_dir)
    index.ingest()
    return index


def test_first_ingest_embeds_every_chunk_once(corpus_copy: Path, data_dir: Path):
    fake = FakeEmbedder()
    index = make_index(corpus_copy, data_dir, fake)
    expected = index.chunk(index.read_documents())
    report = index.ingest()
    assert report.added == len(expected) == calls(fake)
    assert (report.updated, report.removed, report.unchanged) == (0, 0, 0)
    assert report.documents == [FRAMEWORK]
    snap = index.load()
    assert sorted(c.id for c in snap.chunks) == sorted(c.id for c in expected) == snap.manifest.chunk_ids
    assert snap.manifest.corpus_version == report.corpus_version


def test_second_ingest_is_a_no_op(built: Index, corpus_copy: Path, data_dir: Path):
    first = built.load()
    fake = FakeEmbedder()
    report = make_index(corpus_copy, data_dir, fake).ingest()
    assert (report.added, report.updated, report.removed) == (0, 0, 0)
    assert report.unchanged == len(first.chunks)
    assert (report.added, report.updated, report.removed) == (0, 0, 0)
    assert calls(fake) == 0
    assert report.corpus_version == first.manifest.corpus_version


def test_editing_one_sentence_reembeds_only_that_section(built: Index, corpus_copy: Path, data_dir: Path):
    before = ids_by_anchor(built)
    assert len(before[WHERE_CROS]) >= 1
    path = corpus_copy / FRAMEWORK
    text = path.read_text(encoding="utf-8")
    old = "Equipment is chosen for versatility rather than throughput."
    assert text.count(old) == 1
    # A longer sentence: every later chunk's offsets move.
    path.write_text(text.replace(old, "Equipment is selected for its versatility rather than throughput."), encoding="utf-8")

    fake = FakeEmbedder()
    index = make_index(corpus_copy, data_dir, fake)
    report = index.ingest()
    after = ids_by_anchor(index)

    assert report.updated == len(before[WHERE_CROS]) == calls(fake)
    assert (report.added, report.removed) == (0, 0)
    assert after[WHERE_CROS].isdisjoint(before[WHERE_CROS])
    assert len(after[WHERE_CROS]) == len(before[WHERE_CROS])
    others_before = {a: ids for a, ids in before.items() if a != WHERE_CROS}
    others_after = {a: ids for a, ids in after.items() if a != WHERE_CROS}
    assert others_after == others_before
    # Chunks after the edit kept their ids but their offsets follow the new text.
    assert_spans_match(index)
    edited = [c for c in index.load().chunks if c.anchor == WHERE_CROS and c.kind == "section"]
    assert any("selected for its versatility" in c.text for c in edited)


def test_deleting_a_section_removes_its_chunks(built: Index, corpus_copy: Path, data_dir: Path):
    before = ids_by_anchor(built)
    n = len(before[WHERE_CDMOS])
    path = corpus_copy / FRAMEWORK
    text = path.read_text(encoding="utf-8")
    start, end = text.index("## Where CDMOs Excel"), text.index("## The Gap in the Middle")
    path.write_text(text[:start] + text[end:], encoding="utf-8")

    fake = FakeEmbedder()
    index = make_index(corpus_copy, data_dir, fake)
    report = index.ingest()
    after = ids_by_anchor(index)
    assert report.removed == n
    assert (report.added, report.updated) == (0, 0)
    assert calls(fake) == 0
    assert WHERE_CDMOS not in after
    assert not any("reproducible execution" in c.text for c in index.load().chunks)
    assert {a: ids for a, ids in before.items() if a != WHERE_CDMOS} == after
    assert_spans_match(index)


def test_new_md_and_txt_files_are_indexed(built: Index, corpus_copy: Path, data_dir: Path):
    (corpus_copy / "audits.md").write_text(
        "---\ntitle: Audit notes\n---\n# Audits\n\nCDMO audits cover batch records and deviations.\n", encoding="utf-8"
    )
    fake = FakeEmbedder()
    index = make_index(corpus_copy, data_dir, fake)
    report = index.ingest()
    assert report.documents == ["audits.md", FRAMEWORK]
    assert report.added == calls(fake) == 1
    snap = index.load()
    assert snap.documents["audits.md"].title == "Audit notes"
    assert [c.section for c in snap.chunks if c.document == "audits.md"] == ["Audits"]

    (corpus_copy / "sub").mkdir()
    (corpus_copy / "sub" / "notes.txt").write_text("Plain notes about tech transfer budgets.\n", encoding="utf-8")
    (corpus_copy / "ignored.pdf").write_bytes(b"%PDF-1.4 not indexed")
    fake = FakeEmbedder()
    index = make_index(corpus_copy, data_dir, fake)
    report = index.ingest()
    assert report.documents == ["audits.md", FRAMEWORK, "sub/notes.txt"]
    assert report.added == calls(fake) == 1
    snap = index.load()
    assert sorted(snap.documents) == ["audits.md", FRAMEWORK, "sub/notes.txt"]
    (txt,) = [c for c in snap.chunks if c.document == "sub/notes.txt"]
    assert snap.documents["sub/notes.txt"].text[txt.start : txt.end] == "Plain notes about tech transfer budgets."
    assert txt.section == "Introduction"


def test_load_after_removing_the_manifest_raises_index_missing(built: Index, data_dir: Path):
    manifests = list(data_dir.glob("*.manifest.json"))
    assert len(manifests) == 1
    manifests[0].unlink()
    with pytest.raises(IndexMissingError, match="ingest"):
        built.load()


def test_load_with_a_damaged_manifest_raises_index_missing(built: Index, data_dir: Path):
    (manifest,) = data_dir.glob("*.manifest.json")
    manifest.write_text('{"collection": "trunc', encoding="utf-8")
    with pytest.raises(IndexMissingError, match="ingest"):
        built.load()


def test_load_after_editing_the_corpus_without_ingest_raises_index_stale(built: Index, corpus_copy: Path):
    path = corpus_copy / FRAMEWORK
    path.write_text(path.read_text(encoding="utf-8").replace("CROs are built", "CROs were built", 1), encoding="utf-8")
    with pytest.raises(IndexStaleError, match="ingest") as info:
        built.load()
    assert FRAMEWORK in str(info.value)


def test_load_after_deleting_an_indexed_file_raises_index_stale(built: Index, corpus_copy: Path):
    (corpus_copy / FRAMEWORK).unlink()
    with pytest.raises(IndexStaleError, match="ingest"):
        built.load()


BAD_FILES = {
    "empty.md": b"",
    "blank.md": b"  \n\n\t\n",
    "front-matter-only.md": b"---\ntitle: Nothing here\n---\n\n",
    "latin1.md": "Caf\xe9 au lait: a r\xe9sum\xe9 of CRO pricing.".encode("latin-1"),
    "image.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_corpus_file_is_rejected_and_index_left_unchanged(built: Index, corpus_copy: Path, data_dir: Path, name: str):
    (manifest,) = data_dir.glob("*.manifest.json")
    manifest_before = manifest.read_bytes()
    snap_before = built.load()
    (corpus_copy / name).write_bytes(BAD_FILES[name])

    fake = FakeEmbedder()
    index = make_index(corpus_copy, data_dir, fake)
    with pytest.raises(CorpusError) as info:
        index.ingest()
    assert name in str(info.value)
    assert calls(fake) == 0
    assert manifest.read_bytes() == manifest_before
    snap_after = index.load()
    assert snap_after.manifest == snap_before.manifest
    assert [(c.id, c.start, c.end) for c in snap_after.chunks] == [(c.id, c.start, c.end) for c in snap_before.chunks]


def test_bad_corpus_file_in_a_fresh_data_dir_writes_no_index(corpus_copy: Path, data_dir: Path):
    (corpus_copy / "bad.md").write_bytes(b"\xff\xfe\x00broken")
    index = make_index(corpus_copy, data_dir)
    with pytest.raises(CorpusError, match="bad.md"):
        index.ingest()
    with pytest.raises(IndexMissingError):
        index.load()


def test_collection_name_contains_the_model_name(built: Index, corpus_copy: Path, data_dir: Path):
    assert slugify(FakeEmbedder.name) in built.collection_name
    assert built.load().manifest.model == FakeEmbedder.name

    class OtherModel(FakeEmbedder):
        name = "other-model-v2"

    other = make_index(corpus_copy, data_dir, OtherModel())
    assert "other-model-v2" in other.collection_name
    assert other.collection_name != built.collection_name
    # An index built with one model is never served to another.
    with pytest.raises(IndexMissingError, match="ingest"):
        other.load()


def test_real_collection_name_contains_the_real_model_name(advisor):
    assert slugify(advisor.embedder.name) == "all-minilm-l6-v2"
    assert "all-minilm-l6-v2" in advisor.index.collection_name
    assert advisor.index.load().manifest.model == "all-MiniLM-L6-v2"


def test_ask_before_ingest_raises_index_missing(corpus_copy: Path, data_dir: Path):
    adv = Advisor(settings=Settings(corpus_dir=corpus_copy, data_dir=data_dir), embedder=FakeEmbedder())
    with pytest.raises(IndexMissingError, match="ingest") as info:
        adv.ask("Should we use a CRO or a CDMO?")
    assert isinstance(info.value, AdvisorError)
    assert "advisor-bot ingest" in str(info.value)


def test_advisor_ingest_refreshes_a_loaded_context(corpus_copy: Path, data_dir: Path):
    adv = Advisor(settings=Settings(corpus_dir=corpus_copy, data_dir=data_dir), embedder=FakeEmbedder())
    adv.ingest()
    v1 = adv.ask("What do CROs charge per FTE?").corpus_version
    (corpus_copy / "extra.md").write_text("# Extra\n\nA note on CDMO audits.\n", encoding="utf-8")
    report = adv.ingest()
    assert report.added == 1
    v2 = adv.ask("What do CROs charge per FTE?").corpus_version
    assert v1 != v2 == report.corpus_version


def test_heading_longer_than_the_budget_does_not_crash_ingest(tmp_path: Path):
    """A deep or long heading path leaves no token budget for the body; ingest must not die with a ValueError."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    heading = "Considerations for selecting an integrated chemical development partner across every stage"
    (corpus / "deep.md").write_text(
        f"# {heading}\n\n## {heading} again\n\n### {heading} once more\n\n"
        "Integrated partners remove the technology transfer step between research and manufacturing.\n",
        encoding="utf-8",
    )
    index = make_index(corpus, tmp_path / "data", chunk_tokens=32)
    try:
        index.ingest()
    except AdvisorError:
        return  # a clear, actionable refusal is acceptable
    assert any("Integrated partners" in c.text for c in index.load().chunks)
