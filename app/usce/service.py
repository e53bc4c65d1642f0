from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.models import Candidate
from app.candidates.service import facts_changed
from app.core.crud import delete_versioned, fetch_page, order_clause, update_versioned
from app.core.errors import NotFound, ValidationFailed, field_error
from app.core.pagination import PageParams
from app.usce.models import UsceRecord
from app.usce.schemas import HANDS_ON_BY_DEFAULT, MAX_DAYS, NOT_NULLABLE, UsceCreate, UsceUpdate

SORTABLE = ("start_on", "created_at", "end_on")


async def get_record(session: AsyncSession, cand: Candidate, record_id: uuid.UUID) -> UsceRecord:
    rec = await session.get(UsceRecord, record_id)
    if rec is None or rec.candidate_id != cand.id:
        raise NotFound("USCE record not found.")
    return rec


async def list_records(session: AsyncSession, cand: Candidate, page: PageParams, *, kind: str | None,
                       hands_on: bool | None, sort: str) -> tuple[list[UsceRecord], int]:
    where: list[Any] = [UsceRecord.candidate_id == cand.id]
    if kind is not None:
        where.append(UsceRecord.kind == kind)
    if hands_on is not None:
        where.append(UsceRecord.hands_on == hands_on)
    return await fetch_page(session, UsceRecord, where, order_clause(UsceRecord, sort, SORTABLE), page)


async def create_record(session: AsyncSession, cand: Candidate, data: UsceCreate) -> UsceRecord:
    values = data.model_dump()
    if values["hands_on"] is None:
        values["hands_on"] = HANDS_ON_BY_DEFAULT[values["kind"]]
    rec = UsceRecord(candidate_id=cand.id, **values)
    session.add(rec)
    await facts_changed(session, cand.id)
    await session.commit()
    return rec


async def update_record(session: AsyncSession, rec: UsceRecord, data: UsceUpdate, if_match: str | None
                        ) -> UsceRecord:
    changes = data.model_dump(exclude_unset=True)
    for name in NOT_NULLABLE:
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be cleared.",
                                   errors=[field_error(f"body.{name}", "may not be null", "not_nullable")])
    start = changes.get("start_on", rec.start_on)
    end = changes.get("end_on", rec.end_on)
    if end < start or (end - start).days > MAX_DAYS:
        raise ValidationFailed("end_on must be on or after start_on, within 5 years.",
                               errors=[field_error("body.end_on", "must be on or after start_on (max 5 years)",
                                                   "date_order")])
    await update_versioned(session, rec, changes, if_match)
    await facts_changed(session, rec.candidate_id)
    await session.commit()
    return rec


async def delete_record(session: AsyncSession, rec: UsceRecord, if_match: str | None) -> None:
    await delete_versioned(session, rec, if_match)
    await facts_changed(session, rec.candidate_id)
    await session.commit()
