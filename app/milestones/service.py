from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.models import Candidate
from app.candidates.service import facts_changed
from app.core.crud import delete_versioned, fetch_page, order_clause, update_versioned
from app.core.errors import NotFound, ValidationFailed, field_error
from app.core.pagination import PageParams
from app.milestones.models import Milestone
from app.milestones.schemas import MilestoneCreate, MilestoneUpdate
from app.milestones.validation import validate_milestone
from app.pathway.catalogue import by_code

SORTABLE = ("created_at", "completed_on", "scheduled_on", "type_code")


def _today() -> date:
    return datetime.now(UTC).date()


async def _others(session: AsyncSession, candidate_id: uuid.UUID, exclude: uuid.UUID | None
                  ) -> list[tuple[str, str, date | None]]:
    rows = (await session.execute(
        select(Milestone.id, Milestone.type_code, Milestone.status, Milestone.completed_on)
        .where(Milestone.candidate_id == candidate_id)
    )).all()
    return [(r.type_code, r.status, r.completed_on) for r in rows if r.id != exclude]


def _clean_result(result: dict[str, Any] | None) -> dict[str, Any] | None:
    if result is None:
        return None
    cleaned = {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in result.items() if v is not None}
    return cleaned or None


async def get_milestone(session: AsyncSession, cand: Candidate, milestone_id: uuid.UUID) -> Milestone:
    m = await session.get(Milestone, milestone_id)
    if m is None or m.candidate_id != cand.id:
        raise NotFound("Milestone not found.")
    return m


async def list_milestones(session: AsyncSession, cand: Candidate, page: PageParams, *, type_code: str | None,
                          status: str | None, sort: str) -> tuple[list[Milestone], int]:
    where: list[Any] = [Milestone.candidate_id == cand.id]
    if type_code is not None:
        where.append(Milestone.type_code == type_code)
    if status is not None:
        where.append(Milestone.status == status)
    return await fetch_page(session, Milestone, where, order_clause(Milestone, sort, SORTABLE), page)


async def create_milestone(session: AsyncSession, cand: Candidate, data: MilestoneCreate) -> Milestone:
    mt = by_code()[data.type_code.value]
    values = data.model_dump(exclude={"type_code"})
    values["result"] = _clean_result(values.get("result"))
    others = await _others(session, cand.id, None)
    validate_milestone(mt, values, _today(), others)
    if mt.kind == "exam" and values["attempt"] is None:
        values["attempt"] = 1 + sum(1 for code, st, _ in others if code == mt.code and st in ("passed", "failed"))
    m = Milestone(candidate_id=cand.id, type_code=mt.code, **values)
    session.add(m)
    await facts_changed(session, cand.id)
    await session.commit()
    return m


async def update_milestone(session: AsyncSession, cand: Candidate, m: Milestone, data: MilestoneUpdate,
                           if_match: str | None) -> Milestone:
    changes = data.model_dump(exclude_unset=True)
    if "status" in changes and changes["status"] is None:
        raise ValidationFailed("status cannot be cleared.",
                               errors=[field_error("body.status", "may not be null", "not_nullable")])
    if "result" in changes:
        changes["result"] = _clean_result(changes["result"])
    merged = {"status": m.status, "attempt": m.attempt, "scheduled_on": m.scheduled_on,
              "completed_on": m.completed_on, "result": m.result, "notes": m.notes, **changes}
    validate_milestone(by_code()[m.type_code], merged, _today(), await _others(session, cand.id, m.id))
    await update_versioned(session, m, changes, if_match)
    await facts_changed(session, m.candidate_id)
    await session.commit()
    return m


async def delete_milestone(session: AsyncSession, m: Milestone, if_match: str | None) -> None:
    await delete_versioned(session, m, if_match)
    await facts_changed(session, m.candidate_id)
    await session.commit()
