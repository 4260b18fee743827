"""Admission for the API and MCP: a fixed pool of answer workers, a bounded queue in front of it,
per-client rates, all decided before a request's body is read.

Why this shape (measured with ``make stress``, docs/security.md): an answer is CPU work, so only
``concurrency`` of them run at once, each on one of ``concurrency`` long-lived worker threads;
more threads would only share the same cores, and every thread that touches the embedding
model keeps its own allocator arena after a flood. A request that cannot be served soon is
refused at once with ``Retry-After`` by ``AdmissionGate``, before its body is read or parsed:
refusing a 200 KiB history after parsing it cost the event loop (which refuses everyone else)
as much as answering a short question. Rates are counted by the ``limits`` library (moving
windows, in memory: one process serves the app).
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import ExitStack, contextmanager, nullcontext
from typing import TypeVar

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage as AsyncMemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter as AsyncMovingWindowRateLimiter
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from advisor_bot.config import Settings
from advisor_bot.errors import OverloadedError, RateLimitedError
from ui.idle_trim import IdleTrim

T = TypeVar("T")


class _Rates:
    """Per-client moving-window limits, e.g. "10/minute;200/day"."""

    def __init__(self, spec: str, *, what: str) -> None:
        self._items: list[RateLimitItem] = parse_many(spec)
        self._what = what

    def _refused(self, item: RateLimitItem, reset: float) -> RateLimitedError:
        wait = max(1, math.ceil(reset - time.time()))
        return RateLimitedError(f"Too many {self._what} from your address (limit {item}); try again in {wait} s.", retry_after=wait)


class Rates(_Rates):
    """Rates counted on the caller's thread (the page's handlers)."""

    def __init__(self, spec: str, *, what: str) -> None:
        super().__init__(spec, what=what)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        # Testing every limit, then counting, is two steps: two threads of one client could both pass the test.
        self._lock = threading.Lock()

    def hit(self, client: str) -> None:
        """Count one request of ``client``, or raise ``RateLimitedError`` (and count nothing)."""
        with self._lock:
            for item in self._items:
                if not self._limiter.test(item, client):
                    raise self._refused(item, self._limiter.get_window_stats(item, client).reset_time)
            for item in self._items:
                self._limiter.hit(item, client)


class LoopRates(_Rates):
    """Rates counted on the event loop, by ``limits.aio``. The thread-side storage starts a timer thread
    whenever its last one has run out, and ``Thread.start`` waits until the new thread holds the GIL: under
    a large-history flood the loop spent 22% of its time there, held up by the answer workers' reading."""

    def __init__(self, spec: str, *, what: str) -> None:
        super().__init__(spec, what=what)
        self._limiter = AsyncMovingWindowRateLimiter(AsyncMemoryStorage())

    async def hit(self, client: str) -> None:
        """Count one request of ``client``, or raise ``RateLimitedError`` (and count nothing). The test
        and the count run without giving the loop away (the storage's locks are uncontended), so no
        other request comes between them."""
        for item in self._items:
            if not await self._limiter.test(item, client):
                raise self._refused(item, (await self._limiter.get_window_stats(item, client)).reset_time)
        for item in self._items:
            await self._limiter.hit(item, client)


class Admission:
    def __init__(self, settings: Settings, *, idle: IdleTrim | None = None) -> None:
        self.slots = settings.concurrency
        self.capacity = settings.concurrency + settings.api_queue
        self.wait = settings.queue_wait
        self.rates = LoopRates(settings.rate_limit, what="questions")
        # Threads start on first use and stay: the same few threads run every answer.
        self._workers = ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="answer")
        self._lock = threading.Lock()
        self._inside = 0
        self._running: dict[int, float] = {}
        self._idle = idle

    @contextmanager
    def ticket(self) -> Iterator[None]:
        """A place in the system (running or queued), taken without blocking."""
        with self._lock:
            if self._inside >= self.capacity:
                raise OverloadedError(
                    f"The server is answering {self.slots} question(s) with {self.capacity - self.slots} waiting; try again in a few seconds.",
                    retry_after=2,
                )
            self._inside += 1
        try:
            with self._idle.busy() if self._idle else nullcontext():
                yield
        finally:
            with self._lock:
                self._inside -= 1

    def _submit(self, work: Callable[[], T]) -> Future[T]:
        def timed() -> T:
            key = threading.get_ident()
            with self._lock:
                self._running[key] = time.monotonic()
            try:
                return work()
            finally:
                with self._lock:
                    self._running.pop(key, None)

        # The caller's context (e.g. the deadline's) goes with the work, as run_in_threadpool would carry it.
        return self._workers.submit(contextvars.copy_context().run, timed)

    def _not_started(self) -> OverloadedError:
        return OverloadedError(f"No answer slot came free within {self.wait:g} s; try again shortly.", retry_after=5)

    async def run(self, work: Callable[[], T]) -> T:
        """``work`` on an answer worker, awaited from the event loop; refused if no worker takes it
        within ``queue_wait`` seconds (a started answer is bounded by its engine's own deadline)."""
        job = self._submit(work)
        waiting = asyncio.wrap_future(job)
        done, _ = await asyncio.wait({waiting}, timeout=self.wait)
        if not done and job.cancel():
            raise self._not_started()
        return await waiting

    def call(self, work: Callable[[], T]) -> T:
        """``run`` for a caller on a thread of its own (the MCP tools, on Gradio's threads)."""
        job = self._submit(work)
        try:
            return job.result(timeout=self.wait)
        except FutureTimeout:
            if job.cancel():
                raise self._not_started() from None
            return job.result()

    def stuck(self, *, after: float) -> str | None:
        """Slots held longer than ``after`` seconds, as the health check's reason; None if there are none."""
        now = time.monotonic()
        with self._lock:
            held = sum(1 for began in self._running.values() if now - began > after)
        return f"{held} of {self.slots} answer slot(s) busy for more than {after:g} s" if held else None


def refusal_status(exc: OverloadedError) -> int:
    """Over a client's own rate: 429; the server full: 503. Both carry ``Retry-After``."""
    return 429 if isinstance(exc, RateLimitedError) else 503


class AdmissionGate:
    """Takes the ticket for ``paths`` (POST) as the request arrives and holds it until the response is
    sent. A refusal is sent before the body is read: the server (uvicorn) discards the rest of the body
    after the response and keeps the connection. Reading it first cost a refusal up to 1.3 s under 64
    clients uploading 200 KiB (bench/stress.py), on an event loop that every other request waits for."""

    def __init__(self, app: ASGIApp, *, admission: Admission, paths: frozenset[str]) -> None:
        self.app = app
        self.admission = admission
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        with ExitStack() as held:
            try:
                await self.admission.rates.hit(client[0] if client else "unknown")
                held.enter_context(self.admission.ticket())
            except OverloadedError as exc:
                response = JSONResponse({"detail": str(exc)}, status_code=refusal_status(exc), headers={"Retry-After": str(exc.retry_after)})
                await response(scope, receive, send)
                return
            await self.app(scope, receive, send)
