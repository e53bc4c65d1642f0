"""One error path: every failure leaves the service as an RFC 9457 `application/problem+json` document.

`PROBLEM_TYPES` is the single list of problem kinds; each has a stable `type` URI (`/problems/{slug}`) that the service
answers with a short page. Domain code raises `AppError` subclasses; handlers render them, FastAPI's validation
errors, unknown routes, wrong methods and unexpected exceptions alike.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolExhausted
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.config import get_settings
from app.core.serialization import dumps
from app.core.types import PATTERN_MESSAGES

log = logging.getLogger("matchready.errors")

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class ProblemType:
    slug: str
    status: int
    title: str
    description: str

    @property
    def uri(self) -> str:
        return f"/problems/{self.slug}"


_TYPES = [
    ProblemType("bad-request", 400, "Malformed request", "The request could not be read: malformed JSON or form."),
    ProblemType("unauthorized", 401, "Authentication required",
                "No valid credentials were given. Send `Authorization: Bearer <token>` or `X-API-Key`."),
    ProblemType("forbidden", 403, "Forbidden",
                "Your role may not use this function, or (with a `code`) the request lacks a proof it needs."),
    ProblemType("cors-refused", 403, "Cross-origin request refused",
                "A browser asked whether a page may call the API, and its origin, method or headers are not allowed. "
                "The origins are set by the service's `CORS_ORIGINS`."),
    ProblemType("not-found", 404, "Not found",
                "The resource does not exist, or it is not visible to you."),
    ProblemType("method-not-allowed", 405, "Method not allowed", "This path does not accept that method."),
    ProblemType("conflict", 409, "Conflict",
                "The request conflicts with the current state, e.g. a duplicate unique value."),
    ProblemType("idempotency-in-flight", 409, "Request with this Idempotency-Key still in progress",
                "A request with the same Idempotency-Key is still being processed; retry after it completes."),
    ProblemType("idempotency-replay-forgotten", 409, "The answer to this request is no longer kept",
                "The first request with this Idempotency-Key was answered, but the record it created (or the person "
                "whose data its answer carried) has since been deleted, so its answer is no longer kept for replay, "
                "and the request is not run again. To create the record again, send the request with a new "
                "Idempotency-Key."),
    ProblemType("precondition-failed", 412, "Precondition failed",
                "The If-Match header does not match the current ETag: the resource changed since you read it."),
    ProblemType("request-timeout", 408, "Request timeout",
                "The request body did not arrive in time (BODY_READ_TIMEOUT_SECONDS between its parts); send it "
                "again."),
    ProblemType("payload-too-large", 413, "Payload too large", "The request body exceeds the size limit."),
    ProblemType("unsupported-media-type", 415, "Unsupported media type",
                "Send JSON bodies with `Content-Type: application/json`."),
    ProblemType("validation-error", 422, "Validation failed",
                "One or more fields are invalid; see `errors` for each field."),
    ProblemType("idempotency-key-reused", 422, "Idempotency-Key reused with another request",
                "The Idempotency-Key was already used with a different request body or target."),
    ProblemType("domain-rule", 422, "Refused by a domain rule",
                "The request is well-formed but breaks a rule of the domain; `code` says which."),
    ProblemType("precondition-required", 428, "Precondition required",
                "This write requires an `If-Match` header with the resource's current ETag."),
    ProblemType("rate-limited", 429, "Too many requests", "Slow down; retry after the time in `Retry-After`."),
    ProblemType("internal-error", 500, "Internal server error", "An unexpected error; it has been logged."),
    ProblemType("service-unavailable", 503, "Service unavailable",
                "A dependency (the database) is unavailable; retry after the time in `Retry-After`."),
]
PROBLEM_TYPES: dict[str, ProblemType] = {t.slug: t for t in _TYPES}

# The `code` a problem may carry, per problem type, and what it means: the document enumerates them
# (tests/contract/test_problem_codes.py reads the sources and fails on a code raised that is not listed here).
_MATCHING = "`POST /v1/matching/simulate`: "
_STORED = "`PATCH` of a milestone, with the milestone as stored: "
PROBLEM_CODES: dict[str, dict[str, str]] = {
    "unauthorized": {
        "invalid_grant": "The refresh token is invalid, expired or revoked.",
    },
    "forbidden": {
        "current_password_incorrect": "`POST /v1/auth/password`: the current password given is not the account's.",
        "other_organization": "The body names an organization other than the caller's own.",
    },
    "not-found": {
        "invalid_token": "The reset or invitation token is invalid, expired or already used.",
    },
    "conflict": {
        "conflict": "The change conflicts with existing data.",
        "email_taken": "A user with this email exists.",
        "candidate_has_user": "The candidate already has a user account.",
        "organization_name_taken": "An organization with this name exists.",
        "organization_not_empty": "The organization still has candidates, users or keys.",
        "usmle_id_taken": "Another candidate has this USMLE ID.",
        "external_id_taken": "Another record of the same kind and owner has this `external_id`.",
        "acgme_id_taken": "A program with this ACGME id exists.",
        "nrmp_code_taken": "A program with this NRMP code exists.",
        "program_in_use": "The program is on a program list.",
        "list_name_taken": "The candidate already has a list with this name.",
        "rank_position_taken": "Another entry of the list has this rank position.",
        "program_already_listed": "The program is already on the list.",
        "type_code_immutable": "A milestone's type cannot change.",
        "date_order": "`PATCH` of a USCE record: with the record as stored, `end_on` would not be on or after "
                      "`start_on` within 5 years.",
        # PATCH of a milestone: the rule's code, when the milestone as stored takes part in the refusal
        "status_not_allowed": _STORED + "the status does not go with the milestone's kind (exam or task).",
        "missing": _STORED + "a field the other fields make required is missing.",
        "not_allowed": _STORED + "a field that does not go with the other fields.",
        "result_not_applicable": _STORED + "the milestone's type does not take that result field.",
        "exam_discontinued": _STORED + "the exam was discontinued: no new attempts can be recorded.",
        "step1_pass_fail_only": _STORED + "Step 1 taken on or after 2022-01-26 is reported pass/fail only.",
        "attempt_limit_reached": _STORED + "the USMLE attempt limit is reached.",
        "visa_not_needed": "With the record as stored, the change would give a US citizen or permanent resident "
                           "a visa need.",
    },
    "payload-too-large": {
        "too_many_items": "An import holds more items than one import may.",
    },
    "validation-error": {
        "unknown_cycle": "No rule set for that Match cycle.",
        "duplicate_external_id": "An earlier item of the import has the same `external_id`.",
        "status_not_allowed": "The status does not go with the milestone's kind (exam or task).",
        "missing": "A field the other fields make required is missing.",
        "not_allowed": "A field that does not go with the other fields.",
        "completed_in_future": "`completed_on` is in the future.",
        "date_order": "A USCE record's `end_on` is before its `start_on`, or more than 5 years after it.",
        "date_past": "`date_of_birth` is not in the past.",
        "invalid_url": "A webhook endpoint's `url` is not an absolute http(s) URL with a valid host and no fragment.",
        "url_credentials": "A webhook endpoint's `url` carries credentials.",
        "https_required": "A webhook endpoint's `url` is not https (required in production).",
        "url_unresolvable": "A webhook endpoint's host name does not resolve.",
        "url_not_public": "A webhook endpoint's host resolves to an address that is not public.",
        "result_not_applicable": "The milestone's type does not take that result field.",
        "applicant_in_two_couples": _MATCHING + "an applicant is in two couples.",
        "couple_member_not_applicant": _MATCHING + "a couple member is not an applicant.",
        "couple_same_member": _MATCHING + "a couple names one applicant twice.",
        "duplicate_id": _MATCHING + "an id is used twice.",
        "duplicate_pair": _MATCHING + "a couple ranks the same pair twice.",
        "duplicate_rank": _MATCHING + "a rank order list names the same id twice.",
        "empty_pair": _MATCHING + "a pair names no program.",
        "invalid_id": _MATCHING + "an id is not a valid id.",
        "invalid_members": _MATCHING + "a couple does not have exactly two members.",
        "invalid_pair": _MATCHING + "a couple's rank is not a pair.",
        "invalid_type": _MATCHING + "a value has the wrong JSON type.",
        "missing_field": _MATCHING + "a required field is missing.",
        "negative_positions": _MATCHING + "a program has fewer than 0 positions.",
        "too_large": _MATCHING + "a number is above its limit.",
        "too_many_items": _MATCHING + "a list holds more entries than allowed.",
        "too_many_ranks": _MATCHING + "a rank order list is too long.",
        "unknown_field": _MATCHING + "a field the input does not have.",
        "unknown_id": _MATCHING + "a rank order list names an id that does not exist.",
    },
    "domain-rule": {
        "attempt_limit_reached": "The USMLE attempt limit is reached: no further attempt can be recorded.",
        "exam_discontinued": "The exam was discontinued: no new attempts can be recorded.",
        "step1_pass_fail_only": "Step 1 taken on or after 2022-01-26 is reported pass/fail only: no score.",
        "visa_not_needed": "A US citizen needs no visa.",
    },
}
# Problem types whose `code` may be other than those listed (`POST /v1/matching/simulate` passes on the name of a
# validation error of its input as it is).
OPEN_CODES = frozenset({"validation-error"})
# The validation codes of rules no JSON Schema states, raised by the request's own validation (the schemas).
RULE_CODES = frozenset({"date_order", "date_past"})


class FieldError(BaseModel):
    field: str = Field(description="Where the problem is, e.g. `body.usmle_id` or `query.limit`.")
    message: str
    code: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    code: str | None = Field(default=None, description="Stable machine-readable reason for domain refusals.")
    errors: list[FieldError] | None = None


class AppError(Exception):
    slug = "internal-error"
    instance: str | None = None  # the problem's `instance` when not the request's path (which may hold a secret)

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.errors = errors
        self.headers = headers or {}

    @property
    def problem_type(self) -> ProblemType:
        return PROBLEM_TYPES[self.slug]


class BadRequest(AppError):
    slug = "bad-request"


class Unauthorized(AppError):
    slug = "unauthorized"

    def __init__(self, detail: str = "Missing or invalid credentials.") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="matchready"'})


class InvalidGrant(AppError):
    """A refresh (or other one-time) token that cannot be used: unknown, expired, spent or revoked, all alike (the
    OAuth 2.0 `invalid_grant`, as a 401 problem with that `code`)."""

    slug = "unauthorized"

    def __init__(self) -> None:
        super().__init__("The refresh token is invalid, expired or revoked.", code="invalid_grant",
                         headers={"WWW-Authenticate": 'Bearer realm="matchready"'})


class Forbidden(AppError):
    slug = "forbidden"


class NotFound(AppError):
    slug = "not-found"


class Conflict(AppError):
    slug = "conflict"


class PayloadTooLarge(AppError):
    slug = "payload-too-large"


class PreconditionFailed(AppError):
    slug = "precondition-failed"


class PreconditionRequired(AppError):
    slug = "precondition-required"


class ValidationFailed(AppError):
    slug = "validation-error"


class DomainRuleViolation(AppError):
    """A well-formed request the domain refuses; `code` is stable for clients to switch on."""

    slug = "domain-rule"


class RateLimited(AppError):
    """429: the caller spent its budget, or sign-in is throttled after failures; `Retry-After` says for how long."""

    slug = "rate-limited"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


def field_error(field: str, message: str, code: str) -> dict[str, str]:
    return {"field": field, "message": message, "code": code}


def problem_response(
    status: int,
    slug: str,
    detail: str | None,
    instance: str | None,
    *,
    code: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    pt = PROBLEM_TYPES[slug]
    body: dict[str, Any] = {"type": pt.uri, "title": pt.title, "status": status}
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    if code is not None:
        body["code"] = code
    if errors is not None:
        body["errors"] = errors
    return Response(dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers)


# ---- database faults -----------------------------------------------------------------------------------------

# SQLite's primary result codes for a database that cannot be used right now, rather than a faulty statement:
# BUSY and LOCKED ("database is locked"), NOMEM, READONLY, IOERR (disk I/O), CORRUPT, FULL, CANTOPEN, PROTOCOL, NOTADB.
_SQLITE_UNAVAILABLE = frozenset({5, 6, 7, 8, 10, 11, 13, 14, 15, 26})


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database cannot serve the request now (down, unreachable, restarting, locked, out of
    connections, disk failing): the answer is 503 with Retry-After, not 500. Covers each way the service talks to the
    database: SQLAlchemy (which wraps the driver's error), psycopg and its pool (the PostgreSQL read path), and the
    sqlite3 module (the SQLite read path)."""
    if isinstance(exc, PoolExhausted):  # no pooled connection came free within DB_POOL_TIMEOUT
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc.orig, sqlite3.Error | psycopg.Error):
            return database_unavailable(exc.orig)
        return isinstance(exc, OperationalError)
    if isinstance(exc, psycopg.OperationalError):  # connection failures, shutdown, psycopg_pool.PoolTimeout, ...
        return True
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is None:
            return "database is locked" in str(exc)
        return code & 0xFF in _SQLITE_UNAVAILABLE
    return False


