"""The server over HTTP: JSON API, framework page, Gradio client, MCP and the safety switches."""

from __future__ import annotations

import asyncio
import base64
import html as html_lib
import inspect
import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.routing import Mount

from advisor_bot.answer import Answer
from advisor_bot.citations import Citation
from advisor_bot.config import PROJECT_ROOT, Settings
from advisor_bot.corpus import parse_sections, read_document
from advisor_bot.errors import InvalidQuestionError
from advisor_bot.situation import Quantity, Situation
from advisor_bot.registry import REGISTRY
from advisor_bot.tools import CostScenario
from ui import panel, views
from ui.app import GENERIC_FAILURE, ChatView, failure_message
from ui.framework_page import framework_html
from ui.server import create_app

WHICH_MODEL = "Should we use a CRO or a CDMO for IND-enabling studies? We need 2 kg of cGMP material."
HOSTILE = '<img src="http://evil.example/x.png"><script>window.pwned=1</script><form action="http://evil.example"></form>'


@pytest.fixture(scope="module")
def client(advisor, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(advisor, settings), base_url="http://127.0.0.1") as c:
        yield c


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# ---- JSON API ----------------------------------------------------------------------------


def test_ask_returns_the_answer_schema_with_verifiable_citations(client: TestClient, advisor) -> None:
    response = client.post("/api/ask", json={"question": WHICH_MODEL})
    assert response.status_code == 200
    answer = Answer.model_validate(response.json())
    assert answer.engine == advisor.engine.name
    assert answer.recommendation is not None and answer.recommendation.model == "CDMO"
    assert answer.situation.stage == "IND-enabling studies"
    assert answer.citations
    documents = advisor.context.documents
    for c in answer.citations:
        assert documents[c.document].text[c.start : c.end] == c.quote


def test_ask_situation_overrides_what_the_question_says(client: TestClient) -> None:
    body = {"question": WHICH_MODEL, "situation": {"stage": "Hit identification / lead discovery"}}
    answer = Answer.model_validate(client.post("/api/ask", json=body).json())
    assert answer.recommendation is not None
    assert answer.recommendation.stage == "Hit identification / lead discovery"
    assert answer.recommendation.model == "CRO"


def test_ask_uses_the_history(client: TestClient) -> None:
    history = [
        {"role": "user", "content": "We are at IND-enabling studies."},
        {"role": "assistant", "content": "Noted."},
    ]
    answer = Answer.model_validate(client.post("/api/ask", json={"question": "Which model fits us?", "history": history}).json())
    assert answer.situation.stage == "IND-enabling studies"


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({}, "question: Field required"),
        ({"question": 42}, "question:"),
        ({"question": "Which model?", "colour": "red"}, "colour: Extra inputs are not permitted"),
        ({"question": "Which model?", "situation": {"gmp": "perhaps"}}, "situation.gmp:"),
        ({"question": "Which model?", "situation": {"quantity": {"value": -1, "unit": "kg"}}}, "situation.quantity.value:"),
        ({"question": "Which model?", "history": [{"role": "robot", "content": "hi"}]}, "history.0.role:"),
    ],
)
def test_bad_payloads_get_422_naming_the_field(client: TestClient, body: dict[str, object], names: str) -> None:
    response = client.post("/api/ask", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail.startswith("Invalid request.")
    assert names in detail


def test_malformed_json_gets_422(client: TestClient) -> None:
    response = client.post("/api/ask", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("Invalid request.")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"question": "   "}, "The question is empty"),
        ({"question": "x" * 5000}, "the limit is 4,000"),
        ({"question": "Which model?", "engine": "no-such-engine"}, "omit 'engine'"),
    ],
)
def test_advisor_errors_are_400_with_their_message(client: TestClient, body: dict[str, object], says: str) -> None:
    response = client.post("/api/ask", json=body)
    assert response.status_code == 400
    assert says in response.json()["detail"]


def test_a_bug_is_logged_and_answered_with_a_generic_500(
    client: TestClient, advisor, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object, **__: object) -> Answer:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(advisor, "ask", broken)
    response = TestClient(client.app, raise_server_exceptions=False, base_url="http://127.0.0.1").post("/api/ask", json={"question": WHICH_MODEL})
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal error; it has been logged."}
    assert "secret internals" in caplog.text


