from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.candidates.models import CandidateRecord
from app.core.changes import Subject, register_subject
from app.core.crud import (
    delete_versioned,
    fetch_page,
    finish,
    order_clause,
    update_versioned,
    upsert,
)
from app.core.errors import Conflict, NotFound, ValidationFailed, field_error
from app.core.http import UpsertOutcome, check_if_match
from app.core.models import new_row
from app.core.pagination import PageParams
from app.usce.models import UsceRecord
from app.usce.schemas import HANDS_ON_BY_DEFAULT, MAX_DAYS, NOT_NULLABLE, UsceCreate, UscePublic, UsceUpdate

SORTABLE = ("start_on", "created_at", "end_on")
CONFLICTS = {"external_id": ("external_id_taken", "Another USCE record of this candidate has this external_id.")}

register_subject(Subject(table="usce_record", type="usce_record", facts=True,
                         render=lambda r: UscePublic.model_validate(r).model_dump(mode="json"),
                         candidate_of=lambda _conn, r: r.candidate_id))


async def get_record(session: AsyncSession, cand: CandidateRecord, record_id: uuid.UUID) -> UsceRecord:
    rec = await session.get(UsceRecord, record_id)
    if rec is None or rec.candidate_id != cand.id:
        raise NotFound("USCE record not found.")
    return rec


async def list_records(session: AsyncSession, cand: CandidateRecord, page: PageParams, *, kind: str | None,
                       hands_on: bool | None, sort: str) -> tuple[list[UsceRecord], int]:
    where: list[Any] = [UsceRecord.candidate_id == cand.id]
    if kind is not None:
        where.append(UsceRecord.kind == kind)
    if hands_on is not None:
        where.append(UsceRecord.hands_on == hands_on)
    return await fetch_page(session, UsceRecord, where, order_clause(UsceRecord, sort, SORTABLE), page)


def record_row(candidate_id: uuid.UUID, data: UsceCreate) -> dict[str, Any]:
    values = data.model_dump()
    if values["hands_on"] is None:
        values["hands_on"] = HANDS_ON_BY_DEFAULT[values["kind"]]
    return new_row(UsceRecord, candidate_id=candidate_id, **values)


async def create_record(session: AsyncSession, cand: CandidateRecord, data: UsceCreate, *,
                        commit: bool | None = True) -> UsceRecord:
    rec = UsceRecord(**record_row(cand.id, data))
    session.add(rec)
    await finish(session, CONFLICTS, commit=commit)
    return rec


async def update_record(session: AsyncSession, rec: UsceRecord, data: UsceUpdate, if_match: str | None, *,
                        commit: bool | None = True) -> UsceRecord:
    changes = data.model_dump(exclude_unset=True)
    for name in NOT_NULLABLE:
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be cleared.",
                                   errors=[field_error(f"body.{name}", "may not be null", "not_nullable")])
    start = changes.get("start_on", rec.start_on)
    end = changes.get("end_on", rec.end_on)
    if end < start or (end - start).days > MAX_DAYS:
        errors = [field_error("body.end_on" if "end_on" in changes else "body.start_on",
                              "must be on or after start_on (max 5 years)", "date_order")]
        if {"start_on", "end_on"} <= changes.keys():  # the body by itself
            raise ValidationFailed("end_on must be on or after start_on, within 5 years.", errors=errors)
        check_if_match(if_match, rec.version)  # the precondition before the stored record's part
        raise Conflict(f"With the record as stored (start_on {start.isoformat()}, end_on {end.isoformat()}), end_on "
                       "would not be on or after start_on within 5 years.", code="date_order", errors=errors)
    await update_versioned(session, rec, changes, if_match, CONFLICTS, flush=commit is not None)
    await finish(session, CONFLICTS, commit=commit)
    return rec


async def get_by_external_id(session: AsyncSession, cand: CandidateRecord, external_id: str) -> UsceRecord | None:
    return (await session.execute(select(UsceRecord).where(
        col(UsceRecord.candidate_id) == cand.id, col(UsceRecord.external_id) == external_id))).scalars().first()


async def get_record_by_external_id(session: AsyncSession, cand: CandidateRecord, external_id: str) -> UsceRecord:
    rec = await get_by_external_id(session, cand, external_id)
    if rec is None:
        raise NotFound("USCE record not found.")
    return rec


async def upsert_record(session: AsyncSession, cand: CandidateRecord, external_id: str, data: UsceCreate,
                        if_match: str | None, *, commit: bool | None = True,
                        known: dict[str, UsceRecord] | None = None) -> tuple[UsceRecord, UpsertOutcome]:
    """Create or replace the USCE record your system knows as `external_id` (fields left out take defaults).
    `known`: the candidate's records by external id, when the caller has loaded them already (an import)."""
    data = data.model_copy(update={"external_id": external_id})  # the upsert body has none: the path names it

    async def replace(rec: UsceRecord) -> bool:
        values = data.model_dump()
        if values["hands_on"] is None:
            values["hands_on"] = HANDS_ON_BY_DEFAULT[values["kind"]]
        changes = {k: v for k, v in values.items() if getattr(rec, k) != v}
        if not changes:
            return False
        await update_record(session, rec, UsceUpdate.model_validate(changes), f'"v{rec.version}"', commit=commit)
        return True

    async def find() -> UsceRecord | None:
        return known.get(external_id) if known is not None else await get_by_external_id(session, cand, external_id)

    return await upsert(session, if_match=if_match, find=find,
                        create=lambda: create_record(session, cand, data, commit=commit), replace=replace)


async def delete_record(session: AsyncSession, rec: UsceRecord, if_match: str | None) -> None:
    await delete_versioned(session, rec, if_match)
    await session.commit()