def unavailable_detail(exc: BaseException | None) -> str:
    """The `detail` of a 503: a statement PostgreSQL cut at DB_LOCK_TIMEOUT or DB_STATEMENT_TIMEOUT says so."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, psycopg.errors.LockNotAvailable):
        return "The database could not lock the record in time: another request holds it."
    if isinstance(orig, psycopg.errors.QueryCanceled):
        return "The database did not finish the request in time."
    return "The database is unavailable."


def unavailable_response(instance: str | None, exc: BaseException | None = None) -> Response:
    return problem_response(503, "service-unavailable", unavailable_detail(exc), instance,
                            headers={"Retry-After": str(get_settings().retry_after_seconds)})


def database_failure_response(request: Request, exc: BaseException) -> Response:
    """503 for a database that is unavailable (logged without a traceback: one line per request in an outage);
    otherwise the error is a fault of the service: 500, logged with its traceback."""
    if database_unavailable(exc):
        log.warning("database unavailable on %s %s: %s: %s", request.method, route_of(request),
                    exc.__class__.__name__, str(exc).strip().splitlines()[0] if str(exc).strip() else "")
        return unavailable_response(request.url.path, exc)
    log.exception("database error on %s %s", request.method, route_of(request), exc_info=exc)
    return problem_response(500, "internal-error", None, request.url.path)


def route_of(request: Request) -> str:
    """The route template of the request, for logs: its path may carry a secret (a calendar URL's token)."""
    state = request.scope.get("state") or {}
    return str(state.get("route_template") or "(unmatched)")


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc)