def test_the_page_shows_advisor_errors_and_hides_bugs(caplog: pytest.LogCaptureFixture) -> None:
    assert failure_message(InvalidQuestionError("Shorten the question.")) == "Shorten the question."
    assert failure_message(RuntimeError("secret internals")) == GENERIC_FAILURE
    assert "secret internals" in caplog.text


def test_oversized_body_is_refused_before_parsing(client: TestClient) -> None:
    response = client.post("/api/ask", content=b" " * (2 << 20), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_oversized_chunked_body_is_refused_too(client: TestClient) -> None:
    # No Content-Length: the limit is enforced while the body streams in.
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b" " * (64 << 10)

    response = client.post("/api/ask", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


def test_health_names_engine_and_corpus(client: TestClient, advisor) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "engine": advisor.engine.name,
        "corpus_version": advisor.context.corpus_version,
    }


def test_openapi_docs_are_served_without_a_cdn(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert "cdn." not in page.text
    assert client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) >= {"/api/ask", "/api/health"}
    assert "question" in schema["components"]["schemas"]["AskRequest"]["properties"]
    assert "recommendation" in schema["components"]["schemas"]["Answer"]["properties"]


# ---- framework page ----------------------------------------------------------------------


def test_framework_page_has_every_section_anchor_and_labels_promotion(client: TestClient, advisor) -> None:
    page = client.get("/framework")
    assert page.status_code == 200
    for doc in advisor.context.documents.values():
        for section in parse_sections(doc):
            assert f'id="{section.anchor}"' in page.text
            if section.promotional:
                marker = f'<section id="{section.anchor}" class="section promotional"'
                assert marker in page.text
                assert "Publisher&#x27;s promotion" in page.text[page.text.index(marker) :][:400]
    answer = client.post("/api/ask", json={"question": WHICH_MODEL}).json()
    assert all(f'id="{c["anchor"]}"' in page.text for c in answer["citations"])


def test_markup_in_a_document_is_shown_as_text(tmp_path: Path) -> None:
    path = tmp_path / "hostile.md"
    path.write_text(f"---\ntitle: T\npromotional_sections: [Ads]\n---\n# Intro\n\n{HOSTILE}\n\n# Ads\n\nBuy <b>now</b>.\n")
    doc = read_document(path, corpus_dir=tmp_path)
    page = framework_html({doc.id: doc})
    assert "<script" not in page and "<img" not in page and "<form" not in page and "<b>" not in page
    assert "&lt;script&gt;" in page
    assert '<section id="ads" class="section promotional"' in page


# ---- rendering ---------------------------------------------------------------------------


def _hostile_answer() -> Answer:
    citation = Citation(
        document="d.md", section=f"Part > {HOSTILE}", anchor='x" onmouseover="alert(1)', quote=HOSTILE, start=0, end=len(HOSTILE), promotional=True
    )
    return Answer(question=HOSTILE, answer_markdown=HOSTILE, citations=[citation], engine=HOSTILE, corpus_version="v")


def test_views_escape_markup_from_questions_answers_and_documents() -> None:
    answer = _hostile_answer()
    rendered = [
        views.sources_panel(answer, {}),
        views.engine_badge(answer),
        views.inert(answer.answer_markdown),
        views.recommendation_card(answer),
    ]
    for html in rendered:
        assert "<img" not in html and "<script" not in html and "<form" not in html
        assert 'onmouseover="' not in html
    assert "&lt;script&gt;" in rendered[0]
    assert "Publisher" in rendered[0], "promotional passages are labelled"


def test_sources_panel_highlights_the_quote_and_links_its_section(client: TestClient, advisor) -> None:
    answer = Answer.model_validate(client.post("/api/ask", json={"question": WHICH_MODEL}).json())
    html = views.sources_panel(answer, advisor.context.documents)
    for c in answer.citations:
        assert f'href="/framework#{c.anchor}"' in html
    prose = next(c for c in answer.citations if not c.quote.startswith("|"))
    # The quote is shown whole, as text (escaped; line breaks as <br>; ranges held together by word joiners).
    marked = [html_lib.unescape(m.replace("<br>", "\n")).replace("\u2060", "") for m in re.findall(r"<mark>(.*?)</mark>", html, re.S)]
    assert prose.quote in marked
    assert html.count("<mark>") >= len(answer.citations)


def test_memo_has_date_recommendation_and_citations(client: TestClient) -> None:
    answer = Answer.model_validate(client.post("/api/ask", json={"question": WHICH_MODEL}).json())
    memo = views.memo_markdown([answer], today=date(2026, 1, 2), base_url="http://advisor.test")
    assert "2026-01-02" in memo
    assert "## Recommendation: **CDMO**" in memo
    assert "## Citations" in memo
    for c in answer.citations:
        assert f"http://advisor.test/framework#{c.anchor}" in memo
    assert "](/framework#" not in memo, "links in a file that leaves the app are absolute"


def test_memo_files_are_never_rewritten_and_only_the_newest_are_kept(advisor, settings: Settings) -> None:
    """Gradio hashes a memo file and copies it afterwards: a file rewritten between the two once served an
    empty memo. Renders in flight together each get their own complete file."""
    import gradio as gr
    from concurrent.futures import ThreadPoolExecutor

    from ui.app import MEMOS_KEPT, make_shell

    with gr.Blocks():
        view = ChatView(make_shell(advisor, settings), compact=False)
    request = type("R", (), {"headers": {"host": "127.0.0.1"}, "session_hash": "s1", "url": "http://127.0.0.1/"})()
    answers = [advisor.ask(q) for q in (WHICH_MODEL, "What does a CRO FTE cost per year?")]
    expected = [views.memo_markdown([a], pinned=Situation(), today=date.today(), base_url="http://127.0.0.1") for a in answers]
    with ThreadPoolExecutor(4) as pool:
        paths = list(pool.map(lambda i: view._memo([answers[i % 2]], Situation(), request), range(16)))
    for i, path in enumerate(paths):
        assert Path(path).read_text(encoding="utf-8") == expected[i % 2]
    assert len(set(paths)) == 2, "one file per memo's content"
    first = Path(paths[0]).stat().st_mtime_ns
    assert view._memo([answers[0]], Situation(), request) == paths[0] and Path(paths[0]).stat().st_mtime_ns == first

    more = [advisor.ask(f"What would {n} CRO chemists cost for a year?") for n in range(2, MEMOS_KEPT + 3)]
    latest = [view._memo([a], Situation(), request) for a in more]
    kept = sorted(Path(paths[0]).parent.parent.iterdir())
    assert len(kept) == MEMOS_KEPT and Path(latest[-1]).exists() and not Path(latest[0]).exists()


def test_the_memo_numbers_citations_as_the_answer_and_the_sources_panel_do(client: TestClient) -> None:
    # Two passages of one section: one reference number in the chat, so one number in the memo too.
    question = "Our med chem program's scope keeps shifting every month. Should we contract the CRO on FTEs or a fixed price?"
    answer = Answer.model_validate(client.post("/api/ask", json={"question": question}).json())
    assert len(answer.citations) > len({c.anchor for c in answer.citations})
    memo = views.memo_markdown([answer], today=date(2026, 1, 2), base_url="http://advisor.test")
    in_memo = set(re.findall(r"^\[(\d+)\] \*\*.*/framework#([\w-]+)$", memo, re.M))
    in_answer = set(re.findall(r"\[\[(\d+)\]\]\(/framework#([\w-]+)\)", answer.answer_markdown))
    assert in_answer and in_answer <= in_memo and len(in_memo) == len({c.anchor for c in answer.citations})


# ---- page handlers -----------------------------------------------------------------------


def test_situation_form_round_trips_and_speaks_the_framework(advisor) -> None:
    situation = Situation(
        stage="Lead optimization", quantity=Quantity(value=500, unit="g"), gmp=False,
        budget="CRO", timeline="Hybrid", in_house="CDMO", ip_sensitivity="CRO",
    )
    assert panel.from_panel(panel.to_panel(situation)) == situation
    assert panel.from_panel(panel.to_panel(Situation())) == Situation()
    assert panel.to_panel(Situation())["quantity_value"] == "", "empty, not 0, before a quantity is said"
    with pytest.raises(InvalidQuestionError, match="not a positive number"):
        panel.from_panel({**panel.to_panel(Situation()), "quantity_value": "0"})
    framework = advisor.context.toolbox.framework
    assert [value for _, value in panel.stage_choices(framework)][1:] == [r.stage for r in framework.stages]
    assert ("Rapid iteration needed (weeks) → CRO", "CRO") in panel.column_choices(framework, "timeline")


def test_the_form_is_generated_from_the_registrys_argument_model(view: ChatView) -> None:
    # Its fields are fields of the situation profile_assessment takes (the model the LLM and MCP tools see).
    factors = REGISTRY["profile_assessment"].args.model_fields["factors"].annotation
    assert panel.ARGUMENTS is factors and set(panel.FORM) <= set(factors.model_fields)
    assert {panel.panel_field(n) for n in view.controls} == set(panel.FORM)
    params = list(inspect.signature(view.edit_handler("stage")).parameters)
    assert params[4:-1] == list(panel.FIELDS) == list(view.controls)


def test_the_form_labels_its_fields_as_every_other_view_does(view: ChatView, advisor) -> None:
    """One label per situation field (Situation's titles): the form, the card and the memo agree;
    the factor dropdowns are the rows the article map names, offering the row's own cells."""
    for name, control in view.controls.items():
        if name != "quantity_unit":
            assert control.label == Situation.label(panel.panel_field(name)), name
    framework = advisor.context.toolbox.framework
    assert set(panel.COLUMN_FIELDS) == set(framework.article.column_fields())
    for field in panel.COLUMN_FIELDS:
        row = framework.profile_row(framework.article.column_fields()[field])
        assert [text for text, _ in panel.column_choices(framework, field)[1:]] == [f"{row.cells[c].text} → {c}" for c in ("CRO", "CDMO", "Hybrid")]


def test_editing_a_field_pins_it_and_re_answers_the_last_question(view: ChatView, advisor) -> None:
    values = panel.to_panel(Situation())
    before = advisor.ask(WHICH_MODEL)
    chat = [{"role": "user", "content": WHICH_MODEL}, {"role": "assistant", "content": before.answer_markdown}]
    turns = [{"role": "user", "content": WHICH_MODEL}, {"role": "assistant", "content": before.answer_markdown}]
    out = view.edit_handler("timeline")(chat, turns, [before], Situation(), *{**values, "timeline": "CRO"}.values(), None)
    assert out[view.pinned] == Situation(timeline="CRO")
    after = out[view.answers][-1]
    assert after.question == WHICH_MODEL and after.situation.timeline == "CRO"
    assert any(f.factor.startswith("Timeline") and f.favours == "CRO" for f in after.recommendation.factors)  # type: ignore[union-attr]
    assert "Timeline pressure" in out[view.pinned_note]
    assert out[view.controls["timeline"]] == "CRO" and out[view.controls["stage"]] == "IND-enabling studies"
    assert "Timeline pressure" in out[view.card] and len(out[view.turns]) == 2

    first = view.edit_handler("budget")([], [], [], Situation(), *{**values, "budget": "CDMO"}.values(), None)
    assert first[view.pinned] == Situation(budget="CDMO") and "next question" in first[view.pinned_note]


# ---- safety switches ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/embed/", "/framework", "/api/health", "/docs"])
def test_frame_and_content_security_headers(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in csp
    assert "img-src 'self' data: blob:" in csp and "form-action 'self'" in csp
    assert "'unsafe-eval'" not in csp
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_cors_rejects_an_unknown_origin(client: TestClient) -> None:
    evil = {"Origin": "https://evil.example"}
    for path in ("/config", "/embed/config", "/api/health", "/gradio_api/info"):
        assert "access-control-allow-origin" not in client.get(path, headers=evil).headers
    preflight = client.options("/api/ask", headers={**evil, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers


def test_configured_origins_and_frame_ancestors(advisor, settings: Settings) -> None:
    wiki = "https://wiki.example.com"
    custom = settings.model_copy(update={"cors_origins": [wiki], "frame_ancestors": f"'self' {wiki}"})
    with TestClient(create_app(advisor, custom), base_url="http://127.0.0.1") as c:
        response = c.get("/api/health", headers={"Origin": wiki})
        assert response.headers["access-control-allow-origin"] == wiki
        assert f"frame-ancestors 'self' {wiki}" in response.headers["content-security-policy"]
        assert "x-frame-options" not in response.headers, "SAMEORIGIN would forbid the wiki's frame"
        assert "access-control-allow-origin" not in c.get("/api/health", headers={"Origin": "https://evil.example"}).headers


def test_monitoring_is_closed(client: TestClient) -> None:
    for path in ("/monitoring", "/monitoring/summary", "/gradio_api/monitoring"):
        assert client.get(path).status_code in (403, 404)


def test_no_share_link_and_no_file_serving_beyond_the_app(client: TestClient) -> None:
    page = client.get("/")
    config = client.get("/config").json()
    assert "gradio.live" not in page.text and "share_url" not in config
    for name in ("/etc/passwd", str(PROJECT_ROOT / "pyproject.toml"), str(PROJECT_ROOT / ".advisor")):
        assert client.get(f"/gradio_api/file={name}").status_code in (403, 404)
    for prefix in ("", "/embed"):
        upload = client.post(f"{prefix}/gradio_api/upload", files={"files": ("x.html", b"<script>1</script>", "text/html")})
        assert upload.status_code == 404


def _blocks(app) -> list:  # noqa: ANN001 - the FastAPI app
    return [r.app.get_blocks() for r in app.routes if isinstance(r, Mount) and hasattr(r.app, "get_blocks")]


def test_queue_and_input_limits_are_configured(advisor, settings: Settings) -> None:
    custom = settings.model_copy(update={"concurrency": 3, "queue_size": 7})
    blocks = _blocks(create_app(advisor, custom))
    assert len(blocks) == 2, "the page and /embed"
    for b in blocks:
        assert b._queue.default_concurrency_limit == 3 and b._queue.max_size == 7
        assert b.api_open is False and b.enable_monitoring is False and not b.share
        question = next(c for c in b.config["components"] if c.get("props", {}).get("elem_id") == "question")
        assert question["props"]["max_length"] == settings.max_question_chars


def test_basic_auth_guards_page_api_and_mcp(advisor, settings: Settings) -> None:
    guarded = settings.model_copy(update={"auth": SecretStr("ada:s3cret")})
    with TestClient(create_app(advisor, guarded), base_url="http://127.0.0.1") as c:
        for path in ("/", "/embed/", "/framework", "/api/health", "/docs", "/config", "/gradio_api/mcp/"):
            response = c.get(path)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"].startswith("Basic")
        assert c.post("/api/ask", json={"question": WHICH_MODEL}).status_code == 401
        assert c.get("/api/health", headers=_basic("ada", "wrong")).status_code == 401
        assert c.get("/api/health", headers={"Authorization": "Basic !!!"}).status_code == 401
        assert c.get("/api/health", headers=_basic("ada", "s3cret")).status_code == 200
        assert c.post("/api/ask", json={"question": WHICH_MODEL}, headers=_basic("ada", "s3cret")).status_code == 200
        assert c.get("/", headers=_basic("ada", "s3cret")).status_code == 200


def test_auth_is_off_by_default(client: TestClient) -> None:
    assert Settings().auth is None
    assert client.get("/api/health").status_code == 200


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"ADVISOR_AUTH": "no-colon"}, "user:password"),
        ({"ADVISOR_CORS_ORIGINS": "*"}, "explicitly"),
        ({"ADVISOR_FRAME_ANCESTORS": "'self'; script-src *"}, "source list"),
    ],
)
def test_unsafe_settings_are_rejected(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], says: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=says):
        Settings()


