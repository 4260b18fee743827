"""What a reader sees first: the answer, short, with numbered references to verified citations."""

from __future__ import annotations

import re

import pytest

from advisor_bot.answer import Answer
from advisor_bot.citations import verify_citation
from advisor_bot.engines.compose import MAX_SOURCES, References

HEADLINE = "When should we move to a CDMO?"
WHICH_MODEL = "Should we use a CRO or a CDMO for IND-enabling studies? We need 2 kg of cGMP material."
DISSENT = "We're at IND-enabling studies and need 2 kg of cGMP material, but our budget is opex only. CRO or CDMO?"
CAMPAIGN = "We're at IND-enabling studies and need 40 kg of GMP API. Which partner, and what would it cost?"
RISKS = "What could go wrong when we outsource to a CDMO?"
IP = "Who owns process improvements a CDMO makes during scale-up?"
FTE = "What do CROs charge per FTE?"
ROLES = "what are the CDMO's regulatory jobs once we're filing - inspections etc?"
QUESTIONS = [HEADLINE, WHICH_MODEL, DISSENT, CAMPAIGN, RISKS, IP, FTE, ROLES]
MARK = re.compile(r"\[\[(\d+)\]\]\(/framework#([\w-]+)\)")


@pytest.fixture(scope="module")
def answers(advisor) -> dict[str, Answer]:
    return {q: advisor.ask(q) for q in QUESTIONS}


def first_paragraph(a: Answer) -> str:
    return a.answer_markdown.split("\n\n", 1)[0]


def test_the_headline_question_is_answered_first_from_the_frameworks_transition_sentence(answers):
    a = answers[HEADLINE]
    lead = first_paragraph(a)
    assert lead.startswith("The transition typically occurs when your compound advances from lead optimization")
    assert "#frequently-asked-questions--when-should-i-transition-from-a-cro-to-a-cdmo)" in lead
    # Then what would make it specific: the stage question, after the answer.
    assert a.clarifying_question is not None
    assert a.answer_markdown.index("To make this specific to you") > a.answer_markdown.index(lead)


def test_a_verdict_comes_first_and_the_cards_lines_appear_once(answers):
    a = answers[WHICH_MODEL]
    assert first_paragraph(a).startswith("## Recommendation: **CDMO**")
    assert a.answer_markdown.count("Recommendation: **CDMO**") == 1
    assert a.answer_markdown.count(a.recommendation.confidence_reason) == 1
    for f in a.recommendation.factors:
        assert a.answer_markdown.count(f"**{f.factor}:**") == 1


def test_a_sentence_the_opening_quotes_is_not_listed_again_below_it(answers):
    for a in answers.values():
        opening = {s.strip() for s in re.split(r"(?<=[.!?])\s+", MARK.sub("", first_paragraph(a))) if len(s) > 40}
        bullets = [MARK.sub("", line[2:]).strip() for line in a.answer_markdown.split("\n") if line.startswith("- ")]
        assert not [b for b in bullets if b in opening or b.rstrip(".") + "." in opening], a.question
    # The regulatory roles still list what the opening did not say.
    assert "Drug Master File" in answers[ROLES].answer_markdown.split("\n\n", 1)[1]


def test_full_quotes_live_in_citations_not_in_the_chat_text(answers):
    for a in answers.values():
        text = a.answer_markdown
        assert "\n> " not in text and not text.startswith("> ")
        for c in a.citations:
            if len(c.quote) > 400:
                assert c.quote not in text


def test_each_reference_number_links_to_its_cited_section(answers, advisor):
    for q, a in answers.items():
        sections = list(dict.fromkeys(c.anchor for c in a.citations))
        marks = MARK.findall(a.answer_markdown)
        assert marks, q
        for n, anchor in marks:
            assert sections[int(n) - 1] == anchor, (q, n, anchor)
        for c in a.citations:
            verify_citation(c, advisor.context.documents)


