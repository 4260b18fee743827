"""The engine interface and what every engine is given."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from advisor_bot.answer import Answer
from advisor_bot.turns import Turn
from advisor_bot.config import Settings
from advisor_bot.corpus import Document
from advisor_bot.reading.model import Reading
from advisor_bot.reading.reader import Reader
from advisor_bot.retrieve import Retrieval, Retriever
from advisor_bot.tools import Toolbox


@dataclass(frozen=True)
class EngineContext:
    settings: Settings
    retriever: Retriever
    documents: dict[str, Document]
    corpus_version: str
    toolbox: Toolbox
    reader: Reader


class Engine(Protocol):
    """Answers a read turn; ``stream`` yields text as it is produced and ends with the Answer.

    ``retrieval`` is the search the ``Advisor`` already ran for ``reading.query`` (None: search anew).
    """

    name: str

    def problem(self) -> str | None:
        """Why answers are degraded right now (for the health check), or None."""
        ...

    def answer(self, reading: Reading, *, history: list[Turn], context: EngineContext, retrieval: Retrieval | None = None) -> Answer: ...

    def stream(
        self, reading: Reading, *, history: list[Turn], context: EngineContext, retrieval: Retrieval | None = None
    ) -> Iterator[str | Answer]: ...
