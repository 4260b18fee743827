"""The engine interface and what every engine is given."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from advisor_bot.answer import Answer, Turn
from advisor_bot.config import Settings
from advisor_bot.corpus import Document
from advisor_bot.retrieve import Retriever
from advisor_bot.situation import Situation
from advisor_bot.tools import Toolbox


@dataclass(frozen=True)
class EngineContext:
    settings: Settings
    retriever: Retriever
    documents: dict[str, Document]
    corpus_version: str
    toolbox: Toolbox


class Engine(Protocol):
    """Answers a question; ``stream`` yields text as it is produced and ends with the Answer."""

    name: str

    def answer(
        self, question: str, *, history: list[Turn], context: EngineContext, situation: Situation | None = None
    ) -> Answer: ...

    def stream(
        self, question: str, *, history: list[Turn], context: EngineContext, situation: Situation | None = None
    ) -> Iterator[str | Answer]: ...
