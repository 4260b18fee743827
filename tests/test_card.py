"""The recommendation card says each thing once: "You said" is the user's own words for every
factor (or that the form set it), and the chat, the memo and the page show the same lines."""

from __future__ import annotations

import html
from datetime import date

import pytest

from advisor_bot.card import SET_IN_PANEL, answer_card
from advisor_bot.situation import Situation
from ui import views

# Between them these state every row of the Organizational Profile Decision Matrix.
STATED = [
    "We're at IND-enabling studies and need 2 kg of cGMP material. Our budget is opex only, we have no in-house "
    "chemists, we need rapid iteration in weeks, and our IP is extremely sensitive. CRO or CDMO?",
    "We have several compounds at different stages, grams for some and kilograms for others, and we're moving "
    "from research-grade to GMP material. Which model?",
    "We need research-grade material only, a few grams, for lead optimization, and production deadlines drive us. CRO or CDMO?",
    "Moderate internal R&D, stage-gated budget. Which model fits?",
]


@pytest.fixture(scope="module")
def answers(advisor):
    return {q: advisor.ask(q) for q in STATED}


def test_you_said_is_the_users_own_words_for_every_factor(answers, advisor):
    rows = set()
    for q, a in answers.items():
        card = answer_card(a)
        assert card is not None and card.factors, q
        for line in card.factors:
            rows.add(line.factor)
            assert line.quoted and line.said, (q, line)
            for words in line.said:
                assert words.casefold() in q.casefold(), (q, line.factor, words)
            # The page's card and the chat's key lines quote the same words.
            assert all(f"“{html.escape(w)}”" in views.recommendation_card(a) for w in line.said), (q, line.factor)
            assert all(f"“{w}”" in a.answer_markdown for w in line.said), (q, line.factor)
    profile = {r.factor for r in advisor.context.toolbox.framework.profile}
    assert rows == profile, f"rows no question states: {profile - rows}"


def test_a_factor_set_in_the_panel_says_so_instead_of_quoting_a_value(advisor):
    a = advisor.ask("We're at IND-enabling studies. CRO or CDMO?", situation=Situation(budget="CRO"))
    card = answer_card(a)
    assert card is not None
    budget = next(f for f in card.factors if f.factor.startswith("Budget"))
    assert budget.said == [SET_IN_PANEL] and not budget.quoted
    assert f"**{budget.factor}:** {SET_IN_PANEL} → CRO" in a.answer_markdown
    assert "“CRO”" not in a.answer_markdown and "“CRO”" not in views.recommendation_card(a)


def test_the_memo_shows_the_cards_lines(answers):
    a = answers[STATED[0]]
    card = answer_card(a)
    memo = views.memo_markdown([a], today=date(2026, 1, 2), base_url="http://advisor.test")
    for line in card.factors:
        said = "; ".join(f"“{w}”" for w in line.said)
        assert f"| {line.factor} | {said} | {line.favours} |" in memo
    dissent = next(f for f in card.factors if f.stands)
    assert dissent.stands in memo and dissent.stands in a.answer_markdown