def test_serve_refuses_bad_settings_without_echoing_the_password() -> None:
    from typer.testing import CliRunner

    from ui.cli import app

    result = CliRunner().invoke(app, ["serve"], env={"ADVISOR_AUTH": "hunter2"})
    assert result.exit_code == 2
    assert "user:password" in result.output and "hunter2" not in result.output


def test_settings_read_serving_switches_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVISOR_CORS_ORIGINS", "https://a.example, https://b.example/")
    monkeypatch.setenv("ADVISOR_AUTH", "u:p:q")
    s = Settings()
    assert s.cors_origins == ["https://a.example", "https://b.example"]
    assert s.auth is not None and s.auth.get_secret_value() == "u:p:q"
    assert s.host == "127.0.0.1"


# ---- Gradio client and MCP over a live server --------------------------------------------


@pytest.fixture(scope="module")
def live_url(advisor, settings: Settings, serve) -> str:
    return serve(create_app(advisor, settings))


def test_gradio_client_calls_ask_and_sees_only_the_tools(live_url: str) -> None:
    from gradio_client import Client

    client = Client(live_url, verbose=False, analytics_enabled=False)
    endpoints = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert endpoints == {f"/{name}" for name in ("ask", *REGISTRY)}, "UI events stay private"
    answer = Answer.model_validate_json(client.predict(question=WHICH_MODEL, api_name="/ask"))
    assert answer.recommendation is not None and answer.recommendation.model == "CDMO"
    row = json.loads(client.predict(stage="IND-enabling studies", api_name="/stage_recommendation"))["row"]
    assert row["models"] == ["CDMO"]


