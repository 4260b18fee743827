"""Admission for the API and MCP: shared answer slots, a bounded queue in front of them, per-client rates.

A request that cannot be served soon is refused at once with a ``Retry-After`` rather
than queued without bound: past ``concurrency`` running and ``api_queue`` waiting,
``ticket`` raises ``OverloadedError`` (503) without touching a thread; a client over
its rate gets ``RateLimitedError`` (429). Rates are counted by the ``limits`` library
(moving windows, in memory: one process serves the app).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from advisor_bot.config import Settings
from advisor_bot.errors import OverloadedError, RateLimitedError


class Rates:
    """Per-client moving-window limits, e.g. "10/minute;200/day"."""

    def __init__(self, spec: str, *, what: str) -> None:
        self._items: list[RateLimitItem] = parse_many(spec)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._what = what

    def hit(self, client: str) -> None:
        """Count one request of ``client``, or raise ``RateLimitedError`` (and count nothing)."""
        for item in self._items:
            if not self._limiter.test(item, client):
                reset, _ = self._limiter.get_window_stats(item, client)
                wait = max(1, math.ceil(reset - time.time()))
                raise RateLimitedError(f"Too many {self._what} from your address (limit {item}); try again in {wait} s.", retry_after=wait)
        for item in self._items:
            self._limiter.hit(item, client)


class Admission:
    def __init__(self, settings: Settings) -> None:
        self.slots = settings.concurrency
        self.capacity = settings.concurrency + settings.api_queue
        self.wait = settings.queue_wait
        self.rates = Rates(settings.rate_limit, what="questions")
        self._free = threading.BoundedSemaphore(settings.concurrency)
        self._lock = threading.Lock()
        self._inside = 0
        self._running: dict[int, float] = {}

    @contextmanager
    def ticket(self, client: str | None) -> Iterator[None]:
        """A place in the system (running or queued), taken without blocking; ``client`` None skips the rate."""
        if client is not None:
            self.rates.hit(client)
        with self._lock:
            if self._inside >= self.capacity:
                raise OverloadedError(
                    f"The server is answering {self.slots} question(s) with {self.capacity - self.slots} waiting; try again in a few seconds.",
                    retry_after=2,
                )
            self._inside += 1
        try:
            yield
        finally:
            with self._lock:
                self._inside -= 1

    @contextmanager
    def slot(self) -> Iterator[None]:
        """One of the answer slots, waited for at most ``queue_wait`` seconds (call it from a worker thread)."""
        if not self._free.acquire(timeout=self.wait):
            raise OverloadedError(f"No answer slot came free within {self.wait:g} s; try again shortly.", retry_after=5)
        key = threading.get_ident()
        with self._lock:
            self._running[key] = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self._running.pop(key, None)
            self._free.release()

    def stuck(self, *, after: float) -> str | None:
        """Slots held longer than ``after`` seconds, as the health check's reason; None if there are none."""
        now = time.monotonic()
        with self._lock:
            held = sum(1 for began in self._running.values() if now - began > after)
        return f"{held} of {self.slots} answer slot(s) busy for more than {after:g} s" if held else None
