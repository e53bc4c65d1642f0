"""HTTP mechanics shared by every resource: ETags, If-Match and If-None-Match, HEAD, Idempotency-Key, body limits and
media types, unknown query parameters."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import unquote_plus

from fastapi import FastAPI, Header, Path, Response
from fastapi.dependencies.utils import get_flat_dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import Settings, get_settings
from app.core.db import db, utcnow
from app.core.errors import (
    FORGOTTEN_DETAIL,
    PROBLEM_TYPES,
    PreconditionFailed,
    PreconditionRequired,
    ValidationFailed,
    database_unavailable,
    field_error,
    problem_response,
    unavailable_response,
)
from app.core.serialization import dumps
from app.core.types import EXTERNAL_ID_PATTERN, described

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

# The Idempotency-Key header of a POST: what any client may send (each use says what a retry gets).
_IDEMPOTENCY_KEY: dict[str, Any] = {"alias": "Idempotency-Key", "min_length": 1, "max_length": 255,
                                    "pattern": described(r"^[\x21-\x7e]+$",
                                                         "must be printable ASCII characters without spaces")}
_FORGOTTEN = ("Once the record the first request created is deleted, its answer is no longer kept: the same key "
              "with the same body answers 409 (`/problems/idempotency-replay-forgotten`) and creates nothing; a new "
              "key creates it again.")
IdempotencyKeyHeader = Annotated[str | None, Header(**_IDEMPOTENCY_KEY, description=(
    "Makes the POST safe to retry: the same key with the same body replays the first response (kept 24 h); the "
    "same key with another body answers 422; while the first is in flight, 409. " + _FORGOTTEN))]

SECRET_WITHHELD = "Secret-Withheld"

IdempotencyKeyShownOnceHeader = Annotated[str | None, Header(**_IDEMPOTENCY_KEY, description=(
    "Makes the POST safe to retry: the same key with the same body creates nothing new and replays the first "
    "response (kept 24 h) with `Idempotent-Replayed: true`, but without its secret, which is shown only once and "
    "never stored: the secret's field is null and `Secret-Withheld` names it. A client that lost the first response "
    "revokes what it made and makes another with a new key. The same key with another body answers 422; while the "
    "first is in flight, 409. " + _FORGOTTEN))]


# On the replay of a success kept for an Idempotency-Key (declared on the successes of every POST that takes one).
IDEMPOTENT_REPLAYED = {"description": "`true` when this is the replay of the first response to the same "
                                      "`Idempotency-Key` and body; nothing new was created.",
                       "schema": {"type": "string", "enum": ["true"]}}


def shown_once_replay_headers(field: str) -> dict[str, dict[str, Any]]:
    """The OpenAPI `headers` of a response carrying a secret shown once (`field`), as replayed for a retry with
    the same Idempotency-Key (see `shown_once`)."""
    return {
        "Idempotent-Replayed": IDEMPOTENT_REPLAYED,
        SECRET_WITHHELD: {"description": f"On a replay: `{field}`, the field sent as null because its secret is "
                                         "shown only in the first response.",
                          "schema": {"type": "string", "enum": [field]}},
    }


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


# ---- Conditional GET and HEAD ---------------------------------------------------------------------------------

_ENTITY_TAG = re.compile(r'(?:W/)?("[^"]*")')


def body_etag(body: bytes) -> str:
    """A strong ETag for a response that has no version of its own: the same bytes, the same tag."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def none_match(if_none_match: str, etag: str) -> bool:
    """True when `If-None-Match` names the current ETag (or is `*`): RFC 9110's weak comparison."""
    if if_none_match.strip() == "*":
        return True
    return etag.removeprefix("W/") in _ENTITY_TAG.findall(if_none_match)


