"""Programs (a shared catalogue) and each candidate's program lists and their entries."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.candidates.models import Candidate, CandidateRecord
from app.core.changes import Change, Subject, add_sink, register_subject
from app.core.crud import (
    commit_or_conflict,
    delete_versioned,
    fetch_page,
    finish,
    order_clause,
    update_versioned,
    upsert,
)
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from app.core.http import UpsertOutcome, check_if_match
from app.core.models import new_row, table_of
from app.core.pagination import PageParams
from app.core.security import Principal
from app.programs.models import Program, ProgramList, ProgramListEntry
from app.programs.schemas import (
    PROGRAM_NOT_NULLABLE,
    EntryCreate,
    EntryPublic,
    EntryUpdate,
    ProgramCreate,
    ProgramListCreate,
    ProgramListPublic,
    ProgramListUpdate,
    ProgramPublic,
    ProgramUpdate,
)

PROGRAM_CONFLICTS = {
    "acgme_id": ("acgme_id_taken", "A program with this ACGME id exists."),
    "nrmp_code": ("nrmp_code_taken", "A program with this NRMP code exists."),
}
LIST_CONFLICTS = {"name": ("list_name_taken", "You already have a list with this name."),
                  "external_id": ("external_id_taken", "Another program list of this candidate has this external_id.")}
ENTRY_CONFLICTS = {
    "rank_position": ("rank_position_taken", "Another entry of this list has this rank position."),
    "program_id": ("program_already_listed", "This program is already on the list."),
}
PROGRAM_SORTABLE = ("name", "created_at", "state", "specialty")
ENTRY_SORTABLE = ("created_at", "rank_position", "status")


def _not_null(changes: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be cleared.",
                                   errors=[field_error(f"body.{name}", "may not be null", "not_nullable")])


# ---- programs ------------------------------------------------------------------------------------------------

async def get_program(session: AsyncSession, program_id: uuid.UUID) -> Program:
    program = await session.get(Program, program_id)
    if program is None:
        raise NotFound("Program not found.")
    return program


def _may_edit(principal: Principal, program: Program) -> None:
    if principal.is_admin:
        return
    if program.organization_id != principal.organization_id:
        raise Forbidden("Only the organization that added this program (or an admin) may change it.")


async def list_programs(session: AsyncSession, page: PageParams, *, specialty: str | None, state: str | None,
                        visa: str | None, track: str | None, q: str | None, sort: str
                        ) -> tuple[list[Program], int]:
    where: list[Any] = []
    if specialty:
        where.append(Program.specialty == specialty)
    if state:
        where.append(Program.state == state)
    if track:
        where.append(Program.track == track)
    if visa == "j1":
        where.append(col(Program.sponsors_j1).is_(True))
    elif visa == "h1b":
        where.append(col(Program.sponsors_h1b).is_(True))
    if q:
        pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(or_(col(Program.name).ilike(pattern, escape="\\"),
                         col(Program.institution).ilike(pattern, escape="\\")))
    return await fetch_page(session, Program, where, order_clause(Program, sort, PROGRAM_SORTABLE), page)


async def create_program(session: AsyncSession, principal: Principal, data: ProgramCreate) -> Program:
    program = Program(organization_id=principal.organization_id, **data.model_dump())
    session.add(program)
    await commit_or_conflict(session, PROGRAM_CONFLICTS)
    return program


_C = table_of(Candidate)
_E = table_of(ProgramListEntry)
_L = table_of(ProgramList)
# A program's screens are facts of every candidate who has it on a list: a sink of the write hook bumps them all.
_FACTS_CHANGED_BY_PROGRAM = (
    update(_C).where(_C.c.id.in_(select(_L.c.candidate_id).select_from(_E.join(_L, _E.c.list_id == _L.c.id))
                                 .where(_E.c.program_id.in_(bindparam("pids", expanding=True)))))
    .values(facts_version=_C.c.facts_version + 1))


def _program_facts(conn: Connection, changes: list[Change]) -> None:
    pids = [ch.obj.id for ch in changes if ch.subject.table == "program" and ch.kind == "updated"]
    if pids:
        conn.execute(_FACTS_CHANGED_BY_PROGRAM, {"pids": pids})


def _list_owner(conn: Connection, entry: Any) -> uuid.UUID | None:
    return conn.execute(select(_L.c.candidate_id).where(_L.c.id == entry.list_id)).scalar()


register_subject(Subject(table="program", type="program", emits=False, candidate_of=lambda _c, _p: None,
                         render=lambda p: ProgramPublic.model_validate(p).model_dump(mode="json")))
register_subject(Subject(table="program_list", type="program_list", facts=True,
                         render=lambda pl: ProgramListPublic.model_validate(pl).model_dump(mode="json"),
                         candidate_of=lambda _c, pl: pl.candidate_id))
register_subject(Subject(table="program_list_entry", type="program_list_entry", facts=True,
                         render=lambda e: EntryPublic.model_validate(e).model_dump(mode="json"),
                         candidate_of=_list_owner))
add_sink(_program_facts, order=10)


async def update_program(session: AsyncSession, principal: Principal, program: Program, data: ProgramUpdate,
                         if_match: str | None) -> Program:
    _may_edit(principal, program)
    changes = data.model_dump(exclude_unset=True)
    _not_null(changes, PROGRAM_NOT_NULLABLE)
    await update_versioned(session, program, changes, if_match, PROGRAM_CONFLICTS)
    await commit_or_conflict(session, PROGRAM_CONFLICTS)
    return program


async def delete_program(session: AsyncSession, principal: Principal, program: Program,
                         if_match: str | None) -> None:
    _may_edit(principal, program)
    check_if_match(if_match, program.version)
    used = (await session.execute(select(func.count()).select_from(ProgramListEntry)
                                  .where(col(ProgramListEntry.program_id) == program.id))).scalar_one()
    if used:
        raise Conflict(f"The program is on {used} program list(s); remove it from them first.",
                       code="program_in_use")
    await delete_versioned(session, program, if_match)
    await session.commit()


# ---- program lists -------------------------------------------------------------------------------------------

async def get_list(session: AsyncSession, cand: CandidateRecord, list_id: uuid.UUID) -> ProgramList:
    plist = await session.get(ProgramList, list_id)
    if plist is None or plist.candidate_id != cand.id:
        raise NotFound("Program list not found.")
    return plist


async def list_lists(session: AsyncSession, cand: CandidateRecord, page: PageParams) -> tuple[list[ProgramList], int]:
    return await fetch_page(session, ProgramList, [col(ProgramList.candidate_id) == cand.id],
                            [ProgramList.created_at, ProgramList.id], page)


def list_row(candidate_id: uuid.UUID, data: ProgramListCreate) -> dict[str, Any]:
    return new_row(ProgramList, candidate_id=candidate_id, **data.model_dump())


async def create_list(session: AsyncSession, cand: CandidateRecord, data: ProgramListCreate, *,
                      commit: bool | None = True) -> ProgramList:
    plist = ProgramList(**list_row(cand.id, data))
    session.add(plist)
    await finish(session, LIST_CONFLICTS, commit=commit)
    return plist


async def update_list(session: AsyncSession, plist: ProgramList, data: ProgramListUpdate,
                      if_match: str | None, *, commit: bool | None = True) -> ProgramList:
    changes = data.model_dump(exclude_unset=True)
    _not_null(changes, ("name",))
    await update_versioned(session, plist, changes, if_match, LIST_CONFLICTS, flush=commit is not None)
    await finish(session, LIST_CONFLICTS, commit=commit)
    return plist


async def get_list_by_external_id(session: AsyncSession, cand: CandidateRecord, external_id: str) -> ProgramList | None:
    return (await session.execute(select(ProgramList).where(
        col(ProgramList.candidate_id) == cand.id, col(ProgramList.external_id) == external_id))).scalars().first()


async def get_list_by_external_id_or_404(session: AsyncSession, cand: CandidateRecord, external_id: str) -> ProgramList:
    plist = await get_list_by_external_id(session, cand, external_id)
    if plist is None:
        raise NotFound("Program list not found.")
    return plist


async def upsert_list(session: AsyncSession, cand: CandidateRecord, external_id: str, data: ProgramListCreate,
                      if_match: str | None, *, commit: bool | None = True,
                      known: dict[str, ProgramList] | None = None) -> tuple[ProgramList, UpsertOutcome]:
    """Create or replace the program list your system knows as `external_id` (its entries are left as they are).
    `known`: the candidate's lists by external id, when the caller has loaded them already (an import)."""
    data = data.model_copy(update={"external_id": external_id})  # the upsert body has none: the path names it

    async def replace(plist: ProgramList) -> bool:
        changes = {k: v for k, v in data.model_dump().items() if getattr(plist, k) != v}
        if not changes:
            return False
        await update_list(session, plist, ProgramListUpdate.model_validate(changes), f'"v{plist.version}"',
                          commit=commit)
        return True

    async def find() -> ProgramList | None:
        if known is not None:
            return known.get(external_id)
        return await get_list_by_external_id(session, cand, external_id)

    return await upsert(session, if_match=if_match, find=find,
                        create=lambda: create_list(session, cand, data, commit=commit), replace=replace)


