from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
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
from app.core.errors import Conflict, DomainRuleViolation, NotFound, ValidationFailed, field_error
from app.core.http import UpsertOutcome, check_if_match
from app.core.models import new_row
from app.core.pagination import PageParams
from app.milestones.models import Milestone
from app.milestones.schemas import MilestoneCreate, MilestonePublic, MilestoneUpdate
from app.milestones.validation import validate_milestone
from app.pathway.catalogue import by_code

SORTABLE = ("created_at", "completed_on", "scheduled_on", "type_code")
CONFLICTS = {"external_id": ("external_id_taken", "Another milestone of this candidate has this external_id.")}

register_subject(Subject(table="milestone", type="milestone", facts=True,
                         render=lambda m: MilestonePublic.model_validate(m).model_dump(mode="json"),
                         candidate_of=lambda _conn, m: m.candidate_id))


def _today() -> date:
    return datetime.now(UTC).date()


async def _others(session: AsyncSession, candidate_id: uuid.UUID, exclude: uuid.UUID | None
                  ) -> list[tuple[str, str, date | None]]:
    rows = (await session.execute(
        select(col(Milestone.id), col(Milestone.type_code), col(Milestone.status), col(Milestone.completed_on))
        .where(col(Milestone.candidate_id) == candidate_id)
    )).all()
    return [(r.type_code, r.status, r.completed_on) for r in rows if r.id != exclude]


def _clean_result(result: dict[str, Any] | None) -> dict[str, Any] | None:
    if result is None:
        return None
    cleaned = {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in result.items() if v is not None}
    return cleaned or None


async def get_milestone(session: AsyncSession, cand: CandidateRecord, milestone_id: uuid.UUID) -> Milestone:
    m = await session.get(Milestone, milestone_id)
    if m is None or m.candidate_id != cand.id:
        raise NotFound("Milestone not found.")
    return m


async def list_milestones(session: AsyncSession, cand: CandidateRecord, page: PageParams, *, type_code: str | None,
                          status: str | None, sort: str) -> tuple[list[Milestone], int]:
    where: list[Any] = [Milestone.candidate_id == cand.id]
    if type_code is not None:
        where.append(Milestone.type_code == type_code)
    if status is not None:
        where.append(Milestone.status == status)
    return await fetch_page(session, Milestone, where, order_clause(Milestone, sort, SORTABLE), page)


Others = dict[uuid.UUID, tuple[str, str, date | None]]  # the candidate's milestones: type, status, completed_on


def milestone_row(candidate_id: uuid.UUID, data: MilestoneCreate, rest: list[tuple[str, str, date | None]]
                  ) -> dict[str, Any]:
    """A new milestone's row, checked against the candidate's other milestones `rest` (type, status, date)."""
    mt = by_code()[data.type_code.value]
    values = data.model_dump(exclude={"type_code"})
    values["result"] = _clean_result(values.get("result"))
    validate_milestone(mt, values, _today(), rest)
    if mt.kind == "exam" and values["attempt"] is None:
        values["attempt"] = 1 + sum(1 for code, st, _ in rest if code == mt.code and st in ("passed", "failed"))
    return new_row(Milestone, candidate_id=candidate_id, type_code=mt.code, **values)


async def create_milestone(session: AsyncSession, cand: CandidateRecord, data: MilestoneCreate, *,
                           commit: bool | None = True, others: Others | None = None) -> Milestone:
    rest = await _others(session, cand.id, None) if others is None else list(others.values())
    m = Milestone(**milestone_row(cand.id, data, rest))
    session.add(m)
    if others is not None:
        others[m.id] = (m.type_code, m.status, m.completed_on)
    await finish(session, CONFLICTS, commit=commit)
    return m


# A PATCH names no type and may send one field: what it sends is judged with the milestone as stored (its type, its
# other fields, the candidate's other milestones). A refusal that the stored record takes part in is a 409 with the
# rule's code; one the body earns by itself and the date (a completion in the future) stays a 422.
STORED_RECORD_CONFLICT_CODES = frozenset({
    "status_not_allowed", "missing", "not_allowed", "result_not_applicable", "exam_discontinued",
    "step1_pass_fail_only", "attempt_limit_reached"})


