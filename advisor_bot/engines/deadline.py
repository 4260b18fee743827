"""A wall-clock deadline around a whole LLM answer: connect, first token, every token, retries.

A per-request timeout cannot hold an answer to a budget: an endpoint that keeps
the stream open with keep-alive comments and never sends a token resets every
read timeout, and retries multiply the rest. So the answer is produced in a
worker thread and its consumer stops waiting at the deadline, whatever the
worker is doing; the caller's concurrency slot is freed at once. The worker's
own HTTP requests go through ``DeadlineTransport``, which shrinks every timeout
to what is left and ends a dripping response when the time is up, so an
abandoned worker does not hold a connection open for long. Workers still
running past their deadline are counted (``overdue``) for the health check.
"""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import httpx

from advisor_bot.errors import LLMFault

T = TypeVar("T")

# The worker's own HTTP calls give up a little after the consumer has, so the consumer's
# notice (the budget) is the one the user sees, never a read timeout cut short by it.
GRACE_S = 0.25


@dataclass
class _Budget:
    deadline: float
    stop: threading.Event = field(default_factory=threading.Event)

    def remaining(self) -> float:
        return self.deadline + GRACE_S - time.monotonic()

    def over(self) -> bool:
        return self.stop.is_set() or self.remaining() <= 0


_CURRENT: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("advisor_llm_budget", default=None)
_overdue: set[threading.Thread] = set()
_overdue_lock = threading.Lock()


def overdue() -> int:
    """LLM answers whose consumer gave up at the deadline but whose worker is still running."""
    with _overdue_lock:
        _overdue.difference_update([t for t in _overdue if not t.is_alive()])
        return len(_overdue)


def abandoned() -> bool:
    """Inside a ``within`` worker: has the consumer stopped waiting? (Then no further model call is worth making.)"""
    budget = _CURRENT.get()
    return budget is not None and budget.stop.is_set()


def budget_fault(seconds: float) -> LLMFault:
    return LLMFault(f"took longer than the {seconds:g} s budget for one answer")


def within(produce: Callable[[], Iterator[T]], *, seconds: float) -> Iterator[T]:
    """Yield what ``produce()`` yields until the wall-clock deadline; then raise ``budget_fault``.

    Errors of the producer are re-raised here. Closing this generator early (a client went away)
    also tells the worker to stop."""
    budget = _Budget(time.monotonic() + seconds)
    inbox: queue.SimpleQueue[tuple[str, object]] = queue.SimpleQueue()

    def work() -> None:
        _CURRENT.set(budget)
        try:
            for item in produce():
                if budget.stop.is_set():
                    return
                inbox.put(("item", item))
            inbox.put(("done", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which decides
            inbox.put(("error", exc))

    worker = threading.Thread(target=contextvars.copy_context().run, args=(work,), name="llm-answer", daemon=True)
    worker.start()
    try:
        while True:
            try:
                kind, value = inbox.get(timeout=max(budget.deadline - time.monotonic(), 0.0))
            except queue.Empty:
                with _overdue_lock:
                    _overdue.add(worker)
                raise budget_fault(seconds) from None
            if kind == "done":
                return
            if kind == "error":
                assert isinstance(value, BaseException)
                raise value
            yield value  # type: ignore[misc]
    finally:
        budget.stop.set()


class _DeadlineStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, budget: _Budget, request: httpx.Request) -> None:
        self._inner, self._budget, self._request = inner, budget, request

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            # Keep-alive comments arrive as bytes too: each is a chance to notice the time is up.
            if self._budget.over():
                raise httpx.ReadTimeout("the answer's deadline passed", request=self._request)
            yield chunk

    def close(self) -> None:
        self._inner.close()


class DeadlineTransport(httpx.HTTPTransport):
    """An httpx transport that holds requests made inside ``within`` to its deadline."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        budget = _CURRENT.get()
        if budget is None:
            return super().handle_request(request)
        left = budget.remaining()
        if budget.over():
            raise httpx.ConnectTimeout("the answer's deadline passed", request=request)
        given = request.extensions.get("timeout", {})
        request.extensions["timeout"] = {k: left if v is None else min(v, left) for k, v in {"connect": None, "read": None, "write": None, "pool": None, **given}.items()}
        response = super().handle_request(request)
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_DeadlineStream(response.stream, budget, request),
            extensions=response.extensions,
        )
