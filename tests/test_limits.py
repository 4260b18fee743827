"""Every limit holds and says so: history, body, situation fields, API queue, per-client rates, feedback.

Overload is answered at once with 429/503 and ``Retry-After``; the test holds the only answer
slot with an engine that waits for an event the test sets, so nothing here depends on timing.
"""

from __future__ import annotations

import asyncio

import threading
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
from fastapi.testclient import TestClient

from advisor_bot.answer import Answer
from advisor_bot.config import Settings
from advisor_bot.engines.base import EngineContext
from advisor_bot.engines.offline import OfflineEngine
from advisor_bot.errors import InvalidQuestionError, RateLimitedError
from advisor_bot.feedback import FeedbackStore
from advisor_bot.reading.model import Reading
from advisor_bot.retrieve import Retrieval
from advisor_bot.turns import Turn
from ui.app import ChatView, make_shell
from ui.limits import LoopRates, Rates
from ui.server import create_app

QUESTION = "Should we use a CRO or a CDMO for IND-enabling studies?"


class HeldEngine(OfflineEngine):
    """The offline engine, held at the start of each answer until the test releases it."""

    def __init__(self) -> None:
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()

    def stream(self, reading: Reading, *, history: list[Turn], context: EngineContext, retrieval: Retrieval | None = None) -> Iterator[str | Answer]:
        self.entered.release()
        self.release.wait(timeout=120)
        yield from super().stream(reading, history=history, context=context, retrieval=retrieval)


@pytest.fixture()
def held(settings: Settings, embedder, advisor) -> Iterator[tuple[TestClient, HeldEngine]]:
    from advisor_bot.advisor import Advisor

    engine = HeldEngine()
    limited = settings.model_copy(update={"concurrency": 1, "api_queue": 0, "rate_limit": "1000/minute"})
    with TestClient(create_app(Advisor(settings=limited, embedder=embedder, engine=engine), limited), base_url="http://127.0.0.1") as client:
        yield client, engine
        engine.release.set()


def test_a_full_server_refuses_at_once_with_retry_after_and_serves_again_after(held) -> None:
    client, engine = held
    results: list[int] = []
    running = threading.Thread(target=lambda: results.append(client.post("/api/ask", json={"question": QUESTION}).status_code))
    running.start()
    assert engine.entered.acquire(timeout=60)  # the one slot is taken, and no queue place exists
    full = client.post("/api/ask", json={"question": QUESTION})
    assert full.status_code == 503
    assert full.headers["retry-after"].isdigit() and "try again" in full.json()["detail"]
    assert client.get("/api/health").status_code == 200  # the probe is not queued behind answers
    engine.release.set()
    running.join(timeout=120)
    assert results == [200]
    assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200  # capacity is back


def test_a_full_server_refuses_before_reading_the_body(held) -> None:
    """Refused unparsed: a malformed body gets the 503, not the 422 that parsing it would give."""
    client, engine = held
    running = threading.Thread(target=lambda: client.post("/api/ask", json={"question": QUESTION}))
    running.start()
    assert engine.entered.acquire(timeout=60)
    full = client.post("/api/ask", content=b'{"question": ', headers={"Content-Type": "application/json"})
    assert full.status_code == 503 and full.headers["retry-after"] == "2"
    assert full.headers["x-content-type-options"] == "nosniff"  # the refusal carries the security headers too
    engine.release.set()
    running.join(timeout=120)


