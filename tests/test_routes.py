"""Only what the page and the public API need is reachable; hosts are trusted only when configured.

Gradio answers every event handler at /gradio_api/call|run/<name> ("private" ones too) and a 500
with a traceback for unknown names; it builds URLs from Host and X-Forwarded-Host; its MCP server
checks neither Host nor Origin (the DNS-rebinding pattern the MCP specification says to block).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from advisor_bot.config import Settings
from advisor_bot.registry import REGISTRY
from ui.server import create_app

LOCAL = "http://127.0.0.1"
INIT = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "probe", "version": "1"}},
}  # fmt: skip
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}
PRIVATE = ["respond", "on_click", "on_click_1", "reset", "unpin", "on_edit", "full_link_html", "lambda", "nonexistent"]


@pytest.fixture(scope="module")
def client(advisor, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(advisor, settings), base_url=LOCAL, raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize("mount", ["", "/embed"])
@pytest.mark.parametrize("route", ["call", "run", "api", "call/v2"])
def test_private_handlers_and_unknown_names_get_a_one_line_404(client: TestClient, caplog: pytest.LogCaptureFixture, mount: str, route: str) -> None:
    caplog.set_level(logging.INFO)
    for name in PRIVATE:
        response = client.post(f"{mount}/gradio_api/{route}/{name}", json={"data": []})
        assert response.status_code == 404, (name, response.text)
        assert "the public ones are" in response.json()["detail"]
    assert "Traceback" not in caplog.text


def test_the_public_tools_stay_callable_and_a_wrong_call_is_a_422_without_traceback(client: TestClient, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    response = client.post("/gradio_api/run/stage_recommendation", json={"data": ["IND-enabling studies"]})
    assert response.status_code == 200 and '"models":["CDMO"]' in response.json()["data"][0]
    wrong_count = client.post("/gradio_api/run/ask", json={"data": []})
    assert wrong_count.status_code == 422 and "ask takes 3 input value(s)" in wrong_count.json()["detail"]
    wrong_type = client.post("/gradio_api/run/stage_recommendation", json={"data": [123]})
    assert "Invalid arguments: stage: Input should be a valid string" in wrong_type.text
    unknown_event = client.post("/gradio_api/queue/join", json={"data": [], "fn_index": 999, "session_hash": "x"})
    assert unknown_event.status_code == 422
    # run/predict is how the page calls its unqueued events, by index; a queued handler is not reachable that way.
    assert client.post("/gradio_api/run/predict", json={"data": []}).status_code == 422
    queued = next(d["id"] for d in client.get("/config").json()["dependencies"] if d.get("queue") is not False)
    assert client.post("/gradio_api/run/predict", json={"data": [], "fn_index": queued}).status_code == 422
    assert set(client.get("/gradio_api/info").json()["named_endpoints"]) == {f"/{n}" for n in ("ask", *REGISTRY)}
    assert "Traceback" not in caplog.text and "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("path", ["/", "/config", "/api/health", "/embed/", "/gradio_api/info", "/docs"])
def test_a_foreign_host_is_refused_everywhere(client: TestClient, path: str) -> None:
    assert client.get(path, headers={"Host": "evil.example"}).status_code == 400
    assert client.get(path, headers={"Host": "localhost:7860"}).status_code == 200


def test_forwarded_headers_do_not_choose_the_root_url(client: TestClient) -> None:
    root = client.get("/config", headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}).json()["root"]
    assert root == LOCAL


def test_links_come_from_the_public_url_when_configured(advisor, settings: Settings) -> None:
    public = settings.model_copy(update={"public_url": "https://advisor.example.com", "allowed_hosts": ["advisor.example.com", "127.0.0.1"]})
    with TestClient(create_app(advisor, public), base_url=LOCAL) as c:
        assert c.get("/config").json()["root"] == "https://advisor.example.com"
        assert c.get("/embed/").status_code == 200


def test_the_embed_link_and_memo_use_the_public_url(advisor, settings: Settings) -> None:
    import gradio as gr

    from ui.app import ChatView, make_shell

    public = settings.model_copy(update={"public_url": "https://advisor.example.com"})
    with gr.Blocks():
        view = ChatView(make_shell(advisor, public), compact=True)
    forged = type("R", (), {"headers": {"host": "evil.example"}, "url": "http://evil.example/embed/"})()
    assert 'href="https://advisor.example.com/"' in view.full_link_html(forged)
    assert view.links(forged) == "https://advisor.example.com"


def test_mcp_refuses_a_foreign_host_or_origin_and_serves_its_own(client: TestClient) -> None:
    assert client.post("/gradio_api/mcp/", json=INIT, headers={**MCP_HEADERS, "Host": "evil.example"}).status_code == 400
    refused = client.post("/gradio_api/mcp/", json=INIT, headers={**MCP_HEADERS, "Origin": "http://evil.example"})
    assert refused.status_code == 403
    for origin in (None, "http://127.0.0.1:7860", "http://localhost"):
        headers = MCP_HEADERS | ({"Origin": origin} if origin else {})
        response = client.post("/gradio_api/mcp/", json=INIT, headers=headers)
        assert response.status_code == 200 and '"protocolVersion"' in response.text, origin


@pytest.mark.parametrize(("env", "value", "says"), [
    ("ADVISOR_ALLOWED_HOSTS", "*", "must list host names explicitly"),
    ("ADVISOR_PUBLIC_URL", "javascript:alert(1)", "must be an http(s) URL"),
])  # fmt: skip
def test_unsafe_host_settings_are_refused(monkeypatch: pytest.MonkeyPatch, env: str, value: str, says: str) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ValueError, match=re.escape(says)):
        Settings()
