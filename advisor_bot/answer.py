"""What an answer is: the typed object every engine returns and every shell renders."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from advisor_bot.citations import Citation
from advisor_bot.recommendation import CostEstimate, Recommendation
from advisor_bot.reading.model import Evidence, Reading
from advisor_bot.reading.scope import Refusal
from advisor_bot.reading.smalltalk import small_talk_reply
from advisor_bot.situation import Situation


class Answer(BaseModel):
    question: str
    answer_markdown: str
    citations: list[Citation]
    recommendation: Recommendation | None = None
    cost_estimate: CostEstimate | None = Field(
        default=None, description="A cost estimate given without a recommendation (the recommendation carries its own)."
    )
    situation: Situation = Field(default_factory=Situation)
    evidence: list[Evidence] = Field(default_factory=list, description="The user's words that set each situation field, and who read them.")
    refused: bool = False
    refusal_reason: str | None = None
    clarifying_question: str | None = Field(
        default=None, description="Asked instead of a verdict when what the user said does not settle the model."
    )
    declined_part: str | None = Field(
        default=None, description="What part of a mixed request was declined, and why; the rest was answered."
    )
    engine: str
    corpus_version: str
    notices: list[str] = Field(default_factory=list, description="Things the user should know about this answer.")
    unsupported_figures: int = Field(default=0, description="Figures the LLM engine removed: in no passage, tool result or user message.")
    timings_ms: dict[str, float] = Field(default_factory=dict)


def user_words(fields: Sequence[str], evidence: Sequence[Evidence]) -> list[str]:
    """The user's own words that set any of ``fields``, each once, in the order they were said; words
    inside longer ones kept ("IND-enabling" within "IND-enabling studies") are not repeated."""
    words = list(dict.fromkeys(e.text for e in evidence if e.field in fields))
    return [w for w in words if not any(w != other and w.casefold() in other.casefold() for other in words)]


def small_talk_answer(reading: Reading, *, engine: str, corpus_version: str) -> Answer:
    """A greeting, thanks or "what can you do?": a short reply and three questions to try."""
    kind = reading.small_talk or "capabilities"
    reply, examples = small_talk_reply(kind)
    text = reply + "\n\nTry for example:\n" + "\n".join(f"- *{e}*" for e in examples)
    return Answer(question=reading.question, answer_markdown=text, citations=[], engine=engine, corpus_version=corpus_version)


def refused_answer(question: str, why: Refusal, *, engine: str, corpus_version: str) -> Answer:
    return Answer(
        question=question,
        answer_markdown=why.message,
        citations=[],
        refused=True,
        refusal_reason=why.kind,
        engine=engine,
        corpus_version=corpus_version,
    )