def _validation_errors(exc: RequestValidationError) -> tuple[str, list[dict[str, str]], bool]:
    errors = []
    malformed = False
    for err in exc.errors():
        kind = str(err.get("type", "invalid"))
        if kind == "json_invalid":
            malformed = True
        msg = str(err.get("msg", "invalid value"))
        ctx = err.get("ctx") or {}
        if kind == "value_error" and "error" in ctx:
            msg = str(ctx["error"])
        elif kind == "string_pattern_mismatch" and ctx.get("pattern") in PATTERN_MESSAGES:
            msg = PATTERN_MESSAGES[ctx["pattern"]]
        errors.append(field_error(_loc_to_field(err.get("loc", ())), msg, kind))
    fields = ", ".join(sorted({e["field"] for e in errors}))
    return f"Invalid input: {fields}." if fields else "Invalid input.", errors, malformed


def _allowed_methods(request: Request) -> str:
    """Every method the routes matching this path accept, for the `Allow` header of a 405."""
    from starlette.routing import Match

    matching = [route for route in request.app.router.routes if route.matches(request.scope)[0] is not Match.NONE]
    # A path spelled out matches before a template that would take it as a parameter (`/invitations/accept`, not
    # `/invitations/{invitation_id}`): only the spelled-out routes say what the path accepts.
    literal = [route for route in matching if not getattr(route, "param_convertors", None)]
    methods: set[str] = set()
    for route in literal or matching:
        methods |= set(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")  # answered as the GET (app.core.http.ConditionalGet)
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Response:
        pt = exc.problem_type
        return problem_response(
            pt.status, pt.slug, exc.detail, exc.instance or request.url.path, code=exc.code, errors=exc.errors,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        detail, errors, malformed = _validation_errors(exc)
        if malformed:
            return problem_response(400, "bad-request", "The body is not valid JSON.", request.url.path,
                                    errors=errors)
        # A rule of the domain that every field error of the request names is the problem's `code` too, as for
        # the refusals the services raise (`completed_in_future`): one field for a client to switch on.
        codes = {e["code"] for e in errors}
        code = codes.pop() if len(codes) == 1 and next(iter(codes)) in RULE_CODES else None
        if code is not None and len(errors) == 1:
            detail = f"{errors[0]['field']}: {errors[0]['message']}."
        return problem_response(422, "validation-error", detail, request.url.path, code=code, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        slug = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
                405: "method-not-allowed", 413: "payload-too-large",
                415: "unsupported-media-type", 422: "validation-error"}.get(exc.status_code, "internal-error")
        status = exc.status_code if slug != "internal-error" else 500
        detail = exc.detail if isinstance(exc.detail, str) else None
        if status == 404 and detail == "Not Found":
            detail = "No such path."
        headers = dict(exc.headers or {})
        if status == 405:
            # Starlette names only the first route that matched the path; the resource allows all of them.
            headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
        return problem_response(status, slug, detail, request.url.path, headers=headers)

    # SQLAlchemy's errors (the ORM sessions), psycopg's (the PostgreSQL read path and its pool) and sqlite3's (the
    # SQLite read path): 503 when the database is unavailable, 500 otherwise.
    for kind in (SQLAlchemyError, psycopg.Error, sqlite3.Error):
        app.add_exception_handler(kind, database_failure_response)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> Response:
        # Starlette sends this answer itself, past the middlewares: it gets their headers here (request id, etc.).
        from app.core.observe import answer_headers

        if database_unavailable(exc):  # raised outside the routes' handlers, e.g. by a middleware
            response = database_failure_response(request, exc)
        else:
            log.exception("unhandled error on %s %s", request.method, route_of(request))
            response = problem_response(500, "internal-error", None, request.url.path)
        response.raw_headers[:] = answer_headers(request.scope, list(response.raw_headers))
        return response

    @app.get("/problems/{slug}", include_in_schema=False)
    async def _problem_page(slug: str) -> Response:
        pt = PROBLEM_TYPES.get(slug)
        if pt is None:
            return problem_response(404, "not-found", "No such problem type.", f"/problems/{slug}")
        html = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{pt.title}</title></head><body>"
            f"<h1>{pt.title}</h1><p>HTTP status {pt.status}.</p><p>{pt.description}</p>"
            f"<p>Problem type <code>{pt.uri}</code> of the MatchReady API.</p></body></html>"
        )
        return HTMLResponse(html)


# ---- OpenAPI declarations -------------------------------------------------------------------------------------

_DESCRIPTIONS = {
    400: "Malformed request (e.g. invalid JSON).",
    401: "Missing or invalid credentials.",
    403: "Your role may not use this function.",
    404: "Not found, or not visible to you.",
    408: "The request body did not arrive in time; the connection is closed.",
    409: "Conflict with the current state (duplicate value, resource in use, an Idempotency-Key in flight, or one "
         "whose first answer is no longer kept: the record it created has since been deleted).",
    412: "`If-Match` does not match the current ETag.",
    413: "Request body too large.",
    415: "Unsupported content type.",
    422: "Validation failed, or a domain rule refused the request.",
    428: "`If-Match` header required.",
    429: "Too many requests.",
    503: "Database unavailable; retry later.",
}


# The answer to a retry with the Idempotency-Key of a request whose record has since been deleted (app.core.http).
FORGOTTEN_DETAIL = ("The record this request created has since been deleted, so its answer is no longer kept and the "
                    "request is not repeated; to create it again, send the request with a new Idempotency-Key.")

# The example of each problem type: its `detail`, and the `code` and `errors` it may carry.
_EXAMPLES: dict[str, dict[str, Any]] = {
    "bad-request": {"detail": "The body is not valid JSON.",
                    "errors": [{"field": "body", "message": "JSON decode error", "code": "json_invalid"}]},
    "unauthorized": {"detail": "Missing or invalid credentials."},
    "forbidden": {"detail": "Your role may not use this function."},
    "cors-refused": {"detail": "Origin https://elsewhere.example is not allowed."},
    "not-found": {"detail": "Candidate not found."},
    "method-not-allowed": {"detail": "Method Not Allowed"},
    "conflict": {"detail": "Another candidate of this organization has this external_id.",
                 "code": "external_id_taken"},
    "idempotency-in-flight": {"detail": "The first request with this Idempotency-Key is still in progress."},
    "idempotency-replay-forgotten": {"detail": FORGOTTEN_DETAIL},
    "precondition-failed": {"detail": "The resource has changed: read it again and retry with its current ETag."},
    "request-timeout": {"detail": "No part of the body arrived for 30 seconds."},
    "payload-too-large": {"detail": "The body exceeds the limit of 1048576 bytes."},
    "unsupported-media-type": {"detail": "Send the body as application/json."},
    "validation-error": {"detail": "Invalid input: body.full_name.",
                         "errors": [{"field": "body.full_name", "message": "Field required", "code": "missing"}]},
    "idempotency-key-reused": {"detail": "This Idempotency-Key was used with a different request; use a new key "
                                         "for a new request."},
    "domain-rule": {"detail": "A US citizen needs no visa; set visa_need to none.", "code": "visa_not_needed",
                    "errors": [{"field": "body.visa_need", "message": "no visa for a US citizen",
                                "code": "visa_not_needed"}]},
    "precondition-required": {"detail": "Send If-Match with the resource's current ETag."},
    "rate-limited": {"detail": "Too many requests; retry after 12 seconds."},
    "internal-error": {},
    "service-unavailable": {"detail": "The database is unavailable."},
}
_EXAMPLE_INSTANCE = "/v1/candidates/0b9f5e1c-6f7e-4a8e-9a59-3c2f8f0d7c11"


def problem_example_components() -> dict[str, dict[str, Any]]:
    """The document's `components/examples`: one problem of each type."""
    return {pt.slug: {"summary": pt.title, "value": {"type": pt.uri, "title": pt.title, "status": pt.status,
                                                     **_EXAMPLES[pt.slug], "instance": _EXAMPLE_INSTANCE}}
            for pt in PROBLEM_TYPES.values()}


def problem_examples(status: int) -> dict[str, dict[str, Any]]:
    """The `examples` of a problem response: one per problem type answered with this status."""
    return {pt.slug: {"$ref": f"#/components/examples/{pt.slug}"} for pt in PROBLEM_TYPES.values()
            if pt.status == status}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry declaring these problem statuses for an operation."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted(set(statuses)):
        out[status] = {
            "description": _DESCRIPTIONS[status],
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"},
                                       "examples": problem_examples(status)}},
        }
    return out


