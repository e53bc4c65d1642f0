"""HTTP mechanics shared by every resource: ETags and If-Match, Idempotency-Key, body limits and media types."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import Header, Path, Response
from pydantic import BaseModel
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import get_settings
from app.core.db import db, utcnow
from app.core.errors import (
    PROBLEM_TYPES,
    PreconditionFailed,
    PreconditionRequired,
    problem_response,
)
from app.core.serialization import dumps
from app.core.types import EXTERNAL_ID_PATTERN

log = logging.getLogger("matchready.http")

# ---- ETag / If-Match -----------------------------------------------------------------------------------------


def etag_for(version: int) -> str:
    return f'"v{version}"'


IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=512,
        description="The ETag from your last read; required. A stale value answers 412, a missing one 428.",
    ),
]

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description=(
            "Makes the POST safe to retry: the same key with the same body replays the first response "
            "(kept 24 h); the same key with another body answers 422; while the first is in flight, 409."
        ),
    ),
]


def check_if_match(if_match: str | None, version: int) -> None:
    if if_match is None or not if_match.strip():
        raise PreconditionRequired("Send If-Match with the ETag from your last read of this resource.")
    current = etag_for(version)
    tags = [t.strip() for t in if_match.split(",")]
    if "*" in tags or current in tags:
        return
    raise PreconditionFailed(f"The resource has changed (current ETag {current}); read it again and retry.")


def json_response(model: BaseModel | Any, *, status_code: int = 200, etag_version: int | None = None,
                  location: str | None = None) -> Response:
    headers: dict[str, str] = {}
    if etag_version is not None:
        headers["ETag"] = etag_for(etag_version)
    if location is not None:
        headers["Location"] = location
    return Response(dumps(model), status_code=status_code, media_type="application/json", headers=headers)


# ---- Request guard: size, media type, Idempotency-Key ---------------------------------------------------------

_BODY_METHODS = {"POST", "PUT", "PATCH"}
_FORM_PATHS = {"/v1/auth/token"}
_LARGE_BODY_PATHS = {"/v1/match-simulations"}
_JSON_TYPE = re.compile(r"^application/([a-z0-9.+-]+\+)?json$")
_KEY_OK = re.compile(r"^[\x21-\x7e]{1,255}$")


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope["headers"]:
        if k == name:
            return v.decode("latin-1")
    return None


class RequestGuard:
    """Pure ASGI middleware: cheap pass-through for reads; for writes it buffers the (bounded) body once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        settings = get_settings()
        path: str = scope["path"]
        limit = settings.max_simulation_body_bytes if path in _LARGE_BODY_PATHS else settings.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(scope, send, limit)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)

        ctype = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if body and path.startswith("/v1/"):
            ok = ctype in ("application/x-www-form-urlencoded", "multipart/form-data") if path in _FORM_PATHS \
                else bool(_JSON_TYPE.match(ctype))
            if not ok:
                expected = "application/x-www-form-urlencoded" if path in _FORM_PATHS else "application/json"
                resp = problem_response(415, "unsupported-media-type",
                                        f"Send the body as {expected} (got {ctype or 'no Content-Type'}).", path)
                await resp(scope, _replay_receive(body), send)
                return

        key = _header(scope, b"idempotency-key")
        if scope["method"] == "POST" and key is not None and path.startswith("/v1/") and path not in _FORM_PATHS \
                and _KEY_OK.match(key):
            caller = _caller_scope(scope)
            if caller is not None:
                await self._idempotent(scope, send, body, caller, key)
                return
        await self.app(scope, _replay_receive(body), send)

    async def _too_large(self, scope: Scope, send: Send, limit: int) -> None:
        resp = problem_response(413, "payload-too-large", f"The body exceeds the limit of {limit} bytes.",
                                scope["path"])
        await resp(scope, _empty_receive, send)

    async def _idempotent(self, scope: Scope, send: Send, body: bytes, caller: str, key: str) -> None:
        from app.core.idempotency import IdempotencyRecord as R  # noqa: N814

        path = scope["path"]
        fingerprint = hashlib.sha256(
            b"\0".join([scope["method"].encode(), path.encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        ttl = timedelta(hours=get_settings().idempotency_ttl_hours)
        now = utcnow()
        async with db.session() as session:
            await session.execute(delete(R).where(R.created_at < now - ttl))  # type: ignore[arg-type]
            try:
                await session.execute(insert(R).values(scope_key=caller, key=key, fingerprint=fingerprint,
                                                       state="in_flight", created_at=now))
                await session.commit()
            except IntegrityError:
                await session.rollback()
                row = (await session.execute(select(R).where(R.scope_key == caller, R.key == key))).scalars().first()
                if row is None:  # expired and purged between the two statements
                    resp = problem_response(409, "idempotency-in-flight", "Retry the request.", path)
                elif row.fingerprint != fingerprint:
                    pt = PROBLEM_TYPES["idempotency-key-reused"]
                    resp = problem_response(pt.status, pt.slug,
                                            "This Idempotency-Key was used with a different request; "
                                            "use a new key for a new request.", path)
                elif row.state != "done":
                    resp = problem_response(409, "idempotency-in-flight",
                                            "The first request with this Idempotency-Key is still in progress.",
                                            path, headers={"Retry-After": "1"})
                else:
                    headers = dict(row.response_headers or {})
                    headers["Idempotent-Replayed"] = "true"
                    resp = Response(row.response_body or b"", status_code=row.response_status or 200,
                                    headers=headers)
                await resp(scope, _empty_receive, send)
                return

        captured: dict[str, Any] = {"status": 500, "headers": [], "body": []}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, _replay_receive(body), capture)
        finally:
            status = captured["status"]
            # A response marked no-store carries a secret shown once (an API key, a webhook signing secret): it is
            # not kept in plaintext here, so the key is released as after a failure.
            no_store = any(k.lower() == b"cache-control" and b"no-store" in v.lower() for k, v in captured["headers"])
            async with db.session() as session:
                if 200 <= status < 300 and not no_store:
                    keep = {"content-type", "location", "etag"}
                    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in captured["headers"]
                               if k.decode("latin-1").lower() in keep}
                    await session.execute(
                        update(R).where(R.scope_key == caller, R.key == key).values(
                            state="done", response_status=status, response_headers=headers,
                            response_body=b"".join(captured["body"]))
                    )
                else:  # failures are not remembered: the client may fix the cause and retry with the same key
                    await session.execute(delete(R).where(R.scope_key == caller, R.key == key))
                await session.commit()


def _caller_scope(scope: Scope) -> str | None:
    """Identify the caller without touching the database; None lets the app answer 401 itself."""
    from app.core.errors import AppError
    from app.core.security import API_KEY_PREFIX, hash_api_key, principal_from_token

    auth = _header(scope, b"authorization")
    if auth and auth[:7].lower() == "bearer ":
        try:
            return principal_from_token(auth[7:].strip()).scope_key
        except AppError:
            return None
    api_key = _header(scope, b"x-api-key")
    if api_key and api_key.startswith(API_KEY_PREFIX):
        return "keyhash:" + hash_api_key(api_key)
    return None


def _replay_receive(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _empty_receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}



# ---- upserts by external id ----------------------------------------------------------------------------------

UpsertOutcome = Literal["created", "updated", "unchanged"]
UPSERT_HEADER = "Upsert-Result"

ExternalIdPath = Annotated[str, Path(pattern=EXTERNAL_ID_PATTERN, description="Your system's id of the record.")]

_UPSERT_HEADER_DOC = {UPSERT_HEADER: {"description": "`created`, `updated` or `unchanged` (the same body again "
                                                     "changes nothing and keeps the version).",
                                      "schema": {"type": "string", "enum": ["created", "updated", "unchanged"]}}}


def upsert_responses(model: type[BaseModel], *problems: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a `PUT .../by-external-id/{external_id}`: 201 when created, 200 otherwise."""
    from app.core.errors import WRITE_BODY, problem_responses

    return {200: {"description": "Replaced, or unchanged.", "headers": _UPSERT_HEADER_DOC},
            201: {"description": "Created.", "model": model, "headers": _UPSERT_HEADER_DOC},
            **problem_responses(*WRITE_BODY, 412, *problems)}


def upserted(response: Response, outcome: UpsertOutcome, location: str) -> Response:
    response.headers[UPSERT_HEADER] = outcome
    if outcome == "created":
        response.status_code = 201
        response.headers["Location"] = location
    return response
