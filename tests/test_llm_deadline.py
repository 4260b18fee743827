"""The wall-clock deadline of one LLM answer, against endpoints that never finish.

An endpoint that keeps the stream open with SSE keep-alive comments and never sends a
token resets every read timeout; only the answer's deadline ends it. The API's answer
slot must be free again afterwards, the notice must say what happened, and the health
check must say the engine is degraded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from advisor_bot.answer import Answer
from test_llm_http import IND, llm_settings


class KeepAlive(BaseHTTPRequestHandler):
    """Answers every chat completion with an event stream of comments only, until the client hangs up."""

    server: KeepAliveServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.opened.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        try:
            while not self.server.stop.is_set():
                self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
                self.server.stop.wait(0.02)  # the pace of the keep-alives, not a synchronisation
        except (BrokenPipeError, ConnectionResetError):
            self.server.dropped.release()


class KeepAliveServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), KeepAlive)
        self.opened: list[str] = []
        self.stop = threading.Event()
        self.dropped = threading.Semaphore(0)  # released once per connection the client closed

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@pytest.fixture()
def keepalive() -> Iterator[KeepAliveServer]:
    srv = KeepAliveServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.stop.set()
    srv.shutdown()
    srv.server_close()


def test_keep_alives_without_tokens_end_at_the_deadline_with_an_accurate_notice(keepalive, settings, embedder, advisor):
    from advisor_bot.advisor import Advisor

    adv = Advisor(settings=llm_settings(settings, keepalive.url, llm_max_seconds=0.5, llm_timeout=30), embedder=embedder)
    *_, answer = adv.stream(IND)
    assert isinstance(answer, Answer)
    assert answer.engine == "offline" and answer.recommendation.model == "CDMO"
    assert answer.notices[0] == "The language model took longer than the 0.5 s budget for one answer, so this is the offline engine's answer."
    assert "budget" in (adv.engine.problem() or "")


def test_the_abandoned_request_closes_its_connection(keepalive, settings):
    from langchain_core.messages import HumanMessage

    from advisor_bot.engines.deadline import within
    from advisor_bot.engines.chat_model import chat_model
    from advisor_bot.errors import LLMFault

    model = chat_model(llm_settings(settings, keepalive.url, llm_timeout=30))
    with pytest.raises(LLMFault, match="0.5 s budget"):
        list(within(lambda: model.stream([HumanMessage("hello")]), seconds=0.5))
    # The keep-alives would hold the request forever; the transport ends it at the deadline.
    assert keepalive.dropped.acquire(timeout=60)


def test_hung_answers_free_their_api_slot_and_health_says_degraded(keepalive, settings, embedder, advisor):
    from advisor_bot.advisor import Advisor
    from ui.server import create_app

    served = llm_settings(settings, keepalive.url, llm_max_seconds=0.5, llm_timeout=30, concurrency=1)
    adv = Advisor(settings=served, embedder=embedder)
    with TestClient(create_app(adv, served), base_url="http://127.0.0.1") as client:
        assert client.get("/api/health").json()["status"] == "ok"
        # One slot: the second and third questions get answers only if each hung one gave its slot back.
        for _ in range(3):
            response = client.post("/api/ask", json={"question": IND})
            assert response.status_code == 200
            assert "0.5 s budget" in response.json()["notices"][0]
        health = client.get("/api/health")
        assert health.status_code == 200
        body = health.json()
        assert body["status"] == "degraded" and "0.5 s budget" in body["detail"]


def test_a_timeout_notice_counts_the_tries(settings):
    import httpx

    from advisor_bot.engines.chat_model import fault_reason

    timeout = httpx.ReadTimeout("slow")
    assert fault_reason(timeout, settings.model_copy(update={"llm_timeout": 30, "llm_max_retries": 1}))[0] == (
        "did not answer within 30 s on any of 2 tries"
    )
    assert fault_reason(timeout, settings.model_copy(update={"llm_timeout": 30, "llm_max_retries": 0}))[0] == "did not answer within 30 s"