def problem_schema() -> dict[str, Any]:
    """The `Problem` schema of the document: its `type` one of the problem types, and its `code` one of those the
    type may carry (PROBLEM_CODES), listed in its description and enforced per type with `if`/`then`."""
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    props = schema["properties"]
    props["errors"] = {"anyOf": [{"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
                                 {"type": "null"}]}
    props["type"]["description"] = "One of: " + ", ".join(f"`{t.uri}`" for t in PROBLEM_TYPES.values())
    lines = []
    for slug, codes in PROBLEM_CODES.items():
        listed = "; ".join(f"`{code}`: {meaning}" for code, meaning in codes.items())
        more = " (and, from `POST /v1/matching/simulate`, the name of any other input error)" \
            if slug in OPEN_CODES else ""
        lines.append(f"* `{PROBLEM_TYPES[slug].uri}`{more}: {listed}")
    props["code"]["description"] = ("Stable machine-readable reason, for clients to switch on. Per problem type:\n"
                                    + "\n".join(lines) + "\n\nOther problem types carry no `code`.")
    rules = []
    for pt in PROBLEM_TYPES.values():
        if pt.slug in OPEN_CODES:
            continue
        allowed: dict[str, Any] = ({"anyOf": [{"type": "string", "enum": list(PROBLEM_CODES[pt.slug])},
                                              {"type": "null"}]}
                                   if pt.slug in PROBLEM_CODES else {"type": "null"})
        rules.append({"if": {"properties": {"type": {"const": pt.uri}}, "required": ["type"]},
                      "then": {"properties": {"code": allowed}}})
    schema["allOf"] = rules
    return schema


# Shorthands for the common operation shapes.
READ = (401, 404, 422, 503)
LIST = (401, 403, 422, 503)
WRITE_BODY = (400, 401, 403, 404, 409, 413, 415, 422, 503)
UPDATE = WRITE_BODY + (412, 428)
DELETE = (401, 403, 404, 409, 412, 422, 428, 503)
