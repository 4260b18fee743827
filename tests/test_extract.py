"""Reading a situation and routing a question, from the ways people actually write them.

Stage labels are read from the corpus's Project Stage Decision Matrix, not retyped:
cases name a stage by a short prefix of its label.
"""

from __future__ import annotations

from functools import reduce

import pytest

from advisor_bot.config import PROJECT_ROOT
from advisor_bot.reading.rules import extract_situation
from advisor_bot.reading.intents import Intent, route
from advisor_bot.situation import Quantity, Situation


def _matrix_stages() -> list[str]:
    text = (PROJECT_ROOT / "corpus" / "cro-cdmo-framework.md").read_text(encoding="utf-8")
    table = text.split("## Project Stage Decision Matrix", 1)[1].split("\n#", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("|")][2:]  # after the header and its rule
    return [row.split("|")[1].strip() for row in rows]


STAGES = _matrix_stages()


def label(prefix: str) -> str:
    matches = [s for s in STAGES if s.startswith(prefix)]
    assert len(matches) == 1, (prefix, STAGES)
    return matches[0]


def case(text: str, **expected: object) -> object:
    return pytest.param(text, expected, id=text[:60])


def expected_situation(expected: dict[str, object]) -> dict[str, object]:
    fields = dict(expected)
    if "stage" in fields:
        fields["stage"] = label(str(fields["stage"]))
    if "quantity" in fields:
        value, unit = fields["quantity"]  # type: ignore[misc]
        fields["quantity"] = Quantity(value=value, unit=unit)
    return fields


def test_the_matrix_has_its_seven_stages() -> None:
    assert len(STAGES) == 7
    assert len({label(p) for p in ("Hit id", "Hit-to", "Lead", "Preclin", "IND", "Phase I/", "Phase III")}) == 7


