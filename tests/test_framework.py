"""The framework's matrices, pricing tables and figures, as parsed from the corpus Markdown.

Expected values are read from the article's own table rows (a few lines of parsing
here) or stated exactly as the article prints them, so these tests prove that the
parser reads the article rather than a retyped copy of it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advisor_bot.article_map import MAP_FILE, article_map
from advisor_bot.citations import verify_citation
from advisor_bot.config import PROJECT_ROOT
from advisor_bot.corpus import Document, load_corpus
from advisor_bot.errors import ArticleMapError, CitationError, CorpusError
from advisor_bot.framework import Framework, load_framework, parse_models
from advisor_bot.situation import Situation
from advisor_bot.tools import CostScenario, Toolbox

CORPUS = PROJECT_ROOT / "corpus"
FILE = "cro-cdmo-framework.md"
ARTICLE = (CORPUS / FILE).read_text(encoding="utf-8")
STAGE_SECTION = "The Decision Matrix > Project Stage Decision Matrix"
PROFILE_SECTION = "The Decision Matrix > Organizational Profile Decision Matrix"


def md_table(heading: str, text: str = ARTICLE) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """(header cells, [(row line, row cells)]) of the table under ``## heading``."""
    block = text.split(f"## {heading}\n", 1)[1].split("\n#", 1)[0]
    lines = [line for line in block.splitlines() if line.startswith("|")]

    def cells(line: str) -> list[str]:
        return [c.strip() for c in line.strip().strip("|").split("|")]

    return cells(lines[0]), [(line, cells(line)) for line in lines[2:]]


# How the article writes its "Recommended Model" cells, and what each means.
MODEL_CELLS = {
    "CRO": ["CRO"],
    "CDMO": ["CDMO"],
    "CRO or Hybrid": ["CRO", "Hybrid"],
    "Hybrid (CRO + CDMO) or Integrated partner": ["Hybrid", "Integrated partner"],
}

# Every figure the decision tools use, as the article prints it.
FACTS = {
    "cro_fte_rate": (220_000, 380_000, "$220,000 to $380,000 per year", "CRO Pricing Models"),
    "route_scouting_fee": (15_000, 50_000, "$15,000 to $50,000", "CRO Pricing Models"),
    "medchem_campaign_fee": (200_000, 800_000, "$200,000 to $800,000", "CRO Pricing Models"),
    "medchem_campaign_analogs": (50, 200, "50-200 analogs", "CRO Pricing Models"),
    "cdmo_per_kg_simple": (200, 1_000, "$200-$1,000 per kilogram", "CDMO Pricing Models"),
    "cdmo_per_kg_complex": (10_000, 50_000, "$10,000-$50,000 per kilogram", "CDMO Pricing Models"),
    "process_development_fee": (100_000, 500_000, "$100,000 to $500,000", "CDMO Pricing Models"),
    "cost_plus_margin": (15, 30, "typically 15-30%", "CDMO Pricing Models"),
    "cdmo_development_premium": (30, 50, "30-50% higher than CRO rates", "Mistake 1: Engaging a CDMO Too Early"),
    "tech_transfer_duration": (2, 6, "technology transfer is 2-6 months", "CRO-to-CDMO Technology Transfer"),
    "tech_transfer_cost": (50_000, 200_000, "costs of $50,000-$200,000", "CRO-to-CDMO Technology Transfer"),
    "tech_transfer_steps_modified": (10, 30, "10-30% of process steps", "Mistake 3: Underestimating Technology Transfer Complexity"),
    "phase_cro_duration": (6, 18, "CRO Phase (6-18 months)", "Sequential Engagement"),
    "phase_transfer_duration": (2, 6, "Technology Transfer (2-6 months)", "Sequential Engagement"),
}


def documents_of(folder: Path) -> dict[str, Document]:
    return {d.id: d for d in load_corpus(folder)}


@pytest.fixture(scope="module")
def documents() -> dict[str, Document]:
    return documents_of(CORPUS)


@pytest.fixture(scope="module")
def fw(documents: dict[str, Document]) -> Framework:
    return load_framework(documents)


# -- Project Stage Decision Matrix -------------------------------------------

STAGE_HEADER, STAGE_ROWS = md_table("Project Stage Decision Matrix")


def test_the_stage_matrix_header_is_what_the_parser_expects():
    assert STAGE_HEADER == ["Project Stage", "Primary Need", "Recommended Model", "Key Selection Criteria"]


def test_stages_are_read_in_article_order(fw: Framework):
    assert [r.stage for r in fw.stages] == [cells[0] for _, cells in STAGE_ROWS]
    assert len(fw.stages) == 7


