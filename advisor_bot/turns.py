"""What the user sends: a turn of the conversation, checked before anything reads it."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from advisor_bot.errors import InvalidQuestionError


class Turn(BaseModel):
    """One message of a conversation, in the shape Gradio and OpenAI use."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["user", "assistant"]
    content: str

    @field_validator("content", mode="before")
    @classmethod
    def _flatten(cls, value: object) -> object:
        # Gradio 6 may send content as a list of typed parts; keep the text ones.
        if isinstance(value, list):
            parts = [p.get("text", "") if isinstance(p, dict) else str(p) for p in value]
            return "\n".join(p for p in parts if p)
        return value


# C0/C1 controls, non-characters and lone surrogates (JSON clients can send "\ud800").
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")
# Invisible format characters (zero-width spaces, BOM): they carry no words.
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060\ufeff]")


def clean_question(raw: object, *, max_chars: int) -> str:
    """Validate a question; the message of every rejection says how to fix it."""
    if not isinstance(raw, str):
        raise InvalidQuestionError("The question must be text.")
    if len(raw) > max_chars:
        raise InvalidQuestionError(
            f"The question is {len(raw):,} characters long; the limit is {max_chars:,}. "
            "Shorten it to the part you want answered."
        )
    controls = len(_CONTROL.findall(raw)) + raw.count("\ufffd")
    if "\x00" in raw or controls > max(3, len(raw) // 20):
        raise InvalidQuestionError(
            "The question contains binary or control characters; paste it as plain text."
        )
    text = unicodedata.normalize("NFC", _INVISIBLE.sub("", _CONTROL.sub(" ", raw))).strip()
    if not text:
        raise InvalidQuestionError(
            "The question is empty. Ask about outsourcing chemical development, e.g. "
            "'Should we use a CRO or a CDMO for IND-enabling studies?'"
        )
    return text


_BARE_WORDS = 6  # a follow-up this short says nothing of its own subject
_FOLLOW_UP = re.compile(r"\b(that|this|it|its|they|them|those|these|there|so|also|what about|how about)\b", re.IGNORECASE)


def retrieval_query(question: str, history: list[Turn]) -> str:
    """The question, prefixed with the previous user turn when it reads as a follow-up, and with the
    one before that too when it is only a few words ("good idea?" after the plan told in two turns)."""
    previous = [t.content for t in history if t.role == "user"]
    if previous and (len(question.split()) <= 14 or _FOLLOW_UP.search(question)):
        lean_on = previous[-2:] if len(question.split()) <= _BARE_WORDS else previous[-1:]
        return "\n".join([*lean_on, question])
    return question