SITUATIONS = [
    # Hit identification / lead discovery
    case("We're doing early discovery on a new kinase target.", stage="Hit id"),
    case("Still at hit finding — we just ran an HTS and have a handful of actives.", stage="Hit id"),
    case("Need someone to design a focused library around our target", stage="Hit id"),
    case("hit ID stage, no chemists on staff", stage="Hit id", in_house="CRO"),
    case("target is validated, now we need compounds for our first screens", stage="Hit id"),
    case("Drug discovery startup, we're a virtual biotech", stage="Hit id", in_house="CRO"),
    # Hit-to-lead
    case("We're in hit-to-lead with two series.", stage="Hit-to"),
    case("our H2L program needs analogs turned around fast", stage="Hit-to", timeline="CRO"),
    case("hit to lead, running SAR around three hits", stage="Hit-to"),
    case("We need analogues made for SAR exploration", stage="Hit-to"),
    case("we are in the Hit-to-lead optimization phase", stage="Hit-to"),
    case("We need tons of analogs, honestly", stage="Hit-to"),
    case("there's a ton of SAR work ahead of us", stage="Hit-to"),
    # Lead optimization
    case("We're in lead op", stage="Lead"),
    case("Lead optimisation, starting to think about scalability", stage="Lead"),
    case("we are in lead optimzation (sorry, typing on my phone)", stage="Lead"),
    case("Our LO program needs a process-relevant route.", stage="Lead"),
    case("we're lead-opt stage with 3 in-house med chemists", stage="Lead", in_house="Hybrid"),
    case("Our lead is still being optimized and we need analogs every week", stage="Lead", timeline="CRO"),
    case("lead optimization, only one chemist in-house", stage="Lead", in_house="CRO"),
    # Preclinical candidate selection
    case("Candidate selection is next month.", stage="Preclin"),
    case("We're about to nominate a development candidate.", stage="Preclin"),
    case("PCC nomination planned for Q2; we need multigram material", stage="Preclin", quantity=(5, "g")),
    case("we're preclinical, a small chemistry team of our own", stage="Preclin", in_house="Hybrid"),
    case("lead optimization is done, what about candidate selection?", stage="Preclin"),
    # IND-enabling
    case("Finished lead op, moving into IND-enabling.", stage="IND"),
    case("We need GLP tox batches made", stage="IND"),
    case("Our IND is planned for next year and we need toxicology material", stage="IND"),
    case("CTA-enabling work in the EU", stage="IND"),
    case("Preparing the IND; tox lots have to be GMP", stage="IND", gmp=True),
    case("moving from lead op into IND enabling studies", stage="IND"),
    case("GMP-grade API for the tox study please", stage="IND", gmp=True),
    # Phase I/II
    case("we're in Phase 1", stage="Phase I/"),
    case("Phase I/II supply is what we're planning", stage="Phase I/"),
    case("phase 2a trial starting soon", stage="Phase I/"),
    case("first-in-human study in Q1, need clinical supply", stage="Phase I/"),
    case("FIH next year", stage="Phase I/"),
    case("We're planning a proof-of-concept trial", stage="Phase I/"),
    case("We're in Phase 2 and need 40 kg GMP API", stage="Phase I/", quantity=(40, "kg"), gmp=True),
    case("after IND we'll need clinical supply for Phase 1", stage="Phase I/"),
    case("we're in phase ii", stage="Phase I/"),
    case("the ph2 study starts in May", stage="Phase I/"),
    case("We're post-IND, gearing up for the clinic", stage="Phase I/"),
    # Phase III / commercial
    case("Pivotal trial starts next year", stage="Phase III"),
    case("we're in Phase 2 and planning for launch", stage="Phase III"),
    case("registration batches and PPQ next year", stage="Phase III"),
    case("Approved product, we need commercial supply", stage="Phase III"),
    case("We launch in 2027", stage="Phase III"),
    case("We completed Phase 2 and are starting Phase III", stage="Phase III"),
    case("Phase 2/3 seamless design", stage="Phase III"),
    case("2 tons a year at launch", stage="Phase III", quantity=(2, "t")),
    # Every mention in the past: the latest is the last known position
    case("We wrapped up hit-to-lead last month.", stage="Hit-to"),
    # Portfolios
    case("We have one compound in hit-to-lead and another in Phase 1", multiple_stages=True),
    case("Our portfolio spans discovery through Phase 2", multiple_stages=True),
    case("Three programs: one in discovery, the others are in the clinic", multiple_stages=True),
    case("We've got a pipeline of five assets at different stages", multiple_stages=True),
    case("IP sensitivity varies across the portfolio", multiple_stages=True, ip_sensitivity="Hybrid"),
    case(
        "fast turnaround on backup compounds and a hard supply deadline for the lead",
        multiple_stages=True,
        timeline="Hybrid",
    ),
    # Quantities
    case("~200 mg of each analog", stage="Hit-to", quantity=(200, "mg")),
    case("about 1.5 kg of the intermediate", quantity=(1.5, "kg")),
    case("we need 40kg by June", quantity=(40, "kg")),
    case("a few grams for in vivo PK", quantity=(3, "g")),
    case("500 milligrams should do", quantity=(500, "mg")),
    case("several kilos of the penultimate", quantity=(5, "kg")),
    case("a couple of grams", quantity=(2, "g")),
    case("a 1,000 kg campaign", quantity=(1000, "kg")),
    case("roughly 5 metric tonnes annually", quantity=(5, "t")),
    case("dosing at 10 mg/kg in rats, so we need about 20 g", quantity=(20, "g")),
    case("We need kilogram quantities", quantity=(1, "kg")),
    case("half a kilo", quantity=(0.5, "kg")),
    case("a few hundred grams", quantity=(300, "g")),
    case("anything from 100 g to 1 kg", quantity=(1, "kg")),
    case("5-10 kg per batch", quantity=(10, "kg")),
    case("kilograms now, probably tons later", quantity=(1, "t")),
    case("Our salt is only stable at pH 2"),
    # GMP, and its negations
    case("It needs to be cGMP", gmp=True),
    case("We don't need GMP yet", gmp=False),
    case("We don’t need GMP material", gmp=False),
    case("non-GMP material is fine", gmp=False),
    case("research-grade material only", gmp=False),
    case("GMP isn't required for these studies", gmp=False),
    case("moving from research-grade to GMP", gmp=True, transitioning=True),
    case("our discovery CRO did the SAR; now we need GLP tox batches", stage=label("IND")),
    case("hit to lead - cro or cdmo?", stage=label("Hit-to")),
    case("we'd rather not do a CRO->CDMO handover again", single_partner=True),
    case("Our in-house process chem team is strong", in_house="CDMO"),
    case("pre-GMP material for now", gmp=False),
    case("Is it ok to skip GMP for the tox batches?", stage="IND", gmp=False),
    case("We want 3 kg of GMP material in 5 months", quantity=(3, "kg"), gmp=True, timeline="CDMO"),
    # Budget
    case("Everything has to run through opex", budget="CRO"),
    case("pay-as-you-go, no upfront commitments", budget="CRO"),
    case("We have capex available for a campaign", budget="CDMO"),
    case("budget gets released per milestone", budget="Hybrid"),
    case("We have capital for campaigns but research has to be opex", budget="Hybrid"),
    case("Stage-gated funding from the board", budget="Hybrid"),
    # Timeline
    case("DMTA cycles every week", timeline="CRO"),
    case("fast turnaround matters most", timeline="CRO"),
    case("We have a hard supply deadline in March", timeline="CDMO"),
    case("There's no hard deadline, we just want it done right"),
    case("the material is due about four months out, a real production deadline", timeline="CDMO"),
    # In-house chemistry
    case("We're a virtual biotech", in_house="CRO"),
    case("no in-house chemists at all", in_house="CRO"),
    case("we don't have any chemists", in_house="CRO"),
    case("all biologists here", in_house="CRO"),
    case("we have a small chemistry team", in_house="Hybrid"),
    case("We have strong process chemistry in-house", in_house="CDMO"),
    case("We have 4 chemists", in_house="Hybrid"),
    case("We don't have strong process chemistry"),
    case("What would two chemists cost us for a year?"),
    # IP sensitivity
    case("novel scaffolds, very IP sensitive", ip_sensitivity="CRO"),
    case("The structure is already patented, it's the process that matters", ip_sensitivity="CDMO"),
    case("proprietary SAR we can't have leaking", ip_sensitivity="CRO"),
    # One partner for everything
    case("We'd like one partner for everything", single_partner=True),
    case("we want to avoid technology transfer", single_partner=True),
    case("We prefer separate specialist vendors", single_partner=False),
    case("one-stop shop vs separate vendors, pros and cons?"),
    case("we don't want to be locked into a single vendor", single_partner=False),
    case("Roughly how many reactions a week can one CRO chemist get through?"),
    case("Which CDMO is best for IND-enabling API? Name one company.", stage="IND"),
    case("we'd rather have the same company for research and manufacturing", single_partner=True),
    # Everything at once
    case(
        "6-person biotech, all biologists, no chemists; we need ~200 mg each of 30 analogs for SAR, non-GMP is fine",
        stage="Hit-to",
        quantity=(200, "mg"),
        gmp=False,
        in_house="CRO",
    ),
    case(
        "We need 40 kg of API made under GMP for our Phase 2 trials by next spring; our in-house process group "
        "already has a defined route.",
        stage="Phase I/",
        quantity=(40, "kg"),
        gmp=True,
        timeline="CDMO",
        in_house="CDMO",
    ),
]


