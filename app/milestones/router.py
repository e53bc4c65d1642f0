from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.accounts.principal import PrincipalDep
from app.candidates.deps import CandidateDep
from app.core.db import SessionDep
from app.core.errors import DELETE, LIST, READ, UPDATE, WRITE_BODY, problem_responses
from app.core.http import (
    ExternalIdPath,
    IdempotencyKeyHeader,
    IfMatchHeader,
    json_response,
    upsert_responses,
    upserted,
)
from app.core.pagination import Page, PageDep, page_response
from app.milestones import service
from app.milestones.models import Milestone
from app.milestones.schemas import (
    MilestoneCode,
    MilestoneCreate,
    MilestonePublic,
    MilestoneSort,
    MilestoneStatus,
    MilestoneTypePublic,
    MilestoneUpdate,
    MilestoneUpsert,
)
from app.milestones.validation import result_schema
from app.pathway.catalogue import milestone_types

router = APIRouter(prefix="/candidates/{candidate_id}/milestones", tags=["milestones"])
types_router = APIRouter(prefix="/milestone-types", tags=["milestones"])

_TYPES = [
    MilestoneTypePublic(code=mt.code, title=mt.title, description=mt.description, kind=mt.kind,
                        requires=list(mt.requires), legacy=mt.legacy, has_score=mt.has_score,
                        result_schema=result_schema(mt), source=mt.source, gate=mt.gate,
                        lead_time=mt.lead_time, opens=mt.opens)
    for mt in milestone_types()
]


@types_router.get("", response_model=Page[MilestoneTypePublic], responses=problem_responses(401, 422, 503))
async def list_milestone_types(_: PrincipalDep) -> Response:
    """The catalogue of milestone types: what each requires and the shape of its result."""
    return json_response(Page[MilestoneTypePublic](items=_TYPES, total=len(_TYPES), limit=len(_TYPES), offset=0))


def _one(m: Milestone, status_code: int = 200, location: bool = False) -> Response:
    return json_response(MilestonePublic.model_validate(m), status_code=status_code, etag_version=m.version,
                         location=f"/v1/candidates/{m.candidate_id}/milestones/{m.id}" if location else None)


@router.get("", response_model=Page[MilestonePublic], responses=problem_responses(*LIST, 404))
async def list_milestones(
    session: SessionDep, cand: CandidateDep, page: PageDep,
    type_code: Annotated[MilestoneCode | None, Query()] = None,
    status: Annotated[MilestoneStatus | None, Query()] = None,
    sort: Annotated[MilestoneSort, Query()] = "created_at",
) -> Response:
    """The candidate's milestones (exams, certification, applications, ...), filtered by `type_code` and
    `status`, one page at a time."""
    items, total = await service.list_milestones(session, cand, page, type_code=type_code.value if type_code else None,
                                                 status=status, sort=sort)
    return page_response(MilestonePublic, items, total, page)


@router.post("", status_code=201, response_model=MilestonePublic, responses=problem_responses(*WRITE_BODY))
async def create_milestone(session: SessionDep, cand: CandidateDep, body: MilestoneCreate,
                           idempotency_key: IdempotencyKeyHeader = None) -> Response:
    """Record a milestone. Results are validated per type: e.g. Step 1 from 2022-01-26 is pass/fail only,
    Step 2 CS can no longer be attempted, the USMLE attempt limit applies."""
    m = await service.create_milestone(session, cand, body)
    return _one(m, 201, location=True)


@router.put("/by-external-id/{external_id}", response_model=MilestonePublic,
            responses=upsert_responses(MilestonePublic))
async def upsert_milestone_by_external_id(session: SessionDep, cand: CandidateDep, external_id: ExternalIdPath,
                                          body: MilestoneUpsert, if_match: IfMatchHeader = None) -> Response:
    """Idempotent upsert for your system: the same body twice is one milestone, the second answer `unchanged`
    (header `Upsert-Result`). A full replacement; the type of an existing milestone cannot change (409)."""
    m, outcome = await service.upsert_milestone(session, cand, external_id, body, if_match)
    return upserted(_one(m), outcome, f"/v1/candidates/{m.candidate_id}/milestones/{m.id}")


@router.get("/by-external-id/{external_id}", response_model=MilestonePublic, responses=problem_responses(*READ))
async def get_milestone_by_external_id(session: SessionDep, cand: CandidateDep, external_id: ExternalIdPath
                                       ) -> Response:
    """The milestone your system knows as `external_id` (see the `PUT` of the same path)."""
    return _one(await service.get_milestone_by_external_id(session, cand, external_id))


@router.get("/{milestone_id}", response_model=MilestonePublic, responses=problem_responses(*READ))
async def get_milestone(session: SessionDep, cand: CandidateDep, milestone_id: uuid.UUID) -> Response:
    """One milestone, with its `ETag`."""
    return _one(await service.get_milestone(session, cand, milestone_id))


@router.patch("/{milestone_id}", response_model=MilestonePublic, responses=problem_responses(*UPDATE))
async def update_milestone(session: SessionDep, cand: CandidateDep, milestone_id: uuid.UUID,
                           body: MilestoneUpdate, if_match: IfMatchHeader = None) -> Response:
    """Change some of a milestone's fields; its result is validated against its type as on creation. Send
    the `ETag` you read as `If-Match`: 412 when the milestone changed since, 428 without it. What you send is
    judged with the milestone as stored (its type, its other fields, the candidate's other milestones): a change
    the stored record makes invalid is a 409 carrying the rule's `code` (e.g. `status_not_allowed` for a
    `completed` exam), and the record is unchanged."""
    m = await service.get_milestone(session, cand, milestone_id)
    return _one(await service.update_milestone(session, cand, m, body, if_match, patch=True))


@router.delete("/{milestone_id}", status_code=204, responses=problem_responses(*DELETE))
async def delete_milestone(session: SessionDep, cand: CandidateDep, milestone_id: uuid.UUID,
                           if_match: IfMatchHeader = None) -> Response:
    """Delete a milestone (`If-Match` required, as for updates). The candidate's computed views change with it."""
    m = await service.get_milestone(session, cand, milestone_id)
    await service.delete_milestone(session, m, if_match)
    return Response(status_code=204)
