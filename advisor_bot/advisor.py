"""The Advisor: the one object every shell (CLI, UI, API, evals) talks to."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from advisor_bot.answer import Answer, refused_answer, small_talk_answer
from advisor_bot.turns import Turn, clean_question, retrieval_query
from advisor_bot.config import Settings, enforce_offline
from advisor_bot.engines.base import Engine, EngineContext
from advisor_bot.engines.offline import OfflineEngine
from advisor_bot.errors import IndexMissingError, InvalidQuestionError
from advisor_bot.index import EmbeddingModel, Index, IngestReport
from advisor_bot.retrieve import Retriever
from advisor_bot.framework import load_framework
from advisor_bot.reading.model import Reading
from advisor_bot.reading.reader import Reader
from advisor_bot.reading.scope import refusal, relevant
from advisor_bot.reading.semantic import SemanticReader, load_thresholds
from advisor_bot.retrieve import Retrieval
from advisor_bot.situation import Situation
from advisor_bot.tools import Toolbox


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

            embedder = Embedder(cache_dir=self.settings.data_dir / "models")
        self.embedder = embedder
        self.index = Index(settings=self.settings, embedder=embedder)
        self.engine: Engine = engine or self._configured_engine()
        self._context: EngineContext | None = None
        self._lock = threading.Lock()

    def _configured_engine(self) -> Engine:
        if self.settings.engine == "llm":
            from advisor_bot.engines.llm import LLMEngine

            return LLMEngine()
        return OfflineEngine()

    @property
    def context(self) -> EngineContext:
        with self._lock:
            if self._context is None:
                self._context = self._load()
            elif self.index.server_url is not None and self.index.current_version() != self._context.corpus_version:
                # Replicas share one Chroma server: another one's ingest is picked up here, without a restart.
                try:
                    self._context = self._load()
                except IndexMissingError:
                    pass  # that ingest is still writing: keep answering from the version we have
            return self._context

    def _load(self) -> EngineContext:
        snapshot = self.index.load()
        retriever = Retriever(snapshot=snapshot, index=self.index, embedder=self.embedder, settings=self.settings)
        # The decision tools read the framework only: a user's document is retrieved and cited, never decides.
        framework = load_framework({k: d for k, d in snapshot.documents.items() if d.origin == "framework"})
        semantic = SemanticReader(embedder=self.embedder, framework=framework, thresholds=load_thresholds())
        return EngineContext(
            settings=self.settings,
            retriever=retriever,
            documents=snapshot.documents,
            corpus_version=snapshot.manifest.corpus_version,
            toolbox=Toolbox(framework),
            reader=Reader(
                framework=framework,
                semantic=semantic if self.settings.reading != "rules" else None,
                use_rules=self.settings.reading != "meaning",
            ),
        )

    def ingest(self, extra: Sequence[Path] = (), *, progress: bool = False, rebuild: bool = False) -> IngestReport:
        report = self.index.ingest(extra, progress=progress, rebuild=rebuild)
        with self._lock:
            self._context = None
        return report

    def _history(self, history: Sequence[object] | None) -> list[Turn]:
        if history is not None and not isinstance(history, Sequence) or isinstance(history, str):
            raise InvalidQuestionError("History must be a list of {'role': ..., 'content': ...} messages.")
        if len(history or []) > self.settings.max_history_items:
            raise InvalidQuestionError(
                f"The history has {len(history or []):,} messages; send at most {self.settings.max_history_items:,} "
                f"(only the last {self.settings.max_history_turns} are read)."
            )
        turns = []
        for i, turn in enumerate(history or []):
            try:
                turns.append(Turn.model_validate(turn))
            except ValueError as exc:
                raise InvalidQuestionError(
                    f"History item {i} must be {{'role': 'user' or 'assistant', 'content': text}}."
                ) from exc
        kept = turns[-self.settings.max_history_turns :] if self.settings.max_history_turns else []
        # Earlier user turns were questions and get the same checks; answers are ours but
        # arrive from the client, so they are bounded too.
        limit = self.settings.max_question_chars
        cleaned = []
        first = len(turns) - len(kept)
        for i, t in enumerate(kept, first):
            if t.role == "assistant":
                cleaned.append(t.model_copy(update={"content": t.content[: limit * 25]}))
            elif t.content.strip():  # an image-only or empty turn says nothing to read
                try:
                    cleaned.append(t.model_copy(update={"content": clean_question(t.content, max_chars=limit)}))
                except InvalidQuestionError as exc:
                    # The checks speak of "the question"; here it is an earlier message.
                    raise InvalidQuestionError(f"History item {i}: {str(exc).replace('The question', 'this message', 1)}") from exc
        return cleaned

    def _situation(self, situation: Situation | None, context: EngineContext) -> Situation | None:
        """An explicit situation with its stage resolved to a matrix row label."""
        if situation is None or situation.stage is None:
            return situation
        result = context.toolbox.stage_recommendation(situation.stage)
        if result.row is None:
            raise InvalidQuestionError(f"Unknown stage {situation.stage!r}; use one of: {', '.join(result.known_stages)}.")
        return situation.model_copy(update={"stage": result.row.stage})

    def ask(
        self, question: str, *, history: Sequence[object] | None = None, situation: Situation | None = None
    ) -> Answer:
        """Answer one question; ``history`` is the conversation so far, ``situation`` explicit settings."""
        *_, answer = self.stream(question, history=history, situation=situation)
        assert isinstance(answer, Answer)
        return answer

    def read(
        self, question: str, *, history: Sequence[object] | None = None, situation: Situation | None = None
    ) -> tuple[Reading, list[Turn], Retrieval | None]:
        """The turn read once (what both engines answer from), the history as used, and the search
        the relevance gate ran for it (reused by the engine)."""
        text = clean_question(question, max_chars=self.settings.max_question_chars)
        turns = self._history(history)
        context = self.context
        given = self._situation(situation, context)
        searched: dict[str, Retrieval] = {}

        def gate(query: str) -> bool:
            found = searched.setdefault(query, context.retriever.search(retrieval_query(query, turns)))
            return relevant(
                best_dense=found.best_dense,
                coverage=found.coverage,
                min_relevance=self.settings.min_relevance,
                min_relevance_covered=self.settings.min_relevance_covered,
            )

        reading = context.reader.read(text, history=turns, given=given, relevant=gate)
        return reading, turns, searched.get(reading.query)

    def stream(
        self, question: str, *, history: Sequence[object] | None = None, situation: Situation | None = None
    ) -> Iterator[str | Answer]:
        """Yield answer text as it is produced, then the complete ``Answer``.

        Input is validated and the turn read before the first yield, so a bad question raises at once.
        """
        began = time.perf_counter()
        reading, turns, retrieval = self.read(question, history=history, situation=situation)
        return self._stream(reading, turns, self.context, retrieval, began)

    def _stream(
        self, reading: Reading, turns: list[Turn], context: EngineContext, retrieval: Retrieval | None, began: float
    ) -> Iterator[str | Answer]:
        if reading.scope.verdict == "decline":
            answer = refused_answer(reading.question, refusal(reading.scope), engine=self.engine.name, corpus_version=context.corpus_version)
            yield answer.answer_markdown
        elif reading.small_talk is not None:
            answer = small_talk_answer(reading, engine=self.engine.name, corpus_version=context.corpus_version)
            yield answer.answer_markdown
        else:
            for item in self.engine.stream(reading, history=turns, context=context, retrieval=retrieval):
                if isinstance(item, Answer):
                    answer = item
                else:
                    yield item
            if reading.scope.verdict == "partial":
                line = f"\n\n**Not answered:** {reading.scope.reason}"
                answer.declined_part = reading.scope.reason
                answer.answer_markdown += line
                yield line
        answer.timings_ms["total"] = round((time.perf_counter() - began) * 1000, 2)
        yield answer
