"""Handing the heap that answers freed back to the operating system once the server is quiet.

glibc keeps what a thread frees in that thread's arena for reuse and gives back only the top of an
arena on its own. After a burst of new questions that is most of the server's growth: 800 new
questions on two answer threads left RSS +43 MiB in one process, and ``malloc_trim(0)`` gave back
all but 2 MiB in 7 ms (docs/security.md, session 11). Trimming after every answer made the next
answers fault their pages in again (+10 ms of CPU each), so the trim waits for a quiet second, and
runs only if RSS grew by ``slack`` since the last one: a trickle of questions never pays for it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

QUIET_SECONDS = 1.0
SLACK_BYTES = 8 * 2**20


def malloc_trim() -> Callable[[], object] | None:
    """glibc's ``malloc_trim(0)``; None where the C library has none (musl, macOS)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
    except OSError:
        return None
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lambda: trim(0)


def resident_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class IdleTrim:
    """Counts work in progress (``busy``); a daemon thread, started with the first work done, trims
    once nothing has run for ``quiet`` seconds and RSS is ``slack`` bytes over the last trim."""

    def __init__(
        self,
        *,
        quiet: float = QUIET_SECONDS,
        slack: int = SLACK_BYTES,
        release: Callable[[], object] | None = None,
        measure: Callable[[], int] = resident_bytes,
    ) -> None:
        self.quiet = quiet
        self.slack = slack
        self._release = release or malloc_trim()
        self._measure = measure
        self._floor = measure() if self._release else 0
        self._cond = threading.Condition()
        self._busy = 0
        self._done = 0  # pieces of work finished since the last look
        self._last = 0.0  # when the last one finished (monotonic)
        self._watcher: threading.Thread | None = None

    @contextmanager
    def busy(self) -> Iterator[None]:
        with self._cond:
            self._busy += 1
        try:
            yield
        finally:
            with self._cond:
                self._busy -= 1
                self._done += 1
                self._last = time.monotonic()
                if self._release is not None and self._watcher is None:
                    self._watcher = threading.Thread(target=self._watch, name="idle-trim", daemon=True)
                    self._watcher.start()
                if not self._busy:  # under load, answers end without waking the watcher each time
                    self._cond.notify()

    def wait_left(self, now: float) -> float | None:
        """Seconds until the server has been quiet long enough (0: now); None while work runs or none
        was done since the last look. Called with the lock held."""
        if self._busy or not self._done:
            return None
        return max(0.0, self._last + self.quiet - now)

    def trim_if_grown(self) -> bool:
        """Trim if RSS grew by ``slack`` since the last trim; whether it did."""
        if self._release is None or self._measure() - self._floor < self.slack:
            return False
        self._release()
        self._floor = self._measure()
        return True

    def _watch(self) -> None:
        while True:
            with self._cond:
                while (left := self.wait_left(time.monotonic())) != 0.0:
                    self._cond.wait(left)
                self._done = 0
            self.trim_if_grown()
