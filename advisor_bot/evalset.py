"""Question sets for evaluation: the JSONL format, validated with line numbers."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from advisor_bot.errors import AdvisorError
from advisor_bot.recommendation import ModelName


class EvalSetError(AdvisorError):
    """A question-set file is malformed; the message names the line and field."""


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
    notes: str = ""


def load_questions(path: Path) -> list[EvalQuestion]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
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
        seen.add(q.id)
        questions.append(q)
    if not questions:
        raise EvalSetError(f"{path.name} holds no questions.")
    return questions
