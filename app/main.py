"""create_app(): routers, error handlers, middleware, lifespan, and the OpenAPI document."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline

from app.api import api_routers, api_tags, api_webhooks, refine_document
from app.core.config import get_settings
from app.core.db import SessionMiddleware, db
from app.core.errors import (
    FieldError,
    install_error_handlers,
    problem_example_components,
    problem_examples,
    problem_responses,
    problem_schema,
)
from app.core.http import (
    CORS,
    CORS_POLICY,
    IDEMPOTENT_REPLAYED,
    ConditionalGet,
    RequestGuard,
    reject_unknown_query_parameters,
)
from app.core.links import add_links
from app.core.logs import configure_logging
from app.core.metrics import process_exiting
from app.core.observe import REQUEST_ID_HEADER, Observe, record_route_templates
from app.core.security import SECURITY_SCHEMES
from app.core.throttle import RateLimitHeaders, Throttle
from app.health import router as health_router
from app.models import import_all_models

DESCRIPTION = """
MatchReady walks an international medical graduate (IMG) down the road to a US residency: USMLE, OET and the
ECFMG Pathways, ECFMG certification, US clinical experience, ERAS, the NRMP Match and SOAP, Step 3 and the visa.

* Sign in at `POST /v1/auth/token` (people) or send `X-API-Key` (an organization's systems).
* Every error is `application/problem+json` (RFC 9457); `type` links to a page about the problem.
* Writes: `PATCH`/`DELETE` need `If-Match` with the resource's `ETag`; `POST` accepts `Idempotency-Key`.
* Reads: every `GET` carries a strong `ETag` and answers `If-None-Match` with `304 Not Modified`; `HEAD` answers
  wherever `GET` does, with the same status and headers and no body.
* Lists: `{"items", "total", "limit", "offset"}`; `limit` ≤ 100.
* Every operation refuses a query parameter it does not declare with a 422 naming it.
* Browsers: pages from the origins the service is configured with (`CORS_ORIGINS`) may call the API (CORS).
* Every answer carries `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`
  and a `Content-Security-Policy`; an answer to a signed-in request, `Cache-Control: private, no-cache` unless
  the operation says `no-store` (an answer holding a secret). The operations declare every other header they send.
"""

# Declared on every GET (see custom_openapi), inline like the rest of the document's parameters and headers.
ETAG_HEADER = {"description": "Strong entity tag of this representation: send it back in `If-None-Match` (reads) "
                              "or `If-Match` (writes).", "schema": {"type": "string"}}
IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
                 "description": "ETags of representations you hold (or `*`): a current one answers 304 without a body."}
NOT_MODIFIED = {"description": "Not Modified: the representation is the one named by `If-None-Match`; no body.",
                "headers": {"ETag": ETAG_HEADER}}
# On every answer (see app.core.observe): the request's id, for support and for the logs.
REQUEST_ID = {"description": "The request's id: the `X-Request-Id` you sent (up to 64 letters, digits and `._:-`), "
                             "or one made for this request. Quote it when reporting a problem.",
              "schema": {"type": "string", "maxLength": 64}}

# Declared on every /v1 operation (see custom_openapi): the request budget of app.core.throttle.
RATE_LIMIT_HEADERS = {
    "RateLimit-Policy": {"description": "The request budget this request spent (IETF draft-ietf-httpapi-ratelimit-"
                                        "headers): `\"principal\"` (your user or API key) or `\"address\"` (the "
                                        "client address: public routes, invalid credentials), its quota `q` per "
                                        "window of `w` seconds.", "schema": {"type": "string"},
                         "example": '"principal";q=3000;w=60'},
    "RateLimit": {"description": "What is left of that budget: `r` requests for the next `t` seconds.",
                  "schema": {"type": "string"}, "example": '"principal";r=2999;t=60'},
}
RATE_LIMIT_REFS = {name: {"$ref": f"#/components/headers/{name}"} for name in RATE_LIMIT_HEADERS}
RETRY_AFTER = {"description": "Seconds to wait before retrying.", "schema": {"type": "integer", "minimum": 1}}
# On every write that answers a resource (its body carries `version`, the ETag's value), and on what a create answers.
WRITE_ETAG = {"description": "Strong entity tag of the resource as written: send it as `If-Match` to change it "
                             "again.", "schema": {"type": "string"}}
LOCATION = {"description": "The URL of the created resource.", "schema": {"type": "string"}}
# On every 401 (app.core.errors): the scheme to authenticate with.
WWW_AUTHENTICATE = {"description": 'How to authenticate: `Bearer realm="matchready"`.', "schema": {"type": "string"}}


def declare_write_headers(schema: dict[str, Any]) -> None:
    """The headers of the writes' answers, declared where the service sends them: `ETag` on a success that answers
    a resource (its body has `version`), `Location` on a 201 that created one, `Idempotent-Replayed` on the
    successes of a POST that takes `Idempotency-Key` (a replay), `WWW-Authenticate` on every 401."""
    components = schema.get("components", {}).get("schemas", {})

    def versioned(response: dict[str, Any]) -> bool:
        body = response.get("content", {}).get("application/json", {}).get("schema", {})
        if "$ref" in body:
            body = components.get(body["$ref"].rsplit("/", 1)[-1], {})
        return "version" in body.get("properties", {})

    for ops in schema["paths"].values():
        for method, op in ops.items():
            keyed = any(p["name"] == "Idempotency-Key" for p in op.get("parameters", []))
            for status, response in op["responses"].items():
                headers = response.setdefault("headers", {})
                if status == "401":
                    headers.setdefault("WWW-Authenticate", WWW_AUTHENTICATE)
                if not status.startswith("2") or method not in ("post", "put", "patch"):
                    continue
                if versioned(response):
                    headers.setdefault("ETag", WRITE_ETAG)
                    if status == "201":
                        headers.setdefault("Location", LOCATION)
                if keyed and method == "post":
                    headers.setdefault("Idempotent-Replayed", IDEMPOTENT_REPLAYED)


TOO_MANY_REQUESTS = {
    "description": "Too many requests: the request budget is spent (or, at sign-in, too many failed attempts); "
                   "retry after `Retry-After` seconds.",
    "headers": {"Retry-After": RETRY_AFTER, **RATE_LIMIT_REFS},
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"},
                                             "examples": problem_examples(429)}},
}


def _operation_id(route: APIRoute) -> str:
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name.replace('_', '-')}"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    from app.pathway.catalogue import load_catalogue
    from app.pathway.rules import active_rulebook

    load_catalogue()  # a malformed data file stops start-up with its message
    active_rulebook(get_settings().rules_dir)
    await db.open_read_pool()
    worker: asyncio.Task[None] | None = None
    stop = asyncio.Event()
    from app.audit.writer import flush_coalesced_every

    flusher = asyncio.create_task(flush_coalesced_every(get_settings().audit_flush_seconds, stop), name="audit")
    if get_settings().worker_in_process:
        from app.worker import run_worker

        worker = asyncio.create_task(run_worker(stop), name="worker")
    # Everything loaded so far lives as long as the process: keep it out of the cycle collector's way, and collect
    # the young generation less often (requests allocate many short-lived objects and create few cycles).
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
    yield
    stop.set()
    if worker is not None:  # let each job finish its batch
        await worker
    await flusher  # the accesses noted last
    await app.state.throttle.close()
    await db.dispose()
    process_exiting()


def create_app() -> FastAPI:
    configure_logging(get_settings())
    import_all_models()  # every table and every sink of the write hook, whatever the routers import
    # FastAPIOffline: a FastAPI app whose /docs loads Swagger UI from the service, not from a CDN
    app = FastAPIOffline(
        title="MatchReady API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        docs_url="/docs",
        redoc_url=None,
        static_url="/docs-assets",
        favicon_url="/docs-assets/favicon.png",
    )
    install_error_handlers(app)
    app.include_router(health_router)
    for router in api_routers:
        app.include_router(router, prefix="/v1")
    for router in api_webhooks:
        app.webhooks.include_router(router)
    reject_unknown_query_parameters(app)  # after every router is in: it wraps each route
    record_route_templates(app)  # outside that check: a refused request still names its route
    # The last added is the outermost: CORS wraps everything, so the middlewares' own problems (413, 415) and every
    # handled error carry its headers too.
    app.add_middleware(SessionMiddleware)
    app.add_middleware(RequestGuard)
    app.add_middleware(ConditionalGet)
    app.add_middleware(RateLimitHeaders)  # outside ConditionalGet: a 304 carries the budget too
    app.state.throttle = Throttle(get_settings())  # this instance's limits; their counters may be shared (Redis)
    cors_origins = get_settings().cors_origins
    if cors_origins:
        app.add_middleware(CORS, allow_origins=cors_origins, **CORS_POLICY)
    app.add_middleware(Observe)  # outermost: request id, security headers, access log and metrics on every answer

    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, tags=api_tags,
                             routes=app.routes, webhooks=app.webhooks.routes)
        comps = schema.setdefault("components", {}).setdefault("schemas", {})
        comps["Problem"] = problem_schema()
        comps["FieldError"] = FieldError.model_json_schema()
        for name in ("HTTPValidationError", "ValidationError"):
            comps.pop(name, None)
        from app.imports.router import SCHEMAS as import_schemas
        from app.matching.router import SCHEMAS as extra_schemas

        # request bodies read raw (for speed, or for two media types) but documented all the same
        for model in (*extra_schemas, *import_schemas):
            defs = model.model_json_schema(ref_template="#/components/schemas/{model}")
            comps.update(defs.pop("$defs", {}))
            comps[model.__name__] = defs
        schema["components"]["securitySchemes"] = SECURITY_SCHEMES
        schema["components"]["examples"] = problem_example_components()  # each problem response names its own
        # referenced by every response (the request id) and by every /v1 response (the rate-limit headers)
        schema["components"]["headers"] = {REQUEST_ID_HEADER: REQUEST_ID, **RATE_LIMIT_HEADERS}
        unknown_query = problem_responses(422)[422]
        slow_body = problem_responses(408)[408]
        key_conflict = problem_responses(409)[409]
        for path, ops in schema["paths"].items():
            for method, op in ops.items():
                if path.startswith("/v1/") and path != "/v1/auth/token":
                    op.setdefault("security", [{"BearerToken": []}, {"ApiKey": []}])  # public routes declare []
                if "application/json" in op["responses"].get("422", {}).get("content", {}):
                    op["responses"]["422"] = unknown_query  # FastAPI's own, whose schema the document drops
                op["responses"].setdefault("422", unknown_query)  # any operation: an unknown query parameter
                if method in ("post", "put", "patch"):  # a body that stalls (RequestGuard)
                    op["responses"].setdefault("408", slow_body)
                if method == "post" and any(p["name"] == "Idempotency-Key" for p in op.get("parameters", [])):
                    op["responses"].setdefault("409", key_conflict)  # its key in flight, or its record deleted since
                if "428" in op["responses"]:  # If-Match is required here: its absence is the declared 428
                    for param in op.get("parameters", []):
                        if param["name"] == "If-Match":
                            param["required"] = True
                            param["schema"] = {"type": "string", "maxLength": 512}
                if path.startswith("/v1/"):  # every operation spends a request budget (app.core.throttle)
                    op["responses"]["429"] = TOO_MANY_REQUESTS
                if "503" in op["responses"]:  # every 503 says when to come back (app.core.errors, app.health)
                    op["responses"]["503"].setdefault("headers", {})["Retry-After"] = RETRY_AFTER
                if method == "get":  # conditional GET (app.core.http.ConditionalGet)
                    params = op.setdefault("parameters", [])
                    if not any(p["name"] == "If-None-Match" for p in params):  # unless the route declares its own
                        params.append(IF_NONE_MATCH)
                    op["responses"]["200"].setdefault("headers", {})["ETag"] = ETAG_HEADER
                    op["responses"]["304"] = NOT_MODIFIED
                for response in op["responses"].values():
                    response.setdefault("headers", {})[REQUEST_ID_HEADER] = {
                        "$ref": f"#/components/headers/{REQUEST_ID_HEADER}"}
                if path.startswith("/v1/"):
                    for status, response in op["responses"].items():
                        if status != "429":
                            response.setdefault("headers", {}).update(RATE_LIMIT_REFS)
                op["responses"] = dict(sorted(op["responses"].items()))
        declare_write_headers(schema)
        refine_document(schema)
        schema = add_links(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
    return app


app = create_app()
