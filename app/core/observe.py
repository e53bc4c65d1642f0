"""Every request, observed: its request id, the security headers of its answer, one access-log line, its metrics.

`Observe` is the outermost middleware (see app.main), so what it adds is on every answer the app sends, CORS
preflights, 304s, 413s and 503s included. The one answer that bypasses it, Starlette's 500 for an unhandled
exception, gets the same headers from `answer_headers` in the error handler (app.core.errors).

The access line names the route template (`/v1/candidates/{candidate_id}`), never the path: paths carry ids and, for
calendar URLs, a secret token; query strings carry searched e-mails and names.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import metrics
from app.core.logs import access_line

REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
UNMATCHED = "(unmatched)"  # the template of a path no route serves (404s): one label, whatever was asked

_SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
# API answers (JSON, problem documents, iCalendar, the problem pages) load nothing and are framed by nothing. The
# interactive docs load Swagger UI's script and styles from its CDN: only framing is forbidden there.
_CSP_API = b"default-src 'none'; frame-ancestors 'none'"
_CSP_DOCS = b"frame-ancestors 'none'"
_DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect"})
# Authenticated answers that say nothing of caching may be kept by the client only, and revalidated (ETag) before
# each use; shared caches must not keep them. A route that sets its own (no-store for secrets) keeps it.
_PRIVATE = b"private, no-cache"


def new_request_id() -> str:
    """A random (version 4) UUID in its text form: `str(uuid.uuid4())` at less than half its cost, which is
    paid on every request that brings no id of its own."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = b.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def valid_request_id(value: str | None) -> str | None:
    return value if value is not None and _REQUEST_ID.match(value) else None


def request_id_of(scope: Scope) -> str | None:
    """The request's id, as validated (or generated) by `Observe`; None outside a request."""
    state = scope.get("state")
    return state.get("request_id") if isinstance(state, dict) else None


def set_principal_id(scope: Scope, principal_id: uuid.UUID | None) -> None:
    """Name the caller (a user's or an API key's id) in the request's access line."""
    state = scope.get("state")
    if isinstance(state, dict) and principal_id is not None:
        state["principal_id"] = str(principal_id)


def _has_credentials(scope: Scope) -> bool:
    return any(k in (b"authorization", b"x-api-key") for k, _ in scope["headers"])


def answer_headers(scope: Scope, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The headers of an answer with the request id and the security headers added, and no `Server`."""
    out = [(k, v) for k, v in headers if k.lower() not in (b"server", b"x-request-id")]
    names = {k.lower() for k, _ in out}
    rid = request_id_of(scope)
    if rid is not None:
        out.append((b"x-request-id", rid.encode()))
    out.extend(h for h in _SECURITY_HEADERS if h[0] not in names)
    if b"content-security-policy" not in names:
        out.append((b"content-security-policy", _CSP_DOCS if scope.get("path") in _DOCS_PATHS else _CSP_API))
    if b"cache-control" not in names and _has_credentials(scope):
        out.append((b"cache-control", _PRIVATE))
    return out


def _route_template(scope: Scope) -> str:
    state = scope.get("state") or {}
    return str(state.get("route_template") or UNMATCHED)


def record_route_templates(app: FastAPI) -> None:
    """Wrap every route so that the request's state names its template (for the access log and the metrics).
    The state is shared by the scopes the middlewares copy (ConditionalGet runs a HEAD as a GET on a copy)."""
    for route in app.routes:
        inner = getattr(route, "app", None)
        template = getattr(route, "path", None)
        if inner is not None and template is not None:
            route.app = _named(inner, template)  # type: ignore[attr-defined]


def _named(app: ASGIApp, template: str) -> ASGIApp:
    async def named(scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.get("state")
        if isinstance(state, dict):
            state["route_template"] = template
        await app(scope, receive, send)

    return named


@dataclass(frozen=True, slots=True)
class Origin:
    """Where the current request comes from: its id and the client's address (as the proxy headers say, when
    trusted)."""

    request_id: str | None
    client_address: str | None


current_origin: ContextVar[Origin] = ContextVar("current_origin", default=Origin(None, None))  # noqa: B039 (frozen)


class Observe:
    """Pure ASGI middleware: request id, security headers, the access log line and the request metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), None)
        rid = valid_request_id(given) or new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=rid)
        client = scope.get("client")
        current_origin.set(Origin(rid, client[0] if client else None))
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": answer_headers(scope, list(message.get("headers", [])))}
            await send(message)

        failure: BaseException | None = None
        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException as exc:
            failure = exc
            from app.core.errors import database_unavailable

            status = 503 if isinstance(exc, Exception) and database_unavailable(exc) else 500
            raise
        finally:
            self._finish(scope, status, started, failure)

    @staticmethod
    def _finish(scope: Scope, status: int, started: float, failure: BaseException | None) -> None:
        duration = time.perf_counter() - started
        template = _route_template(scope)
        state: dict[str, Any] = scope.get("state") or {}
        method: str = scope["method"]
        metrics.observe_request(method, template, status, duration, failed=failure is not None)
        access_line(logging.ERROR if status >= 500 else logging.INFO, state.get("request_id"), method=method,
                    route=template, status=status, duration_ms=round(duration * 1000, 2),
                    principal_id=state.get("principal_id"))
