"""The advisor's cohort view: one summary row per candidate of an organization."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Forbidden, NotFound
from app.core.pagination import PageParams
from app.core.security import Principal, Role
from app.pathway import service
from app.pathway.cohort import cohort_summary
from app.pathway.schemas import ReadinessStatus

C = service.C


class CohortEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    candidate_id: uuid.UUID
    full_name: str
    external_id: str | None
    cycle: int
    as_of: date
    rules_version: str
    status: ReadinessStatus
    score: int
    earliest_feasible_cycle: int | None
    next_step_code: str | None
    next_step_title: str | None
    next_step_due_by: date | None
    blocker_code: str | None
    blocker_detail: str | None


def _row(cand: Any, facts: Any, book: Any, cycle: int | None, as_of: date) -> dict[str, Any]:
    year = cycle
    if year is None:
        target = cand.target_match_year
        year = target if target is not None and book.has(target) else service.resolve_cycle(book, None, None, as_of)
    summary = cohort_summary(facts, book, year, as_of)
    return {"candidate_id": cand.id, "full_name": cand.full_name, "external_id": cand.external_id,
            "cycle": summary.cycle, "as_of": summary.as_of, "rules_version": summary.rules_version,
            "status": summary.status, "score": summary.score,
            "earliest_feasible_cycle": summary.earliest_feasible_cycle, "next_step_code": summary.next_step_code,
            "next_step_title": summary.next_step_title, "next_step_due_by": summary.next_step_due_by,
            "blocker_code": summary.blocker_code, "blocker_detail": summary.blocker_detail}


_SORT_KEYS = {
    "full_name": lambda r: (r["full_name"], str(r["candidate_id"])),
    "score": lambda r: (r["score"], r["full_name"], str(r["candidate_id"])),
    "due": lambda r: (r["next_step_due_by"] or date.max, r["full_name"], str(r["candidate_id"])),
}


async def cohort_page(session: AsyncSession, principal: Principal, organization_id: uuid.UUID, *, page: PageParams,
                      as_of: date, cycle: int | None, status: str | None, sort: str) -> tuple[list[Any], int]:
    if principal.role is Role.candidate:
        raise Forbidden("The cohort view is for advisors and their organization's systems.")
    if not principal.can_see_org(organization_id):
        raise NotFound("Organization not found.")
    book = service.rulebook()
    if cycle is not None:
        service.resolve_cycle(book, cycle, None, as_of)  # 422 for an unsupported cycle
    conn = await session.connection()
    if status is None and sort.lstrip("-") == "full_name":
        # Only this page needs computing: its candidates are known from the names alone.
        total = (await conn.execute(select(func.count()).select_from(C)
                                    .where(C.c.organization_id == organization_id))).scalar_one()
        order = (C.c.full_name.desc(), C.c.id.desc()) if sort.startswith("-") else (C.c.full_name, C.c.id)
        ids = [r.id for r in (await conn.execute(select(C.c.id).where(C.c.organization_id == organization_id)
                                                 .order_by(*order).limit(page.limit).offset(page.offset))).all()]
        if not ids and total == 0:
            await _ensure_org(session, organization_id)
        pairs = await service.load_cohort(session, organization_id, ids)
        rows = [_row(c, f, book, cycle, as_of) for c, f in pairs]
        rows.sort(key=_SORT_KEYS["full_name"], reverse=sort.startswith("-"))
        return rows, int(total)
    await _ensure_org(session, organization_id)
    rows = [_row(c, f, book, cycle, as_of) for c, f in await service.load_cohort(session, organization_id)]
    if status is not None:
        rows = [r for r in rows if r["status"] == status]
    rows.sort(key=_SORT_KEYS[sort.lstrip("-")], reverse=sort.startswith("-"))
    return rows[page.offset:page.offset + page.limit], len(rows)


async def _ensure_org(session: AsyncSession, organization_id: uuid.UUID) -> None:
    from app.accounts.models import Organization

    if await session.get(Organization, organization_id) is None:
        raise NotFound("Organization not found.")
