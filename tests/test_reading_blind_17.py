"""Classes blind set 17 found (``evals/first-contact-17.jsonl``), each asked here in other words.

- A sentence that denies one thing and affirms another tells the stage it affirms, when meaning is
  sure; one that reads as what it denies ("not in the clinic") tells nothing.
- A question in the turn that tells where the program is gets the verdict beside what else it asks,
  unless that is a figure or a judgment of a plan.
All through the public ``Advisor``.
"""

from __future__ import annotations

from tests.conversation import ask


def test_a_sentence_that_denies_one_thing_and_affirms_another_tells_the_stage_it_affirms(advisor):
    a = ask(advisor, "There are no compounds at all yet, only a validated target and a working assay. Who should take on the chemistry?")
    assert not a.refused, "who takes on the chemistry is the framework's question, not a request for a procedure"
    assert a.recommendation is not None and a.recommendation.model == "CRO"
    assert a.situation.stage == "Hit identification / lead discovery"


def test_a_sentence_that_reads_as_what_it_denies_tells_no_stage(advisor):
    a = ask(advisor, "We are not in the clinic and won't be for two years, still doing discovery work. Which model?")
    assert a.situation.stage != "Phase I/II clinical supply"
    assert a.recommendation is not None and a.recommendation.model == "CRO"


def test_a_question_in_the_turn_that_tells_the_stage_gets_the_verdict_beside_it(advisor):
    a = ask(advisor, "We dose the first healthy volunteers in March if the regulator agrees. Who manufactures what goes into them, and do the regulators look at it?")
    assert a.recommendation is not None and a.recommendation.model == "CDMO"


def test_a_figure_asked_in_the_turn_that_tells_the_stage_is_not_crowded_out_by_a_verdict(advisor):
    a = ask(advisor, "We're optimising the lead series. What would three FTE chemists for a year cost?")
    assert a.recommendation is None
    assert "$220,000" in a.answer_markdown or "220,000" in a.answer_markdown
