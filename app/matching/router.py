"""POST /v1/match-simulations: run the Match engine on a submitted instance. Nothing is stored."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from app.accounts.principal import PrincipalDep
from app.core.errors import AppError, BadRequest, ValidationFailed, problem_responses
from app.core.http import JSON, IdempotencyKeyHeader, accepts, json_response
from app.matching.errors import MatchInputError
from app.matching.schemas import MatchRequest, MatchResponse, parse_request_json
from app.matching.service import run_from_dict

router = APIRouter(prefix="/match-simulations", tags=["match-simulations"])

# A large simulation takes about a second of CPU: run one at a time per worker, off the event loop, and turn away
# callers beyond a short queue rather than letting them pile up.
_RUNNING = asyncio.Semaphore(1)
_MAX_WAITING = 4
_waiting = 0


class TooManySimulations(AppError):
    slug = "rate-limited"


def _run(body: bytes) -> dict[str, Any]:
    request = parse_request_json(body)
    return run_from_dict(request.engine_input(), trace=request.trace)


@router.post(
    "",
    response_model=MatchResponse,
    responses=problem_responses(400, 401, 413, 415, 422, 429, 503),
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/MatchRequest"}}}}},
)
@accepts(JSON, limit_setting="max_simulation_body_bytes")
async def run_match_simulation(request: Request, _: PrincipalDep, idempotency_key: IdempotencyKeyHeader = None
                               ) -> Response:
    """Run an NRMP-style Match (applicant-proposing deferred acceptance with couples, Roth-Peranson style).

    Every applicant gets an assignment or null; every program its matched applicants and unfilled positions; the
    result says whether it is stable (with couples a stable matching may not exist) and how much work it took.
    `trace: true` adds a step-by-step trace for instances of up to 50 applicants. Up to NRMP scale (32 MiB body).
    """
    global _waiting
    body = await request.body()
    if _waiting >= _MAX_WAITING:
        raise TooManySimulations("Too many simulations are running; retry shortly.", headers={"Retry-After": "2"})
    _waiting += 1
    try:
        async with _RUNNING:
            result = await run_in_threadpool(_run, body)
    except MatchInputError as exc:
        problems = [{"field": f"body.{p['field']}" if p["field"] else "body", "message": p["message"],
                     "code": p["code"]} for p in exc.problems]
        if any(p["code"] == "invalid_json" for p in problems):
            raise BadRequest("The body is not valid JSON.", errors=problems) from None
        raise ValidationFailed(str(exc), code=problems[0]["code"] if problems else None, errors=problems) from None
    finally:
        _waiting -= 1
    return json_response(result)


SCHEMAS = (MatchRequest,)
