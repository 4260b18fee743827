"""The heap freed by answers goes back to the operating system once the server is quiet."""

from __future__ import annotations

import platform
import threading
import time

import pytest

from advisor_bot.config import Settings
from ui.idle_trim import IdleTrim, malloc_trim, resident_bytes
from ui.limits import Admission


class FakeHeap:
    """RSS set by the test; each release drops it back to ``floor`` and is signalled."""

    def __init__(self, rss: int) -> None:
        self.rss = rss
        self.floor = rss
        self.released = threading.Event()
        self.releases = 0

    def release(self) -> None:
        self.releases += 1
        self.rss = self.floor
        self.released.set()


def test_the_heap_is_given_back_once_the_work_is_done_and_rss_grew():
    heap = FakeHeap(100)
    idle = IdleTrim(quiet=0.0, slack=10, release=heap.release, measure=lambda: heap.rss)
    with idle.busy():
        heap.rss = 150
    assert heap.released.wait(timeout=30), "the watcher never trimmed after the work finished"
    assert heap.releases == 1


def test_growth_within_the_slack_is_left_alone():
    heap = FakeHeap(100)
    idle = IdleTrim(quiet=0.0, slack=10, release=heap.release, measure=lambda: heap.rss)
    heap.rss = 109
    assert not idle.trim_if_grown()
    heap.rss = 111
    assert idle.trim_if_grown()
    # Measured from the last trim, not from the start: another 9 bytes are within the slack again.
    heap.rss = heap.floor + 9
    assert not idle.trim_if_grown()
    assert heap.releases == 1


def test_the_watcher_waits_while_work_runs_and_for_the_quiet_period():
    heap = FakeHeap(100)
    idle = IdleTrim(quiet=5.0, slack=10, release=heap.release, measure=lambda: heap.rss)
    assert idle.wait_left(time.monotonic()) is None, "nothing was done yet: nothing to wait for"
    with idle.busy():
        pass
    with idle.busy():
        assert idle.wait_left(time.monotonic() + 60) is None, "work in progress: wait until it ends"
    finished = time.monotonic()
    assert idle.wait_left(finished + 1.0) == pytest.approx(4.0, abs=0.5)
    assert idle.wait_left(finished + 6.0) == 0.0


def test_admission_counts_each_api_answer_as_work():
    heap = FakeHeap(100)
    idle = IdleTrim(quiet=0.0, slack=10, release=heap.release, measure=lambda: heap.rss)
    admission = Admission(Settings(), idle=idle)
    with admission.ticket():
        heap.rss = 200
        assert idle.wait_left(0.0) is None
    assert heap.released.wait(timeout=30)


def test_a_glibc_machine_can_trim_and_measure():
    assert platform.libc_ver()[0] == "glibc", "these machines run glibc, whose malloc_trim this is"
    trim = malloc_trim()
    assert trim is not None
    before = resident_bytes()
    trim()
    assert 0 < resident_bytes() <= before + 2**20


def test_a_page_answer_counts_as_work(advisor, settings):
    import gradio as gr

    from advisor_bot.situation import Situation
    from ui.app import ChatView, make_shell

    heap = FakeHeap(100)
    idle = IdleTrim(quiet=0.0, slack=10, release=heap.release, measure=lambda: heap.rss)
    with gr.Blocks():
        view = ChatView(make_shell(advisor, settings, idle=idle), compact=False)
        view.side_panels()
    updates = view.respond("Which model fits a lead optimization programme?", [], [], [], Situation(), None)
    next(updates)
    heap.rss = 200
    assert idle.wait_left(time.monotonic()) is None, "the answer is still streaming"
    list(updates)
    assert heap.released.wait(timeout=30)
