"""The eval runner: a question set through advisor-bot (and the naive baseline), scored without an LLM.

Every metric is computed from the ``Answer`` JSON, the retriever's ranking and
the corpus text, so a run is deterministic and needs no network. The rules
(what counts as a hit, a figure, a fabrication) are documented in
``evals/README.md``; keep the two in step.
"""

from __future__ import annotations

import math
import tempfile
import time
import unicodedata
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

from pydantic import BaseModel, Field
from tqdm import tqdm

from advisor_bot.answer import Answer
from advisor_bot.turns import Turn, clean_question, retrieval_query
from advisor_bot.corpus import Document, parse_sections
from advisor_bot.errors import AdvisorError, InvalidQuestionError, EvalError
from advisor_bot.evals.evalset import EvalQuestion
from advisor_bot.figures import figures as read_figures
from advisor_bot.recommendation import CostEstimate

if TYPE_CHECKING:
    from advisor_bot.advisor import Advisor

K = 5
OURS = "advisor-bot"
MetricValue = float | None


class Metric(BaseModel):
    label: str
    kind: Literal["rate", "number", "count", "ms", "chars"]
    lower_is_better: bool = False


# The metrics of metrics.json, in report order; gates name them by key.
METRICS: dict[str, Metric] = {
    "questions": Metric(label="Questions", kind="count"),
    "pass_rate": Metric(label="Questions passing every check", kind="rate"),
    "recommendation_accuracy": Metric(label="Recommendation accuracy", kind="rate"),
    "wrong_recommendation_rate": Metric(label="Wrong recommendations (of which-model questions)", kind="rate", lower_is_better=True),
    "clarifying_question_rate": Metric(label="Clarifying questions (of which-model questions)", kind="rate"),
    "clarification_recall": Metric(label="Clarifying question where one was expected", kind="rate"),
    "partial_decline_rate": Metric(label="Mixed requests answered in part, declined in part", kind="rate"),
    f"retrieval_recall_at_{K}": Metric(label=f"Retrieval Recall@{K}", kind="rate"),
    "retrieval_mrr": Metric(label=f"Retrieval MRR (top {K})", kind="number"),
    f"retrieval_recall_at_{K}_lift": Metric(label=f"Recall@{K} above the baseline", kind="number"),
    "citation_section_hit_rate": Metric(label="Citation section hit rate", kind="rate"),
    "required_figure_recall": Metric(label="Required-figure recall", kind="rate"),
    "must_not_include_violations": Metric(label="must_not_include violations", kind="count", lower_is_better=True),
    "fabricated_figures": Metric(label="Fabricated figures", kind="count", lower_is_better=True),
    "verbatim_citation_rate": Metric(label="Verbatim citations", kind="rate"),
    "refusal_precision": Metric(label="Refusal precision", kind="rate"),
    "refusal_recall": Metric(label="Refusal recall", kind="rate"),
    "errors": Metric(label="Questions that raised an error", kind="count", lower_is_better=True),
    "fallbacks": Metric(label="Answers from a fallback engine", kind="count", lower_is_better=True),
    "answer_chars_p50": Metric(label="Answer length p50 (answers given)", kind="chars", lower_is_better=True),
    "answer_chars_p95": Metric(label="Answer length p95 (answers given)", kind="chars", lower_is_better=True),
    "answer_chars_p50_without_recommendation": Metric(label="Answer length p50, no recommendation", kind="chars", lower_is_better=True),
    "answer_chars_p95_without_recommendation": Metric(label="Answer length p95, no recommendation", kind="chars", lower_is_better=True),
    "answer_chars_p50_with_recommendation": Metric(label="Answer length p50, with a recommendation", kind="chars", lower_is_better=True),
    "answer_chars_p95_with_recommendation": Metric(label="Answer length p95, with a recommendation", kind="chars", lower_is_better=True),
    "latency_p50_ms": Metric(label="Latency p50", kind="ms", lower_is_better=True),
    "latency_p95_ms": Metric(label="Latency p95", kind="ms", lower_is_better=True),
}


# -- what a system under test returns ---------------------------------------------------------------


class Attempt(BaseModel):
    answer: Answer | None
    error: str | None = None
    ranking: list[list[str]] = Field(description=f"Heading texts of each of the top {K} retrieved passages, best first.")
    latency_ms: float


