"""The Advisor: the one object every shell (CLI, UI, API, evals) talks to."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

from advisor_bot.answer import Answer, Turn, clean_question, refused_answer
from advisor_bot.config import Settings, enforce_offline
from advisor_bot.engines.base import Engine, EngineContext
from advisor_bot.engines.offline import OfflineEngine
from advisor_bot.errors import InvalidQuestionError
from advisor_bot.index import EmbeddingModel, Index, IngestReport
from advisor_bot.retrieve import Retriever
from advisor_bot.scope import screen


class Advisor:
    """Loads the index on first use and answers questions with the configured engine."""

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        embedder: EmbeddingModel | None = None,
        engine: Engine | None = None,
    ) -> None:
        enforce_offline()
        self.settings = settings or Settings()
        if embedder is None:
            from advisor_bot.embeddings import Embedder

            embedder = Embedder()
        self.embedder = embedder
        self.index = Index(settings=self.settings, embedder=embedder)
        self.engine: Engine = engine or OfflineEngine()
        self._context: EngineContext | None = None
        self._lock = threading.Lock()

    @property
    def context(self) -> EngineContext:
        with self._lock:
            if self._context is None:
                snapshot = self.index.load()
                retriever = Retriever(snapshot=snapshot, index=self.index, embedder=self.embedder, settings=self.settings)
                self._context = EngineContext(
                    settings=self.settings,
                    retriever=retriever,
                    documents=snapshot.documents,
                    corpus_version=snapshot.manifest.corpus_version,
                )
            return self._context

    def ingest(self, extra: Sequence[Path] = (), *, progress: bool = False) -> IngestReport:
        report = self.index.ingest(extra, progress=progress)
        with self._lock:
            self._context = None
        return report

    def _history(self, history: Sequence[object] | None) -> list[Turn]:
        turns = []
        for i, turn in enumerate(history or []):
            try:
                turns.append(Turn.model_validate(turn))
            except ValueError as exc:
                raise InvalidQuestionError(
                    f"History item {i} must be {{'role': 'user' or 'assistant', 'content': text}}."
                ) from exc
        return turns[-self.settings.max_history_turns :] if self.settings.max_history_turns else []

    def ask(self, question: str, *, history: Sequence[object] | None = None) -> Answer:
        began = time.perf_counter()
        text = clean_question(question, max_chars=self.settings.max_question_chars)
        turns = self._history(history)
        context = self.context
        declined = screen(text)
        if declined is not None:
            answer = refused_answer(text, declined, engine=self.engine.name, corpus_version=context.corpus_version)
        else:
            answer = self.engine.answer(text, history=turns, context=context)
        answer.timings_ms["total"] = round((time.perf_counter() - began) * 1000, 2)
        return answer