@pytest.mark.parametrize(("text", "expected"), SITUATIONS)
def test_extract_situation(text: str, expected: dict[str, object]) -> None:
    assert extract_situation(text, stages=STAGES).known() == expected_situation(expected)


def test_a_label_missing_from_the_matrix_is_not_recognised() -> None:
    without = [s for s in STAGES if s not in (label("Lead"), label("IND"))]
    assert extract_situation("We're in lead optimization", stages=without).stage is None
    assert extract_situation("We need GLP tox batches", stages=without).stage is None
    # The neighbouring label still is, and does not claim the missing one's words.
    assert extract_situation("We're in hit-to-lead", stages=without).stage == label("Hit-to")
    assert extract_situation("finished hit-to-lead, now in lead op", stages=without).stage == label("Hit-to")


def test_british_rewording_of_a_label_still_resolves() -> None:
    reworded = [s.replace("optimization", "optimisation") for s in STAGES]
    assert extract_situation("We're in lead op", stages=reworded).stage == label("Lead").replace("ization", "isation")


ROUTES: list[object] = [
    # recommend
    case("CRO or CDMO?", intents=["recommend"]),
    case("What kind of partner should we use for our tox batches?", intents=["recommend"]),
    case("what outsourcing model should we go with", intents=["recommend"]),
    case("Who should make our tox batches?", intents=["recommend"]),
    case("Do we need a CDMO yet?", intents=["recommend"]),
    case("Should we keep our med chem CRO or move?", intents=["recommend"]),
    case("What fits our situation?", intents=["recommend"]),
    case("which vendor type suits our portfolio", intents=["recommend"]),
    case("Should we hire a CRO or a CDMO for IND-enabling work?", intents=["recommend"]),
    case("what's the best partner for hit-to-lead?", intents=["recommend"]),
    case("Is a CRO enough for 200 mg of analogs?", intents=["recommend"]),
    case("cro, cdmo, or hybrid for phase 2??", intents=["recommend"]),
    case("Which provider do we need for commercial supply", intents=["recommend"]),
    # cost
    case("What would two chemists cost us for a year?", intents=["cost"]),
    case("How much for 40 kg?", intents=["cost"]),
    case("ballpark budget for route scouting?", intents=["cost"]),
    case("What's the price per kilo for a simple 3-step intermediate?", intents=["cost"]),
    case("how expensive is process development at a CDMO", intents=["cost"]),
    # pricing
    case("FTE or fixed price for a med chem team?", intents=["pricing"]),
    case("What's T&M pricing?", intents=["pricing"]),
    case("is take-or-pay normal for commercial supply?", intents=["pricing"]),
    case("What margin does a CDMO add on cost-plus?", intents=["pricing"]),
    case("which CRO pricing model fits an open-ended feasibility study", intents=["pricing"]),
    # ip
    case("Who owns the IP from a CRO project?", intents=["ip"]),
    case("Can the CDMO patent our process improvements?", intents=["ip"]),
    case("Do we get a licence or an assignment of the inventions?", intents=["ip"]),
    case("who keeps the know-how after the project?", intents=["ip"]),
    # regulatory
    case("Who writes Module 3?", intents=["regulatory"]),
    case("Will the CDMO host the pre-approval inspection?", intents=["regulatory"]),
    case("Does the CDMO file a DMF for us?", intents=["regulatory"]),
    case("who handles the CMC section of the filing", intents=["regulatory"]),
    # transfer
    case("How long does tech transfer take?", intents=["transfer"]),
    case("How do we hand off the process from the CRO to the CDMO?", intents=["transfer"]),
    case("what goes in a technology transfer package", intents=["transfer"]),
    # transition
    case("When should we move from a CRO to a CDMO?", intents=["transition"]),
    case("sequential or parallel engagement?", intents=["transition"]),
    case("Can one partner do both?", intents=["transition"]),
    case("Could a CRO work on the backup route while our CDMO runs the current one?", intents=["transition"]),
    # mistakes
    case("What are the common mistakes?", intents=["mistakes"]),
    case("What are the risks of going straight to a CDMO?", intents=["mistakes"]),
    case("red flags that a CRO route won't scale", intents=["mistakes"]),
    case("Do we need to update our quality agreement now that we're going GMP?", intents=["mistakes"]),
    # definition
    case("What is a CDMO?", intents=["definition"]),
    case("difference between a CRO and a CDMO", intents=["definition"]),
    case("what does CRO stand for", intents=["definition"]),
    case("In one line: CRO vs CDMO?", intents=["definition"]),
    # several, in the order asked
    case("What goes wrong with tech transfer?", intents=["mistakes", "transfer"]),
    case("What would two chemists cost us, and on what pricing model?", intents=["cost", "pricing"]),
    case("Who owns the data, and who files the DMF?", intents=["ip", "regulatory"]),
    case("How much would a tech transfer cost?", intents=["cost", "transfer"]),
    case("We want one partner to avoid tech transfer; which model fits?", intents=["transfer", "recommend"]),
    # general questions: retrieval only
    case("what's the weather in Basel", intents=[]),
    case("Tell me about the framework", intents=[]),
    case("Our own chemists will handle the route", intents=[]),
    case("how many reactions a week can one CRO chemist run?", intents=[]),
    case("How much experience does ChemContract claim?", intents=[]),
    case("Do we keep the IP?", intents=["ip"]),
    case("Which pricing model fits that?", intents=["pricing"]),
    case("whats a cdmo", intents=["definition"]),
    case("Do we keep our med chem CRO, move to a CDMO, or something else?", intents=["recommend"]),
]


