from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditRecord
from app.audit.writer import flush_coalesced
from app.candidates.models import CandidateRecord
from app.core.crud import fetch_page
from app.core.errors import NotFound
from app.core.models import table_of
from app.core.pagination import PageParams
from app.core.security import Principal


async def list_audit(session: AsyncSession, principal: Principal, organization_id: uuid.UUID, page: PageParams, *,
                     candidate_id: uuid.UUID | None, actor_id: uuid.UUID | None, action: str | None,
                     since: datetime | None, until: datetime | None) -> tuple[list[Any], int]:
    """The organization's audit trail, newest first: advisors of the organization and admins."""
    if not principal.can_see_org(organization_id):
        raise NotFound("Organization not found.")
    await flush_coalesced()  # this process's latest reads first (other processes' within AUDIT_FLUSH_SECONDS)
    t = table_of(AuditRecord)
    where: list[ColumnElement[bool]] = [t.c.organization_id == organization_id]
    if candidate_id is not None:
        where.append(t.c.candidate_id == candidate_id)
    if actor_id is not None:
        where.append(t.c.actor_id == actor_id)
    if action is not None:
        where.append(t.c.action == action)
    if since is not None:
        where.append(t.c.occurred_at >= since)
    if until is not None:
        where.append(t.c.occurred_at < until)
    return await fetch_page(session, AuditRecord, where, [t.c.occurred_at.desc(), t.c.id.desc()], page)


async def list_access_log(session: AsyncSession, cand: CandidateRecord, page: PageParams) -> tuple[list[Any], int]:
    """Who did what with one candidate's record, newest first: for the candidate themself, and their office."""
    await flush_coalesced()
    t = table_of(AuditRecord)
    return await fetch_page(session, AuditRecord, [t.c.candidate_id == cand.id],
                            [t.c.occurred_at.desc(), t.c.id.desc()], page)
