"""Which requests reach the app at all: trusted hosts, the public Gradio API, MCP's Host and Origin.

- Host: only ``ADVISOR_ALLOWED_HOSTS`` (loopback by default), checked by Starlette's
  ``TrustedHostMiddleware`` in ``ui/server.py``; forwarded-host headers are dropped here, since
  Gradio would build the page's root URL from them (links come from ``ADVISOR_PUBLIC_URL``).
- Gradio answers ``/gradio_api/call|run|api/<name>`` for every event handler, "private" ones
  included, and a 500 with a traceback for unknown names: only the public API endpoints (the MCP
  tools) pass; anything else gets a one-line 404.
- MCP: the specification asks servers to validate ``Origin`` (DNS rebinding); the MCP SDK's own
  ``TransportSecurityMiddleware`` checks Host and Origin on ``/gradio_api/mcp`` (Gradio does not
  configure it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_API_CALL = re.compile(r"^(?P<mount>/embed)?/gradio_api/(?:run|api|call(?:/v2)?)/(?P<name>[^/]+)(?:/[^/]*)?/?$")
_JOIN = re.compile(r"^(?P<mount>/embed)?/gradio_api/queue/join/?$")
_MCP = re.compile(r"^/gradio_api/mcp(?:/|$)")
PAGE_CALL = "predict"  # the page's own unqueued events: POST run/predict with an fn_index
_FORWARDED = {b"x-forwarded-host", b"x-forwarded-proto", b"x-forwarded-for", b"forwarded"}


@dataclass(frozen=True)
class Endpoints:
    """One mounted Blocks: its public API names with their input counts, every event's index, and the
    unqueued events (which the page itself calls through ``run/predict`` with their index)."""

    public: dict[str, int]
    indexes: frozenset[int]
    unqueued: frozenset[int] = frozenset()

    @classmethod
    def of(cls, fns: Mapping[int, object]) -> Endpoints:
        public = {str(getattr(f, "api_name", "")): len(getattr(f, "inputs", [])) for f in fns.values() if getattr(f, "api_visibility", "") == "public"}
        unqueued = frozenset(i for i, f in fns.items() if getattr(f, "queue", True) is False)
        return cls(public=public, indexes=frozenset(fns), unqueued=unqueued)


def _json(body: bytes) -> dict[str, object]:
    try:
        data = json.loads(body or b"null")
    except ValueError:
        return {}  # Gradio's own validation answers malformed JSON with a 422
    return data if isinstance(data, dict) else {}


def _problem(body: bytes, endpoints: Endpoints, name: str | None) -> str | None:
    """Why a call cannot be right, checked before Gradio, which answers a wrong input count or an unknown
    event index with a 500 and a traceback in the log."""
    data = _json(body)
    if name == PAGE_CALL:
        return None if data.get("fn_index") in endpoints.unqueued else "Unknown fn_index; see /gradio_api/info."
    if name is None:
        index = data.get("fn_index")
        return None if index is None or index in endpoints.indexes else "Unknown fn_index; see /gradio_api/info."
    values = data.get("data")
    if isinstance(values, list) and len(values) != endpoints.public[name]:
        return f"{name} takes {endpoints.public[name]} input value(s) in 'data', not {len(values)}; see /gradio_api/info."
    return None


def host_patterns(hosts: Iterable[str]) -> list[str]:
    """Host header values the MCP SDK should accept for these host names: bare, and on any port."""
    return [p for h in hosts for p in (h, f"{h}:*")]


class RouteGuard:
    def __init__(self, app: ASGIApp, *, mounts: Mapping[str, Endpoints], hosts: list[str], origins: list[str]) -> None:
        self.app = app
        self.mounts = mounts  # mount prefix ("" or "/embed") -> its endpoints
        own = [f"{scheme}://{pattern}" for scheme in ("http", "https") for pattern in host_patterns(hosts)]
        self.mcp = TransportSecurityMiddleware(
            TransportSecuritySettings(allowed_hosts=host_patterns(hosts), allowed_origins=[*own, *origins])
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = dict(scope, headers=[(k, v) for k, v in scope["headers"] if k.lower() not in _FORWARDED])
        path = scope["path"]
        if m := _API_CALL.match(path) or _JOIN.match(path):
            endpoints = self.mounts.get(m["mount"] or "", Endpoints(public={}, indexes=frozenset()))
            name = m.groupdict().get("name")
            if name is not None and name not in endpoints.public and name != PAGE_CALL:
                names = ", ".join(sorted(endpoints.public)) or "none here"
                await JSONResponse({"detail": f"No API endpoint {name[:60]!r}; the public ones are: {names}."}, status_code=404)(scope, receive, send)
                return
            if scope["method"] == "POST":
                checked = await self._checked(scope, receive, send, endpoints, name)
                if checked is None:
                    return
                receive = checked
        if _MCP.match(path):
            refusal = await self.mcp.validate_request(HTTPConnection(scope), is_post=scope["method"] == "POST")
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _checked(self, scope: Scope, receive: Receive, send: Send, endpoints: Endpoints, name: str | None) -> Receive | None:
        """Read the body (SecurityMiddleware, outside, has bounded it), answer a wrong input count with a 422,
        else hand the body on unchanged; None when answered here."""
        chunks, messages = [], []
        while True:
            message = await receive()
            messages.append(message)
            chunks.append(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        if problem := _problem(b"".join(chunks), endpoints, name):
            await JSONResponse({"detail": problem}, status_code=422)(scope, receive, send)
            return None
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        return replayed
