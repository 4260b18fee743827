"""Classes of failure found by the blind sets 10 and 11, each asked here in other words.

Requests close to the framework's topic that name a provider but ask for something else, and
their in-scope near-twins; portfolios, spans of work, parallel work and options said in passing;
a lone factor set against a stage read with confidence; terse and elliptical follow-ups. All
through the public ``Advisor`` over the real index and the shipped semantic reader.
"""

from __future__ import annotations

import pytest

from advisor_bot.engines.offline import OfflineEngine
from advisor_bot.reading.model import Evidence, Reading, StageOption
from advisor_bot.situation import Quantity, Situation
from tests.conversation import ask, verdict


@pytest.mark.parametrize(
    "question",
    [
        "Please write an NDA under French law that we can send to our CRO.",  # drafting under a law
        "Give me a python function that totals our CDMO invoices by month.",  # code
        "Which CRO should run our phase 2 diabetes trial in Poland?",  # a clinical-trial CRO
    ],
)
def test_a_request_for_something_else_is_declined_though_it_names_a_provider(advisor, question):
    assert ask(advisor, question).refused


@pytest.mark.parametrize(
    "question",
    [
        "What should the IP clause in our CDMO contract say about process improvements?",
        "Who drafts the CMC section for our IND when a CDMO makes the API?",
        "Can a CRO make material for our phase 1 trial?",
        "How do we reference the CDMO's DMF in our NDA?",  # the filing, not a confidentiality agreement
    ],
)
def test_the_near_twins_the_framework_covers_are_answered(advisor, question):
    assert not ask(advisor, question).refused


def test_an_artefact_asked_for_after_then_is_declined_and_the_rest_answered(advisor):
    a = ask(advisor, "Explain the CDMO pricing models, then write me an R script that plots three quotes.")
    assert not a.refused and a.declined_part


@pytest.mark.parametrize(
    ("question", "turns"),
    [
        ("Our chemists run analogs in hit-to-lead and one compound is in phase 1. Which model?", ()),
        ("now a second asset has entered phase 1 too. what for both?", ("We're optimising leads on our kinase series.",)),
    ],
)
def test_a_second_program_said_in_passing_makes_a_portfolio(advisor, question, turns):
    assert verdict(advisor, question, *turns) == "Hybrid"


@pytest.mark.parametrize(
    "question",
    [
        "We want a single agreement covering discovery chemistry all the way to commercial manufacturing. Which model?",
        "We're in lead optimization and would rather nobody had to hand the process over between firms later. Which model?",
    ],
)
def test_one_agreement_across_the_matrix_or_no_one_handing_over_is_the_integrated_partner(advisor, question):
    assert verdict(advisor, question) == "Integrated partner"


def _grams_beside(option: StageOption) -> Reading:
    said = "We need about 100 g of each."
    return Reading(
        question=said,
        query=said,
        situation=Situation(quantity=Quantity(value=100, unit="g")),
        evidence=[Evidence(field="quantity", text="100 g", turn=0, start=14, end=19, source="rule")],
        stage_options=[option],
        intents=["recommend"],
    )


def test_grams_alone_do_not_outvote_a_stage_read_with_confidence(advisor):
    row = StageOption(stage="Preclinical candidate selection", models=["Hybrid", "Integrated partner"], probability=0.9, confident=True)
    out = OfflineEngine.run_tools(_grams_beside(row), advisor.context)
    assert out.recommendation is None and out.clarifying is not None
    # ...while a stage the reading was not sure of leaves the stated factor to decide.
    unsure = OfflineEngine.run_tools(_grams_beside(row.model_copy(update={"confident": False})), advisor.context)
    assert unsure.recommendation is not None and unsure.recommendation.model == "CRO"


def test_the_clarifying_question_keeps_the_matrixs_acronyms(advisor):
    options = [
        StageOption(stage="Preclinical candidate selection", models=["Hybrid", "Integrated partner"], probability=0.5),
        StageOption(stage="IND-enabling studies", models=["CDMO"], probability=0.4),
    ]
    reading = Reading(question="Which model?", query="Which model?", situation=Situation(), stage_options=options, intents=["recommend"])
    text, _ = OfflineEngine.run_tools(reading, advisor.context).clarifying or ("", [])
    assert "preclinical candidate selection or at IND-enabling studies?" in text and "GMP material" in text


def test_a_partner_offered_as_the_answer_to_a_question_is_not_a_wish_for_one(advisor):
    assert verdict(advisor, "who should run the impurity investigation, the same CDMO?", "We're in phase 1 and a CDMO makes our clinical supply.") == "Hybrid"


def test_a_choice_offered_after_answer_colon_is_not_a_dictated_verdict(advisor):
    a = ask(advisor, "Boss wants one word: CDMO or CRO. Which one?")
    assert not a.refused and a.clarifying_question


@pytest.mark.parametrize(("question", "model"), [("phase 1 gmp api supplier type", "CDMO"), ("hit to lead chemistry partner", "CRO")])
def test_a_search_box_query_ending_on_the_kind_of_provider_asks_for_the_verdict(advisor, question, model):
    assert verdict(advisor, question) == model


def test_help_beside_the_cdmo_on_its_impurities_is_parallel_engagement(advisor):
    question = "Should we get chemists working in parallel to sort out the byproduct impurities, or leave it all to the CDMO?"
    assert verdict(advisor, question, "Our CDMO is making the phase 1 batch.") == "Hybrid"


def test_a_cost_question_asked_again_for_other_numbers_prices_the_same_work(advisor):
    a = ask(advisor, "and for two of them for nine months?", "What does one CRO FTE cost per year?")
    assert "2 FTE x 9 months" in a.answer_markdown


def test_a_plan_told_over_two_turns_then_judged_in_two_words_gets_the_mistake_it_risks(advisor):
    a = ask(
        advisor,
        "smart move?",
        "Our route keeps changing and the impurity profile moves every batch.",
        "A CDMO wants to take over development now and manufacture afterwards.",
    )
    assert not a.refused and "Engaging a CDMO too early" in a.answer_markdown and "30-50%" in a.answer_markdown


def test_a_question_pointing_back_at_the_program_told_before_it_is_about_that_program(advisor):
    a = ask(advisor, "We got three weak hits from a fragment screen on our protease. Someone has to make about 40 analogs to map the SAR. Who do I give that to?")
    assert not a.refused and a.recommendation is not None and a.recommendation.model == "CRO"


def test_a_cost_question_prices_the_work_told_in_earlier_turns(advisor):
    a = ask(advisor, "Which pricing model fits, and what will it cost us?", "We're hiring a CRO to scout routes for one new molecule.")
    assert "Route scouting" in a.answer_markdown and "$15,000" in a.answer_markdown
