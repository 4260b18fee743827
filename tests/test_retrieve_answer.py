"""Retrieval and answers over the real index, and how bad input is turned away."""

from __future__ import annotations

import pytest

from advisor_bot.answer import Answer
from advisor_bot.turns import Turn, clean_question
from advisor_bot.errors import AdvisorError, InvalidQuestionError

STAGE_MATRIX = "The Decision Matrix > Project Stage Decision Matrix"
CRO_PRICING = "Cost Structures: How CROs and CDMOs Price Their Services > CRO Pricing Models"
PROMOTIONAL = {"Why ChemContract Spans the CRO-CDMO Continuum", "Partner With Industry Veterans"}
IN_SCOPE = [
    "What do CROs charge per FTE?",
    "Should we use a CRO or a CDMO for IND-enabling studies?",
    "How much does technology transfer between a CRO and CDMO cost?",
    "Who owns process improvements a CDMO makes during scale-up?",
    "Why should I choose ChemContract?",
]


@pytest.fixture(scope="module")
def answers(advisor) -> dict[str, Answer]:
    return {q: advisor.ask(q) for q in IN_SCOPE}


@pytest.fixture(scope="module")
def corpus_texts(settings) -> dict[str, str]:
    return {
        p.relative_to(settings.corpus_dir).as_posix(): p.read_bytes().decode("utf-8")
        for p in settings.corpus_dir.rglob("*.md")
    }


# -- 4. retrieval ------------------------------------------------------------


def test_ind_enabling_question_retrieves_the_stage_matrix_row(advisor):
    retrieval = advisor.context.retriever.search("what about IND-enabling studies?")
    top3 = retrieval.passages[:3]
    hits = [p for p in top3 if p.kind == "row" and p.section == STAGE_MATRIX and "| IND-enabling studies |" in p.quote]
    assert len(hits) == 1
    assert hits[0].quote.startswith("| IND-enabling studies |")
    assert "| CDMO |" in hits[0].quote
    assert hits[0].anchor == "the-decision-matrix--project-stage-decision-matrix"


def test_retrieval_returns_top_k_ranked_passages_with_exact_quotes(advisor, corpus_texts):
    retrieval = advisor.context.retriever.search("What do CROs charge per FTE?")
    assert len(retrieval.passages) == advisor.settings.top_k
    scores = [p.score for p in retrieval.passages]
    assert scores == sorted(scores, reverse=True)
    assert len({p.chunk_id for p in retrieval.passages}) == len(retrieval.passages)
    for p in retrieval.passages:
        assert corpus_texts[p.document][p.start : p.end] == p.quote
        assert p.quote in p.text
    assert retrieval.best_dense > advisor.settings.min_relevance


def test_dense_and_bm25_modes_each_find_the_fte_rates(advisor):
    for mode in ("dense", "bm25"):
        top = advisor.context.retriever.search("What do CROs charge per FTE?", k=3, mode=mode).passages
        assert any(p.section == CRO_PRICING for p in top), mode
    bm25 = advisor.context.retriever.search("What do CROs charge per FTE?", mode="bm25")
    assert all(p.dense is None for p in bm25.passages) and bm25.best_dense == 0.0


def test_fte_question_cites_cro_pricing_models(answers):
    a = answers["What do CROs charge per FTE?"]
    assert not a.refused
    assert a.citations and a.citations[0].section == CRO_PRICING
    assert any("$220,000 to $380,000" in c.quote for c in a.citations)
    assert "CRO Pricing Models" in a.answer_markdown


@pytest.mark.parametrize("question", IN_SCOPE)
def test_every_citation_quote_is_the_corpus_text_at_its_offsets(answers, corpus_texts, question):
    a = answers[question]
    assert not a.refused
    assert a.citations
    for c in a.citations:
        assert c.quote and corpus_texts[c.document][c.start : c.end] == c.quote
    spans = [(c.document, c.start, c.end) for c in a.citations]
    assert len(spans) == len(set(spans)), "the same passage is cited twice"


def test_answer_json_round_trips(answers):
    for a in answers.values():
        again = Answer.model_validate_json(a.model_dump_json())
        assert again == a


def test_answer_metadata(advisor, answers):
    version = advisor.index.load().manifest.corpus_version
    for a in answers.values():
        assert a.engine == "offline"
        assert a.corpus_version == version and len(version) == 16
        assert {"retrieve", "total"} <= set(a.timings_ms)
        assert 0 <= a.timings_ms["retrieve"] <= a.timings_ms["total"]


def test_answer_echoes_the_cleaned_question(advisor):
    a = advisor.ask("  What do CROs charge per FTE?\n")
    assert a.question == "What do CROs charge per FTE?"


def test_out_of_scope_question_is_refused_without_citations(advisor):
    a = advisor.ask("what's the weather in Paris tomorrow?")
    assert a.refused is True
    assert a.refusal_reason == "out_of_scope"
    assert a.citations == []
    assert a.recommendation is None
    assert a.engine == "offline" and a.corpus_version
    assert "total" in a.timings_ms
    assert "outsourcing chemical development" in a.answer_markdown


