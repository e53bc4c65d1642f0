from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.accounts.principal import PEOPLE_MANAGERS, PrincipalDep
from app.audit import service
from app.audit.schemas import AuditAction, AuditRecordPublic
from app.candidates.deps import CandidateDep
from app.core.db import SessionDep
from app.core.errors import LIST, READ, problem_responses
from app.core.pagination import Page, PageDep, page_response
from app.core.types import Instant

router = APIRouter(prefix="/organizations/{organization_id}/audit", tags=["audit"])
access_log_router = APIRouter(prefix="/candidates/{candidate_id}/access-log", tags=["audit"])


@router.get("", response_model=Page[AuditRecordPublic], responses=problem_responses(*LIST, 404),
            dependencies=[PEOPLE_MANAGERS])
async def list_audit_records(
    session: SessionDep, principal: PrincipalDep, organization_id: uuid.UUID, page: PageDep,
    candidate_id: Annotated[uuid.UUID | None, Query(description="One candidate's record only.")] = None,
    actor_id: Annotated[uuid.UUID | None, Query(description="One user's or API key's changes only.")] = None,
    action: Annotated[AuditAction | None, Query()] = None,
    since: Annotated[Instant | None, Query(description="From this instant (inclusive).")] = None,
    until: Annotated[Instant | None, Query(description="Before this instant.")] = None,
) -> Response:
    """Who read, changed, exported or disclosed which record of the organization, which fields (names, not
    values), when and from where, and who signed in; newest first. Changes are written by the write hook in their
    own transaction; reads, exports and disclosures are coalesced to one row per principal, candidate and hour and
    written within AUDIT_FLUSH_SECONDS, off the request path. Append-only. Advisors and admins."""
    items, total = await service.list_audit(session, principal, organization_id, page, candidate_id=candidate_id,
                                            actor_id=actor_id, action=action, since=since, until=until)
    return page_response(AuditRecordPublic, items, total, page)


@access_log_router.get("", response_model=Page[AuditRecordPublic], responses=problem_responses(*READ))
async def get_access_log(session: SessionDep, cand: CandidateDep, page: PageDep) -> Response:
    """Who read, created, changed, deleted, exported or disclosed (to a webhook endpoint) this candidate's record
    and its parts, when and from where (newest first): the candidate sees who handled their record; their office
    sees it too. Reads are one row per principal and hour; the candidate's own reads are not listed."""
    items, total = await service.list_access_log(session, cand, page)
    return page_response(AuditRecordPublic, items, total, page)
