from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import Field

from app.accounts.principal import PEOPLE, PrincipalDep
from app.candidates.deps import CandidateDep
from app.core.db import SessionDep
from app.core.errors import READ, problem_responses
from app.core.http import IdempotencyKeyHeader, json_response
from app.core.types import PublicModel
from app.privacy import erasure, service

router = APIRouter(prefix="/candidates/{candidate_id}", tags=["privacy"])

_EXAMPLE: dict[str, Any] = {
    "exported_at": "2026-12-02T01:00:00Z", "candidate": {"id": "…", "full_name": "Amina Okafor"},
    "milestones": [], "usce_records": [], "program_lists": [{"id": "…", "name": "IM 2028", "entries": []}],
    "accounts": [{"id": "…", "email": "amina@example.org", "role": "candidate"}], "invitations": [],
    "calendar_subscriptions": [], "computed": {"next_step": {}, "readiness": {}, "timeline": {},
                                               "screening": {"…": {}}}, "access_log": []}


@router.get("/export", responses={200: {"description": "Everything held about the candidate.", "content": {
    "application/json": {"schema": {"type": "object", "additionalProperties": True}, "example": _EXAMPLE}},
    "headers": {"Cache-Control": {"description": "`no-store`: personal data.", "schema": {"type": "string"}}}},
    **problem_responses(*READ)})
async def export_candidate(session: SessionDep, cand: CandidateDep) -> Response:
    """The right of access: everything MatchReady holds about the candidate — profile, milestones, USCE records,
    program lists with their entries, their sign-in account (not its password) and the invitations to it (not their
    tokens), calendar subscriptions (not their secret URLs), the computed next step, readiness, timeline and each
    list's screening (a view that cannot be computed says why), and the access log (who created, changed, deleted
    or exported what, when) — as one JSON document.
    The candidate may ask for their own; their office may too. Each export is itself recorded in the access log."""
    resp = json_response(await service.export_candidate(session, cand))
    resp.headers["Cache-Control"] = "no-store"
    return resp


class ErasureReceipt(PublicModel):
    candidate_id: uuid.UUID
    erased_at: datetime
    removed: dict[str, int] = Field(description="What went besides the record itself: copies of the candidate's "
                                                "data by the place they were kept (events' payloads, import items, "
                                                "idempotency records, user accounts), and the client addresses of "
                                                "the audit rows of their own requests.")


@router.post("/erasure", response_model=ErasureReceipt,
             responses={200: {"description": "Erased.", "headers": {"Cache-Control": {
                 "description": "`no-store`.", "schema": {"type": "string"}}}}, **problem_responses(401, 403, 404, 422,
                                                                                                   503)},
             dependencies=[PEOPLE])  # erasure is decided by people: the advisor, an admin, or the candidate
async def erase_candidate(session: SessionDep, principal: PrincipalDep, cand: CandidateDep,
                          idempotency_key: IdempotencyKeyHeader = None) -> Response:
    """The right to erasure: the candidate's record and account are deleted, with every copy of their personal
    data (name, email, date of birth, USMLE ID, external id) the service kept — in the change feed's events,
    import items and every remembered Idempotency-Key response that carries it, whoever sent the request. Audit
    rows stay, holding only ids (the client address of the candidate's own requests goes). By the candidate's
    advisor or an admin; by the candidate when their organization's `candidates_may_erase` allows it.
    Irreversible."""
    resp = json_response(ErasureReceipt.model_validate(await erasure.erase_candidate(session, principal, cand)))
    resp.headers["Cache-Control"] = "no-store"
    return resp
