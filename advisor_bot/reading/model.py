"""What a turn says, read once: the types the reader produces and every later layer consumes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from advisor_bot.reading.cost import CostScenario
from advisor_bot.situation import Situation

Intent = Literal[
    "recommend", "cost", "pricing", "ip", "regulatory", "transfer", "transition", "mistakes", "definition", "publisher"
]
Source = Literal["rule", "meaning", "panel", "model"]
SmallTalk = Literal["greeting", "thanks", "goodbye", "capabilities"]
DeclineKind = Literal[
    "out_of_scope", "synthesis_request", "prompt_extraction", "injection", "vendor", "clinical_cro", "careers",
    "legal", "chemistry", "regulator_fees",
]  # fmt: skip


class Evidence(BaseModel):
    """The user's own words that set a situation field."""

    model_config = ConfigDict(frozen=True)

    field: str
    text: str = Field(description="The words, verbatim from the turn.")
    turn: int = Field(description="Index of the user turn, 0 = the oldest; the current question is the last.")
    start: int
    end: int
    source: Source


class StageOption(BaseModel):
    """A stage the reading considers, with the model its matrix row recommends."""

    stage: str
    models: list[str]
    probability: float
    confident: bool = Field(default=False, description="Read at or above the row's calibrated threshold.")


class Declined(BaseModel):
    """A part of the turn that will not be answered, and why."""

    kind: DeclineKind
    text: str = Field(description="The declined words, verbatim.")
    reason: str = Field(description="One line for the user.")


class Scope(BaseModel):
    verdict: Literal["answer", "decline", "partial"]
    declined: list[Declined] = Field(default_factory=list)

    @property
    def reason(self) -> str | None:
        return " ".join(dict.fromkeys(d.reason for d in self.declined)) or None


class Reading(BaseModel):
    """Everything the engines need to know about a turn, computed once by the ``Advisor``."""

    question: str
    query: str = Field(description="The words to retrieve and answer with: the question less its declined parts.")
    turn: int = Field(default=0, description="Index of this question among the user's turns (Evidence.turn of its own words).")
    situation: Situation
    evidence: list[Evidence] = Field(default_factory=list)
    stage_options: list[StageOption] = Field(
        default_factory=list, description="When the stage is unsure: the likely rows, best first (a clarifying question names them)."
    )
    stage_source: Source | None = None
    intents: list[Intent] = Field(default_factory=list)
    scenario: CostScenario | None = Field(default=None, description="The work a cost question asks to price.")
    provider: Literal["CRO", "CDMO"] | None = Field(default=None, description="The one kind of provider the question is about, if one.")
    scope: Scope = Field(default_factory=lambda: Scope(verdict="answer"))
    small_talk: SmallTalk | None = None

    def evidence_for(self, field: str) -> Evidence | None:
        return next((e for e in reversed(self.evidence) if e.field == field), None)
