"""Liveness (the process answers), readiness (the database answers and is migrated to head), and the metrics.

`/metrics` is for the operator's scraper, not for API clients: it is left out of the OpenAPI document, answers 404
unless METRICS_TOKEN is set, and then wants `Authorization: Bearer <METRICS_TOKEN>`.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from app.core.config import get_settings
from app.core.db import db
from app.core.errors import problem_response, problem_responses
from app.core.http import json_response
from app.core.metrics import CONTENT_TYPE, exposition
from app.core.migrate import current_revisions, head_revisions

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    detail: str | None = None


@router.get("/livez", response_model=Health)
async def livez() -> Response:
    """Liveness: 200 while the process serves requests. Touches nothing else."""
    return json_response(Health(status="ok"))


@router.get("/readyz", response_model=Health, responses=problem_responses(503))
async def readyz() -> Response:
    """Readiness: 200 when the database answers and its schema is at the latest migration; 503 (with
    `Retry-After`) otherwise."""
    heads = head_revisions()
    try:
        async with db.session() as session:
            conn = await session.connection()
            current = await conn.run_sync(current_revisions)
    except Exception:  # any failure to reach the database means not ready (bounded by DB_CONNECT_TIMEOUT)
        return problem_response(503, "service-unavailable", "The database is unreachable.", "/readyz",
                                headers={"Retry-After": str(get_settings().retry_after_seconds)})
    if current != heads:
        return problem_response(503, "service-unavailable",
                                "The database schema is not at the latest migration; run `make migrate`.",
                                "/readyz", headers={"Retry-After": "30"})
    return json_response(Health(status="ok", detail=f"schema at {','.join(sorted(heads))}"))


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    token = get_settings().metrics_token
    if token is None:
        return problem_response(404, "not-found", "No such path.", "/metrics")
    scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return problem_response(401, "unauthorized", "Send `Authorization: Bearer <METRICS_TOKEN>`.", "/metrics",
                                headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    return Response(await exposition(), media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})
