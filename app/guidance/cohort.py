"""The advisor's cohort view: one summary row per candidate of an organization."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.service import get_organization
from app.core.pagination import PageParams
from app.core.security import Principal
from app.guidance import service
from app.pathway.cohort import cohort_summary
from app.pathway.rules import RuleBook
from app.pathway.schemas import CohortRowPublic

C = service.C


class CohortEntryPublic(CohortRowPublic):
    """A cohort row with the candidate it is about."""

    candidate_id: uuid.UUID
    full_name: str
    external_id: str | None


def _row(cand: Any, facts: Any, book: RuleBook, year: int, as_of: date) -> dict[str, Any]:
    summary = cohort_summary(facts, book, year, as_of)
    return {**asdict(summary), "candidate_id": cand.id, "full_name": cand.full_name,
            "external_id": cand.external_id}


_SORT_KEYS = {
    "full_name": lambda r: (r["full_name"], str(r["candidate_id"])),
    "score": lambda r: (r["score"], r["full_name"], str(r["candidate_id"])),
    "due": lambda r: (r["next_step_due_by"] or date.max, r["full_name"], str(r["candidate_id"])),
}


async def cohort_page(session: AsyncSession, principal: Principal, organization_id: uuid.UUID, *, page: PageParams,
                      as_of: date | None, cycle: int | None, status: str | None, sort: str
                      ) -> tuple[list[Any], int]:
    """Rows for one page of the cohort. Without `cycle`, each candidate is computed for their own target Match
    year, or the next open cycle when that year has no rule set (one candidate never fails the whole view)."""
    await get_organization(session, principal, organization_id)  # 404 when missing or not theirs
    day = as_of or datetime.now(UTC).date()
    book = service.rulebook()
    fallback = service.resolve_cycle(book, cycle, None, day)  # also the 422 for an unsupported `cycle`

    def year_of(cand: Any) -> int:
        if cycle is not None:
            return cycle
        target = cand.target_match_year
        return target if target is not None and book.has(target) else fallback

    descending = sort.startswith("-")
    if status is None and sort.lstrip("-") == "full_name":
        # Only this page needs computing: its candidates are known from the names alone.
        conn = await session.connection()
        total = (await conn.execute(select(func.count()).select_from(C)
                                    .where(C.c.organization_id == organization_id))).scalar_one()
        order = (C.c.full_name.desc(), C.c.id.desc()) if descending else (C.c.full_name, C.c.id)
        ids = [r.id for r in (await conn.execute(select(C.c.id).where(C.c.organization_id == organization_id)
                                                 .order_by(*order).limit(page.limit).offset(page.offset))).all()]
        rows = [_row(c, f, book, year_of(c), day) for c, f in await service.load_cohort(session, organization_id, ids)]
        rows.sort(key=_SORT_KEYS["full_name"], reverse=descending)
        return rows, int(total)
    rows = [_row(c, f, book, year_of(c), day) for c, f in await service.load_cohort(session, organization_id)]
    if status is not None:
        rows = [r for r in rows if r["status"] == status]
    rows.sort(key=_SORT_KEYS[sort.lstrip("-")], reverse=descending)
    return rows[page.offset:page.offset + page.limit], len(rows)