class ConditionalGet:
    """Pure ASGI middleware giving every GET an ETag, `If-None-Match` its 304, and HEAD the GET's answer.

    * A 200 to a GET keeps the ETag its route set (resources: `"v{version}"`); any other gets one from its body bytes,
      so lists and computed views need nothing of their own.
    * A current `If-None-Match` turns the 200 into a 304 with the same headers less the body's own (`Content-*`).
      Anything but a 200 (problems above all) goes out as it is.
    * HEAD runs as the GET it mirrors (FastAPI routes GET only) and goes out without the body: the same status and
      headers, `Content-Length` included.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}  # the server keeps its own scope, and so still knows it is a HEAD
        if_none_match = _header(scope, b"if-none-match")
        start: Message | None = None  # a 200's start, held until its body is complete
        passthrough = False
        chunks: list[bytes] = []

        async def send_wrapper(message: Message) -> None:
            nonlocal start, passthrough
            kind = message["type"]
            if kind == "http.response.start":
                if message["status"] != 200 or (not head and if_none_match is None
                                                and any(k == b"etag" for k, _ in message["headers"])):
                    passthrough = True  # nothing to add or decide: not even the body needs holding
                    await send(message)
                else:
                    start = message
                return
            if kind != "http.response.body":
                await send(message)
                return
            if passthrough:
                if not head:
                    await send(message)
                elif not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b""})
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False) or start is None:
                return
            body = b"".join(chunks)
            headers = list(start["headers"])
            etag = next((v.decode("latin-1") for k, v in headers if k == b"etag"), None)
            if etag is None:
                etag = body_etag(body)
                headers.append((b"etag", etag.encode()))
            if if_none_match is not None and none_match(if_none_match, etag):
                # RFC 9110 15.4.5: the headers a 200 would carry, less the ones that describe its body
                kept = [(k, v) for k, v in headers if not k.startswith(b"content-") or k == b"content-location"]
                await send({"type": "http.response.start", "status": 304, "headers": kept})
                await send({"type": "http.response.body", "body": b""})
                return
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": b"" if head else body})

        await self.app(scope, receive, send_wrapper)


# ---- Unknown query parameters ---------------------------------------------------------------------------------


def declared_query_names(route: APIRoute) -> frozenset[str]:
    """The query parameters a route declares, with those of its dependencies (the flattened dependant)."""
    names: set[str] = set()
    for param in get_flat_dependant(route.dependant).query_params:
        model = param.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):  # a query-parameter model: its fields
            names.update(f.alias or name for name, f in model.model_fields.items())
        else:
            names.add(param.alias)
    return frozenset(names)


def reject_unknown_query_parameters(app: FastAPI) -> None:
    """Wrap every operation so that a query parameter it does not declare is a 422 naming it.

    The allowed names are computed here, once per route. The check runs before the route's own dependencies, like
    the other checks of the request's shape (404, 405, 413, 415): a mistyped parameter is refused for what it is,
    before it could be taken for a request without the filter and answered with the wrong data."""
    for route in app.routes:
        if isinstance(route, APIRoute):
            route.app = _query_check(route.app, declared_query_names(route))


def _query_check(app: ASGIApp, allowed: frozenset[str]) -> ASGIApp:
    allowed_raw = frozenset(name.encode() for name in allowed)

    async def checked(scope: Scope, receive: Receive, send: Send) -> None:
        query: bytes = scope.get("query_string", b"")
        if query:  # most requests have none: nothing to look at
            # Only the names, and only those not declared as they stand are decoded (as Starlette decodes them, so a
            # name is refused exactly when the route would not see it): a quarter of the cost of parsing it all.
            raw = (part.partition(b"=")[0] for part in query.split(b"&") if part)
            unknown = sorted({unquote_plus(n.decode("latin-1")) for n in raw if n not in allowed_raw} - allowed)
            if unknown:
                raise ValidationFailed(
                    f"Unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}.",
                    errors=[field_error(f"query.{n}", "unknown query parameter", "unknown_parameter")
                            for n in unknown])
        await app(scope, receive, send)

    return checked


# ---- CORS -----------------------------------------------------------------------------------------------------

CORS_POLICY: dict[str, Any] = {
    "allow_methods": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    "allow_headers": ["Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key", "X-API-Key",
                      "X-Request-Id"],
    # What a page's script may read: the write protocol's headers, and those of rate limits and tracing to come.
    "expose_headers": ["ETag", "Location", "Retry-After", "Idempotent-Replayed", "Secret-Withheld", "Link",
                       "RateLimit", "RateLimit-Policy", "X-Request-Id"],
    # Credentials travel in the Authorization and X-API-Key headers, never in cookies.
    "allow_credentials": False,
}


class CORS(CORSMiddleware):
    """Starlette's CORS middleware, with a refused preflight answered as a problem document like every error."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        headers = {k: v for k, v in response.headers.items() if not k.startswith("content-")}
        detail = bytes(response.body).decode() + "."  # Starlette says which: "Disallowed CORS origin, headers"
        return problem_response(403, "cors-refused", detail, None, headers=headers)


