from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from app.accounts.principal import STAFF, PrincipalDep
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
from app.core.types import NO_NUL, Specialty, StateCode
from app.programs import service
from app.programs.deps import ProgramDep, ProgramListDep
from app.programs.models import Program, ProgramList, ProgramListEntry
from app.programs.schemas import (
    EntryCreate,
    EntryPublic,
    EntrySort,
    EntryStatus,
    EntryUpdate,
    ProgramCreate,
    ProgramListCreate,
    ProgramListPublic,
    ProgramListUpdate,
    ProgramListUpsert,
    ProgramPublic,
    ProgramSort,
    ProgramUpdate,
    Track,
)

router = APIRouter(prefix="/programs", tags=["programs"])
lists_router = APIRouter(prefix="/candidates/{candidate_id}/program-lists", tags=["program-lists"])


def _program(p: Program, status_code: int = 200, location: bool = False) -> Response:
    return json_response(ProgramPublic.model_validate(p), status_code=status_code, etag_version=p.version,
                         location=f"/v1/programs/{p.id}" if location else None)


@router.get("", response_model=Page[ProgramPublic], responses=problem_responses(401, 422, 503))
async def list_programs(
    session: SessionDep, _: PrincipalDep, page: PageDep,
    specialty: Annotated[Specialty | None, Query()] = None,
    state: Annotated[StateCode | None, Query()] = None,
    visa: Annotated[Literal["j1", "h1b"] | None, Query(description="Only programs sponsoring this visa.")] = None,
    track: Annotated[Track | None, Query()] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100, pattern=NO_NUL)] = None,
    sort: Annotated[ProgramSort, Query()] = "name",
) -> Response:
    """The program catalogue, readable by everyone signed in."""
    items, total = await service.list_programs(session, page, specialty=specialty, state=state, visa=visa,
                                               track=track, q=q, sort=sort)
    return page_response(ProgramPublic, items, total, page)


@router.post("", status_code=201, response_model=ProgramPublic, responses=problem_responses(*WRITE_BODY),
             dependencies=[STAFF])
async def create_program(session: SessionDep, principal: PrincipalDep, body: ProgramCreate,
                         idempotency_key: IdempotencyKeyHeader = None) -> Response:
    """Add a program with its screening criteria, their source and as-of date (admins and organizations)."""
    return _program(await service.create_program(session, principal, body), 201, location=True)


@router.get("/{program_id}", response_model=ProgramPublic, responses=problem_responses(*READ))
async def get_program(program: ProgramDep) -> Response:
    """One program of the catalogue, with its `ETag`."""
    return _program(program)


@router.patch("/{program_id}", response_model=ProgramPublic, responses=problem_responses(*UPDATE), dependencies=[STAFF])
async def update_program(session: SessionDep, principal: PrincipalDep, program: ProgramDep, body: ProgramUpdate,
                         if_match: IfMatchHeader = None) -> Response:
    """Change a program of the catalogue: admins any, an organization the programs it added (403 otherwise).
    Send the `ETag` you read as `If-Match`: 412 when the program changed since, 428 without it."""
    return _program(await service.update_program(session, principal, program, body, if_match))


@router.delete("/{program_id}", status_code=204, responses=problem_responses(*DELETE), dependencies=[STAFF])
async def delete_program(session: SessionDep, principal: PrincipalDep, program: ProgramDep,
                         if_match: IfMatchHeader = None) -> Response:
    """Delete a program that is on no list (409 `program_in_use` otherwise)."""
    await service.delete_program(session, principal, program, if_match)
    return Response(status_code=204)


# ---- program lists -------------------------------------------------------------------------------------------

def _plist(pl: ProgramList, status_code: int = 200, location: bool = False) -> Response:
    return json_response(ProgramListPublic.model_validate(pl), status_code=status_code, etag_version=pl.version,
                         location=f"/v1/candidates/{pl.candidate_id}/program-lists/{pl.id}" if location else None)


@lists_router.get("", response_model=Page[ProgramListPublic], responses=problem_responses(*LIST, 404))
async def list_program_lists(session: SessionDep, cand: CandidateDep, page: PageDep) -> Response:
    """The candidate's program lists (each named, and for one Match cycle), one page at a time."""
    items, total = await service.list_lists(session, cand, page)
    return page_response(ProgramListPublic, items, total, page)


@lists_router.post("", status_code=201, response_model=ProgramListPublic, responses=problem_responses(*WRITE_BODY))
async def create_program_list(session: SessionDep, cand: CandidateDep, body: ProgramListCreate,
                              idempotency_key: IdempotencyKeyHeader = None) -> Response:
    """Start a program list for the candidate; add programs to it as entries."""
    return _plist(await service.create_list(session, cand, body), 201, location=True)


@lists_router.put("/by-external-id/{external_id}", response_model=ProgramListPublic,
                  responses=upsert_responses(ProgramListPublic))
