"""The LLM engine over real HTTP: LangChain's ChatOpenAI against a scripted OpenAI-protocol server.

The server runs on 127.0.0.1 (port 0) in a thread and replays scripted
/v1/chat/completions responses: JSON completions, streamed SSE chunks with
content and tool calls, HTTP errors and slow answers.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from advisor_bot.answer import Answer
from advisor_bot.turns import Turn
from advisor_bot.config import Settings
from advisor_bot.registry import REGISTRY

IND = "We're at IND-enabling studies. Should we use a CRO or a CDMO?"


class Scripted(BaseHTTPRequestHandler):
    server: OpenAIServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def do_POST(self) -> None:  # noqa: N802
        try:
            self._reply()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first (the timeout test)

    def _reply(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        step = self.server.script.pop(0) if self.server.script else {"status": 500, "error": "script exhausted"}
        if "hold" in step:
            step["hold"].wait(timeout=60)  # released by the test once the client has given up
        if "status" in step:
            payload = json.dumps({"error": {"message": step.get("error", "scripted error"), "type": "server_error"}}).encode()
            self.send_response(step["status"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("retry-after-ms", "10")
            self.end_headers()
            self.wfile.write(payload)
        elif body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for chunk in sse_chunks(step, body["model"]):
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
        else:
            payload = json.dumps(completion(step, body["model"])).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)


def _calls(step: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"call_{i + 1}",
            "type": "function",
            "function": {"name": c["name"], "arguments": c["arguments"] if isinstance(c["arguments"], str) else json.dumps(c["arguments"])},
        }
        for i, c in enumerate(step.get("tool_calls", []))
    ]


def completion(step: dict[str, Any], model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": step.get("content")}
    if calls := _calls(step):
        message["tool_calls"] = calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def sse_chunks(step: dict[str, Any], model: str) -> Iterator[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip

    yield chunk({"role": "assistant", "content": ""})
    words = (step.get("content") or "").split(" ")
    for i, word in enumerate(words if step.get("content") else []):
        yield chunk({"content": word + (" " if i < len(words) - 1 else "")})
    calls = _calls(step)
    for i, call in enumerate(calls):
        args = call["function"]["arguments"]
        yield chunk({"tool_calls": [{"index": i, "id": call["id"], "type": "function", "function": {"name": call["function"]["name"], "arguments": ""}}]})
        for piece in (args[: len(args) // 2], args[len(args) // 2 :]):
            yield chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
    yield chunk({}, "tool_calls" if calls else "stop")


class OpenAIServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Scripted)
        self.script: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@pytest.fixture()
def server() -> Iterator[OpenAIServer]:
    srv = OpenAIServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def llm_settings(settings: Settings, url: str, **overrides: Any) -> Settings:
    return settings.model_copy(
        update={"engine": "llm", "llm": "openai:some-model", "llm_base_url": url, "llm_api_key": SecretStr("test"), "llm_max_retries": 0, **overrides}
    )


@pytest.fixture()
def ask(advisor, embedder):
    """Ask through a real Advisor whose settings select the LLM engine."""
    from advisor_bot.advisor import Advisor

    def _ask(settings: Settings, question: str = IND, history: list[Turn] | None = None) -> tuple[list[str], Answer]:
        adv = Advisor(settings=settings, embedder=embedder)
        *texts, answer = adv.stream(question, history=history)
        assert isinstance(answer, Answer)
        return texts, answer

    return _ask


def test_tool_call_then_a_streamed_answer_over_http(server, settings, ask, pin_schemas):
    server.script = [
        {"tool_calls": [{"name": "stage_recommendation", "arguments": {"stage": "IND-enabling studies"}}]},
        {"content": "For IND-enabling studies a CDMO fits, for cGMP tox material [p1]. Plan the transfer early."},
    ]
    texts, answer = ask(llm_settings(settings, server.url))
    assert answer.engine == "llm", answer.notices
    assert answer.recommendation.model == "CDMO" and answer.citations
    assert texts[0].startswith("## Recommendation: **CDMO**") and len(texts) >= 3
    assert any(t.startswith("For IND-enabling studies a CDMO fits") for t in texts[1:])
    assert "".join(texts).strip() == answer.answer_markdown

    first, second = (r["body"] for r in server.requests)
    assert all(r["path"] == "/v1/chat/completions" and r["auth"] == "Bearer test" for r in server.requests)
    assert first["stream"] is True and first["model"] == "some-model"
    assert [t["function"]["name"] for t in first["tools"]] == ["search_framework", "record_situation", *REGISTRY]
    pin_schemas("langchain.json", {t["function"]["name"]: t for t in first["tools"] if t["function"]["name"] in REGISTRY})
    assert first["messages"][0]["role"] == "system" and '<data source="search_framework">' in first["messages"][-1]["content"]
    assistant, tool = second["messages"][-2:]
    assert assistant["role"] == "assistant" and assistant["tool_calls"][0]["function"]["name"] == "stage_recommendation"
    assert tool["role"] == "tool" and tool["tool_call_id"] == "call_1"
    assert tool["content"].startswith('<data source="stage_recommendation">') and '"models":["CDMO"]' in tool["content"]


DESCRIBED = "Our rats and dogs need a properly documented batch before the agency lets us dose people. Who should make it?"


def test_the_model_reads_a_described_stage_over_http_and_an_invented_field_is_dropped(server, settings, ask):
    said = {
        "stage": {"value": "IND-enabling studies", "evidence": "before the agency lets us dose people"},
        "budget": {"value": "CDMO", "evidence": "capital is approved for two campaigns"},  # never said
    }
    server.script = [
        {"tool_calls": [{"name": "record_situation", "arguments": said}]},
        {"content": "Tox material is made under cGMP [p1]."},
    ]
    _, answer = ask(llm_settings(settings, server.url), DESCRIBED)
    assert answer.engine == "llm", answer.notices
    assert answer.recommendation.model == "CDMO" and answer.situation.stage == "IND-enabling studies"
    assert answer.situation.budget is None and any("Budget structure favours" in n and "ignored" in n for n in answer.notices)
    schema = next(t for t in server.requests[0]["body"]["tools"] if t["function"]["name"] == "record_situation")
    stage = schema["function"]["parameters"]["properties"]["stage"]
    assert "IND-enabling studies" in json.dumps(stage)  # the stages are an enum built from the matrix


def test_a_follow_up_is_condensed_with_a_plain_completion(server, settings, ask):
    server.script = [
        {"content": "How much does technology transfer between a CRO and a CDMO cost?"},
        {"content": "Transfer has its own budget line [p1]."},
    ]
    history = [Turn(role="user", content="We're at IND-enabling studies."), Turn(role="assistant", content="A CDMO fits.")]
    _, answer = ask(llm_settings(settings, server.url), "and moving it over?", history)
    assert answer.engine == "llm", answer.notices
    condense, conversation = (r["body"] for r in server.requests)
    assert not condense.get("stream") and "tools" not in condense
    assert "$50,000" in conversation["messages"][-1]["content"]  # passages for the stand-alone question


def test_a_malformed_tool_call_over_http_falls_back(server, settings, ask):
    server.script = [{"tool_calls": [{"name": "stage_recommendation", "arguments": "stage=IND"}]}]
    _, answer = ask(llm_settings(settings, server.url))
    assert answer.engine == "offline" and "malformed tool call" in answer.notices[0]


@pytest.mark.parametrize(("status", "reason"), [(500, "server error (HTTP 500)"), (503, "server error (HTTP 503)"), (429, "HTTP 429")])
def test_http_errors_fall_back_after_the_configured_retries(server, settings, ask, status, reason):
    server.script = [{"status": status}, {"status": status}]
    _, answer = ask(llm_settings(settings, server.url, llm_max_retries=1))
    assert answer.engine == "offline" and reason in answer.notices[0]
    assert len(server.requests) == 2  # the first try and one retry
    assert answer.recommendation.model == "CDMO"  # the offline engine's answer


def test_a_slow_server_times_out_and_falls_back(server, settings, ask):
    # The server answers only after the test lets it, so an answer from the model would mean the
    # client never timed out.
    release = threading.Event()
    server.script = [{"hold": release, "content": "too late"}]
    try:
        _, answer = ask(llm_settings(settings, server.url, llm_timeout=0.5))
    finally:
        release.set()
    assert answer.engine == "offline" and "did not answer within 0.5 s" in answer.notices[0]


def test_a_refused_connection_falls_back(settings, ask):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    _, answer = ask(llm_settings(settings, f"http://127.0.0.1:{port}/v1"))
    assert answer.engine == "offline" and "could not be reached" in answer.notices[0]
    assert answer.recommendation.model == "CDMO"