# ---- Request guard: size, media type, Idempotency-Key ---------------------------------------------------------

_BODY_METHODS = {"POST", "PUT", "PATCH"}
_JSON_TYPE = re.compile(r"^application/([a-z0-9.+-]+\+)?json$")
_KEY_OK = re.compile(r"^[\x21-\x7e]{1,255}$")
JSON = "application/json"  # and every `application/*+json`
NDJSON = "application/x-ndjson"
FORM = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True, slots=True)
class BodyPolicy:
    """What a route takes as a body, declared on the route (`accepts`) and enforced by RequestGuard before the
    route runs: its media types (the first is the one named when another is refused), the setting that bounds its
    size, and whether a POST honours `Idempotency-Key`; and the fields of its answer that hold a secret shown
    once (`shown_once`), left out of the response kept for an Idempotency-Key's replay."""

    media_types: tuple[str, ...] = (JSON,)
    limit_setting: str = "max_body_bytes"
    idempotent: bool = True
    shown_once: tuple[str, ...] = ()

    def accepts(self, ctype: str) -> bool:
        return ctype in self.media_types or (JSON in self.media_types and bool(_JSON_TYPE.match(ctype)))

    def limit(self) -> int:
        return int(getattr(get_settings(), self.limit_setting))


DEFAULT_BODY = BodyPolicy()
_POLICY_ATTR = "__body_policy__"
_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])


def accepts(*media_types: str, limit_setting: str = "max_body_bytes", idempotent: bool = True
            ) -> Callable[[_Endpoint], _Endpoint]:
    """Declare a route's body policy (see BodyPolicy); put it under the route decorator. Routes that declare
    nothing take JSON up to MAX_BODY_BYTES and honour Idempotency-Key."""
    if limit_setting not in Settings.model_fields:
        raise ValueError(f"no setting {limit_setting!r} bounds a body")

    def declare(endpoint: _Endpoint) -> _Endpoint:
        declared: BodyPolicy = getattr(endpoint, _POLICY_ATTR, DEFAULT_BODY)
        setattr(endpoint, _POLICY_ATTR, replace(declared, media_types=media_types or (JSON,),
                                                limit_setting=limit_setting, idempotent=idempotent))
        return endpoint

    return declare


def shown_once(*fields: str) -> Callable[[_Endpoint], _Endpoint]:
    """Declare the top-level fields of a route's answer that hold a secret shown only once (put it under the route
    decorator). A retry with the same Idempotency-Key replays the answer with those fields null and the
    `Secret-Withheld` header naming them: the secret itself is never stored, and nothing is made twice. Declare
    the route's `Idempotency-Key` with `IdempotencyKeyShownOnceHeader` and its answer's headers with
    `shown_once_replay_headers`. (An answer marked `no-store` by a route that declares nothing is not kept.)"""
    if not fields:
        raise ValueError("name the fields that hold the secret")

    def declare(endpoint: _Endpoint) -> _Endpoint:
        declared: BodyPolicy = getattr(endpoint, _POLICY_ATTR, DEFAULT_BODY)
        setattr(endpoint, _POLICY_ATTR, replace(declared, shown_once=fields))
        return endpoint

    return declare


_Policies = tuple[tuple[re.Pattern[str], frozenset[str], BodyPolicy], ...]
_TABLE_ATTR = "_body_policies"  # kept on the router: (how many routes it had, their declared policies)