async def delete_list(session: AsyncSession, plist: ProgramList, if_match: str | None) -> None:
    await delete_versioned(session, plist, if_match)
    await session.commit()


# ---- entries -------------------------------------------------------------------------------------------------

async def get_entry(session: AsyncSession, plist: ProgramList, entry_id: uuid.UUID) -> ProgramListEntry:
    entry = await session.get(ProgramListEntry, entry_id)
    if entry is None or entry.list_id != plist.id:
        raise NotFound("Entry not found.")
    return entry


async def list_entries(session: AsyncSession, plist: ProgramList, page: PageParams, *, status: str | None,
                       sort: str) -> tuple[list[ProgramListEntry], int]:
    where: list[Any] = [ProgramListEntry.list_id == plist.id]
    if status:
        where.append(ProgramListEntry.status == status)
    return await fetch_page(session, ProgramListEntry, where,
                            order_clause(ProgramListEntry, sort, ENTRY_SORTABLE), page)


async def create_entry(session: AsyncSession, plist: ProgramList, data: EntryCreate) -> ProgramListEntry:
    if await session.get(Program, data.program_id) is None:
        raise NotFound("No such program.", errors=[
            field_error("body.program_id", "unknown program", "unknown")])
    entry = ProgramListEntry(list_id=plist.id, **data.model_dump())
    session.add(entry)
    await commit_or_conflict(session, ENTRY_CONFLICTS)
    return entry


async def update_entry(session: AsyncSession, plist: ProgramList, entry: ProgramListEntry, data: EntryUpdate,
                       if_match: str | None) -> ProgramListEntry:
    changes = data.model_dump(exclude_unset=True)
    _not_null(changes, ("status",))
    await update_versioned(session, entry, changes, if_match, ENTRY_CONFLICTS)
    await commit_or_conflict(session, ENTRY_CONFLICTS)
    return entry


async def delete_entry(session: AsyncSession, plist: ProgramList, entry: ProgramListEntry, if_match: str | None
                       ) -> None:
    await delete_versioned(session, entry, if_match)
    await session.commit()
