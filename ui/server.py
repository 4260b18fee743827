"""One process, one Advisor: the JSON API, the framework page and both Gradio apps.

Routes: ``POST /api/ask``, ``GET /api/health``, OpenAPI at ``/docs``,
``/framework``, ``/gradio.js`` (the web component's loader), the compact
chat at ``/embed`` and the page (with its MCP server) at ``/``.
"""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path

import gradio as gr
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi_offline import FastAPIOffline
from starlette.middleware.trustedhost import TrustedHostMiddleware
from pydantic import BaseModel, ConfigDict, Field, field_validator

from advisor_bot.advisor import Advisor
from advisor_bot.answer import Answer
from advisor_bot.turns import Turn
from advisor_bot.config import Settings
from advisor_bot.errors import AdvisorError, InvalidQuestionError, EngineUnavailableError, OverloadedError
from advisor_bot.situation import Situation
from ui.app import EXAMPLES, build_embed, build_page, make_shell
from ui.idle_trim import IdleTrim
from ui.framework_page import framework_html
from ui.limits import Admission, AdmissionGate, refusal_status
from ui.routes import Endpoints, RouteGuard
from ui.mcp_tools import register_tools
from ui.security import SecurityMiddleware

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
# Gradio's web-component loader; it imports the bundle from the /assets route Gradio serves.
GRADIO_JS = Path(gr.__file__).parent / "templates" / "frontend" / "gradio.js"


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"question": EXAMPLES[0]}]})

    question: str = Field(description="The question, in the user's words.")
    history: list[Turn] | None = Field(default=None, description="Earlier messages, oldest first.")
    situation: Situation | None = Field(default=None, description="Facts that override what is read from the conversation.")
    engine: str | None = Field(default=None, description="Engine to answer with; GET /api/health names the one this server runs.")

    @field_validator("situation", mode="before")
    @classmethod
    def _known_fields(cls, value: object) -> object:
        # Situation ignores extra keys elsewhere; here a misspelt field must not be dropped silently.
        if isinstance(value, dict) and (unknown := sorted(set(value) - set(Situation.model_fields))):
            raise ValueError(f"unknown field(s) {', '.join(map(repr, unknown))}; known: {', '.join(Situation.model_fields)}")
        return value


class Health(BaseModel):
    status: str
    engine: str
    corpus_version: str | None = None
    detail: str | None = None


class Problem(BaseModel):
    detail: str


def _status(exc: AdvisorError) -> int:
    """Bad input is the caller's to fix (400); too much of it 429/503; anything else is the server's state (409)."""
    if isinstance(exc, OverloadedError):
        return refusal_status(exc)
    return 400 if isinstance(exc, InvalidQuestionError | EngineUnavailableError) else 409