def body_policy(scope: Scope) -> BodyPolicy:
    """The policy of the route the request goes to: read from the app's routes (again only when they change), so
    it follows a route wherever its path goes. A request no route takes gets the default (and its 404)."""
    router = getattr(scope.get("app"), "router", None)
    if router is None:
        return DEFAULT_BODY
    kept: tuple[int, _Policies] | None = getattr(router, _TABLE_ATTR, None)
    if kept is None or kept[0] != len(router.routes):
        kept = (len(router.routes), tuple(
            (route.path_regex, frozenset(route.methods or ()), policy) for route in router.routes
            if isinstance(route, APIRoute) and (policy := getattr(route.endpoint, _POLICY_ATTR, None)) is not None))
        setattr(router, _TABLE_ATTR, kept)
    table = kept[1]
    path, method = scope["path"], scope["method"]
    other_method = None
    for regex, methods, policy in table:
        if regex.match(path):
            if method in methods:
                return policy
            other_method = other_method or policy
    # No route takes this method here, so the answer is a 405: let the body the path's route declares through to it.
    return other_method or DEFAULT_BODY


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
        path: str = scope["path"]
        policy = body_policy(scope)
        limit = policy.limit()
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, send, limit)
            return
        patience = get_settings().body_read_timeout_seconds
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            try:
                message = await asyncio.wait_for(receive(), patience)
            except TimeoutError:
                await self._too_slow(scope, send, patience)
                return
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
            if not policy.accepts(ctype):
                expected = policy.media_types[0] if policy.media_types == FORM else " or ".join(policy.media_types)
                resp = problem_response(415, "unsupported-media-type",
                                        f"Send the body as {expected} (got {ctype or 'no Content-Type'}).", path)
                await resp(scope, _replay_receive(body), send)
                return

        key = _header(scope, b"idempotency-key")
        if scope["method"] == "POST" and key is not None and path.startswith("/v1/") and policy.idempotent \
                and _KEY_OK.match(key):
            caller = _caller_scope(scope)
            if caller is not None:
                await self._idempotent(scope, send, body, caller, key, policy)
                return
        await self.app(scope, _replay_receive(body), send)

    async def _too_slow(self, scope: Scope, send: Send, seconds: float) -> None:
        resp = problem_response(408, "request-timeout", f"No part of the body arrived for {seconds:g} seconds.",
                                scope["path"])
        resp.headers["Connection"] = "close"  # what is still on its way would be read as the next request
        await resp(scope, _empty_receive, send)

    async def _too_large(self, scope: Scope, send: Send, limit: int) -> None:
        resp = problem_response(413, "payload-too-large", f"The body exceeds the limit of {limit} bytes.",
                                scope["path"])
        await resp(scope, _empty_receive, send)

    async def _idempotent(self, scope: Scope, send: Send, body: bytes, caller: str, key: str,
                          policy: BodyPolicy) -> None:
        from app.core.idempotency import expired_before, fingerprints, noting_subjects

        path = scope["path"]
        fingerprint, legacy = fingerprints(scope["method"], path, scope.get("query_string", b""), body)
        now = utcnow()
        # These sessions are opened here, outside the app and its exception handlers: a database that is unavailable
        # must answer 503 here too, not escape as a bare 500.
        try:
            claimed = await self._claim(scope, send, caller, key, (fingerprint, legacy), expired_before(), now)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            log.warning("database unavailable claiming an Idempotency-Key: %s", exc.__class__.__name__)
            await unavailable_response(path)(scope, _empty_receive, send)
            return
        if not claimed:
            return

        captured: dict[str, Any] = {"status": 500, "headers": [], "body": []}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))
            await send(message)

        with noting_subjects() as subjects:
            try:
                await self.app(scope, _replay_receive(body), capture)
            finally:
                try:
                    await self._settle(caller, key, captured, policy, subjects.single())
                except Exception as exc:
                    if not database_unavailable(exc):
                        raise
                    # The response has been sent. The key stays in flight (409) until it expires: the first
                    # request's outcome is unknown to us, so it cannot be replayed, nor safely run again.
                    log.error("database unavailable recording the outcome of an Idempotency-Key: %s",
                              exc.__class__.__name__)

    async def _claim(self, scope: Scope, send: Send, caller: str, key: str, fingerprint: tuple[str, str],
                     expired: Any, now: Any) -> bool:
        """Record the key as in flight: True to go on and run the request; False when the answer has been sent
        (the replayed response, or a 409/422 for a key in flight, reused, or whose record was deleted since).
        `fingerprint`: the request's, and the form rows written before it may hold."""
        from app.core.idempotency import DONE, FORGOTTEN, IN_FLIGHT, Unreadable, unseal
        from app.core.idempotency import IdempotencyRecord as R  # noqa: N814

        path = scope["path"]
        async with db.session() as session:
            # This key's expired record (the worker's `idempotency.purge` removes the others).
            await session.execute(delete(R).where(col(R.scope_key) == caller, col(R.key) == key,
                                                  R.created_at < expired))
            try:
                await session.execute(insert(R).values(scope_key=caller, key=key, fingerprint=fingerprint[0],
                                                       state=IN_FLIGHT, created_at=now))
                await session.commit()
            except IntegrityError:
                await session.rollback()
                found = select(R).where(col(R.scope_key) == caller, col(R.key) == key)
                row = (await session.execute(found)).scalars().first()
                if row is None:  # expired and purged between the two statements
                    resp = problem_response(409, "idempotency-in-flight", "Retry the request.", path)
                elif row.fingerprint not in fingerprint:
                    pt = PROBLEM_TYPES["idempotency-key-reused"]
                    resp = problem_response(pt.status, pt.slug,
                                            "This Idempotency-Key was used with a different request; "
                                            "use a new key for a new request.", path)
                elif row.state == FORGOTTEN:
                    # The record this request created was deleted, and the answer with it (a tombstone,
                    # app.core.idempotency): not replayed, and not run again, which would create it anew.
                    pt = PROBLEM_TYPES["idempotency-replay-forgotten"]
                    resp = problem_response(pt.status, pt.slug, FORGOTTEN_DETAIL, path)
                elif row.state != DONE:
                    resp = problem_response(409, "idempotency-in-flight",
                                            "The first request with this Idempotency-Key is still in progress.",
                                            path, headers={"Retry-After": "1"})
                else:
                    headers = dict(row.response_headers or {})
                    headers["Idempotent-Replayed"] = "true"
                    try:
                        resp = Response(unseal(row.response_body), status_code=row.response_status or 200,
                                        headers=headers)
                    except Unreadable:
                        resp = problem_response(409, "conflict", "The first response to this Idempotency-Key "
                                                "can no longer be replayed; use a new key.", path)
                await resp(scope, _empty_receive, send)
                return False
        return True

    async def _settle(self, caller: str, key: str, captured: dict[str, Any], policy: BodyPolicy,
                      subjects: tuple[uuid.UUID | None, uuid.UUID | None] | None) -> None:
        """Keep a success for replay, encrypted (app.core.idempotency), with the ids of the candidate and the user
        whose rows the request wrote (`subjects`), by which their erasure or deletion forgets it. Forget a
        failure, so the client may fix the cause and retry with the key. Not kept either, so the key is released as
        after a failure: an answer that wrote more than one person's rows (`subjects` None: one record cannot name
        them), and one marked no-store by a route that does not say which fields hold its secret. A route's
        secret shown once (`shown_once`) is left out: its fields are kept null, and the replay says so."""
        from app.core.idempotency import DONE, seal
        from app.core.idempotency import IdempotencyRecord as R  # noqa: N814

        status = captured["status"]
        kept: tuple[int, dict[str, str], bytes] | None = None
        if 200 <= status < 300 and subjects is not None:
            kept = _keepable(status, captured["headers"], b"".join(captured["body"]), policy)
        async with db.session() as session:
            mine = (col(R.scope_key) == caller, col(R.key) == key)
            if kept is not None and subjects is not None:
                candidate_id, user_id = subjects
                await session.execute(update(R).where(*mine).values(
                    state=DONE, response_status=kept[0], response_headers=kept[1], response_body=seal(kept[2]),
                    candidate_id=candidate_id, user_id=user_id))
            else:
                await session.execute(delete(R).where(*mine))
            await session.commit()


_KEPT_HEADERS = {"content-type", "location", "etag"}


def _keepable(status: int, raw_headers: list[tuple[bytes, bytes]], body: bytes, policy: BodyPolicy
              ) -> tuple[int, dict[str, str], bytes] | None:
    """What of a success is kept for replay (status, headers, body), or None when it cannot be kept."""
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw_headers
               if k.decode("latin-1").lower() in _KEPT_HEADERS}
    if policy.shown_once:
        withheld = _withhold(body, policy.shown_once)
        if withheld is None:
            return None
        headers[SECRET_WITHHELD] = ", ".join(policy.shown_once)
        return status, headers, withheld
    if any(k.lower() == b"cache-control" and b"no-store" in v.lower() for k, v in raw_headers):
        return None  # a secret, or personal data not to be kept, in fields no one declared
    return status, headers, body


def _withhold(body: bytes, fields: tuple[str, ...]) -> bytes | None:
    """The JSON object `body` with `fields` null; None when it is not a JSON object (nothing can be withheld)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    return dumps({**doc, **dict.fromkeys(fields)})


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
