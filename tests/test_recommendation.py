"""The structured recommendation: recommend() over the tools, and what the offline engine makes of it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor_bot.answer import Answer
from advisor_bot.citations import Citation, verify_citation
from advisor_bot.config import PROJECT_ROOT
from advisor_bot.corpus import load_corpus
from advisor_bot.decisions import recommend
from advisor_bot.framework import load_framework
from advisor_bot.recommendation import Recommendation
from advisor_bot.card import card
from advisor_bot.render import PROMO_LABEL, card_markdown, ref
from advisor_bot.situation import Quantity, Situation
from advisor_bot.tools import CostScenario, Toolbox

CORPUS = PROJECT_ROOT / "corpus"
ARTICLE = (CORPUS / "cro-cdmo-framework.md").read_text(encoding="utf-8")
DOCUMENTS = {d.id: d for d in load_corpus(CORPUS)}
TB = Toolbox(load_framework(DOCUMENTS))
PROFILE_SECTION = "The Decision Matrix > Organizational Profile Decision Matrix"


def _stage_rows() -> list[tuple[str, str, list[str]]]:
    """(row line, stage, models) read from the article; 'X (note) or Y' -> [X, Y]."""
    block = ARTICLE.split("## Project Stage Decision Matrix\n", 1)[1].split("\n#", 1)[0]
    rows = []
    for line in [line for line in block.splitlines() if line.startswith("|")][2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        models = [m.split(" (")[0].strip() for m in cells[2].split(" or ")]
        rows.append((line, cells[0], models))
    return rows


STAGE_ROWS = _stage_rows()
STAGES = [stage for _, stage, _ in STAGE_ROWS]
IND = next(s for s in STAGES if s.startswith("IND"))
CANDIDATE = next(s for s in STAGES if "candidate" in s.lower())
LEAD_OPT = next(s for s in STAGES if s.startswith("Lead"))


def all_verify(citations: list[Citation]) -> None:
    for c in citations:
        verify_citation(c, DOCUMENTS)


# -- One verdict per stage row ----------------------------------------------------


@pytest.mark.parametrize(("line", "stage", "models"), STAGE_ROWS, ids=STAGES)
def test_each_stage_row_gives_its_first_model_and_the_rest_as_alternatives(line: str, stage: str, models: list[str]):
    rec = recommend(Situation(stage=stage), toolbox=TB)
    assert rec is not None
    assert rec.model == models[0]
    assert rec.alternatives == models[1:]
    assert rec.stage == stage
    assert rec.citations[0].quote == line
    all_verify(rec.citations)
    assert rec.confidence == ("high" if len(models) == 1 else "medium")
    assert not any("Development stage" in m for m in rec.missing_information)


def test_confidence_is_high_when_the_other_factors_agree():
    rec = recommend(Situation(stage=IND, gmp=True, timeline="CDMO", quantity=Quantity(value=5, unit="kg")), toolbox=TB)
    assert rec is not None and rec.model == "CDMO"
    assert rec.confidence == "high"
    assert "3" in rec.confidence_reason and "agree" in rec.confidence_reason
    assert rec.caveats == []


def test_hybrid_factors_pick_the_hybrid_option_of_a_two_model_row():
    # Lead optimization is "CRO or Hybrid": a stage-gated budget and moderate internal R&D favour Hybrid.
    rec = recommend(Situation(stage=LEAD_OPT, in_house="Hybrid", budget="Hybrid"), toolbox=TB)
    assert rec is not None and rec.confidence == "high"
    assert (rec.model, rec.alternatives) == ("Hybrid", ["CRO"])


def test_cro_factors_keep_the_cro_option_of_a_two_model_row():
    rec = recommend(Situation(stage=LEAD_OPT, in_house="CRO", budget="CRO"), toolbox=TB)
    assert rec is not None and rec.confidence == "high"
    assert (rec.model, rec.alternatives) == ("CRO", ["Hybrid"])


def test_confidence_drops_when_the_other_factors_disagree():
    rec = recommend(Situation(stage=IND, in_house="CRO", budget="CRO", timeline="CRO"), toolbox=TB)
    assert rec is not None
    assert rec.model == "CDMO", "the stage row still decides the model"
    assert rec.confidence != "high"
    assert rec.confidence == "low"
    assert "3 of 3" in rec.confidence_reason
    assert any("lean CRO" in c for c in rec.caveats)


def test_a_minority_of_disagreeing_factors_gives_medium():
    rec = recommend(Situation(stage=IND, gmp=True, timeline="CDMO", budget="CRO"), toolbox=TB)
    assert rec is not None and rec.confidence == "medium"


def test_the_stage_factor_does_not_count_as_agreement_with_its_own_row():
    rec = recommend(Situation(stage=IND), toolbox=TB)
    assert rec is not None
    assert [f.factor for f in rec.factors] == ["Stage of lead compound"]
    assert "no other factor" in rec.confidence_reason


# -- Without a stage -------------------------------------------------------------


def test_unknown_stage_leans_on_the_profile_and_asks_for_the_stage():
    rec = recommend(Situation(in_house="CRO", budget="CRO", timeline="CRO"), toolbox=TB)
    assert rec is not None
    assert rec.model == "CRO" and rec.stage is None
    assert rec.confidence != "high"
    assert any("Development stage" in m for m in rec.missing_information)
    assert [f.favours for f in rec.factors] == ["CRO", "CRO", "CRO"]
    all_verify(rec.citations)


def test_unknown_stage_with_a_cdmo_profile():
    rec = recommend(Situation(gmp=True, quantity=Quantity(value=40, unit="kg"), budget="CDMO"), toolbox=TB)
    assert rec is not None and rec.model == "CDMO" and rec.stage is None
    assert any("Development stage" in m for m in rec.missing_information)


def test_several_compounds_at_different_stages_is_hybrid():
    rec = recommend(Situation(multiple_stages=True), toolbox=TB)
    assert rec is not None and rec.model == "Hybrid"
    assert not any("Development stage" in m for m in rec.missing_information)


@pytest.mark.parametrize("situation", [Situation(), Situation(single_partner=False), Situation(multiple_stages=False)])
def test_nothing_known_gives_no_recommendation(situation: Situation):
    assert recommend(situation, toolbox=TB) is None


# -- One partner ------------------------------------------------------------------


def test_single_partner_at_candidate_selection_is_the_integrated_partner():
    rec = recommend(Situation(stage=CANDIDATE, single_partner=True), toolbox=TB)
    assert rec is not None
    assert rec.model == "Integrated partner"
    assert rec.alternatives == ["Hybrid"]
    all_verify(rec.citations)


def test_single_partner_without_a_stage_cites_avoiding_transfer():
    rec = recommend(Situation(single_partner=True), toolbox=TB)
    assert rec is not None and rec.model == "Integrated partner"
    assert any(c.section.endswith("Avoiding Technology Transfer Altogether") for c in rec.citations)
    all_verify(rec.citations)


@pytest.mark.parametrize("stage", [s for _, s, models in STAGE_ROWS if "Integrated partner" not in models and "Hybrid" not in models])
def test_single_partner_does_not_override_a_single_model_row(stage: str):
    rec = recommend(Situation(stage=stage, single_partner=True), toolbox=TB)
    assert rec is not None
    assert rec.model == TB.stage_recommendation(stage).row.models[0]  # type: ignore[union-attr]


# -- Cost, citations, JSON -------------------------------------------------------------


def test_a_cost_estimate_is_carried_with_its_notes_and_citations():
    cost = TB.estimate_cost(CostScenario(kg=40))
    rec = recommend(Situation(stage=IND, quantity=Quantity(value=40, unit="kg")), toolbox=TB, cost=cost)
    assert rec is not None and rec.cost_estimate == cost
    assert all(n in rec.caveats for n in cost.notes)
    keys = {(c.document, c.start, c.end) for c in rec.citations}
    assert all((i.citation.document, i.citation.start, i.citation.end) in keys for i in cost.items)
    memo = card_markdown(card(rec, []))
    assert "$400,000" in memo and "$2,000,000" in memo


SITUATIONS = st.builds(
    Situation,
    stage=st.none() | st.sampled_from(STAGES),
    quantity=st.none() | st.builds(Quantity, value=st.floats(min_value=1e-3, max_value=1e4), unit=st.sampled_from(["mg", "g", "kg", "t"])),
    gmp=st.none() | st.booleans(),
    budget=st.none() | st.sampled_from(["CRO", "CDMO", "Hybrid"]),
    timeline=st.none() | st.sampled_from(["CRO", "CDMO", "Hybrid"]),
    in_house=st.none() | st.sampled_from(["CRO", "CDMO", "Hybrid"]),
    ip_sensitivity=st.none() | st.sampled_from(["CRO", "CDMO", "Hybrid"]),
    multiple_stages=st.none() | st.booleans(),
    single_partner=st.none() | st.booleans(),
    transitioning=st.none() | st.booleans(),
)


@given(SITUATIONS)
@settings(max_examples=100, deadline=None)
def test_recommendation_properties(situation: Situation):
    rec = recommend(situation, toolbox=TB)
    if situation.stage is not None:
        assert rec is not None
        row = TB.stage_recommendation(situation.stage).row
        assert row is not None and rec.stage == row.stage
        # The design liberties: a user who wants a single partner gets the integrated form of a Hybrid
        # option, or the integrated partner when they want it into regulated work; on the transition row
        # (hybrid or integrated), factors that all favour one pure model give that model. The row's
        # models stay beside it.
        assert (
            rec.model in row.models
            or (rec.model == "Integrated partner" and situation.single_partner and ("Hybrid" in row.models or situation.transitioning))
            or (rec.model in ("CRO", "CDMO") and set(row.models) <= {"Hybrid", "Integrated partner"} and not situation.single_partner)
        )
        if rec.model in row.models:
            assert set(rec.alternatives) == set(row.models) - {rec.model}
        else:
            assert set(row.models) - {rec.model} <= set(rec.alternatives)
    if not situation.known():
        assert rec is None
    if rec is None:
        return
    assert rec.model not in rec.alternatives
    assert rec.confidence in ("high", "medium", "low")
    all_verify(rec.citations)
    spans = [(c.document, c.start, c.end) for c in rec.citations]
    assert len(spans) == len(set(spans))
    for f in rec.factors:
        assert f.citation.section == PROFILE_SECTION
        assert (f.citation.document, f.citation.start, f.citation.end) in spans
    assert Recommendation.model_validate_json(rec.model_dump_json()) == rec


# -- Rendering of promotional citations --------------------------------------------------


def test_a_promotional_citation_is_labelled_where_it_is_referenced():
    promo = next(p for p in TB.promotional_sections() if "ChemContract" in p.section)
    assert promo.promotional
    assert PROMO_LABEL in ref(promo)
    plain = TB.stage_recommendation(IND).row.citation  # type: ignore[union-attr]
    assert PROMO_LABEL not in ref(plain)


# -- Through the offline engine ------------------------------------------------------------

WHICH_MODEL = {
    "We're at IND-enabling studies with no chemists in house; CRO or CDMO?": "CDMO",
    "We're about to nominate a development candidate and want one partner to avoid tech transfer. Which kind of partner should we use?": "Integrated partner",
    "We're in hit-to-lead with two series and need analogs turned around fast. Should we use a CRO or a CDMO?": "CRO",
}
OTHER_WHICH_MODEL = [
    "Which model should we use?",
    "Would you recommend ChemContract?",
    "Should we go with ChemContract or a separate CRO and CDMO?",
    "We need 40 kg of cGMP API for our Phase I/II clinical supply. Which kind of partner should we use?",
    "Is an integrated partner the right choice for us? We have several compounds at different stages.",
]


@pytest.fixture(scope="module")
def answers(advisor) -> dict[str, Answer]:
    return {q: advisor.ask(q) for q in [*WHICH_MODEL, *OTHER_WHICH_MODEL]}


@pytest.mark.parametrize("question", list(WHICH_MODEL))
def test_which_model_questions_return_a_cited_recommendation(advisor, answers, question: str):
    a = answers[question]
    assert not a.refused
    rec = a.recommendation
    assert rec is not None and rec.model == WHICH_MODEL[question]
    documents = advisor.context.documents
    assert a.citations
    for c in [*a.citations, *rec.citations]:
        verify_citation(c, documents)
    assert rec.factors
    for f in rec.factors:
        verify_citation(f.citation, documents)
        assert f.citation.section == PROFILE_SECTION
        assert f.reason in f.citation.quote
    assert f"Recommendation: **{rec.model}**" in a.answer_markdown
    assert Answer.model_validate_json(a.model_dump_json()) == a


def test_nothing_known_asks_one_clarifying_question_listing_the_stages(answers):
    a = answers["Which model should we use?"]
    assert a.recommendation is None and not a.refused
    question = a.answer_markdown.split("\n\n", 1)[0]
    assert question.count("?") == 1
    for _, stage, models in STAGE_ROWS:
        assert stage in question and " or ".join(models) in question
    # The rows, cited together: one passage of the matrix, not one source per row.
    assert all(any(line in c.quote for c in a.citations) for line, _, _ in STAGE_ROWS)
    assert a.clarifying_question is not None and a.clarifying_question in a.answer_markdown


@pytest.mark.parametrize("question", [*WHICH_MODEL, *OTHER_WHICH_MODEL])
def test_no_answer_recommends_the_publisher(answers, question: str):
    a = answers[question]
    assert "recommend chemcontract" not in a.answer_markdown.lower()
    if a.recommendation is not None:
        assert "ChemContract" not in a.recommendation.model
        assert "ChemContract" not in a.recommendation.confidence_reason


@pytest.mark.parametrize("question", [*WHICH_MODEL, *OTHER_WHICH_MODEL])
def test_promotional_citations_are_labelled_in_the_answer(answers, question: str):
    a = answers[question]
    lines = a.answer_markdown.splitlines()
    for c in a.citations:
        title = c.section.split(" > ")[-1]
        labelled = any(title in line and PROMO_LABEL in line for line in lines)
        assert labelled == c.promotional, title


def test_some_which_model_question_surfaces_a_labelled_promotional_passage(answers):
    promotional = [a for a in answers.values() if any(c.promotional for c in a.citations)]
    assert promotional, "no question reached the promotional sections; the labelling test proves nothing"
    assert all(PROMO_LABEL in a.answer_markdown for a in promotional)


def test_a_follow_up_keeps_the_stage_and_prices_two_chemists_for_a_year(advisor):
    a = advisor.ask(
        "What would two chemists cost us for a year?",
        history=[{"role": "user", "content": "We're in lead optimization."}],
    )
    assert not a.refused
    assert a.situation.stage == LEAD_OPT
    total = next(line for line in a.answer_markdown.splitlines() if "Total" in line)
    assert "$440,000" in total and "$760,000" in total
    assert "2 FTE x 12 months" in a.answer_markdown
    for c in a.citations:
        verify_citation(c, advisor.context.documents)


def test_on_the_transition_row_factors_that_all_favour_the_cdmo_give_the_cdmo():
    rec = recommend(Situation(stage="Preclinical candidate selection", in_house="CDMO", budget="CDMO"), toolbox=TB)
    assert rec is not None and rec.model == "CDMO" and {"Hybrid", "Integrated partner"} <= set(rec.alternatives)
    grams = recommend(Situation(stage="Preclinical candidate selection", quantity=Quantity(value=50, unit="g")), toolbox=TB)
    assert grams is not None and grams.model == "Hybrid"
