"""Liveness (the process answers) and readiness (the database answers and is migrated to head)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel

from app.core.config import get_settings
from app.core.db import db
from app.core.errors import problem_response, problem_responses
from app.core.http import json_response
from app.core.migrate import current_revisions, head_revisions

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    detail: str | None = None


@router.get("/livez", response_model=Health)
async def livez() -> Response:
    return json_response(Health(status="ok"))


@router.get("/readyz", response_model=Health, responses=problem_responses(503))
async def readyz() -> Response:
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
