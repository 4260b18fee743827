"""The engine interface and what every engine is given."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from advisor_bot.answer import Answer, Turn
from advisor_bot.config import Settings
from advisor_bot.corpus import Document
from advisor_bot.retrieve import Retriever


@dataclass(frozen=True)
class EngineContext:
    settings: Settings
    retriever: Retriever
    documents: dict[str, Document]
    corpus_version: str


class Engine(Protocol):
    name: str

    def answer(self, question: str, *, history: list[Turn], context: EngineContext) -> Answer: ...