class System(Protocol):
    name: str
    engine: str  # the Answer.engine of its own answers; any other means it fell back
    recommends: bool  # False: recommendation accuracy does not apply (it is n/a, not zero)

    def attempt(self, question: EvalQuestion) -> Attempt: ...


def user_turns(question: EvalQuestion) -> list[dict[str, str]]:
    return [{"role": "user", "content": t} for t in question.turns]


def condensed_query(question: EvalQuestion, *, max_chars: int) -> str | None:
    """The text the engine retrieves with (``retrieval_query``), or None if the question is rejected."""
    try:
        text = clean_question(question.question, max_chars=max_chars)
    except InvalidQuestionError:
        return None
    return retrieval_query(text, [Turn(role="user", content=t) for t in question.turns])


class AdvisorSystem:
    """advisor-bot as users get it: ``Advisor.ask``, plus the retriever's ranking for the same query."""

    name = OURS
    recommends = True

    def __init__(self, advisor: Advisor) -> None:
        self.advisor = advisor
        self.engine = advisor.engine.name

    def attempt(self, question: EvalQuestion) -> Attempt:
        began = time.perf_counter()
        try:
            answer, error = self.advisor.ask(question.question, history=user_turns(question)), None
        except AdvisorError as exc:
            answer, error = None, str(exc)
        latency = (time.perf_counter() - began) * 1000
        query = condensed_query(question, max_chars=self.advisor.settings.max_question_chars)
        passages = self.advisor.context.retriever.search(query, k=K).passages if query else []
        return Attempt(answer=answer, error=error, ranking=[p.section.split(" > ") for p in passages], latency_ms=latency)


# -- figures ----------------------------------------------------------------------------------------

_DASHES = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"})
T = TypeVar("T", bound=BaseModel)
Figure = tuple[str, float]  # (dimension, value in its base unit), e.g. ("USD", 440000.0), ("%", 30.0), ("kg", 2000.0)


def normalise(text: str) -> str:
    """How must_include/must_not_include are matched: NFKC, any dash as '-', one space, case-folded."""
    return " ".join(unicodedata.normalize("NFKC", text).translate(_DASHES).split()).casefold()


def _plain(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_DASHES)


def figures(text: str) -> dict[Figure, str]:
    """Money, percentage and quantity figures in ``text`` (both ends of a range), each with how it was written."""
    found: dict[Figure, str] = {}
    for figure in read_figures(_plain(text)):
        for key in sorted(figure.typed()):
            found.setdefault(key, figure.text)
    return found


def _recorded(model: BaseModel, kind: type[T]) -> Iterator[T]:
    """Every ``kind`` object anywhere in ``model``: a cost estimate counts wherever the Answer records it."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, kind):
                yield item
            elif isinstance(item, BaseModel):
                yield from _recorded(item, kind)


def tool_figures(answer: Answer) -> set[Figure]:
    """Figures the answer's recorded tool results account for: cost arithmetic and the stated quantity."""
    allowed: set[Figure] = set()
    for cost in _recorded(answer, CostEstimate):
        for low, high in [(cost.low, cost.high), *((i.low, i.high) for i in cost.items)]:
            allowed |= {("USD", round(low)), ("USD", round(high))}
        for text in [*cost.notes, *(i.basis for i in cost.items)]:
            allowed |= figures(text).keys()
    if answer.situation.quantity is not None:
        allowed |= figures(str(answer.situation.quantity)).keys()
    return allowed


# -- scoring ----------------------------------------------------------------------------------------


class QuestionScore(BaseModel):
    passed: bool
    failures: list[str] = Field(description="Why the question failed; empty when it passed.")
    refused: bool | None = None
    recommendation: str | None = None
    recommendation_correct: bool | None = None
    wrong_recommendation: bool | None = Field(
        default=None, description="Which-model questions only: a verdict was given and it is not an accepted one."
    )
    clarified: bool | None = Field(default=None, description="Which-model questions only: a clarifying question instead of a verdict.")
    partial_declined: bool | None = Field(default=None, description="Mixed requests only: answered, with a part declined.")
    retrieval_rank: int | None = Field(default=None, description=f"Rank (1-{K}) of the first passage in an expected section.")
    recall_at_k: float | None = None
    reciprocal_rank: float | None = None
    cited_sections: list[str] = Field(default_factory=list)
    citation_hit: bool | None = None
    required_found: list[str] = Field(default_factory=list)
    required_missing: list[str] = Field(default_factory=list)
    forbidden_found: list[str] = Field(default_factory=list)
    fabricated: list[str] = Field(default_factory=list)
    fell_back: bool = Field(default=False, description="Answered by another engine than the one under test.")
    citations: int = 0
    verbatim_citations: int = 0
    answer_chars: int | None = Field(default=None, description="Characters of answer_markdown, for an answer that was given (not refused).")
    recommended: bool = False
    latency_ms: float


