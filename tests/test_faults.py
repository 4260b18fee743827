"""Broken LLM endpoints (tests/data/hostile/faults.jsonl): each is answered by the offline engine with
the notice that names the fault, within the answer's deadline, and health then says "degraded".

Store faults (damaged, deleted, read-only data directories) are in test_broken_store.py, a killed
ingest in test_index.py, the deadline's own mechanics in test_llm_deadline.py.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from advisor_bot.answer import Answer
from hostile import FAULTS, load
from test_llm_http import IND, llm_settings

CASES = load(FAULTS)


class Broken(BaseHTTPRequestHandler):
    server: BrokenServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        mode = self.server.mode
        try:
            if isinstance(mode, int):
                payload = json.dumps({"error": {"message": "scripted", "type": "server_error"}}).encode()
                self.send_response(mode)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            elif mode == "hold":
                self.server.stop.wait(60)  # released at teardown; the client has long given up
            elif mode == "garbage-json":
                payload = b"<html>502 proxy error</html>"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            else:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                if mode == "garbage":
                    self.wfile.write(b"data: {not json at all\n\ndata: \x00\xff\xfe\n\n")
                    return
                chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                         "choices": [{"index": 0, "delta": {"content": "word "}, "finish_reason": None}]}  # fmt: skip
                while not self.server.stop.is_set():
                    line = b": keep-alive\n\n" if mode == "keepalive" else f"data: {json.dumps(chunk)}\n\n".encode()
                    self.wfile.write(line)
                    self.wfile.flush()
                    self.server.stop.wait(0.05)  # the pace of the stream, not a synchronisation
        except (BrokenPipeError, ConnectionResetError):
            pass


class BrokenServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, mode: object) -> None:
        super().__init__(("127.0.0.1", 0), Broken)
        self.mode = mode
        self.stop = threading.Event()


@pytest.fixture()
def endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    mode = request.param
    if mode == "dead":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # closed when the block ends: nothing listens there
        yield f"http://127.0.0.1:{port}/v1"
        return
    srv = BrokenServer(mode)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.stop.set()
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize(("case", "endpoint"), [(c, c["endpoint"]) for c in CASES], ids=[c["id"] for c in CASES], indirect=["endpoint"])
def test_a_broken_endpoint_gets_the_offline_answer_with_its_notice(advisor, settings, embedder, case: dict, endpoint: str) -> None:
    from advisor_bot.advisor import Advisor

    overrides = {"llm_timeout": case.get("timeout", 30), "llm_max_seconds": case.get("budget", 20), "llm_max_retries": 0}
    adv = Advisor(settings=llm_settings(settings, endpoint, **overrides), embedder=embedder)
    *_, answer = adv.stream(IND)
    assert isinstance(answer, Answer)
    assert answer.engine == "offline" and answer.recommendation.model == "CDMO"  # nothing the user needs is lost
    assert case["says"] in answer.notices[0] and answer.notices[0].endswith("so this is the offline engine's answer.")
    assert "\n" not in answer.notices[0]
    assert "fell back" in (adv.engine.problem() or "")