Schemas = dict[str, dict[str, object]]


def _mcp(url: str, calls: list[tuple[str, dict[str, object]]]) -> tuple[Schemas, list[tuple[bool, str]]]:
    """Tools by name (description and input schema), and (is_error, text) for each call, from a real MCP client session."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def run() -> tuple[Schemas, list[tuple[bool, str]]]:
        async with streamable_http_client(f"{url}/gradio_api/mcp/") as (read, write, _), ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name: {"description": t.description, "inputSchema": t.inputSchema} for t in (await session.list_tools()).tools}
            results = []
            for name, args in calls:
                result = await session.call_tool(name, args)
                results.append((bool(result.isError), "".join(getattr(c, "text", "") for c in result.content)))
            return tools, results

    return asyncio.run(run())


def test_mcp_exposes_the_decision_tools_and_ask(live_url: str, pin_schemas) -> None:
    listed, results = _mcp(
        live_url,
        [
            ("stage_recommendation", {"stage": "Phase III / commercial"}),
            ("profile_assessment", {"factors": {"gmp": True, "quantity": {"value": 5, "unit": "kg"}}}),
            ("estimate_cost", {"scenario": {"fte": 2, "months": 6}}),
            ("ask", {"question": WHICH_MODEL}),
            ("estimate_cost", {"scenario": {"fte": -2}}),
            ("ip_checklist", {"engagement": "CDMO", "focus": "manufacturing know-how on their equipment"}),
        ],
    )
    assert set(listed) == {"ask", *REGISTRY}
    pin_schemas("mcp.json", {name: listed[name] for name in REGISTRY})
    tools = {name: t["inputSchema"] for name, t in listed.items()}
    assert set(tools["profile_assessment"]["properties"]["factors"]["properties"]) == set(Situation.model_fields)
    assert set(tools["estimate_cost"]["properties"]["scenario"]["properties"]) == set(CostScenario.model_fields)
    assert "IND-enabling studies" in tools["stage_recommendation"]["properties"]["stage"]["description"], "from the registry"
    assert set(tools["ip_checklist"]["properties"]) == {"engagement", "focus"}
    (ok1, stage), (ok2, profile), (ok3, cost), (ok4, answer), (failed, error), (ok5, checklist) = results
    assert not (ok1 or ok2 or ok3 or ok4)
    assert json.loads(stage)["row"]["models"] == ["CDMO"]
    assert json.loads(profile)["lean"] == "CDMO"
    estimate = json.loads(cost)
    assert estimate["low"] > 0 and estimate["items"][0]["citation"]["quote"]
    assert Answer.model_validate_json(answer).recommendation.model == "CDMO"  # type: ignore[union-attr]
    assert failed and "fte" in error and "greater than 0" in error
    assert not ok5 and json.loads(checklist)["items"][0]["text"].startswith("Manufacturing know-how"), "focus reaches the tool"


