"""Scripted fakes shared by tests and evals: shipped in the package, like pydantic-ai's."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolCall
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field


class FakeEmbedder:
    """Deterministic embeddings from text hashes; counts whitespace tokens.

    For tests of indexing mechanics that must not depend on the real model.
    """

    name = "fake-embedding"

    def __init__(self, *, size: int = 32) -> None:
        self._fake = DeterministicFakeEmbedding(size=size)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls = getattr(self, "calls", 0) + len(texts)
        return self._fake.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._fake.embed_query(text)

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 2


def tool_call(name: str, args: dict[str, object] | None = None, *, id: str | None = None) -> ToolCall:  # noqa: A002
    """A tool call as a chat model emits it."""
    return ToolCall(name=name, args=args or {}, id=id or f"call_{name}_{next(_CALL_IDS)}", type="tool_call")


_CALL_IDS = itertools.count(1)


class ScriptedChatModel(GenericFakeChatModel):
    """A chat model that replays a script, to drive the LLM engine's real loop without a network.

    Each call takes the next step: an ``AIMessage`` (text and/or ``tool_calls`` or
    ``invalid_tool_calls``), a string, an exception to raise (an ``httpx`` or
    ``openai`` error, say), or a callable that gets the messages and returns one of
    those. With ``repeat_last`` the last step is replayed forever (a tool-call loop).
    ``bind_tools`` returns the model itself and records the tool names;
    ``requests`` keeps the messages of every call; ``assert_script_used`` checks that
    every step was asked for. Streaming sends text a word at a time and each tool
    call's arguments in two pieces, as OpenAI-style servers do.
    """

    messages: Iterator[AIMessage | str] = Field(default_factory=lambda: iter(()))
    # Steps: AIMessage | str | BaseException | Callable[[messages], one of those]; kept as plain
    # objects so pydantic does not try to coerce an exception into a message.
    script: list[object] = Field(default_factory=list)
    repeat_last: bool = False
    requests: list[list[BaseMessage]] = Field(default_factory=list)
    tool_names: list[str] = Field(default_factory=list)

    def assert_script_used(self) -> None:
        """Fail when scripted steps were never asked for: a test whose script the engine did not
        follow to the end tests less than it says (a replayed last step counts as used)."""
        left = self.script[1:] if self.repeat_last else self.script
        if left:
            raise AssertionError(f"{len(left)} scripted step(s) were never used; the first: {left[0]!r:.120}")

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        self.tool_names = [convert_to_openai_tool(t)["function"]["name"] for t in tools]
        return self

    def _next(self, messages: list[BaseMessage]) -> AIMessage:
        self.requests.append(list(messages))
        if not self.script:
            raise AssertionError(f"The script has no step left for call {len(self.requests)}.")
        step = self.script[0] if self.repeat_last and len(self.script) == 1 else self.script.pop(0)
        if callable(step) and not isinstance(step, (BaseMessage, BaseException)):
            step = step(messages)
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, AIMessage):
            # A fresh copy with fresh ids, so a replayed step is a new call.
            calls = [dict(c, id=f"{c['id']}_{len(self.requests)}") for c in step.tool_calls]
            return AIMessage(content=step.content, tool_calls=calls, invalid_tool_calls=step.invalid_tool_calls)
        return AIMessage(content=str(step))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        message = self._next(messages)
        chunks: list[AIMessageChunk] = []
        if isinstance(message.content, str) and message.content:
            chunks += [AIMessageChunk(content=token) for token in re.split(r"(\s)", message.content) if token]
        raw = [(c["name"], json.dumps(c["args"]), c["id"]) for c in message.tool_calls]
        raw += [(c.get("name") or "", c.get("args") or "", c.get("id")) for c in message.invalid_tool_calls]
        for index, (name, args, call_id) in enumerate(raw):
            half = len(args) // 2
            chunks.append(AIMessageChunk(content="", tool_call_chunks=[tool_call_chunk(name=name, args=args[:half], id=call_id, index=index)]))
            chunks.append(AIMessageChunk(content="", tool_call_chunks=[tool_call_chunk(name=None, args=args[half:], id=None, index=index)]))
        for chunk in chunks or [AIMessageChunk(content="")]:
            if run_manager and chunk.content:
                run_manager.on_llm_new_token(chunk.text, chunk=ChatGenerationChunk(message=chunk))
            yield ChatGenerationChunk(message=chunk)
