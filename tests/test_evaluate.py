"""The eval suite: question-set validation, scoring rules, the runner and baseline, reports, gates, feedback export."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from advisor_bot.answer import Answer
from advisor_bot.turns import Turn, retrieval_query
from advisor_bot.citations import Citation
from ui.cli import app
from advisor_bot.corpus import Document
from advisor_bot.errors import EvalSetError
from advisor_bot.evals.evalset import EvalQuestion, load_question_sets, load_questions, question_from_feedback, write_questions
from advisor_bot.evals.evaluate import (
    AdvisorSystem,
    Attempt,
    EvalError,
    EvalRun,
    QuestionResult,
    corpus_figures,
    evaluate,
    figures,
    percentile,
    score,
    summarise,
)
from advisor_bot.feedback import Feedback, FeedbackStore
from advisor_bot.recommendation import CostEstimate, CostItem, Recommendation
from advisor_bot.evals.report import CHART, parse_gate, write_report, write_results

# -- question sets ----------------------------------------------------------------------------------

SMALL_SET = [
    {
        "id": "rec",
        "question": "We're in hit-to-lead running SAR on two series. Which model do we need?",
        "category": "stage",
        "expected_recommendation": "CRO",
        "expected_sections": ["Project Stage Decision Matrix"],
    },
    {
        "id": "followup",
        "question": "What would two chemists cost us for a year?",
        "turns": ["We're a small biotech in lead optimization and want to outsource med chem to a US CRO."],
        "category": "cost",
        "expected_sections": ["CRO Pricing Models"],
        "must_include": ["$220,000", "$380,000"],
    },
    {"id": "weather", "question": "What's the weather going to be like in Basel tomorrow?", "category": "out-of-scope", "should_refuse": True},
    {
        "id": "impossible",
        "question": "What margin do CDMOs add under cost-plus pricing?",
        "category": "pricing",
        "expected_sections": ["CDMO Pricing Models"],
        "must_include": ["a phrase the framework never says"],
    },
]


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_every_shipped_question_set_line_is_valid():
    questions = load_questions(Path(__file__).parent.parent / "evals" / "questions.jsonl")
    assert len(questions) == len({q.id for q in questions}) > 100


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "a", "question": "q", "expected_recommendation": "CMO"}', "line 2, field 'expected_recommendation'"),
        ('{"id": "a", "question": "q", "accept": ["CDMO"]}', "line 2, field 'accept': alternatives need an expected_recommendation"),
        ('{"id": "a", "question": "q", "should_refuse": true, "must_include": ["$5"]}', "line 2, field 'must_include'"),
        ('{"id": "a", "question": "q", "expected_section": ["x"]}', "line 2, field 'expected_section'"),
        ('{"id": "ok", "question": "q"}', "line 2, field 'id': duplicate id 'ok'"),
        ('{"id": "a", "question": "q",}', "line 2: not valid JSON"),
    ],
)
def test_bad_lines_are_reported_with_line_and_field(tmp_path: Path, line: str, message: str):
    path = tmp_path / "set.jsonl"
    path.write_text('{"id": "ok", "question": "fine"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(EvalSetError, match="set.jsonl " + message.replace("(", r"\(").replace("$", r"\$")):
        load_questions(path)


def test_ids_must_be_unique_across_files_and_a_byte_order_mark_is_accepted(tmp_path: Path):
    first = tmp_path / "a.jsonl"
    first.write_text('\ufeff{"id": "x", "question": "q"}\n', encoding="utf-8")
    assert [q.id for q in load_question_sets([first])] == ["x"]
    second = write_jsonl(tmp_path / "b.jsonl", [{"id": "x", "question": "other"}])
    with pytest.raises(EvalSetError, match="b.jsonl: id 'x' is also used in a.jsonl"):
        load_question_sets([first, second])


# -- feedback to test case --------------------------------------------------------------------------


def _feedback(rating: str, *, wrong_evidence: bool = False, comment: str = "", question: str = "q?") -> Feedback:
    cite = Citation(document="d.md", section="A > B", anchor="a--b", quote="x", start=0, end=1, promotional=False)
    return Feedback(
        rating=rating, wrong_evidence=wrong_evidence, comment=comment, question=question, answer_markdown="answer",
        citations=[cite], engine="offline", corpus_version="v1",
    )  # fmt: skip


def test_complaints_export_as_loadable_questions_with_the_complaint_in_the_notes(tmp_path: Path):
    db = tmp_path / "feedback.sqlite3"
    store = FeedbackStore(db)
    store.record(_feedback("down", comment="Wrong stage row", question="Which model for IND tox?"))
    store.record(_feedback("up", question="praised, not a complaint"))
    store.record(_feedback("up", wrong_evidence=True, question="What does a CDMO cost per kg?"))
    out = tmp_path / "regressions.jsonl"

    result = CliRunner().invoke(app, ["feedback", "export", "--as-eval", str(out), "--db", str(db)])

    assert result.exit_code == 0, result.output
    assert "2 complaint(s)" in result.stdout
    # Anyone can leave feedback: the lines count only once a person has reviewed them.
    with pytest.raises(EvalSetError, match="unreviewed user feedback"):
        load_questions(out)
    assert out.read_text().count('"unverified": true') == 2
    accepted = tmp_path / "accepted.jsonl"
    accepted.write_text(out.read_text().replace('"unverified": true', '"unverified": false'))
    questions = load_questions(accepted)
    assert [q.question for q in questions] == ["Which model for IND tox?", "What does a CDMO cost per kg?"]
    assert [q.id for q in questions] == ["feedback-1", "feedback-3"]
    assert "thumbs-down" in questions[0].notes and "Comment: Wrong stage row" in questions[0].notes
    assert "wrong evidence" in questions[1].notes and "cited: A > B" in questions[1].notes
    assert all(q.expected_recommendation is None and not q.expected_sections and not q.must_include for q in questions)


def test_export_without_a_feedback_log_says_where_it_looked(tmp_path: Path):
    missing = tmp_path / "none.sqlite3"
    result = CliRunner().invoke(app, ["feedback", "export", "--as-eval", str(tmp_path / "o.jsonl"), "--db", str(missing)])
    assert result.exit_code == 2
    assert f"No feedback log at {missing}" in result.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_written_questions_round_trip(tmp_path: Path):
    record = FeedbackStore(tmp_path / "f.sqlite3")
    record.record(_feedback("down", question="¿Qué es una CDMO? — “quotes”"))
    questions = [question_from_feedback(r) for r in record.records(complaints_only=True)]
    accepted = [q.model_copy(update={"unverified": False}) for q in questions]
    write_questions(accepted, tmp_path / "sub" / "q.jsonl")
    assert load_questions(tmp_path / "sub" / "q.jsonl") == accepted


# -- scoring rules ----------------------------------------------------------------------------------

DOC_TEXT = "# Costs\n\n## CRO Pricing Models\n\nFTE rates range from $220,000 to $380,000 per year; transfer takes 2–6 months.\n"
DOCS = {"d.md": Document(id="d.md", path=Path("d.md"), title="d", text=DOC_TEXT, body_start=0, sha256="0")}
CORPUS = corpus_figures(DOCS)


def cite(quote: str, *, section: str = "Costs > CRO Pricing Models", shift: int = 0) -> Citation:
    start = DOC_TEXT.index(quote) + shift
    return Citation(document="d.md", section=section, anchor="a", quote=quote, start=start, end=start + len(quote), promotional=False)


def answer(text: str, *, citations: list[Citation] | None = None, refused: bool = False, recommendation: Recommendation | None = None) -> Answer:
    return Answer(
        question="q", answer_markdown=text, citations=citations or [], refused=refused,
        recommendation=recommendation, engine="offline", corpus_version="v1",
    )  # fmt: skip


def scored(q: dict[str, object], a: Answer | None, *, ranking: list[list[str]] | None = None, error: str | None = None):
    attempt = Attempt(answer=a, error=error, ranking=ranking or [], latency_ms=12.0)
    return score(EvalQuestion.model_validate({"id": "q", "question": "q", **q}), attempt, documents=DOCS, corpus=CORPUS)


def test_figures_read_ranges_scales_dashes_and_units():
    found = figures("Budget $15,000-50,000 or $1.5M; margins 15–30%; 2 t (2,000 kg) over 6 to 18 months, a 12-month plan.")
    assert set(found) == {
        ("USD", 15000.0), ("USD", 50000.0), ("USD", 1500000.0), ("%", 15.0), ("%", 30.0),
        ("kg", 2000.0), ("months", 6.0), ("months", 18.0), ("months", 12.0),
    }  # fmt: skip
    assert figures("Phase 3 in 2026, CTD 3.2.S, Mistake 4") == {}


def test_a_figure_is_fabricated_only_if_neither_corpus_question_nor_tool_result_accounts_for_it():
    assert scored({}, answer("Rates run $220,000 to $380,000; allow 2-6 months.")).fabricated == []
    made_up = scored({}, answer("Two chemists cost $440,000 and 25% more at a CDMO."))
    assert made_up.fabricated == ["$440,000", "25%"]
    assert not made_up.passed
    assert scored({"question": "We have $440,000 and want 25% savings"}, answer("With $440,000 at 25%...")).fabricated == []
    item = CostItem(label="CRO FTE", low=440000, high=760000, basis="2 FTE x 12 months x $220,000-$380,000", citation=cite("$220,000"))
    cost = CostEstimate(items=[item], low=440000, high=760000)
    rec = Recommendation(model="CRO", confidence="high", confidence_reason="r", cost_estimate=cost)
    assert scored({}, answer("| 2 FTE x 12 months | $440,000 | $760,000 |", recommendation=rec)).fabricated == []


def test_recommendation_counts_expected_or_accepted_models_and_says_what_it_got():
    rec = Recommendation(model="Integrated partner", confidence="high", confidence_reason="r")
    assert scored({"expected_recommendation": "Hybrid", "accept": ["Integrated partner"]}, answer("x", recommendation=rec)).recommendation_correct
    wrong = scored({"expected_recommendation": "CDMO"}, answer("x", recommendation=rec))
    assert wrong.recommendation_correct is False
    assert "recommendation: expected CDMO, got Integrated partner" in wrong.failures
    assert "got none" in scored({"expected_recommendation": "CRO"}, answer("x")).failures[0]


def test_sections_match_any_element_of_a_heading_path():
    quoted = [cite("FTE rates range")]
    assert scored({"expected_sections": ["CRO Pricing Models"]}, answer("x", citations=quoted)).citation_hit
    assert scored({"expected_sections": ["Costs"]}, answer("x", citations=quoted)).citation_hit
    assert not scored({"expected_sections": ["Pricing"]}, answer("x", citations=quoted)).citation_hit
    ranked = scored({"expected_sections": ["CRO Pricing Models"]}, answer("x"), ranking=[["Other"], ["Costs", "CRO Pricing Models"]])
    assert (ranked.retrieval_rank, ranked.recall_at_k, ranked.reciprocal_rank) == (2, 1.0, 0.5)
    missed = scored({"expected_sections": ["CRO Pricing Models"]}, answer("x"), ranking=[["Other"]] * 6 + [["CRO Pricing Models"]])
    assert (missed.retrieval_rank, missed.recall_at_k, missed.reciprocal_rank) == (None, 0.0, 0.0)
    assert scored({}, answer("x")).recall_at_k is None


def test_phrases_match_across_dashes_case_and_spacing():
    s = scored({"must_include": ["2–6 Months", "$999"], "must_not_include": ["ftE  RATES"]}, answer("FTE rates: 2-6 months"))
    assert (s.required_found, s.required_missing, s.forbidden_found) == (["2–6 Months"], ["$999"], ["ftE  RATES"])
    assert s.failures == ["missing required: $999", "contains forbidden: ftE  RATES"]


def test_a_citation_must_be_the_corpus_text_at_its_offsets():
    s = scored({}, answer("x", citations=[cite("FTE rates range"), cite("FTE rates range", shift=1)]))
    assert (s.citations, s.verbatim_citations) == (2, 1)
    assert "1 citation(s) not verbatim at their offsets" in s.failures


def test_refusals_and_errors_are_failures_when_unexpected():
    assert scored({"should_refuse": True}, answer("no", refused=True)).passed
    assert scored({"should_refuse": True}, answer("sure")).failures == ["answered but should refuse"]
    assert scored({}, answer("no", refused=True)).failures == ["refused but should answer"]
    errored = scored({"expected_sections": ["Costs"], "must_include": ["$5"]}, None, error="boom", ranking=[["Costs"]])
    assert (errored.passed, errored.failures, errored.recall_at_k) == (False, ["error: boom"], 1.0)
    assert (errored.citation_hit, errored.required_missing, errored.refused) == (False, ["$5"], None)


def _result(q: dict[str, object], a: Answer | None, latency: float) -> QuestionResult:
    question = EvalQuestion.model_validate({"id": f"q{latency:g}", "question": "q", **q})
    s = score(question, Attempt(answer=a, ranking=[], latency_ms=latency), documents=DOCS, corpus=CORPUS)
    return QuestionResult(system="t", question=question, answer=a, scores=s)


def test_summary_counts_refusal_precision_recall_and_nearest_rank_latency():
    results = [
        _result({"should_refuse": True}, answer("no", refused=True), 10),
        _result({"should_refuse": True, "notes": "missed"}, answer("yes"), 20),
        _result({}, answer("no", refused=True), 30),
        _result({"must_include": ["x", "y"]}, answer("x"), 40),
    ]
    m = summarise(results)
    assert (m["refusal_precision"], m["refusal_recall"]) == (0.5, 0.5)
    assert (m["required_figure_recall"], m["recommendation_accuracy"], m["pass_rate"]) == (0.5, None, 0.25)
    assert (m["latency_p50_ms"], m["latency_p95_ms"]) == (20, 40)
    assert percentile([], 50) is None


def test_an_llm_eval_counts_answers_the_offline_engine_gave_instead(advisor, settings, embedder, question_file: Path):
    """``advisor`` is requested for the index it builds in ``settings.data_dir``."""
    from advisor_bot.advisor import Advisor
    from advisor_bot.engines.llm import LLMEngine
    from advisor_bot.testing import ScriptedChatModel

    down = ScriptedChatModel(script=[httpx.ConnectError("connection refused")], repeat_last=True)
    llm = Advisor(settings=settings, embedder=embedder, engine=LLMEngine(model=down))
    questions = [q for q in load_questions(question_file) if q.id in {"rec", "impossible"}]

    run = evaluate(llm, questions, files=[question_file])

    assert run.engine == "llm"
    assert (run.ours.metrics["fallbacks"], run.ours.metrics["pass_rate"]) == (2, 0.0)
    for r in run.ours.results:
        assert r.answer.engine == "offline" and r.scores.fell_back
        assert r.scores.failures[0].startswith("answered by the offline engine, not llm: The language model could not be reached")


# -- gates ------------------------------------------------------------------------------------------


def test_gates_parse_check_and_refuse_mistakes():
    gate = parse_gate("recommendation_accuracy=0.95", direction="under")
    assert gate.checked({"recommendation_accuracy": 0.95}).passed
    assert not gate.checked({"recommendation_accuracy": 0.94}).passed
    over = parse_gate("fabricated_figures=0", direction="over")
    assert over.checked({"fabricated_figures": 0}).passed and not over.checked({"fabricated_figures": 1}).passed
    lift = parse_gate("retrieval_recall_at_5_lift=0.1", direction="under").checked({})
    assert not lift.passed and "not measured (run with --baseline)" in lift.describe()
    with pytest.raises(EvalError, match="unknown metric 'recall'"):
        parse_gate("recall=0.9", direction="under")
    with pytest.raises(EvalError, match="use --fail-over fabricated_figures=0"):
        parse_gate("fabricated_figures=0", direction="under")
    with pytest.raises(EvalError, match="not a number"):
        parse_gate("refusal_recall=95%", direction="under")


# -- the runner, the baseline and the report, on the real index -------------------------------------


@pytest.fixture(scope="module")
def question_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("evalset") / "small.jsonl", SMALL_SET)


@pytest.fixture(scope="module")
def run(advisor, question_file: Path) -> EvalRun:
    return evaluate(advisor, load_questions(question_file), files=[question_file], baseline=True)


def by_id(results: list[QuestionResult]) -> dict[str, QuestionResult]:
    return {r.question.id: r for r in results}


def test_run_scores_every_question_through_the_advisor(run: EvalRun):
    ours = by_id(run.ours.results)
    assert list(ours) == ["rec", "followup", "weather", "impossible"]
    assert ours["rec"].answer.recommendation.model == "CRO"
    assert ours["weather"].answer.refused and ours["weather"].scores.passed
    assert ours["impossible"].scores.failures == ["missing required: a phrase the framework never says"]
    m = run.ours.metrics
    assert (m["questions"], m["recommendation_accuracy"], m["refusal_precision"], m["refusal_recall"]) == (4, 1.0, 1.0, 1.0)
    assert m["verbatim_citation_rate"] == 1.0
    assert set(run.ours.by_category) == {"stage", "cost", "out-of-scope", "pricing"}
    assert run.ours.by_category["out-of-scope"]["retrieval_recall_at_5"] is None


def test_retrieval_is_ranked_on_the_condensed_follow_up_query(advisor, run: EvalRun):
    q = by_id(run.ours.results)["followup"].question
    expected = advisor.context.retriever.search(retrieval_query(q.question, [Turn(role="user", content=q.turns[0])]), k=5)
    attempt = AdvisorSystem(advisor).attempt(q)
    assert attempt.ranking == [p.section.split(" > ") for p in expected.passages]
    assert "lead optimization" in retrieval_query(q.question, [Turn(role="user", content=q.turns[0])])


def test_baseline_answers_are_its_top_chunks_quoted_verbatim_and_it_never_recommends(run: EvalRun, advisor):
    assert run.baseline is not None
    docs = advisor.context.documents
    for r in run.baseline.results:
        a = r.answer
        assert a.engine == "baseline" and a.recommendation is None and not a.refused
        assert 1 <= len(a.citations) <= 4
        assert a.answer_markdown == "\n\n".join(c.quote for c in a.citations)
        assert all(docs[c.document].text[c.start : c.end] == c.quote and len(c.quote) <= 1000 for c in a.citations)
    m = run.baseline.metrics
    assert (m["recommendation_accuracy"], m["refusal_recall"], m["refusal_precision"]) == (None, 0.0, None)
    lift = run.metrics["retrieval_recall_at_5_lift"]
    assert lift == pytest.approx(run.ours.metrics["retrieval_recall_at_5"] - m["retrieval_recall_at_5"])
    assert "retrieval_recall_at_5_lift" not in run.ours.metrics


def test_outputs_hold_full_answers_metrics_report_and_chart(run: EvalRun, tmp_path: Path):
    gates = [parse_gate("pass_rate=0.99", direction="under").checked(run.metrics)]
    write_results(run, tmp_path, gates=gates)
    report = write_report(run, tmp_path, gates=gates).read_text(encoding="utf-8")

    lines = (tmp_path / "results.jsonl").read_text(encoding="utf-8").splitlines()
    results = [QuestionResult.model_validate_json(line) for line in lines]
    assert [r.question.id for r in results] == ["rec", "followup", "weather", "impossible"]
    assert results[0].answer == run.ours.results[0].answer
    assert len((tmp_path / "baseline_results.jsonl").read_text(encoding="utf-8").splitlines()) == 4
    metrics = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["metrics"]["pass_rate"] == run.ours.metrics["pass_rate"]
    assert metrics["baseline"]["by_category"]["pricing"]["questions"] == 1
    assert metrics["gates"][0]["passed"] is False

    assert "| Metric | advisor-bot | naive baseline | gate |" in report
    assert "| Recommendation accuracy (`recommendation_accuracy`) | 100.0% | n/a |" in report
    assert "| out-of-scope | 1 |" in report
    assert "FAIL --fail-under pass_rate=0.99" in report
    failures = report.split("## Failures", 1)[1]
    assert "#### `impossible` (pricing)" in failures and "#### `weather`" not in failures
    assert run.ours.results[3].answer.answer_markdown in failures
    assert f"]({CHART})" in report
    assert (tmp_path / CHART).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


# -- the command ------------------------------------------------------------------------------------


@pytest.fixture()
def cli_advisor(monkeypatch: pytest.MonkeyPatch, advisor):
    """The command builds its Advisor; hand it the session one so the model is not loaded again."""
    monkeypatch.setattr("advisor_bot.advisor.Advisor", lambda **_: advisor)
    return advisor


def test_eval_command_exits_1_when_a_gate_fails_and_0_when_all_hold(cli_advisor, question_file: Path, tmp_path: Path):
    runner = CliRunner()
    base = ["eval", str(question_file), "--out", str(tmp_path)]

    held = runner.invoke(app, [*base, "--fail-under", "recommendation_accuracy=1", "--fail-over", "must_not_include_violations=0"])
    assert held.exit_code == 0, held.output
    assert "PASS --fail-under recommendation_accuracy=1" in held.stdout
    assert (tmp_path / "report.md").is_file() and not (tmp_path / "baseline_results.jsonl").exists()

    failed = runner.invoke(app, [*base, "--fail-under", "required_figure_recall=0.99"])
    assert failed.exit_code == 1
    assert "FAIL --fail-under required_figure_recall=0.99: " in failed.stdout


def test_eval_command_refuses_bad_gates_and_bad_files_before_running(cli_advisor, tmp_path: Path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "q", "should_refuse": "maybe"}\n', encoding="utf-8")
    runner = CliRunner()
    wrong_way = runner.invoke(app, ["eval", str(bad), "--fail-under", "latency_p95_ms=100"])
    assert wrong_way.exit_code == 2
    assert "use --fail-over latency_p95_ms=100" in wrong_way.stderr
    invalid = runner.invoke(app, ["eval", str(bad), "--out", str(tmp_path / "out")])
    assert invalid.exit_code == 2
    assert "bad.jsonl line 1, field 'should_refuse'" in invalid.stderr
    assert not (tmp_path / "out").exists()


def test_eval_with_the_llm_engine_needs_a_configured_model(cli_advisor, monkeypatch: pytest.MonkeyPatch, question_file: Path):
    monkeypatch.delenv("ADVISOR_LLM", raising=False)
    result = CliRunner().invoke(app, ["eval", str(question_file), "--engine", "llm"])
    assert result.exit_code == 2
    assert "--engine llm needs a model: set ADVISOR_LLM" in result.stderr