def test_promotional_passages_are_flagged(answers):
    a = answers["Why should I choose ChemContract?"]
    assert any(c.promotional for c in a.citations)
    for c in a.citations:
        assert c.promotional == (c.section.split(" > ")[0] in PROMOTIONAL), c.section
    assert "publisher's promotion" in a.answer_markdown


def test_non_promotional_answers_carry_no_promotional_label(answers):
    a = answers["What do CROs charge per FTE?"]
    assert not any(c.promotional for c in a.citations)
    assert "publisher's promotion" not in a.answer_markdown


def test_in_scope_stage_question_is_answered_not_refused(advisor):
    """'what about IND-enabling studies?' is literally a row of the decision matrix (and retrieval ranks that
    row first), yet the dense-only relevance gate (best_dense ~0.27 < min_relevance 0.30) refuses it."""
    a = advisor.ask("what about IND-enabling studies?")
    assert not a.refused, a.refusal_reason
    assert any(c.section == STAGE_MATRIX for c in a.citations)


# -- 5. bad input ------------------------------------------------------------

EMPTY = "The question is empty"
BINARY = "binary or control characters"


@pytest.mark.parametrize("question", ["", " ", "   \n\t  ", "\u00a0\u3000", "\x01\x02"])
def test_empty_or_whitespace_question_is_rejected(advisor, question):
    with pytest.raises(InvalidQuestionError, match=EMPTY) as info:
        advisor.ask(question)
    assert isinstance(info.value, AdvisorError)
    assert "IND-enabling" in str(info.value)  # the message shows an example to ask instead


def test_100_kb_question_is_rejected_with_its_length(advisor):
    with pytest.raises(InvalidQuestionError) as info:
        advisor.ask("What is a CRO? " * 6827)  # 102,405 characters
    message = str(info.value)
    assert "102,405 characters" in message and "limit is 4,000" in message
    assert "Shorten" in message


def test_question_length_limit_is_inclusive():
    assert clean_question("a" * 4000, max_chars=4000) == "a" * 4000
    with pytest.raises(InvalidQuestionError, match="4,001 characters"):
        clean_question("a" * 4001, max_chars=4000)


@pytest.mark.parametrize(
    "question",
    [
        "What is a CRO?\x00",
        "\x00",
        "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00\x02\x02\x44\x01\x00\x3b",
        "\ufffd" * 10 + "CRO",
    ],
)
def test_binary_question_is_rejected(advisor, question):
    with pytest.raises(InvalidQuestionError, match=BINARY):
        advisor.ask(question)


def test_bytes_question_is_rejected(advisor):
    with pytest.raises(InvalidQuestionError, match="must be text"):
        advisor.ask(b"What is a CRO?")  # type: ignore[arg-type]


def test_a_few_stray_control_characters_are_tolerated(advisor):
    a = advisor.ask("What do CROs\x0b charge per FTE?")
    assert a.question == "What do CROs  charge per FTE?"
    assert not a.refused


def test_lone_surrogate_question_fails_as_an_advisor_error(advisor):
    """JSON clients can send '\\ud800'; the tokenizer then raises a bare TypeError instead of an AdvisorError."""
    try:
        a = advisor.ask("What does a CRO do? \ud800")
    except InvalidQuestionError:
        return
    Answer.model_validate_json(a.model_dump_json())


@pytest.mark.parametrize(
    "history",
    [
        [{"role": "system", "content": "You are helpful."}],
        [{"role": "user"}],
        [{"content": "hi"}],
        [{"role": "user", "content": 42}],
        ["just a string"],
        [None],
        [("user", "hi")],
        [{"role": "user", "content": "ok"}, {"role": "bot", "content": "hello"}],
    ],
)
def test_wrong_history_shape_is_rejected(advisor, history):
    with pytest.raises(InvalidQuestionError, match=r"History item \d+ must be") as info:
        advisor.ask("What is a CRO?", history=history)
    bad_index = len(history) - 1
    assert f"History item {bad_index} " in str(info.value)


def test_gradio_style_history_with_content_parts_is_accepted(advisor):
    history = [
        {"role": "user", "content": [{"type": "text", "text": "We are a small biotech."}, {"type": "image", "url": "x.png"}]},
        {"role": "assistant", "content": "Noted.", "metadata": {"title": None}, "options": []},
        {"role": "user", "content": [{"type": "file", "file": {"path": "/tmp/a.pdf"}}]},
    ]
    a = advisor.ask("What do CROs charge per FTE?", history=history)
    assert not a.refused
    assert a.citations[0].section == CRO_PRICING


def test_turn_flattens_content_parts():
    turn = Turn.model_validate(
        {"role": "user", "content": [{"type": "text", "text": "first"}, {"type": "image"}, "second"], "extra": 1}
    )
    assert turn.content == "first\nsecond"
    assert Turn.model_validate({"role": "assistant", "content": []}).content == ""
