"""HTTP hardening for the whole app: optional basic auth, no uploads, size limit, security headers.

A plain ASGI middleware rather than Starlette's ``BaseHTTPMiddleware``, so the
page's server-sent events and the MCP stream pass through unbuffered.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets

from pydantic import SecretStr
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The app has no upload component; closing Gradio's upload route means no one can make
# this origin serve a file of their choosing.
_UPLOAD = re.compile(r"/gradio_api/upload(_progress)?/?$")


def content_security_policy(frame_ancestors: str) -> str:
    # Gradio's page boots from inline scripts and styles, hence 'unsafe-inline';
    # everything else (images, forms, connections) stays on this origin, so markup
    # that slipped into an answer could neither load a remote image nor post a form away.
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' 'unsafe-inline'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "media-src 'self' blob:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors}",
        ]
    )


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, *, auth: SecretStr | None, frame_ancestors: str, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.credentials = auth.get_secret_value().encode() if auth else None
        self.headers = {
            "Content-Security-Policy": content_security_policy(frame_ancestors),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        }
        # Browsers that predate frame-ancestors understand only these two values.
        legacy = {"'self'": "SAMEORIGIN", "'none'": "DENY"}.get(frame_ancestors)
        if legacy:
            self.headers["X-Frame-Options"] = legacy

    def _authorized(self, headers: Headers) -> bool:
        if self.credentials is None:
            return True
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError):
            return False
        return secrets.compare_digest(given, self.credentials)

    def _refusal(self, scope: Scope) -> JSONResponse | None:
        """The response that stops this request here, if any."""
        headers = Headers(scope=scope)
        if not self._authorized(headers):
            return JSONResponse(
                {"detail": "Sign in: this server requires a user name and password."},
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="advisor-bot", charset="UTF-8"', **self.headers},
            )
        if _UPLOAD.search(scope["path"]):
            return JSONResponse({"detail": "Uploads are not accepted."}, status_code=404, headers=self.headers)
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body_bytes:
            return self._too_large()
        return None

    def _too_large(self) -> JSONResponse:
        return JSONResponse(
            {"detail": f"The request body is larger than {self.max_body_bytes // 1024} KiB; send less history (only the last turns are read)."},
            status_code=413,
            headers=self.headers,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await refusal(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    out[name] = value
            await send(message)

        if scope["type"] == "http" and "content-length" not in Headers(scope=scope):
            # A chunked body has no length to check up front: read it (up to the limit) first.
            body, messages = 0, []
            while True:
                message = await receive()
                messages.append(message)
                body += len(message.get("body", b""))
                if body > self.max_body_bytes:
                    await self._too_large()(scope, receive, send)
                    return
                if message["type"] != "http.request" or not message.get("more_body"):
                    break
            replay = iter(messages)

            async def replayed() -> Message:
                return next(replay, None) or await receive()

            await self.app(scope, replayed, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)