class QuestionResult(BaseModel):
    system: str
    question: EvalQuestion
    answer: Answer | None
    error: str | None = None
    scores: QuestionScore


def _in_sections(headings: Sequence[str], expected: Sequence[str]) -> bool:
    return any(h.strip() in expected for h in headings)


def score(
    question: EvalQuestion,
    attempt: Attempt,
    *,
    documents: dict[str, Document],
    corpus: set[Figure],
    engine: str = "offline",
    recommends: bool = True,
) -> QuestionScore:
    failures: list[str] = []
    answer = attempt.answer
    expected = [s.strip() for s in question.expected_sections]
    rank = next((i for i, h in enumerate(attempt.ranking[:K], 1) if _in_sections(h, expected)), None)
    retrieval = dict(recall_at_k=float(rank is not None), reciprocal_rank=1 / rank if rank else 0.0) if expected else {}
    if answer is None:
        # An error answers nothing: every expectation it had counts as missed.
        return QuestionScore(
            passed=False,
            failures=[f"error: {attempt.error}"],
            recommendation_correct=False if question.expected_recommendation and recommends else None,
            wrong_recommendation=False if (question.expected_recommendation or question.expect_clarification) and recommends else None,
            clarified=False if (question.expected_recommendation or question.expect_clarification) and recommends else None,
            citation_hit=False if expected and not question.should_refuse else None,
            required_missing=list(question.must_include),
            retrieval_rank=rank,
            latency_ms=attempt.latency_ms,
            **retrieval,
        )
    fell_back = answer.engine != engine
    if fell_back:
        # The LLM engine answers with the offline one when the model fails; an eval of the LLM must say so.
        why = f": {answer.notices[0]}" if answer.notices else ""
        failures.append(f"answered by the {answer.engine} engine, not {engine}{why}")
    if answer.refused != question.should_refuse:
        failures.append("refused but should answer" if answer.refused else "answered but should refuse")
    model = answer.recommendation.model if answer.recommendation else None
    correct = wrong = clarified = partial = None
    accepted = {question.expected_recommendation, *question.accept} - {None}
    if question.expected_recommendation is not None and recommends:
        correct = model in accepted
        if not correct:
            wanted = " or ".join([question.expected_recommendation, *question.accept])
            asked = " (asked a clarifying question)" if answer.clarifying_question else ""
            failures.append(f"recommendation: expected {wanted}, got {model or 'none'}{asked}")
    if (question.expected_recommendation is not None or question.expect_clarification) and recommends:
        # A guess where a question was due is as wrong as the wrong model.
        wrong = model is not None and model not in accepted
        clarified = model is None and answer.clarifying_question is not None
        if question.expect_clarification and not clarified:
            failures.append(f"expected a clarifying question, got {model or 'neither a verdict nor a question'}")
    if question.partial_decline:
        partial = not answer.refused and answer.declined_part is not None
        if not partial and not answer.refused:
            failures.append("mixed request: no part was declined")
    cited = list(dict.fromkeys(c.section for c in answer.citations))
    hit = None
    if expected and not question.should_refuse:
        hit = any(_in_sections(s.split(" > "), expected) for s in cited)
        if not hit:
            failures.append(f"no citation in the expected sections ({'; '.join(expected)})")
    text = normalise(answer.answer_markdown)
    found = [p for p in question.must_include if normalise(p) in text]
    missing = [p for p in question.must_include if normalise(p) not in text]
    forbidden = [p for p in question.must_not_include if normalise(p) in text]
    if missing:
        failures.append(f"missing required: {', '.join(missing)}")
    if forbidden:
        failures.append(f"contains forbidden: {', '.join(forbidden)}")
    accounted = corpus | figures(" ".join([question.question, *question.turns])).keys() | tool_figures(answer)
    fabricated = [f.text for f in read_figures(_plain(answer.answer_markdown)) if not f.accounted_by(accounted)]
    if fabricated:
        failures.append(f"figures found nowhere in the corpus, the question or the tool results: {', '.join(fabricated)}")
    verbatim = sum(
        1 for c in answer.citations if c.quote and c.document in documents and documents[c.document].text[c.start : c.end] == c.quote
    )
    if verbatim < len(answer.citations):
        failures.append(f"{len(answer.citations) - verbatim} citation(s) not verbatim at their offsets")
    return QuestionScore(
        passed=not failures,
        failures=failures,
        refused=answer.refused,
        recommendation=model,
        recommendation_correct=correct,
        wrong_recommendation=wrong,
        clarified=clarified,
        partial_declined=partial,
        retrieval_rank=rank,
        cited_sections=cited,
        citation_hit=hit,
        required_found=found,
        required_missing=missing,
        forbidden_found=forbidden,
        fabricated=fabricated,
        fell_back=fell_back,
        citations=len(answer.citations),
        verbatim_citations=verbatim,
        answer_chars=None if answer.refused else len(answer.answer_markdown),
        recommended=answer.recommendation is not None,
        latency_ms=attempt.latency_ms,
        **retrieval,
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile: a latency some question actually had."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _share(hits: float, total: int) -> MetricValue:
    return hits / total if total else None


def _lengths(scores: Sequence[QuestionScore]) -> dict[str, MetricValue]:
    """How long the answers a reader gets are (refusals excluded), overall and split by whether they recommend."""
    groups = {
        "": [s.answer_chars for s in scores if s.answer_chars is not None],
        "_without_recommendation": [s.answer_chars for s in scores if s.answer_chars is not None and not s.recommended],
        "_with_recommendation": [s.answer_chars for s in scores if s.answer_chars is not None and s.recommended],
    }
    return {f"answer_chars_p{q}{suffix}": percentile(values, q) for suffix, values in groups.items() for q in (50, 95)}


def summarise(results: Sequence[QuestionResult]) -> dict[str, MetricValue]:
    """The metrics of METRICS over some results (all of a run, or one category)."""
    scores = [r.scores for r in results]
    answered = [s for s in scores if s.refused is not None]
    expected_refusal = {r.question.id for r in results if r.scores.refused is not None and r.question.should_refuse}
    refused = {r.question.id for r in results if r.scores.refused}
    with_rec = [s.recommendation_correct for s in scores if s.recommendation_correct is not None]
    which_model = [s for s in scores if s.wrong_recommendation is not None]
    wanted_question = [s.clarified for r, s in zip(results, scores) if r.question.expect_clarification and s.clarified is not None]
    mixed = [s.partial_declined for s in scores if s.partial_declined is not None]
    retrieval = [s for s in scores if s.recall_at_k is not None]
    hits = [s.citation_hit for s in scores if s.citation_hit is not None]
    required = sum(len(s.required_found) + len(s.required_missing) for s in scores)
    citations = sum(s.citations for s in scores)
    latencies = [s.latency_ms for s in scores]
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    return {
        "questions": len(scores),
        "pass_rate": _share(sum(s.passed for s in scores), len(scores)),
        "recommendation_accuracy": _share(sum(with_rec), len(with_rec)),
        "wrong_recommendation_rate": _share(sum(bool(s.wrong_recommendation) for s in which_model), len(which_model)),
        "clarifying_question_rate": _share(sum(bool(s.clarified) for s in which_model), len(which_model)),
        "clarification_recall": _share(sum(wanted_question), len(wanted_question)),
        "partial_decline_rate": _share(sum(mixed), len(mixed)),
        f"retrieval_recall_at_{K}": _share(sum(s.recall_at_k or 0.0 for s in retrieval), len(retrieval)),
        "retrieval_mrr": _share(sum(s.reciprocal_rank or 0.0 for s in retrieval), len(retrieval)),
        "citation_section_hit_rate": _share(sum(hits), len(hits)),
        "required_figure_recall": _share(sum(len(s.required_found) for s in scores), required),
        "must_not_include_violations": sum(bool(s.forbidden_found) for s in scores),
        "fabricated_figures": sum(len(s.fabricated) for s in scores),
        "verbatim_citation_rate": _share(sum(s.verbatim_citations for s in scores), citations),
        "refusal_precision": _share(len(refused & expected_refusal), len(refused)),
        "refusal_recall": _share(len(refused & expected_refusal), len(expected_refusal)),
        "errors": len(scores) - len(answered),
        "fallbacks": sum(s.fell_back for s in scores),
        **_lengths(scores),
        "latency_p50_ms": round(p50, 2) if p50 is not None else None,
        "latency_p95_ms": round(p95, 2) if p95 is not None else None,
    }


# -- a run ------------------------------------------------------------------------------------------


class SystemRun(BaseModel):
    system: str
    metrics: dict[str, MetricValue]
    by_category: dict[str, dict[str, MetricValue]]
    results: list[QuestionResult] = Field(exclude=True)


class EvalRun(BaseModel):
    files: list[str]
    engine: str
    corpus_version: str
    k: int = K
    started_at: str
    seconds: float
    warnings: list[str] = Field(default_factory=list)
    ours: SystemRun
    baseline: SystemRun | None = None

    @property
    def metrics(self) -> dict[str, MetricValue]:
        """Our overall metrics, plus the lift over the baseline when it ran: what gates are checked against."""
        metrics = dict(self.ours.metrics)
        if self.baseline is not None:
            ours, theirs = metrics[f"retrieval_recall_at_{K}"], self.baseline.metrics[f"retrieval_recall_at_{K}"]
            metrics[f"retrieval_recall_at_{K}_lift"] = ours - theirs if ours is not None and theirs is not None else None
        return metrics


def corpus_figures(documents: dict[str, Document]) -> set[Figure]:
    found: set[Figure] = set()
    for doc in documents.values():
        found |= figures(doc.text).keys()
    return found


def unknown_sections(questions: Sequence[EvalQuestion], documents: dict[str, Document]) -> list[str]:
    """Warnings for expected_sections naming no heading of the corpus: such a question can never pass."""
    headings = {h for doc in documents.values() for s in parse_sections(doc) for h in s.heading_path}
    return [
        f"{q.id}: expected section {name!r} is not a heading of the corpus"
        for q in questions
        for name in q.expected_sections
        if name.strip() not in headings
    ]


def run_system(
    system: System,
    questions: Sequence[EvalQuestion],
    *,
    documents: dict[str, Document],
    corpus: set[Figure],
    progress: bool,
) -> SystemRun:
    results = []
    for q in tqdm(questions, desc=system.name, unit="question", disable=not progress, leave=False):
        attempt = system.attempt(q)
        results.append(
            QuestionResult(
                system=system.name,
                question=q,
                answer=attempt.answer,
                error=attempt.error,
                scores=score(q, attempt, documents=documents, corpus=corpus, engine=system.engine, recommends=system.recommends),
            )
        )
    categories = sorted({q.category for q in questions})
    return SystemRun(
        system=system.name,
        metrics=summarise(results),
        by_category={c: summarise([r for r in results if r.question.category == c]) for c in categories},
        results=results,
    )


def evaluate(
    advisor: Advisor,
    questions: Sequence[EvalQuestion],
    *,
    files: Sequence[Path],
    baseline: bool = False,
    progress: bool = False,
) -> EvalRun:
    """Ask every question, score every answer, and (with ``baseline``) do the same for the naive RAG."""
    began = time.perf_counter()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    context = advisor.context
    corpus = corpus_figures(context.documents)
    ours = run_system(AdvisorSystem(advisor), questions, documents=context.documents, corpus=corpus, progress=progress)
    theirs = None
    if baseline:
        from langchain_core.embeddings import Embeddings

        from advisor_bot.evals.baseline import NaiveRag

        if not isinstance(advisor.embedder, Embeddings):
            raise EvalError("The baseline embeds through LangChain; give the Advisor a LangChain Embeddings model.")
        with tempfile.TemporaryDirectory(prefix="advisor-baseline-") as workdir:
            rag = NaiveRag(
                documents=context.documents,
                embedder=advisor.embedder,
                workdir=Path(workdir),
                corpus_version=context.corpus_version,
                max_question_chars=advisor.settings.max_question_chars,
            )
            theirs = run_system(rag, questions, documents=context.documents, corpus=corpus, progress=progress)
    return EvalRun(
        files=[str(f) for f in files],
        engine=advisor.engine.name,
        corpus_version=context.corpus_version,
        started_at=started,
        seconds=round(time.perf_counter() - began, 2),
        warnings=unknown_sections(questions, context.documents),
        ours=ours,
        baseline=theirs,
    )