@pytest.mark.parametrize(("text", "expected"), ROUTES)
def test_route(text: str, expected: dict[str, list[Intent]]) -> None:
    assert route(text, situation=Situation()) == expected["intents"]


@pytest.mark.parametrize(
    "statement",
    [
        "We're in Phase 2 and need 40 kg GMP API",
        "Lead op, 2 in-house chemists, need a few grams for PK.",
        "All biologists here, no chemists, early discovery",
    ],
)
def test_a_bare_situation_statement_asks_for_a_recommendation(statement: str) -> None:
    situation = extract_situation(statement, stages=STAGES)
    assert route(statement, situation=situation) == ["recommend"]


def test_a_question_about_a_term_is_not_a_statement() -> None:
    question = "What does IND-enabling involve?"
    assert route(question, situation=extract_situation(question, stages=STAGES)) == []


def test_generic_advice_needs_a_known_situation() -> None:
    known = extract_situation("We're in lead optimization.", stages=STAGES)
    assert route("Any thoughts?", situation=known) == ["recommend"]
    assert route("Any thoughts?", situation=Situation()) == []
    assert route("Thanks, that helps.", situation=known) == []


def conversation(*turns: str) -> Situation:
    return reduce(lambda s, t: s.merged(extract_situation(t, stages=STAGES)), turns, Situation())


def test_a_later_turn_keeps_the_stage_and_routes_on_its_own_words() -> None:
    state = conversation("We're in lead optimization.", "What would two chemists cost us for a year?")
    assert state.stage == label("Lead")
    assert state.in_house is None
    assert route("What would two chemists cost us for a year?", situation=state) == ["cost"]


def test_turns_accumulate_and_later_facts_win() -> None:
    state = conversation(
        "We're a virtual biotech in hit-to-lead.",
        "We only need research-grade material for now.",
        "Actually we just moved into IND-enabling and the tox batches must be GMP.",
        "about 2 kg",
    )
    assert state.known() == {
        "stage": label("IND"),
        "quantity": Quantity(value=2, unit="kg"),
        "gmp": True,
        "in_house": "CRO",
    }


def test_a_turn_that_says_nothing_changes_nothing() -> None:
    first = conversation("Phase 1, 5 kg, cGMP")
    assert conversation("Phase 1, 5 kg, cGMP", "ok, and who owns the IP?") == first