@pytest.mark.parametrize(("line", "cells"), STAGE_ROWS, ids=[c[0] for _, c in STAGE_ROWS])
def test_every_stage_row_parses_with_a_verbatim_citation(fw: Framework, documents, line: str, cells: list[str]):
    stage, need, model_cell, criteria = cells
    row = next(r for r in fw.stages if r.stage == stage)
    assert row.primary_need == need
    assert row.criteria == criteria
    assert model_cell in MODEL_CELLS, f"new wording of a Recommended Model cell: {model_cell!r}"
    assert row.models == MODEL_CELLS[model_cell]
    assert row.citation.quote == line
    assert row.citation.section == STAGE_SECTION
    assert row.citation.anchor == "the-decision-matrix--project-stage-decision-matrix"
    assert row.citation.promotional is False
    assert verify_citation(row.citation, documents) is row.citation
    assert documents[FILE].text[row.citation.start : row.citation.end] == line


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("Hybrid (CRO + CDMO) or Integrated partner", ["Hybrid", "Integrated partner"]),
        ("CRO or Hybrid", ["CRO", "Hybrid"]),
        ("CDMO", ["CDMO"]),
        ("cdmo", ["CDMO"]),
        ("Integrated partner or CRO", ["Integrated partner", "CRO"]),
        ("Hybrid (CRO + CDMO)", ["Hybrid"]),
    ],
)
def test_parse_models(cell: str, expected: list[str]):
    assert parse_models(cell) == expected


@pytest.mark.parametrize("cell", ["", "Outsource it", "A contractor of your choice"])
def test_parse_models_rejects_a_cell_naming_no_model(cell: str):
    with pytest.raises(CorpusError, match="Cannot read a recommended model"):
        parse_models(cell)


_NAMES = ["CRO", "CDMO", "Hybrid", "Integrated partner"]


@given(
    st.lists(st.sampled_from(_NAMES), min_size=1, max_size=4, unique=True),
    st.lists(st.sampled_from(["", " (CRO + CDMO)", " (one contract)"]), min_size=4, max_size=4),
    st.booleans(),
)
def test_parse_models_reads_any_or_list_in_order(names: list[str], notes: list[str], lower: bool):
    cell = " or ".join(n + note for n, note in zip(names, notes))
    assert parse_models(cell.lower() if lower else cell) == names


# -- Organizational Profile Decision Matrix -----------------------------------

PROFILE_HEADER, PROFILE_ROWS = md_table("Organizational Profile Decision Matrix")


def test_profile_matrix_has_its_seven_factors(fw: Framework):
    assert PROFILE_HEADER == ["Factor", "Favors CRO", "Favors CDMO", "Favors Hybrid"]
    assert [r.factor for r in fw.profile] == [cells[0] for _, cells in PROFILE_ROWS]
    assert len(fw.profile) == 7


@pytest.mark.parametrize(("line", "cells"), PROFILE_ROWS, ids=[c[0] for _, c in PROFILE_ROWS])
def test_every_profile_factor_has_its_three_cells(fw: Framework, documents, line: str, cells: list[str]):
    factor, cro, cdmo, hybrid = cells
    row = next(r for r in fw.profile if r.factor == factor)
    assert {k: c.text for k, c in row.cells.items()} == {"CRO": cro, "CDMO": cdmo, "Hybrid": hybrid}
    text = documents[FILE].text
    for cell in row.cells.values():
        assert text[cell.start : cell.end] == cell.text
    assert row.citation.quote == line
    assert row.citation.section == PROFILE_SECTION
    verify_citation(row.citation, documents)


# -- Pricing tables ------------------------------------------------------------


def test_all_eight_pricing_models_with_their_provider(fw: Framework, documents):
    expected = [
        (provider, line, cells)
        for provider in ("CRO", "CDMO")
        for line, cells in md_table(f"{provider} Pricing Models")[1]
    ]
    assert len(expected) == 8
    assert [(m.provider, m.name) for m in fw.pricing] == [(p, cells[0]) for p, _, cells in expected]
    for m, (provider, line, (name, structure, best_for, risk)) in zip(fw.pricing, expected):
        assert (m.structure, m.best_for, m.risk) == (structure, best_for, risk)
        assert m.citation.quote == line
        assert m.citation.section.endswith(f"> {provider} Pricing Models")
        verify_citation(m.citation, documents)


def test_pricing_names_include_the_article_models(fw: Framework):
    by_provider = {p: [m.name for m in fw.pricing if m.provider == p] for p in ("CRO", "CDMO")}
    assert by_provider["CRO"] == ["FTE-Based", "Project-Based (Fixed Price)", "Time-and-Materials (T&M)", "Milestone-Based"]
    assert by_provider["CDMO"] == ["Batch-Based", "Campaign-Based", "Cost-Plus", "Take-or-Pay"]


