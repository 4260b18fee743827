"""Small talk: greetings, thanks and "what can you do?", recognised by the patterns of
``data/smalltalk.yaml`` (the semantic reader's ``smalltalk`` intent catches other wordings)
and answered with a short reply and three example questions, never a refusal."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel

from advisor_bot.reading.model import SmallTalk

DATA = Path(__file__).parent / "data" / "smalltalk.yaml"
SHORT = 12  # words: a greeting longer than this is a message with a greeting in it


class _Data(BaseModel):
    patterns: dict[SmallTalk, re.Pattern[str]]
    coverage: re.Pattern[str]
    replies: dict[SmallTalk, str]
    examples: list[str]


@cache
def _data() -> _Data:
    raw = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    return _Data(
        patterns={k: re.compile(v, re.IGNORECASE) for k, v in raw["patterns"].items()},
        coverage=re.compile(raw["coverage"], re.IGNORECASE),
        replies={k: " ".join(v.split()) for k, v in raw["replies"].items()},
        examples=raw["examples"],
    )


def small_talk_by_rule(text: str) -> SmallTalk | None:
    if len(text.split()) > SHORT:
        return None
    return next((kind for kind, pattern in _data().patterns.items() if pattern.search(text)), None)


def asks_coverage(text: str) -> bool:
    """Whether ``text``, however long, asks what the advisor covers ("...: what subjects do you cover?")."""
    return bool(_data().coverage.search(text))


def small_talk_reply(kind: SmallTalk) -> tuple[str, list[str]]:
    data = _data()
    return data.replies[kind], data.examples
