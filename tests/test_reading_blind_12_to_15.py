"""Classes of failure found by the blind sets 12 to 15 at first contact, each asked here in other words.

A which-model question with nothing known asks for the stage; portfolios told by labels ("asset B")
but not funding rounds ("Series B"); wishes to avoid the transfer; capital for campaigns; questions
about what a stated factor means for the choice. All through the public ``Advisor``.
"""

from __future__ import annotations

import pytest

from tests.conversation import ask, verdict


@pytest.mark.parametrize("question", ["CDMO vs CRO, which do we pick?", "our CSO insists we need a CRO. is he right?"])
def test_a_choice_with_nothing_known_asks_for_the_stage(advisor, question):
    a = ask(advisor, question)
    assert not a.refused and a.recommendation is None and a.clarifying_question


@pytest.mark.parametrize(
    ("question", "turns", "model"),
    [
        ("how do we organise the outsourcing for both?", ("Asset A is in phase 1.", "Asset B is still in hit-to-lead."), "Hybrid"),
        ("Some of our compounds need milligrams, others tens of kilograms. How should we organise the outsourcing?", (), "Hybrid"),
        ("We just closed our Series B and the lead is in phase 1. Which model?", (), "CDMO"),  # a funding round, not a second series
        ("We're at candidate selection. Is there a setup that avoids the handover altogether?", (), "Integrated partner"),
        ("Leadership wants a single accountable supplier from route design to GMP supply. Which model?", (), "Integrated partner"),
        ("We can commit capital to several production batches for our phase 1 compound. Does that favour a CDMO?", (), "CDMO"),
    ],
)
def test_portfolios_wishes_and_factors_said_in_other_words(advisor, question, turns, model):
    assert verdict(advisor, question, *turns) == model


def test_a_ranking_that_names_no_kind_of_provider_ranks_something_else(advisor):
    assert ask(advisor, "Which ELN platform is best for a small medicinal chemistry group?").refused
    # ...while the framework's own choice, put the same way, is answered.
    assert not ask(advisor, "Which is the best fit for a small biotech like us?").refused



# -- classes found by blind set 14 at first contact -----------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "We need about 2 g each for three discovery compounds and 20 kg for the phase 2 asset. Which model?",
        "We're somewhere between research and GMP material: a few non-GMP lots left, first GMP batch next spring. What model should we plan for?",
    ],
)
def test_amounts_per_program_and_a_program_between_research_and_gmp_are_the_hybrid(advisor, question):
    assert verdict(advisor, question) == "Hybrid"


# -- classes found by blind set 15 at first contact -----------------------------------------


@pytest.mark.parametrize(
    ("question", "turns", "model"),
    [
        ("We need quick research turnaround but also production deadlines on a second asset. Which model?", (), "Hybrid"),
        ("We're shifting from basic research to regulated work this year. What model should we plan for?", (), "Hybrid"),
        ("Milligrams for three discovery programs, kilograms for our lead. Which model?", (), "Hybrid"),
        ("In-house chemistry is moderate: three chemists and no analytics. Which model is favoured?", (), "Hybrid"),
        ("Good process chemists in house but no GMP manufacturing of our own. Which model?", (), "CDMO"),
        ("no gmp needed, research grade only, which partner", (), "CRO"),
        ("Which partner type overall?", ("Our lead enters phase 2 in spring.", "Plus a backup program still at hit-to-lead."), "Hybrid"),
        ("We're scaling our validated process for phase 3 supply. Your recommendation?", (), "CDMO"),
    ],
)
def test_profile_factors_and_portfolios_said_in_other_words(advisor, question, turns, model):
    assert verdict(advisor, question, *turns) == model