async def update_milestone(session: AsyncSession, cand: CandidateRecord, m: Milestone, data: MilestoneUpdate,
                           if_match: str | None, *, commit: bool | None = True, others: Others | None = None,
                           patch: bool = False) -> Milestone:
    """`patch`: the body is a PATCH's (refusals the stored record takes part in are 409s); otherwise a full
    replacement's (an upsert), whose body is judged as it stands."""
    changes = data.model_dump(exclude_unset=True)
    if "status" in changes and changes["status"] is None:
        raise ValidationFailed("status cannot be cleared.",
                               errors=[field_error("body.status", "may not be null", "not_nullable")])
    if patch:  # the precondition before the record as stored is read for the rules (a 428 or 412, not a 409)
        check_if_match(if_match, m.version)
    if "result" in changes:
        changes["result"] = _clean_result(changes["result"])
    merged = {"status": m.status, "attempt": m.attempt, "scheduled_on": m.scheduled_on,
              "completed_on": m.completed_on, "result": m.result, "notes": m.notes, **changes}
    rest = await _others(session, cand.id, m.id) if others is None else [
        v for k, v in others.items() if k != m.id]
    try:
        validate_milestone(by_code()[m.type_code], merged, _today(), rest)
    except (ValidationFailed, DomainRuleViolation) as refused:
        if not patch or refused.code not in STORED_RECORD_CONFLICT_CODES:
            raise
        raise Conflict(f"With the milestone as stored (type {m.type_code}, status {m.status}): {refused.detail}",
                       code=refused.code, errors=refused.errors) from None
    await update_versioned(session, m, changes, if_match, CONFLICTS, flush=commit is not None)
    await finish(session, CONFLICTS, commit=commit)
    if others is not None:
        others[m.id] = (m.type_code, m.status, m.completed_on)
    return m


async def get_by_external_id(session: AsyncSession, cand: CandidateRecord, external_id: str) -> Milestone | None:
    return (await session.execute(select(Milestone).where(
        col(Milestone.candidate_id) == cand.id, col(Milestone.external_id) == external_id))).scalars().first()


async def get_milestone_by_external_id(session: AsyncSession, cand: CandidateRecord, external_id: str) -> Milestone:
    m = await get_by_external_id(session, cand, external_id)
    if m is None:
        raise NotFound("Milestone not found.")
    return m


async def upsert_milestone(session: AsyncSession, cand: CandidateRecord, external_id: str, data: MilestoneCreate,
                           if_match: str | None, *, commit: bool | None = True,
                           known: dict[str, Milestone] | None = None, others: Others | None = None
                           ) -> tuple[Milestone, UpsertOutcome]:
    """Create or replace the milestone your system knows as `external_id` (a full replacement: fields left out
    take their defaults; an attempt left out keeps the one recorded). `known`: the candidate's milestones by
    external id, and `others` all of them, when the caller has loaded them already (an import)."""
    data = data.model_copy(update={"external_id": external_id})  # the upsert body has none: the path names it
    # the body judged as it stands first (as its schema is), so a body the document refuses is a 422 whatever the
    # If-Match says; the candidate's other milestones (the attempt limit) are judged when it is created or replaced
    whole = data.model_dump(exclude={"type_code"})
    validate_milestone(by_code()[data.type_code.value], {**whole, "result": _clean_result(whole["result"])},
                       _today(), [])

    async def replace(m: Milestone) -> bool:
        if m.type_code != data.type_code.value:
            raise Conflict(f"This external_id is a {m.type_code} milestone; a milestone's type cannot change. "
                           "Delete it and create the new one.", code="type_code_immutable")
        values = data.model_dump(exclude={"type_code"})
        if values["attempt"] is None:
            values["attempt"] = m.attempt
        values["result"] = _clean_result(values.get("result"))
        changes = {k: v for k, v in values.items() if getattr(m, k) != v}
        if not changes:
            return False
        await update_milestone(session, cand, m, MilestoneUpdate.model_validate(changes), f'"v{m.version}"',
                               commit=commit, others=others)
        return True

    async def find() -> Milestone | None:
        return known.get(external_id) if known is not None else await get_by_external_id(session, cand, external_id)

    return await upsert(session, if_match=if_match, find=find,
                        create=lambda: create_milestone(session, cand, data, commit=commit, others=others),
                        replace=replace)


async def delete_milestone(session: AsyncSession, m: Milestone, if_match: str | None) -> None:
    await delete_versioned(session, m, if_match)
    await session.commit()