# -- Figures (facts) -------------------------------------------------------------


@pytest.mark.parametrize("key", list(FACTS))
def test_every_fact_is_read_with_a_verbatim_citation(fw: Framework, documents, key: str):
    low, high, printed, section_title = FACTS[key]
    fact = fw.fact(key)
    assert (fact.low, fact.high) == (low, high)
    assert fact.span == (low, high)
    assert printed in fact.citation.quote
    assert fact.citation.section.split(" > ")[-1] == section_title
    verify_citation(fact.citation, documents)
    assert fact.unit and fact.label


@pytest.mark.parametrize("key", list(FACTS))
def test_fact_citations_are_whole_sentences_or_lines(fw: Framework, documents, key: str):
    c = fw.fact(key).citation
    text = documents[FILE].text
    assert text[c.start - 1] in " \n", "the quote starts mid-sentence"
    assert c.end == len(text) or text[c.end] in " \n", "the quote stops mid-word"
    assert c.quote.rstrip().endswith((".", "|")) or text[c.end] == "\n"


def test_every_parsed_fact_verifies(fw: Framework, documents):
    assert set(FACTS) <= set(fw.facts)
    for fact in fw.facts.values():
        verify_citation(fact.citation, documents)
        assert fact.high is None or fact.low <= fact.high


def test_an_unknown_fact_raises_a_corpus_error_naming_it(fw: Framework):
    with pytest.raises(CorpusError, match="no_such_figure"):
        fw.fact("no_such_figure")


# -- The framework follows the corpus ------------------------------------------

FTE_OLD, FTE_NEW = "$220,000 to $380,000", "$250,000 to $400,000"
IND_OLD = "| IND-enabling studies | GMP material for tox studies, CMC documentation | CDMO |"
IND_NEW = "| IND-enabling studies | GMP material for tox studies, CMC documentation | Hybrid |"


def edit(folder: Path, old: str, new: str) -> None:
    path = folder / FILE
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_facts_and_stage_rows_follow_an_edited_corpus(corpus_copy: Path, documents):
    edit(corpus_copy, FTE_OLD, FTE_NEW)
    edit(corpus_copy, IND_OLD, IND_NEW)
    edited_docs = documents_of(corpus_copy)
    fw = load_framework(edited_docs)

    rate = fw.fact("cro_fte_rate")
    assert rate.span == (250_000, 400_000)
    assert FTE_NEW in rate.citation.quote
    verify_citation(rate.citation, edited_docs)

    ind = next(r for r in fw.stages if r.stage == "IND-enabling studies")
    assert ind.models == ["Hybrid"]
    assert ind.citation.quote.startswith(IND_NEW) and ind.citation.quote.endswith("| cGMP compliance, regulatory filing experience, quality systems |")
    verify_citation(ind.citation, edited_docs)
    with pytest.raises(CitationError):  # the quote is the edited text, not the shipped one
        verify_citation(ind.citation, documents)

    # Everything else is unchanged.
    shipped = load_framework(documents)
    assert [r.models for r in fw.stages if r is not ind] == [r.models for r in shipped.stages if r.stage != ind.stage]
    assert {k: f.span for k, f in fw.facts.items() if k != "cro_fte_rate"} == {
        k: f.span for k, f in shipped.facts.items() if k != "cro_fte_rate"
    }


def test_cost_estimate_and_stage_tool_follow_an_edited_corpus(corpus_copy: Path):
    edit(corpus_copy, FTE_OLD, FTE_NEW)
    edit(corpus_copy, IND_OLD, IND_NEW)
    toolbox = Toolbox(load_framework(documents_of(corpus_copy)))

    cost = toolbox.estimate_cost(CostScenario(fte=2, months=12))
    assert (cost.low, cost.high) == (500_000, 800_000)
    assert FTE_NEW in cost.items[0].citation.quote
    assert "$250,000-$400,000" in cost.items[0].basis

    assert toolbox.stage_recommendation("IND-enabling studies").row.models == ["Hybrid"]  # type: ignore[union-attr]
    # The stage factor of the profile is read from the edited row too: IND-enabling is still past candidate selection.
    profile = toolbox.profile_assessment(Situation(stage="IND-enabling studies"))
    assert [a.favours for a in profile.assessments] == ["CDMO"]


def test_crlf_line_endings_parse_to_the_same_framework(corpus_copy: Path, fw: Framework):
    path = corpus_copy / FILE
    path.write_bytes(path.read_text(encoding="utf-8").replace("\n", "\r\n").encode("utf-8"))
    crlf = load_framework(documents_of(corpus_copy))
    assert [(r.stage, r.models, r.citation.quote) for r in crlf.stages] == [
        (r.stage, r.models, r.citation.quote) for r in fw.stages
    ]
    assert {k: (f.span, f.citation.quote) for k, f in crlf.facts.items()} == {
        k: (f.span, f.citation.quote) for k, f in fw.facts.items()
    }
    assert all("\r" not in r.citation.quote for r in [*crlf.stages, *crlf.profile])