async def upsert_program_list_by_external_id(session: SessionDep, cand: CandidateDep, external_id: ExternalIdPath,
                                             body: ProgramListUpsert, if_match: IfMatchHeader = None) -> Response:
    """Idempotent upsert for your system: the same body twice is one list, the second answer `unchanged`
    (header `Upsert-Result`). Replaces the list's own fields; its entries stay."""
    pl, outcome = await service.upsert_list(session, cand, external_id, body, if_match)
    return upserted(_plist(pl), outcome, f"/v1/candidates/{pl.candidate_id}/program-lists/{pl.id}")


@lists_router.get("/by-external-id/{external_id}", response_model=ProgramListPublic,
                  responses=problem_responses(*READ))
async def get_program_list_by_external_id(session: SessionDep, cand: CandidateDep, external_id: ExternalIdPath
                                          ) -> Response:
    """The program list your system knows as `external_id` (see the `PUT` of the same path)."""
    return _plist(await service.get_list_by_external_id_or_404(session, cand, external_id))


@lists_router.get("/{list_id}", response_model=ProgramListPublic, responses=problem_responses(*READ))
async def get_program_list(plist: ProgramListDep) -> Response:
    """One program list, with its `ETag`."""
    return _plist(plist)


@lists_router.patch("/{list_id}", response_model=ProgramListPublic, responses=problem_responses(*UPDATE))
async def update_program_list(session: SessionDep, plist: ProgramListDep, body: ProgramListUpdate,
                              if_match: IfMatchHeader = None) -> Response:
    """Change some of a program list's fields. Send the `ETag` you read as `If-Match`: 412 when the list
    changed since, 428 without it."""
    return _plist(await service.update_list(session, plist, body, if_match))


@lists_router.delete("/{list_id}", status_code=204, responses=problem_responses(*DELETE))
async def delete_program_list(session: SessionDep, plist: ProgramListDep, if_match: IfMatchHeader = None
                              ) -> Response:
    """Delete the list and its entries."""
    await service.delete_list(session, plist, if_match)
    return Response(status_code=204)


def _entry(e: ProgramListEntry, cand_id: uuid.UUID, status_code: int = 200, location: bool = False) -> Response:
    return json_response(EntryPublic.model_validate(e), status_code=status_code, etag_version=e.version,
                         location=f"/v1/candidates/{cand_id}/program-lists/{e.list_id}/entries/{e.id}"
                         if location else None)


@lists_router.get("/{list_id}/entries", response_model=Page[EntryPublic], responses=problem_responses(*LIST, 404))
async def list_entries(session: SessionDep, plist: ProgramListDep, page: PageDep,
                       status: Annotated[EntryStatus | None, Query()] = None,
                       sort: Annotated[EntrySort, Query()] = "created_at") -> Response:
    """The programs on the list, with each entry's status, filtered by `status`, one page at a time."""
    items, total = await service.list_entries(session, plist, page, status=status, sort=sort)
    return page_response(EntryPublic, items, total, page)


@lists_router.post("/{list_id}/entries", status_code=201, response_model=EntryPublic,
                   responses=problem_responses(*WRITE_BODY))
async def create_entry(session: SessionDep, plist: ProgramListDep, body: EntryCreate,
                       idempotency_key: IdempotencyKeyHeader = None) -> Response:
    """Add a program to the list (once per list; rank positions unique within the list)."""
    return _entry(await service.create_entry(session, plist, body), plist.candidate_id, 201, location=True)


@lists_router.get("/{list_id}/entries/{entry_id}", response_model=EntryPublic, responses=problem_responses(*READ))
async def get_entry(session: SessionDep, plist: ProgramListDep, entry_id: uuid.UUID) -> Response:
    """One entry of the list, with its `ETag`."""
    return _entry(await service.get_entry(session, plist, entry_id), plist.candidate_id)


@lists_router.patch("/{list_id}/entries/{entry_id}", response_model=EntryPublic, responses=problem_responses(*UPDATE))
async def update_entry(session: SessionDep, plist: ProgramListDep, entry_id: uuid.UUID, body: EntryUpdate,
                       if_match: IfMatchHeader = None) -> Response:
    """Change an entry: its status, signal, rank position or notes. Send the `ETag` you read as `If-Match`: 412
    when the entry changed since, 428 without it."""
    entry = await service.get_entry(session, plist, entry_id)
    return _entry(await service.update_entry(session, plist, entry, body, if_match), plist.candidate_id)


@lists_router.delete("/{list_id}/entries/{entry_id}", status_code=204, responses=problem_responses(*DELETE))
async def delete_entry(session: SessionDep, plist: ProgramListDep, entry_id: uuid.UUID,
                       if_match: IfMatchHeader = None) -> Response:
    """Take a program off the list (`If-Match` required, as for updates)."""
    entry = await service.get_entry(session, plist, entry_id)
    await service.delete_entry(session, plist, entry, if_match)
    return Response(status_code=204)
