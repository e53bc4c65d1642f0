from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from app.accounts.principal import ORGANIZATION_WRITERS, STAFF, PrincipalDep
from app.candidates import service
from app.candidates.deps import CandidateDep
from app.candidates.models import CandidateRecord
from app.candidates.schemas import (
    CANDIDATE_EXTERNAL_ID_PATTERN,
    CandidateCreate,
    CandidatePublic,
    CandidateSort,
    CandidateUpdate,
    CandidateUpsert,
    UsStatus,
    VisaNeed,
)
from app.core.coalesced import accesses
from app.core.db import SessionDep
from app.core.errors import DELETE, LIST, READ, UPDATE, WRITE_BODY, problem_responses
from app.core.http import IdempotencyKeyHeader, IfMatchHeader, etag_for, upsert_responses, upserted
from app.core.pagination import Page, PageDep, page_json_response, render_one
from app.core.types import NO_NUL, Instant

router = APIRouter(prefix="/candidates", tags=["candidates"])


def _one(cand: CandidateRecord, status_code: int = 200, location: bool = False) -> Response:
    headers = {"ETag": etag_for(cand.version)}
    if location:
        headers["Location"] = f"/v1/candidates/{cand.id}"
    # After a write: the ORM object, rendered as reads render it (a test holds the two byte for byte equal).
    body = render_one(CandidatePublic, _as_dict(cand))
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)


def _as_dict(obj: Any) -> dict[str, Any]:
    return {f: getattr(obj, f) for f in CandidatePublic.model_fields}


@router.get("", response_model=Page[CandidatePublic], responses=problem_responses(*LIST))
async def list_candidates(
    principal: PrincipalDep,
    page: PageDep,
    organization_id: Annotated[uuid.UUID | None, Query(description="Admins: one organization only.")] = None,
    target_match_year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    us_status: Annotated[UsStatus | None, Query()] = None,
    visa_need: Annotated[VisaNeed | None, Query()] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100, pattern=NO_NUL,
                                   description="Search in name and email.")] = None,
    sort: Annotated[CandidateSort, Query(description="Field to sort by; `-` for descending.")] = "created_at",
    external_id: Annotated[str | None, Query(pattern=CANDIDATE_EXTERNAL_ID_PATTERN,
                                             description="Your system's id: at most one candidate.")] = None,
    updated_since: Annotated[Instant | None, Query(
        description="Only candidates changed at or after this instant (RFC 3339 with a zone, e.g. "
                    "`2026-12-01T00:00:00Z`). For a sync of every change, the change feed `/v1/events` misses "
                    "nothing, deletions included.")] = None,
) -> Response:
    """Candidates you can see (your organization's; your own record for a candidate), stable order."""
    items, total = await service.list_candidates(
        principal, page, organization_id=organization_id, target_match_year=target_match_year,
        us_status=us_status, visa_need=visa_need, q=q, sort=sort, external_id=external_id,
        updated_since=updated_since)
    return page_json_response(items, total, page)


@router.post("", status_code=201, response_model=CandidatePublic, responses=problem_responses(*WRITE_BODY),
             dependencies=[STAFF])
async def create_candidate(session: SessionDep, principal: PrincipalDep, body: CandidateCreate,
                           idempotency_key: IdempotencyKeyHeader = None) -> Response:
    """Create a candidate in your organization (admins name the organization)."""
    cand = await service.create_candidate(session, principal, body)
    return _one(cand, 201, location=True)


@router.put("/by-external-id/{external_id}", response_model=CandidatePublic,
            responses=upsert_responses(CandidatePublic), dependencies=[ORGANIZATION_WRITERS])
async def upsert_candidate_by_external_id(
    session: SessionDep,
    principal: PrincipalDep,
    external_id: Annotated[str, Path(pattern=CANDIDATE_EXTERNAL_ID_PATTERN)],
    body: CandidateUpsert,
    if_match: IfMatchHeader = None,
) -> Response:
    """Idempotent upsert for university systems: 201 when created, 200 when replaced or unchanged (header
    `Upsert-Result`). `If-Match` is optional here; when sent it must match."""
    cand, outcome = await service.upsert_by_external_id(session, principal, external_id, body, if_match)
    return upserted(_one(cand), outcome, f"/v1/candidates/{cand.id}")


@router.get("/by-external-id/{external_id}", response_model=CandidatePublic, responses=problem_responses(*READ))
async def get_candidate_by_external_id(
    session: SessionDep, principal: PrincipalDep,
    external_id: Annotated[str, Path(pattern=CANDIDATE_EXTERNAL_ID_PATTERN)],
) -> Response:
    """The candidate your organization's system knows as `external_id`."""
    cand = await service.get_by_external_id(session, principal, external_id)
    accesses.note("read", (cand.id,))
    return _one(cand)


@router.get("/{candidate_id}", response_model=CandidatePublic, responses=problem_responses(*READ))
async def get_candidate(cand: CandidateDep) -> Response:
    """One candidate record, with its `ETag` (send it as `If-Match` to change the record). 404 when it is not
    yours to see, whether or not it exists."""
    return _one(cand)


@router.patch("/{candidate_id}", response_model=CandidatePublic, responses=problem_responses(*UPDATE))
async def update_candidate(session: SessionDep, principal: PrincipalDep, cand: CandidateDep,
                           body: CandidateUpdate, if_match: IfMatchHeader = None) -> Response:
    """Partial update (absent = unchanged, null = cleared where allowed). Requires `If-Match`."""
    cand = await service.update_candidate(session, principal, cand, body, if_match)
    return _one(cand)


@router.delete("/{candidate_id}", status_code=204, responses=problem_responses(*DELETE), dependencies=[STAFF])
async def delete_candidate(session: SessionDep, principal: PrincipalDep, cand: CandidateDep,
                           if_match: IfMatchHeader = None) -> Response:
    """Delete the candidate with their milestones, USCE, program lists and account."""
    await service.delete_candidate(session, principal, cand, if_match)
    return Response(status_code=204)