def test_a_refusal_is_sent_without_waiting_for_the_body(settings: Settings) -> None:
    """Under a flood of 200 KiB uploads, reading each refused body first made refusals wait over 1 s:
    the gate answers from the headers alone, and the server drops the rest of the body."""
    from ui.limits import Admission, AdmissionGate

    admission = Admission(settings.model_copy(update={"concurrency": 1, "api_queue": 0}))
    reads: list[str] = []
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        reads.append("body")
        return {"type": "http.request", "body": b"x" * 65536, "more_body": len(reads) < 4}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    async def never(scope: object, receive: object, send: object) -> None:
        raise AssertionError("a refused request reached the app")

    gate = AdmissionGate(never, admission=admission, paths=frozenset({"/api/ask"}))
    scope = {"type": "http", "method": "POST", "path": "/api/ask", "client": ("127.0.0.1", 5000), "headers": []}
    with admission.ticket():  # the one place is taken
        asyncio.run(gate(scope, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 503
    assert (b"retry-after", b"2") in sent[0]["headers"]  # type: ignore[operator]
    assert reads == []


def test_a_real_server_refuses_a_large_upload_and_the_connection_serves_again(settings: Settings, embedder, serve) -> None:
    """The refusal is sent before the body is read: the client must still read it, not a reset,
    and its connection must carry the next question once a slot is free."""
    import httpx

    from advisor_bot.advisor import Advisor

    engine = HeldEngine()
    limited = settings.model_copy(update={"concurrency": 1, "api_queue": 0, "rate_limit": "1000/minute"})
    url = serve(create_app(Advisor(settings=limited, embedder=embedder, engine=engine), limited))
    history = [{"role": "user", "content": "We are in lead optimization. " * 60}] * 100  # ~180 KiB
    with httpx.Client(base_url=url, timeout=60) as first, httpx.Client(base_url=url, timeout=60) as second:
        holding = threading.Thread(target=lambda: first.post("/api/ask", json={"question": QUESTION}))
        holding.start()
        assert engine.entered.acquire(timeout=60)
        refused = second.post("/api/ask", json={"question": QUESTION, "history": history})
        assert refused.status_code == 503 and refused.headers["retry-after"] == "2"
        engine.release.set()
        holding.join(timeout=120)
        assert second.post("/api/ask", json={"question": QUESTION}).status_code == 200


def test_a_queued_question_no_worker_takes_in_time_is_refused_and_never_answered(settings: Settings, embedder) -> None:
    from advisor_bot.advisor import Advisor

    engine = HeldEngine()
    limited = settings.model_copy(update={"concurrency": 1, "api_queue": 1, "queue_wait": 0.05, "rate_limit": "1000/minute"})
    with TestClient(create_app(Advisor(settings=limited, embedder=embedder, engine=engine), limited), base_url="http://127.0.0.1") as client:
        results: list[int] = []
        running = threading.Thread(target=lambda: results.append(client.post("/api/ask", json={"question": QUESTION}).status_code))
        running.start()
        assert engine.entered.acquire(timeout=60)  # the only worker is held until the test releases it
        waited = client.post("/api/ask", json={"question": QUESTION})
        assert waited.status_code == 503 and "No answer slot came free within 0.05 s" in waited.json()["detail"]
        assert waited.headers["retry-after"] == "5"
        engine.release.set()
        running.join(timeout=120)
        assert results == [200]
        assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200
    assert engine.entered.acquire(blocking=False)  # the last question entered the engine...
    assert not engine.entered.acquire(blocking=False)  # ...and the refused one never did


def test_answers_run_on_as_many_threads_as_answer_slots(settings: Settings) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from ui.limits import Admission

    admission = Admission(settings.model_copy(update={"concurrency": 2, "api_queue": 30}))
    with ThreadPoolExecutor(16) as callers:
        threads = set(callers.map(lambda _: admission.call(threading.get_ident), range(64)))
    assert 1 <= len(threads) <= 2


def test_a_client_over_its_rate_is_refused_before_its_body_is_read(settings: Settings, embedder, advisor) -> None:
    from advisor_bot.advisor import Advisor

    limited = settings.model_copy(update={"rate_limit": "1/minute"})
    with TestClient(create_app(Advisor(settings=limited, embedder=embedder), limited), base_url="http://127.0.0.1") as client:
        assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200
        refused = client.post("/api/ask", content=b"not json", headers={"Content-Type": "application/json"})
    assert refused.status_code == 429 and "1 per 1 minute" in refused.json()["detail"]


def test_the_queue_admits_slots_plus_places_without_blocking(settings: Settings) -> None:
    from advisor_bot.errors import OverloadedError
    from ui.limits import Admission

    admission = Admission(settings.model_copy(update={"concurrency": 2, "api_queue": 1}))
    with admission.ticket(), admission.ticket(), admission.ticket():
        with pytest.raises(OverloadedError) as caught:
            with admission.ticket():
                pass
        assert caught.value.retry_after >= 1
    with admission.ticket():
        seen = admission.call(lambda: (admission.stuck(after=3600), admission.stuck(after=-1)))
    assert seen == (None, "1 of 2 answer slot(s) busy for more than -1 s")


def test_a_client_over_its_rate_gets_429_with_retry_after(settings: Settings, embedder, advisor) -> None:
    from advisor_bot.advisor import Advisor

    limited = settings.model_copy(update={"rate_limit": "2/minute"})
    with TestClient(create_app(Advisor(settings=limited, embedder=embedder), limited), base_url="http://127.0.0.1") as client:
        assert [client.post("/api/ask", json={"question": QUESTION}).status_code for _ in range(2)] == [200, 200]
        refused = client.post("/api/ask", json={"question": QUESTION})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60 and "2 per 1 minute" in refused.json()["detail"]


@pytest.fixture(scope="module")
def client(advisor, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(advisor, settings), base_url="http://127.0.0.1") as c:
        yield c


def test_a_history_beyond_the_item_limit_is_refused_naming_the_limit(client: TestClient, settings: Settings) -> None:
    history = [{"role": "user", "content": "hi"}] * (settings.max_history_items + 1)
    response = client.post("/api/ask", json={"question": QUESTION, "history": history})
    assert response.status_code == 400
    assert f"send at most {settings.max_history_items}" in response.json()["detail"]


def test_an_over_long_history_message_is_named_as_such(advisor) -> None:
    with pytest.raises(InvalidQuestionError) as caught:
        advisor.ask("And the cost?", history=[{"role": "user", "content": "x " * 5000}, {"role": "assistant", "content": "ok"}])
    assert str(caught.value).startswith("History item 0: this message is 10,000 characters long")


def test_a_body_over_the_limit_gets_413(client: TestClient, settings: Settings) -> None:
    history = [{"role": "assistant", "content": "y" * 4096}] * (settings.max_request_kib // 4 + 1)
    response = client.post("/api/ask", json={"question": QUESTION, "history": history})
    assert response.status_code == 413 and f"{settings.max_request_kib} KiB" in response.json()["detail"]


def test_an_unknown_situation_field_gets_422_naming_it(client: TestClient) -> None:
    response = client.post("/api/ask", json={"question": QUESTION, "situation": {"stag": "IND-enabling studies"}})
    assert response.status_code == 422
    assert "situation: Value error, unknown field(s) 'stag'" in response.json()["detail"]


@pytest.mark.parametrize(("env", "value"), [("ADVISOR_RATE_LIMIT", "lots"), ("ADVISOR_FEEDBACK_RATE_LIMIT", "5 per fortnightish")])
def test_a_bad_rate_setting_is_refused(monkeypatch: pytest.MonkeyPatch, env: str, value: str) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ValueError, match="is not a rate like"):
        Settings()


# ---- feedback -------------------------------------------------------------------------------


def _view(advisor, settings: Settings) -> ChatView:
    with gr.Blocks():
        return ChatView(make_shell(advisor, settings), compact=False)


def _request(host: str) -> SimpleNamespace:
    return SimpleNamespace(client=SimpleNamespace(host=host))


def test_feedback_is_rate_limited_per_client_and_its_comment_bounded(advisor, settings: Settings, tmp_path: Path) -> None:
    local = settings.model_copy(update={"data_dir": tmp_path, "feedback_rate_limit": "3/minute"})
    view = _view(advisor, local)
    answers = [advisor.ask(QUESTION)]
    down = view.record_feedback("down")
    said = [down(False, f"comment {i}", answers, _request("10.0.0.1"))[view.feedback_status] for i in range(4)]
    assert all(s.startswith("Thank you") for s in said[:3])
    assert "Too many feedback entries from your address" in said[3] and "try again in" in said[3]
    assert down(False, "", answers, _request("10.0.0.2"))[view.feedback_status].startswith("Thank you")  # another client
    long = down(False, "z" * 2001, answers, _request("10.0.0.3"))[view.feedback_status]
    assert "2,001 characters" in long and "2,000" in long
    assert len(FeedbackStore(tmp_path / "feedback.sqlite3").records()) == 4  # nothing refused was stored


def test_a_full_disk_while_saving_feedback_is_said_plainly_and_loses_nothing_acknowledged(advisor, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    local = settings.model_copy(update={"data_dir": tmp_path})
    view = _view(advisor, local)
    answers = [advisor.ask(QUESTION)]
    up = view.record_feedback("up")
    saved = [up(False, f"kept {i}", answers, _request("10.0.0.9"))[view.feedback_status] for i in range(2)]
    assert all(s.startswith("Thank you") for s in saved)

    # SQLAlchemy's SQLite driver connects through sqlite3.dbapi2 and writes through cursors.
    real = sqlite3.dbapi2.connect

    class FullCursor(sqlite3.Cursor):
        def execute(self, sql: str, *args: object) -> sqlite3.Cursor:  # type: ignore[override]
            if sql.lstrip().upper().startswith("INSERT"):
                raise sqlite3.OperationalError("database or disk is full")
            return super().execute(sql, *args)

    class Full(sqlite3.Connection):
        def cursor(self, factory: type[sqlite3.Cursor] = FullCursor) -> sqlite3.Cursor:  # type: ignore[override]
            return super().cursor(factory)

    monkeypatch.setattr(sqlite3.dbapi2, "connect", lambda *a, **k: real(*a, **k, factory=Full))
    said = up(False, "lost?", answers, _request("10.0.0.9"))[view.feedback_status]
    monkeypatch.setattr(sqlite3.dbapi2, "connect", real)
    assert "Could not save feedback" in said and "disk is full" in said and str(tmp_path) not in said
    assert [r.comment for r in FeedbackStore(tmp_path / "feedback.sqlite3").records()] == ["kept 0", "kept 1"]


def _page_call(client: TestClient, session: str, event: int, data: list[object]) -> list[object]:
    """One event of the page through Gradio's queue, as the browser sends it; the outputs it completes with."""
    import json

    joined = client.post("/gradio_api/queue/join", json={"data": data, "event_data": None, "fn_index": event, "trigger_id": event, "session_hash": session})
    assert joined.status_code == 200, joined.text
    with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            message = json.loads(line[5:]) if line.startswith("data:") else {}
            if message.get("msg") == "process_completed" and message.get("event_id") == joined.json()["event_id"]:
                return message["output"]["data"]
    raise AssertionError("the event never completed")


def test_the_page_keeps_only_the_configured_number_of_conversations(advisor, settings: Settings, tmp_path: Path) -> None:
    """Any client can open sessions; past ``page_sessions`` the longest idle one is dropped, so a flood cannot keep memory."""
    local = settings.model_copy(update={"data_dir": tmp_path, "page_sessions": 2})
    with TestClient(create_app(advisor, local), base_url="http://127.0.0.1") as client:
        config = client.get("/config").json()
        elem = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
        event = {elem[d["targets"][0][0]]: d["id"] for d in config["dependencies"] if d["targets"]}
        for session in ("first", "second", "third"):
            _page_call(client, session, event["ask"], [QUESTION, [], None, None, None])
        assert _page_call(client, "third", event["thumbs-up"], [False, "", None])[0].startswith("Thank you")
        assert _page_call(client, "first", event["thumbs-up"], [False, "", None])[0] == "Ask a question first."


def test_counting_a_rate_on_the_event_loop_starts_no_thread(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # limits' thread-side storage starts a timer thread whenever its last one has run out, and
    # Thread.start waits until the new thread holds the GIL: under a large-history flood the event
    # loop, which refuses everyone, spent 22% of its time waiting on the answer workers' reading.
    from ui.limits import Admission, AdmissionGate

    started: list[str] = []
    start = threading.Thread.start

    async def served(scope: object, receive: object, send: Callable[[dict[str, object]], Awaitable[None]]) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def ignore(message: dict[str, object]) -> None:
        pass

    async def nothing() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def requests() -> None:
        await asyncio.to_thread(lambda: None)  # the loop's own worker thread, started before counting
        monkeypatch.setattr(threading.Thread, "start", lambda thread: started.append(thread.name) or start(thread))
        admission = Admission(settings.model_copy(update={"rate_limit": "1000/minute"}))
        gate = AdmissionGate(served, admission=admission, paths=frozenset({"/api/ask"}))
        for port in range(5):
            await gate({"type": "http", "method": "POST", "path": "/api/ask", "client": ("127.0.0.1", port), "headers": []}, nothing, ignore)
        monkeypatch.undo()  # asyncio.run's shutdown starts one of its own

    asyncio.run(requests())
    assert started == []


def test_one_address_at_once_never_gets_past_its_rate() -> None:
    """Each limit is tested, then counted: requests arriving together must not all pass the test."""
    page = Rates("3/minute", what="feedback entries")
    start = threading.Barrier(24)

    def rate_once() -> bool:
        start.wait()
        try:
            page.hit("203.0.113.9")
        except RateLimitedError:
            return False
        return True

    with ThreadPoolExecutor(24) as pool:
        assert sum(pool.map(lambda _: rate_once(), range(24))) == 3

    api = LoopRates("3/minute;5/hour", what="questions")

    async def ask_once() -> bool:
        try:
            await api.hit("203.0.113.9")
        except RateLimitedError:
            return False
        return True

    async def together() -> list[bool]:
        return await asyncio.gather(*(ask_once() for _ in range(50)))

    assert sum(asyncio.run(together())) == 3