def test_sources_are_at_most_five_sections_each_passage_once(answers):
    for q, a in answers.items():
        assert len({c.anchor for c in a.citations}) <= MAX_SOURCES, q
        quotes = [c.quote.strip() for c in a.citations]
        assert len(quotes) == len(set(quotes)), q
        spans = [(c.document, c.start, c.end) for c in a.citations]
        assert not any(
            d1 == d2 and s1 <= s2 and e2 <= e1 for i, (d1, s1, e1) in enumerate(spans) for j, (d2, s2, e2) in enumerate(spans) if i != j
        ), f"a passage inside another: {q}"


def test_the_publishers_promotion_is_cited_only_when_relevant(answers, advisor):
    for q in (WHICH_MODEL, CAMPAIGN, FTE, RISKS):
        assert not any(c.promotional for c in answers[q].citations), q
    integrated = advisor.ask("Is an integrated partner the right choice for us? We have several compounds at different stages.")
    promo = [c for c in integrated.citations if c.promotional]
    assert len(promo) <= 1


def test_the_factors_quote_the_users_own_words(answers):
    a = answers[WHICH_MODEL]
    for words in ("“IND-enabling studies”", "“cGMP material”", "“2 kg”"):
        assert words in a.answer_markdown
    assert "“IND-enabling”;" not in a.answer_markdown, "words inside longer ones are not repeated"


def test_a_factor_for_another_model_says_why_the_verdict_stands(answers):
    a = answers[DISSENT]
    assert a.recommendation.model == "CDMO"
    budget = next(line for line in a.answer_markdown.splitlines() if line.startswith("- **Budget structure:**"))
    assert "→ CRO" in budget and "CDMO still fits: the development stage (IND-enabling studies) decides first" in budget
    agreeing = next(line for line in a.answer_markdown.splitlines() if line.startswith("- **Volume needed:**"))
    assert "still fits" not in agreeing


def test_a_gmp_campaign_is_itemised_with_its_process_development_fee(answers):
    a = answers[CAMPAIGN]
    cost = a.recommendation.cost_estimate
    labels = [i.label for i in cost.items]
    assert labels[0].startswith("Manufacturing 40 kg") and "CDMO process development" in labels
    assert "| CDMO process development | $100,000 | $500,000 |" in a.answer_markdown
    per_kg, development = cost.items[0].citation, cost.items[labels.index("CDMO process development")].citation
    assert per_kg.section == development.section  # the same passage states both


def test_what_could_go_wrong_lists_the_fitting_risks_with_their_figures(answers):
    a = answers[RISKS]
    assert first_paragraph(a).startswith("**What could go wrong**")
    items = [line for line in a.answer_markdown.splitlines() if line.startswith("- **")]
    assert 1 <= len(items) <= 3, "the risks that fit, not all five mistakes"
    assert any("30-50%" in line for line in items)
    for line in items:
        title = line.split("**")[1]
        assert title.lower() not in line.split("**", 2)[2].lower(), "a risk's title is not repeated in its own text"


def test_a_question_the_framework_asks_is_followed_by_its_answer(answers):
    lead = first_paragraph(answers[IP])
    assert "who owns the improvement?" in lead and "Best practice is client ownership" in lead


def test_non_recommendation_answers_are_short(answers):
    for q in (HEADLINE, RISKS, IP, FTE):
        assert len(answers[q].answer_markdown) <= 2000, q


def test_references_join_adjacent_table_rows_and_withhold_what_is_not_verbatim(advisor):
    stages = advisor.context.toolbox.framework.stages
    refs = References(documents=advisor.context.documents)
    first, second = stages[0].citation, stages[1].citation
    assert refs.number(first) == refs.number(second) == 1
    (joined,) = refs.citations
    assert first.quote in joined.quote and second.quote in joined.quote
    assert refs.number(first.model_copy(update={"quote": "not the corpus"})) is None
    assert refs.notices and refs.mark(first.model_copy(update={"quote": "x"})) == ""