def _validation_message(exc: RequestValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return "Invalid request. " + "; ".join(problems) + ". See /docs for the request schema."


def create_app(advisor: Advisor, settings: Settings) -> FastAPI:
    """The whole server as an ASGI app; ``advisor`` answers every route."""
    idle = IdleTrim()
    shell = make_shell(advisor, settings, idle=idle)
    # Bounds concurrent and waiting answers through the API and MCP, as the Gradio queue does for the page.
    admission = Admission(settings, idle=idle)
    app = FastAPIOffline(
        title="advisor-bot API",
        version="1",
        description="Cited advice on outsourcing chemical development. `POST /api/ask` returns the Answer schema.",
        redoc_url=None,
    )

    @app.exception_handler(AdvisorError)
    async def advisor_error(_: Request, exc: AdvisorError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, OverloadedError) else None
        return JSONResponse({"detail": str(exc)}, status_code=_status(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_message(exc)}, status_code=422)

    logged: set[tuple[str, str]] = set()

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        path = request.url.path
        # One traceback per kind of failure, then one line each: a flood of bad requests cannot flood the log.
        where = (type(exc).__name__, path[:60])
        if where in logged or len(logged) > 256:
            logger.error("Unexpected %s in %s (traceback logged before): %s", where[0], path[:100], str(exc)[:200])
        else:
            logged.add(where)
            logger.exception("Unexpected error in the API", exc_info=exc)
        return JSONResponse({"detail": "Internal error; it has been logged."}, status_code=500)

    @app.post(
        "/api/ask",
        response_model=Answer,
        responses={400: {"model": Problem}, 409: {"model": Problem}, 422: {"model": Problem}, 429: {"model": Problem}, 503: {"model": Problem}},
        summary="Answer a question with verbatim citations",
    )
    async def ask(body: AskRequest) -> Answer:
        if body.engine is not None and body.engine != advisor.engine.name:
            raise EngineUnavailableError(
                f"This server answers with the {advisor.engine.name!r} engine, not {body.engine!r}; omit 'engine' or use that one."
            )
        # AdmissionGate took this request's place before its body was read; the answer runs on an answer worker.
        return await admission.run(lambda: advisor.ask(body.question, history=body.history, situation=body.situation))

    @app.get(
        "/api/health",
        response_model=Health,
        response_model_exclude_none=True,
        responses={503: {"model": Health}},
        summary="Is the index loaded?",
    )
    def health() -> Health | JSONResponse:
        try:
            version = advisor.context.corpus_version
        except AdvisorError as exc:
            body = Health(status="unavailable", engine=advisor.engine.name, detail=str(exc))
            return JSONResponse(body.model_dump(exclude_none=True), status_code=503)
        if broken := advisor.index.problem():
            # Answers would fail: a probe should stop sending traffic here.
            body = Health(status="degraded", engine=advisor.engine.name, corpus_version=version, detail=broken)
            return JSONResponse(body.model_dump(exclude_none=True), status_code=503)
        slow = "; ".join(p for p in (admission.stuck(after=settings.llm_max_seconds + settings.queue_wait), advisor.engine.problem()) if p) or None
        return Health(status="degraded" if slow else "ok", engine=advisor.engine.name, corpus_version=version, detail=slow)

    @app.get("/framework", response_class=HTMLResponse, include_in_schema=False)
    def framework() -> HTMLResponse:
        return HTMLResponse(framework_html(advisor.context.documents))

    @app.get("/gradio.js", include_in_schema=False)
    def web_component() -> FileResponse:
        return FileResponse(GRADIO_JS, media_type="text/javascript")

    common = {
        "ssr_mode": False,
        "show_error": False,
        "enable_monitoring": False,
        "run_history": False,
        "max_file_size": "1mb",
        "pwa": False,
    }

    @app.get("/embed", include_in_schema=False)
    def embed_slash(request: Request) -> RedirectResponse:
        """/embed without its slash is what people type into a wiki's iframe; the app lives at /embed/."""
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/embed/{query}", status_code=307)

    # Mount order matters: "/" would otherwise swallow "/embed".
    # A full-URL root_path makes the page's Gradio build its root from the public URL instead of request
    # headers. (/embed cannot take one: Gradio then stops routing it. Its root comes from the Host,
    # which only allowed hosts get past; its own links use the public URL: ui/app.py.)
    root = settings.public_url
    embed = _queued(build_embed(shell), settings)
    gr.mount_gradio_app(
        app,
        embed,
        path="/embed",
        footer_links=[],
        mcp_server=False,
        css_paths=[STATIC / "app.css", STATIC / "embed.css"],
        head_paths=[STATIC / "answer-view.html"],
        **common,
    )
    page = _queued(build_page(shell, register_tools=lambda: register_tools(advisor, admission=admission)), settings)
    gr.mount_gradio_app(
        app,
        page,
        path="/",
        root_path=root,
        footer_links=["api"],
        mcp_server=True,
        css_paths=[STATIC / "app.css"],
        head_paths=[STATIC / "answer-view.html"],
        **common,
    )

    # Innermost: overload and rates are refused before the body is parsed, with the security headers added outside.
    app.add_middleware(AdmissionGate, admission=admission, paths=frozenset({"/api/ask"}))
    app.add_middleware(
        RouteGuard,
        mounts={"": Endpoints.of(page.fns), "/embed": Endpoints.of(embed.fns)},
        hosts=list(settings.allowed_hosts),
        origins=list(settings.cors_origins),
    )
    app.add_middleware(SecurityMiddleware, auth=settings.auth, frame_ancestors=settings.frame_ancestors, max_body_bytes=settings.max_request_kib * 1024)
    # Added last, so outermost: preflight requests carry no credentials. Gradio reflects
    # any Origin with credentials unless the parent app configures CORS, so it is always here.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type", "X-Gradio-User"],
        allow_credentials=True,
    )
    # Outermost: a request for a host this server is not (DNS rebinding) is answered 400 before anything else.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts))
    return app


def _queued(blocks: gr.Blocks, settings: Settings) -> gr.Blocks:
    # Gradio keeps every session's state (10,000 by default, any client can mint one): bounded here.
    blocks.state_session_capacity = settings.page_sessions
    return blocks.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size, api_open=False)


def launch(*, advisor: Advisor, settings: Settings) -> None:
    """Serve until interrupted; binds ``settings.host`` (127.0.0.1 unless configured)."""
    app = create_app(advisor, settings)
    # What start-up built lives until exit: frozen, later collections skip it (`serve` turned the collector off to build it).
    gc.freeze()
    gc.enable()
    # The event loop that admits and refuses requests shares the GIL with the answer workers, whose reading
    # is pure Python: at the default 5 ms it waited up to 5 ms for every socket event, which made a refusal
    # under a large-history flood take seconds (docs/security.md). 1 ms roughly halved the median refusal.
    sys.setswitchinterval(0.001)
    print(f"advisor-bot on http://{settings.host}:{settings.port}  (API docs: /docs, MCP: /gradio_api/mcp/)")
    # proxy_headers off: X-Forwarded-For from a local client would otherwise choose the address rates are counted by.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", proxy_headers=False)