# -- A broken framework fails loudly, saying what is missing ----------------------


def _stage_table_text() -> str:
    return ARTICLE.split("## Project Stage Decision Matrix\n", 1)[1].split("\n#", 1)[0]


def test_removing_the_stage_table_names_the_missing_table(corpus_copy: Path):
    table = "\n".join(line for line in _stage_table_text().splitlines() if line.startswith("|"))
    edit(corpus_copy, table + "\n", "")
    with pytest.raises(CorpusError) as err:
        load_framework(documents_of(corpus_copy))
    message = str(err.value)
    assert "Project Stage Decision Matrix" in message
    assert "table" in message


def test_removing_the_stage_section_names_the_missing_matrix(corpus_copy: Path):
    edit(corpus_copy, "## Project Stage Decision Matrix\n" + _stage_table_text(), "")
    with pytest.raises(CorpusError, match="Project Stage Decision Matrix"):
        load_framework(documents_of(corpus_copy))


def test_a_renamed_column_names_the_missing_column(corpus_copy: Path):
    edit(corpus_copy, "| Project Stage | Primary Need | Recommended Model |", "| Project Stage | Primary Need | Suggested Model |")
    with pytest.raises(CorpusError, match=re.escape("'Recommended Model'")):
        load_framework(documents_of(corpus_copy))


def test_an_unreadable_model_cell_is_quoted_in_the_error(corpus_copy: Path):
    edit(corpus_copy, IND_OLD, "| IND-enabling studies | GMP material for tox studies, CMC documentation | Ask around |")
    with pytest.raises(CorpusError, match="Ask around"):
        load_framework(documents_of(corpus_copy))


def test_a_removed_figure_is_absent_not_misread(corpus_copy: Path):
    sentence = "Process development fees (before production begins) typically range from $100,000 to $500,000 for pilot-scale demonstration."
    edit(corpus_copy, " " + sentence, "")
    fw = load_framework(documents_of(corpus_copy))
    assert "process_development_fee" not in fw.facts
    with pytest.raises(CorpusError, match="process_development_fee"):
        Toolbox(fw).estimate_cost(CostScenario(kg=10, process_development=True))


# -- The article map: one place that says where each fact lives ------------------------


def test_a_renamed_heading_of_the_map_is_named_at_load(corpus_copy: Path):
    edit(corpus_copy, "## Avoiding Technology Transfer Altogether", "## Skipping the Transfer")
    with pytest.raises(ArticleMapError, match=r"no heading 'Avoiding Technology Transfer Altogether' \(article map key 'avoid_transfer'\)") as err:
        load_framework(documents_of(corpus_copy))
    assert (err.value.key, err.value.heading) == ("avoid_transfer", "Avoiding Technology Transfer Altogether")


def test_the_map_states_every_figure_the_article_has(fw: Framework):
    assert set(fw.facts) == set(fw.article.figures)
    assert all(fw.facts[k].label == f.label and fw.facts[k].citation.section.endswith(fw.article.heading(f.section)) for k, f in fw.article.figures.items())


def test_a_key_the_map_uses_but_does_not_define_is_refused(tmp_path: Path):
    text = MAP_FILE.read_text(encoding="utf-8").replace("section: tech_transfer,", "section: tech_transfr,", 1)
    (tmp_path / "map.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(CorpusError, match="tech_transfr"):
        article_map(tmp_path / "map.yaml")


def test_a_profile_row_the_article_lost_is_named(fw: Framework):
    gone = fw.model_copy(update={"profile": [r for r in fw.profile if not r.factor.startswith("Volume")]})
    with pytest.raises(CorpusError, match="'volume'"):
        Toolbox(gone).profile_assessment(Situation(quantity={"value": 5, "unit": "kg"}))  # type: ignore[arg-type]


def test_no_heading_of_the_article_is_written_in_the_code():
    """Code refers to the article's facts by key: a heading of the map in a module is a second copy."""
    headings = [*article_map().sections.values(), *article_map().mistakes.values()]
    modules = [p for p in (PROJECT_ROOT / "advisor_bot").rglob("*.py")] + list((PROJECT_ROOT / "ui").rglob("*.py"))
    copies = [(p.name, h) for p in modules for h in headings if f'"{h}"' in p.read_text(encoding="utf-8") or f"'{h}'" in p.read_text(encoding="utf-8")]
    assert copies == []
