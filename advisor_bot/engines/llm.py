"""The LLM engine: a tool-calling conversation over the framework, checked before it is shown.

The model talks; the framework decides. It works through ``search_framework`` and
the decision tools of ``advisor_bot.tools``, and its prose goes through
``advisor_bot.grounding`` sentence by sentence before the user sees it. The
recommendation is computed by ``advisor_bot.decisions.recommend`` from what the
user said, never taken from the model's text, and it opens the answer: the model's
text is held back until the tools have decided, then follows, bounded. Whenever the model cannot give a
usable answer (unreachable, slow, rate-limited, malformed or looping tool
calls, empty output), the offline engine answers instead, with a one-line
notice saying why.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import Runnable
from langchain_core.tools import StructuredTool, ToolException
from pydantic import BaseModel, ValidationError

from advisor_bot.errors import LLMFault
from advisor_bot.answer import Answer
from advisor_bot.turns import Turn, retrieval_query
from advisor_bot.config import Settings
from advisor_bot.decisions import decide
from advisor_bot.engines.base import EngineContext
from advisor_bot.engines.chat_model import chat_model, fault_reason
from advisor_bot.engines.deadline import abandoned, budget_fault, overdue, within
from advisor_bot.engines.model_tools import SEARCH, SITUATION, build_tools, passages_payload
from advisor_bot.engines.offline import OfflineEngine
from advisor_bot.engines.compose import References, lead_sources, opening, promotion_relevant
from advisor_bot.engines.passages import pick_passages
from advisor_bot.engines.prose import Prose
from advisor_bot.grounding import Evidence, ProseGuard, SentenceBuffer, conflicting, data_block, normal_corpus, with_ids
from advisor_bot.prompts import render
from advisor_bot.recommendation import CostEstimate, Recommendation
from advisor_bot.reading.model import Reading
from advisor_bot.reading.model_reading import reconcile
from advisor_bot.retrieve import Retrieval

log = logging.getLogger(__name__)

_DECIDING = frozenset({"stage_recommendation", "profile_assessment"})


@dataclass(frozen=True)
class _Binding:
    context: EngineContext
    model: BaseChatModel
    tools: dict[str, StructuredTool]
    runnable: Runnable[Any, Any]
    corpus_text: str


# -- the engine ------------------------------------------------------------------------


class LLMEngine:
    """Answers through a chat model; pass ``model`` to use a given one (tests), else it is built from settings."""

    name = "llm"

    def __init__(self, *, model: BaseChatModel | None = None) -> None:
        self._given = model
        self._models: dict[tuple[object, ...], BaseChatModel] = {}
        self._binding: _Binding | None = None
        self._offline = OfflineEngine()
        self._lock = threading.Lock()
        self._last_fault: str | None = None

    def answer(self, reading: Reading, *, history: list[Turn], context: EngineContext, retrieval: Retrieval | None = None) -> Answer:
        *_, answer = self.stream(reading, history=history, context=context, retrieval=retrieval)
        assert isinstance(answer, Answer)
        return answer

    def stream(
        self, reading: Reading, *, history: list[Turn], context: EngineContext, retrieval: Retrieval | None = None
    ) -> Iterator[str | Answer]:
        run = _Run(self, reading, history, context, retrieval)
        shown = False
        try:
            for item in within(run.execute, seconds=context.settings.llm_max_seconds):
                shown = shown or (isinstance(item, str) and bool(item.strip()))
                yield item
        except Exception as exc:  # noqa: BLE001 - nothing raises to the UI; the offline engine answers
            yield from self._fall_back(exc, run, reading, shown=shown)
        else:
            self._last_fault = None

    def problem(self) -> str | None:
        """Why answers are worse than they should be right now, for the health check; None when all is well."""
        problems = []
        if self._last_fault:
            problems.append(f"the last answer fell back to the offline engine: the language model {self._last_fault}")
        if stuck := overdue():
            problems.append(f"{stuck} language-model request(s) still open past their answer's deadline")
        return "; ".join(problems) or None

    def _fall_back(self, exc: Exception, run: _Run, reading: Reading, *, shown: bool) -> Iterator[str | Answer]:
        # ``reading`` as given: after the deadline the abandoned run may still be changing its own.
        reason, expected = fault_reason(exc, run.context.settings)
        self._last_fault = reason
        notice = f"The language model {reason}, so this is the offline engine's answer."
        log.warning("LLM engine fell back to the offline engine: the language model %s", reason, exc_info=None if expected else exc)
        answer = self._offline.answer(reading, history=run.history, context=run.context, retrieval=run.retrieval)
        answer.notices.insert(0, notice)
        answer.answer_markdown = f"*{notice}*\n\n{answer.answer_markdown}"
        answer.timings_ms["llm_failed_after"] = round((time.perf_counter() - run.began) * 1000, 2)
        if shown:
            yield "\n\n---\n\n"
        for block in answer.answer_markdown.split("\n\n"):
            yield block + "\n\n"
        yield answer

    def model(self, settings: Settings) -> BaseChatModel:
        if self._given is not None:
            return self._given
        key = (settings.llm, settings.llm_base_url, settings.llm_api_key, settings.llm_temperature, settings.llm_timeout, settings.llm_max_retries)
        with self._lock:
            if key not in self._models:
                self._models[key] = chat_model(settings)
            return self._models[key]

    def binding(self, context: EngineContext, model: BaseChatModel) -> _Binding:
        with self._lock:
            b = self._binding
            if b is None or b.context is not context or b.model is not model:
                tools = build_tools(context)
                runnable = model.bind_tools(list(tools.values()))
                b = self._binding = _Binding(context, model, tools, runnable, normal_corpus(context.documents))
            return b


def _nothing_shown(prose: Prose) -> LLMFault:
    if prose.full:
        return LLMFault(f"began its answer with a sentence longer than the {prose.limit}-character limit")
    return LLMFault("gave an answer none of whose sentences passed the grounding checks")


@dataclass
class _Run:
    """One answer: its state, timings and the generator that produces it."""

    engine: LLMEngine
    reading: Reading
    history: list[Turn]
    context: EngineContext
    retrieval: Retrieval | None
    began: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)
    shown: list[str] = field(default_factory=list)
    called: list[str] = field(default_factory=list)
    scrubbed: int = 0
    model_ms: float = 0.0
    recorded: dict[str, Any] | None = None  # the situation the model read, through record_situation
    query: str = ""  # what the answer's passages were retrieved for (the stand-alone question after a follow-up)
    decided: tuple[Recommendation | None, CostEstimate | None, list[str]] | None = None
    decided_from: dict[str, Any] | None = None  # the model's reading the verdict was decided with

    def _tick(self, key: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[key] = round(self.timings.get(key, 0.0) + (now - since) * 1000, 2)
        return now

    def _timed(self, items: Iterable[Any]) -> Generator[Any, None, None]:
        """Iterate a model call, adding the time spent inside it to ``model_ms``."""
        it = iter(items)
        try:
            while True:
                if abandoned():
                    raise budget_fault(self.context.settings.llm_max_seconds)
                start = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    return
                finally:
                    self.model_ms += (time.perf_counter() - start) * 1000
                yield item
        finally:
            if isinstance(it, Generator):
                it.close()  # a reply cut short closes its stream (and connection) now, not when collected

    @property
    def question(self) -> str:
        return self.reading.query

    def execute(self) -> Iterator[str | Answer]:
        settings, context = self.context.settings, self.context
        t = time.perf_counter()
        self.query = retrieval_query(self.question, self.history)
        retrieval = self.retrieval or context.retriever.search(self.query)
        t = self._tick("retrieve", t)
        model = self.engine.model(settings)
        binding = self.engine.binding(context, model)
        if self.history:
            self.query = self._condense(model)
            t = time.perf_counter()
            retrieval = context.retriever.search(self.query)
            t = self._tick("retrieve", t)
        self.retrieval = retrieval

        evidence = Evidence()
        # The user's own figures may be repeated back ("your 40 kg").
        evidence.add_text("\n".join([self.question, *(h.content for h in self.history if h.role == "user")]))
        block, text, scrubbed = data_block(SEARCH, passages_payload(pick_passages(retrieval, limit=settings.top_k, about_publisher="publisher" in self.reading.intents), evidence))
        evidence.add_text(text)
        self.scrubbed += scrubbed
        messages: list[BaseMessage] = [
            SystemMessage(render("system")),
            *(HumanMessage(h.content) if h.role == "user" else AIMessage(h.content[:4000]) for h in self.history),
            HumanMessage(render("question", question=self.question, passages=block, max_chars=settings.llm_max_prose_chars)),
        ]
        # One numbering for the whole answer: the opening's sources first, then the prose's in order.
        refs = References(documents=context.documents)
        guard = ProseGuard(evidence, context.documents, corpus_text=binding.corpus_text, number=refs.number)
        prose = Prose(guard=guard, limit=settings.llm_max_prose_chars)
        t = self._tick("prepare", t)
        for text in self._converse(binding, messages, prose, refs):
            self.shown.append(text)
            yield text
        yield from self._compose(prose, refs)

    def _condense(self, model: BaseChatModel) -> str:
        convo = "\n".join(f"{h.role}: {h.content[:1000]}" for h in self.history[-6:])
        start = time.perf_counter()
        try:
            message = model.invoke([HumanMessage(render("condense", history=convo, question=self.question))])
        finally:
            self.model_ms += (time.perf_counter() - start) * 1000
            self._tick("condense", start)
        lines = [line.strip() for line in message.text.strip().splitlines() if line.strip()]
        standalone = lines[0][: self.context.settings.max_question_chars] if lines else ""
        return standalone or retrieval_query(self.question, self.history)

    def _converse(self, binding: _Binding, messages: list[BaseMessage], prose: Prose, refs: References) -> Iterator[str]:
        """The conversation, verdict first: the model's text is held until the situation is read and
        the tools have decided (after the round in which the model records the situation, or its
        first text after any round of tool calls, or its last word), then the opening is shown and
        the held text follows; from then on the text streams as it is checked, up to the prose limit."""
        settings = self.context.settings
        buffer = SentenceBuffer()
        wrote = False
        for step in range(settings.llm_max_steps):
            message: AIMessageChunk | None = None
            chunks = self._timed(binding.runnable.stream(messages))
            try:
                for chunk in chunks:
                    message = chunk if message is None else message + chunk
                    if not chunk.text:
                        continue
                    wrote = wrote or bool(chunk.text.strip())
                    units = buffer.feed(chunk.text)
                    if units and step and not prose.released:
                        yield from self._open(prose, refs, last=False)
                    yield from prose.feed(units)
                    if prose.full:
                        break  # long enough: the rest of this reply is neither read nor shown
            finally:
                chunks.close()
            if prose.full:
                break
            yield from prose.feed(buffer.flush())
            if message is None:
                raise LLMFault("returned nothing")
            if message.invalid_tool_calls:
                raise LLMFault("sent a malformed tool call")
            if not message.tool_calls:
                break
            if step == settings.llm_max_steps - 1:
                raise LLMFault(f"was still calling tools after {settings.llm_max_steps} steps (a tool-call loop)")
            if message.text.strip():
                yield from prose.paragraph()
            calls = [dict(c, id=c.get("id") or f"call_{step}_{i}") for i, c in enumerate(message.tool_calls)]
            messages.append(AIMessage(content=message.content, tool_calls=calls))
            start = time.perf_counter()
            messages.extend(self._call(binding, call, prose.guard.evidence) for call in calls)
            self._tick("tools", start)
            if SITUATION in self.called and not prose.released:
                yield from self._open(prose, refs, last=False)
        if not wrote:
            raise LLMFault("returned an empty answer")
        if not prose.released:
            yield from self._open(prose, refs, last=True)
        if not prose.text.strip():
            raise _nothing_shown(prose)

    def _open(self, prose: Prose, refs: References, *, last: bool) -> Iterator[str]:
        """Decide, show the opening, then release the model's text held so far (``last``: all of it,
        so an answer none of whose text passes the checks falls back before anything is shown)."""
        start = time.perf_counter()
        rec, cost, notices = self._decide()
        cost = cost if rec is None else None  # the recommendation carries its own
        self.decided, self.decided_from = (rec, cost, notices), self.recorded
        refs.promotion = promotion_relevant(self.reading, rec)  # decided now: nothing is numbered before the opening
        assert self.retrieval is not None  # retrieved before the conversation began
        # The passages the offline engine's tools would quote come first, as they do in its opening.
        quoted = OfflineEngine.run_tools(self.reading, self.context).quotes
        sources = lead_sources(quoted, self.retrieval, about_publisher="publisher" in self.reading.intents)
        text = opening(self.reading, rec, cost, refs, self.context, query=self.query, sources=sources)
        # The held text is checked after the opening is numbered, so its citations number on from there.
        held = list(prose.release())
        self._tick("compose", start)
        if last and not prose.text.strip():
            raise _nothing_shown(prose)
        for block in text.split("\n\n") if text else []:
            yield block + "\n\n"  # a block at a time, as the offline engine streams
        yield from held

    def _call(self, binding: _Binding, call: dict[str, Any], evidence: Evidence) -> ToolMessage:
        name, args = call.get("name"), call.get("args")
        if name not in binding.tools:
            raise LLMFault(f"called a tool that does not exist ({str(name)[:40]!r})")
        if not isinstance(args, dict):
            raise LLMFault(f"sent malformed arguments to {name}")
        self.called.append(name)
        if name == "profile_assessment" and isinstance(args.get("factors"), dict) and args["factors"].get("stage"):
            # The tool wants a matrix row label; the model may say "Phase 1".
            row = self.context.toolbox.stage_recommendation(str(args["factors"]["stage"])).row
            args = {**args, "factors": {**args["factors"], "stage": row.stage if row else None}}
        try:
            result = binding.tools[name].invoke(args)
            if name == SITUATION:
                schema = binding.tools[name].args_schema
                assert isinstance(schema, type) and issubclass(schema, BaseModel)
                self.recorded = schema.model_validate(args).model_dump(exclude_none=True)
        except (ValidationError, ToolException, ValueError, TypeError, KeyError) as exc:
            raise LLMFault(f"called {name} with arguments it rejects") from exc
        payload = passages_payload(result, evidence) if name == SEARCH else with_ids(self._dump(result), evidence)
        block, text, scrubbed = data_block(name, payload)
        evidence.add_text(text)
        self.scrubbed += scrubbed
        return ToolMessage(content=block, tool_call_id=call["id"], name=name)

    @staticmethod
    def _dump(result: object) -> object:
        return result.model_dump(mode="json") if isinstance(result, BaseModel) else result

    def _decide(self) -> tuple[Recommendation | None, CostEstimate | None, list[str]]:
        """The verdict and cost estimate for what the user said, and notices about how it was read: the
        tools decide from the rule reading, completed by what the model read through ``record_situation``
        where the user's words back it; never from the model's prose (a verdict also when the model
        consulted the deciding tools)."""
        notices: list[str] = []
        if self.recorded:
            # The query, not the question: words the reading declined (an order to the assistant, typed or
            # pasted) are not the user's account of their program, so they cannot back a field.
            turns = [*(h.content for h in self.history if h.role == "user"), self.reading.query]
            merged = reconcile(self.reading, self.recorded, user_turns=turns)
            self.reading, notices = merged.reading, merged.notices
        rec, cost = decide(self.reading, toolbox=self.context.toolbox, verdict_wanted=bool(_DECIDING & set(self.called)))
        return rec, cost, notices

    def _compose(self, prose: Prose, refs: References) -> Iterator[str | Answer]:
        start = time.perf_counter()
        context, guard = self.context, prose.guard
        assert self.decided is not None  # the conversation ends with the opening shown
        rec, cost, read_notices = self.decided
        state = self.reading.situation
        notices = [*read_notices, *guard.notices()]
        if self.recorded != self.decided_from:
            notices.append(
                "The model recorded more of your situation after the answer had begun; the answer above was "
                "decided from what was read before it. Ask again to have the rest taken into account."
            )
        said = list(dict.fromkeys(guard.verdicts))
        if rec is not None and (clash := conflicting(said, [rec.model, *rec.alternatives])):
            notices.append(
                f"The model's text suggested {' / '.join(clash)}; the framework's tools recommend {rec.model} "
                "for what you told me, and that is the recommendation given here."
            )
        elif rec is None and said:
            notices.append(
                f"The model's text suggested {' / '.join(said)}, but what you have told me does not let the "
                "framework's tools decide, so no recommendation is made; tell me your development stage."
            )
        if prose.defused:
            notices.append(f"{prose.defused} image(s), link(s), markup or instruction text in the model's answer were removed.")
        if self.scrubbed:
            notices.append(f"{self.scrubbed} instruction-like sentence(s) in retrieved text were withheld from the model.")
        if not guard.cited:
            notices.append("The model's text cites no passage of the framework.")
        notices.extend(refs.notices)
        blocks = []
        if notices:
            blocks.append("**Notes**\n" + "\n".join(f"- {n}" for n in notices))
        blocks.append(refs.footer())
        citations = refs.ordered()
        for b in blocks:
            self.shown.append("\n\n" + b)
            yield "\n\n" + b
        self._tick("compose", start)
        total = (time.perf_counter() - self.began) * 1000
        self.timings.update(model=round(self.model_ms, 2), engine=round(total, 2), overhead=round(total - self.model_ms, 2))
        yield Answer(
            question=self.reading.question,
            answer_markdown="".join(self.shown).strip(),
            citations=citations,
            recommendation=rec,
            cost_estimate=cost,
            situation=state,
            evidence=self.reading.evidence,
            engine=self.engine.name,
            corpus_version=context.corpus_version,
            notices=notices,
            unsupported_figures=guard.unsupported_figures,
            timings_ms=self.timings,
        )
