"""Question sets for evaluation: the JSONL format, validated with line numbers.

The format is documented in ``evals/README.md``. Logged complaints (thumbs-down
or "wrong evidence" feedback) convert to question-set lines, so each one can
become a regression test once a person fills in what the answer should contain.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from advisor_bot.errors import EvalSetError
from advisor_bot.feedback import FeedbackRecord
from advisor_bot.framework import ModelName


class EvalQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    turns: list[str] = Field(default_factory=list, description="Earlier user turns of the same conversation.")
    category: str = "general"
    expected_recommendation: ModelName | None = None
    accept: list[ModelName] = Field(default_factory=list)
    expected_sections: list[str] = Field(default_factory=list)
    must_include: list[str] = Field(default_factory=list)
    must_not_include: list[str] = Field(default_factory=list)
    should_refuse: bool = False
    partial_decline: bool = Field(default=False, description="A mixed request: answer the in-scope part, decline the rest.")
    expect_clarification: bool = Field(default=False, description="A which-model question the right answer to is one clarifying question.")
    notes: str = ""
    unverified: bool = Field(
        default=False,
        description="Exported from user feedback and not yet checked by a person: anyone can leave feedback, so such "
        "a line is refused until someone reviews it, fills in the expectations and removes this flag.",
    )


def _contradiction(q: EvalQuestion) -> tuple[str, str] | None:
    """A field that contradicts another one, and why; checked per line so the message can name it."""
    if q.accept and q.expected_recommendation is None:
        return "accept", "alternatives need an expected_recommendation to be alternatives to"
    if q.expect_clarification and q.expected_recommendation is not None:
        return "expect_clarification", "a clarifying question is the alternative to a verdict, not both"
    if q.should_refuse and q.partial_decline:
        return "partial_decline", "a partly declined request is answered, so it cannot also be refused"
    if q.should_refuse:
        for name in ("expected_recommendation", "expected_sections", "must_include"):
            if getattr(q, name):
                return name, "a question that should be refused cannot also expect an answer"
    return None


def load_questions(path: Path) -> list[EvalQuestion]:
    try:
        # utf-8-sig: editors on Windows prepend a byte-order mark that json.loads rejects.
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalSetError(f"Cannot read question set {path}: {exc}.") from exc
    questions: list[EvalQuestion] = []
    seen: set[str] = set()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            q = EvalQuestion.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            raise EvalSetError(f"{path.name} line {n}: not valid JSON ({exc.msg} at column {exc.colno}).") from exc
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "(line)"
            raise EvalSetError(f"{path.name} line {n}, field '{field}': {err['msg']}.") from exc
        if q.id in seen:
            raise EvalSetError(f"{path.name} line {n}, field 'id': duplicate id {q.id!r}.")
        if q.unverified:
            raise EvalSetError(
                f"{path.name} line {n}, field 'unverified': {q.id!r} is unreviewed user feedback; check it, fill in "
                "its expected fields and remove \"unverified\" before it counts."
            )
        if problem := _contradiction(q):
            raise EvalSetError(f"{path.name} line {n}, field '{problem[0]}': {problem[1]}.")
        seen.add(q.id)
        questions.append(q)
    if not questions:
        raise EvalSetError(f"{path.name} holds no questions.")
    return questions


def load_question_sets(paths: list[Path]) -> list[EvalQuestion]:
    """Several files as one set; ids must be unique across them, since results are keyed by id."""
    questions: list[EvalQuestion] = []
    origin: dict[str, str] = {}
    for path in paths:
        for q in load_questions(path):
            if q.id in origin:
                raise EvalSetError(f"{path.name}: id {q.id!r} is also used in {origin[q.id]}; ids must be unique across files.")
            origin[q.id] = path.name
            questions.append(q)
    return questions


def question_from_feedback(record: FeedbackRecord) -> EvalQuestion:
    """A question-set line for one complaint: what was asked and what was wrong, expectations left empty."""
    complaint = "thumbs-down" if record.rating == "down" else "thumbs-up"
    if record.wrong_evidence:
        complaint += ", wrong evidence"
    cited = "; ".join(dict.fromkeys(c.section for c in record.citations)) or "nothing"
    comment = f" Comment: {record.comment.strip()}" if record.comment.strip() else ""
    return EvalQuestion(
        id=f"feedback-{record.id}",
        question=record.question,
        category="feedback",
        unverified=True,
        notes=(
            f"From feedback #{record.id} ({complaint}, {record.created_at}, engine {record.engine}, "
            f"corpus {record.corpus_version}).{comment} The answer cited: {cited}. "
            "To do: fill in expected_recommendation, expected_sections, must_include or should_refuse."
        ),
    )


def write_questions(questions: list[EvalQuestion], path: Path) -> None:
    """Write a question set, every field spelled out so a person sees what there is to fill in."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(q.model_dump(), ensure_ascii=False) + "\n" for q in questions), encoding="utf-8")
    except OSError as exc:
        raise EvalSetError(f"Cannot write question set {path}: {exc.strerror}.") from exc
