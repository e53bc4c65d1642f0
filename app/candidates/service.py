"""Candidates: the record every other resource hangs from. Access is decided by `Principal` in one place."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.accounts.models import Organization, User
from app.accounts.service import CandidateDirectory, set_candidate_directory
from app.candidates.models import Candidate, CandidateRecord
from app.candidates.schemas import (
    NOT_NULLABLE,
    CandidateCreate,
    CandidatePublic,
    CandidateUpdate,
    CandidateUpsert,
)
from app.core.changes import Change, Subject, add_sink, register_subject, set_organization_resolver
from app.core.coalesced import accesses
from app.core.crud import commit_or_conflict, delete_versioned, finish, update_versioned, upsert
from app.core.errors import (
    Conflict,
    DomainRuleViolation,
    Forbidden,
    NotFound,
    ValidationFailed,
    field_error,
)
from app.core.http import UpsertOutcome, check_if_match
from app.core.idempotency import forget_idempotency_for
from app.core.models import new_row, table_of
from app.core.pagination import PageParams
from app.core.reads import SQLITE, JsonLister, TypedRead, dialect, placeholder, read
from app.core.security import Principal, Role

CONFLICTS = {
    "usmle_id": ("usmle_id_taken", "Another candidate has this USMLE ID."),
    "external_id": ("external_id_taken", "Another candidate of this organization has this external_id."),
}
SORTABLE = ("created_at", "full_name", "target_match_year", "updated_at")


_TABLE = table_of(Candidate)
# Every candidate-scoped request loads the candidate: the hottest read of the service (see app.core.reads).
_BY_ID = TypedRead(select(_TABLE).where(_TABLE.c.id == bindparam("id")))


async def get_candidate(principal: Principal, candidate_id: uuid.UUID) -> CandidateRecord:
    """The candidate as a read-only row, or 404 whether it is missing or simply not the caller's.

    A short read of its own: every candidate-scoped request starts here, and most of them are reads that then
    need nothing else, or only their own session."""
    rows = (await read((_BY_ID, {"id": candidate_id})))[0]
    row = rows[0] if rows else None
    if row is None or not principal.can_see_candidate(row.organization_id, row.id):
        raise NotFound("Candidate not found.")
    return row


# Pages of candidates as JSON written by the database (see app.core.reads): more than twice as fast as rendering
# each row (bench/read_costs.py --path page50); a single candidate is rendered by its model, as every other
# resource is (the JSON projection won less than 10% there).
_LISTER = JsonLister(_TABLE, CandidatePublic)


def _public(cand: CandidateRecord) -> dict[str, Any]:
    return CandidatePublic.model_validate(cand).model_dump(mode="json")


def _bump_facts(conn: Connection, changes: list[Change]) -> None:
    """A sink of the write hook: something the computed views read besides the candidate row changed (a
    milestone, a USCE record, a program list or entry): bump `facts_version` in the same transaction, so no
    answer cached under the old one is served again, by any worker."""
    ids = {ch.candidate_id for ch in changes if ch.subject.facts and ch.candidate_id is not None}
    if ids:
        conn.execute(update(_TABLE).where(_TABLE.c.id.in_(ids)).values(facts_version=_TABLE.c.facts_version + 1))


def _organizations(conn: Connection, ids: set[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    rows = conn.execute(select(_TABLE.c.id, _TABLE.c.organization_id).where(_TABLE.c.id.in_(ids)))
    return {r.id: r.organization_id for r in rows}


register_subject(Subject(table="candidate", type="candidate", render=_public, candidate_of=lambda _c, o: o.id,
                         organization_of=lambda o: o.organization_id, personal=True))
set_organization_resolver(_organizations)
add_sink(_bump_facts, order=10)


async def _organization_of(session: AsyncSession, candidate_id: uuid.UUID) -> uuid.UUID | None:
    cand = await session.get(Candidate, candidate_id)
    return cand.organization_id if cand is not None else None


async def _count_in(session: AsyncSession, organization_id: uuid.UUID) -> int:
    query = select(func.count()).select_from(Candidate).where(
        col(Candidate.organization_id) == organization_id)
    return int((await session.execute(query)).scalar_one())


set_candidate_directory(CandidateDirectory(organization_of=_organization_of, count_in=_count_in))


async def _load_for_write(session: AsyncSession, cand: CandidateRecord) -> Candidate:
    obj = await session.get(Candidate, cand.id)
    if obj is None:  # deleted since the dependency read it
        raise NotFound("Candidate not found.")
    return obj


# A US citizen or permanent resident needs no visa. Within one request body the document states the rule
# (`VISA_RULE` in the schemas), so a body that breaks it is a 422; a change that breaks it only together with
# what is stored (a PATCH of one side) conflicts with the record's state: a 409 with the same code.
_NO_VISA = {"citizen": ("A US citizen needs no visa; set visa_need to none.", "must be none for US citizens"),
            "permanent_resident": ("A US permanent resident needs no visa for residency; set visa_need to none.",
                                   "must be none for permanent residents")}


def _check_consistency(values: dict[str, Any], stored: dict[str, Any] | None = None) -> None:
    """`values`: the request's fields; `stored`: the record's, for a change of some of them."""
    if stored is not None and not {"us_status", "visa_need"} & values.keys():
        return
    merged = {**(stored or {}), **values}
    status = merged.get("us_status")
    if status not in _NO_VISA or merged.get("visa_need", "none") == "none":
        return
    detail, message = _NO_VISA[status]
    errors = [field_error("body.visa_need" if "visa_need" in values else "body.us_status", message,
                          "visa_not_needed")]
    if stored is None or ("us_status" in values and "visa_need" in values):
        raise DomainRuleViolation(detail, code="visa_not_needed", errors=errors)
    other = "visa_need" if "us_status" in values else "us_status"
    raise Conflict(f"{detail} The record's {other} is {merged[other]}.", code="visa_not_needed", errors=errors)


def _escape_like(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _order(sort: str) -> str:
    """`sort` is a field name from the allow-list, `-` for descending; ties broken by id for a stable order.
    Candidates without a value come last either way, on both databases."""
    name = sort.lstrip("-")
    if name not in SORTABLE:  # guarded by the route's Literal type too
        name = SORTABLE[0]
    way = "DESC" if sort.startswith("-") else "ASC"
    nulls = " NULLS LAST" if _TABLE.c[name].nullable else ""
    return f"candidate.{name} {way}{nulls}, candidate.id {way}"


async def list_candidates(
    principal: Principal, page: PageParams, *, organization_id: uuid.UUID | None,
    target_match_year: int | None, us_status: str | None, visa_need: str | None, q: str | None, sort: str,
    external_id: str | None = None, updated_since: datetime | None = None,
) -> tuple[bytes, int]:
    """One page of the candidates the caller may see, as a JSON array, and the total."""
    d = dialect()
    where: list[str] = []
    params: dict[str, Any] = {}

    def equals(column: str, value: Any) -> None:
        where.append(f"candidate.{column} = {placeholder(d, column)}")
        params[column] = value

    if principal.organization_id is not None and organization_id not in (None, principal.organization_id):
        return b"[]", 0  # not theirs: nothing to see
    if principal.role is Role.candidate:
        equals("id", principal.candidate_id)
    elif not principal.is_admin:
        equals("organization_id", principal.organization_id)
    elif organization_id is not None:
        equals("organization_id", organization_id)
    if target_match_year is not None:
        equals("target_match_year", target_match_year)
    if us_status is not None:
        equals("us_status", us_status)
    if visa_need is not None:
        equals("visa_need", visa_need)
    if external_id is not None:
        equals("external_id", external_id)
    if updated_since is not None:
        where.append(f"candidate.updated_at >= {placeholder(d, 'updated_since')}")
        params["updated_since"] = updated_since
    if q:
        params["q"] = f"%{_escape_like(q.lower())}%"
        if d == SQLITE:  # SQLite's LIKE ignores ASCII case, as ILIKE does
            where.append("(lower(candidate.full_name) LIKE :q ESCAPE '\\' OR lower(candidate.email) LIKE :q "
                         "ESCAPE '\\')")
        else:
            where.append("(candidate.full_name ILIKE %(q)s ESCAPE '\\' OR candidate.email ILIKE %(q)s "
                         "ESCAPE '\\')")
    items, total, ids = await _LISTER.page_with_ids(tuple(where), _order(sort), params, page.limit, page.offset)
    accesses.note("read", ids)  # each record on the page, for the audit trail
    return items, total


async def _resolve_org(session: AsyncSession, principal: Principal, requested: uuid.UUID | None) -> uuid.UUID:
    if principal.is_admin:
        if requested is None:
            raise ValidationFailed("Admins must say which organization the candidate belongs to.", errors=[
                field_error("body.organization_id", "required for admins", "missing")])
        if await session.get(Organization, requested) is None:
            raise NotFound("No such organization.", errors=[
                field_error("body.organization_id", "unknown organization", "unknown")])
        return requested
    assert principal.organization_id is not None
    if requested is not None and requested != principal.organization_id:
        # a 403 whether or not that organization exists: the answer says nothing of other organizations
        raise Forbidden("You can create candidates only in your own organization: leave organization_id out, or "
                        "send your own.", code="other_organization", errors=[
                            field_error("body.organization_id", "not your organization", "other_organization")])
    return principal.organization_id


async def create_candidate(session: AsyncSession, principal: Principal, data: CandidateCreate) -> Candidate:
    org_id = await _resolve_org(session, principal, data.organization_id)
    values = data.model_dump(exclude={"organization_id"})
    _check_consistency(values)
    cand = Candidate(organization_id=org_id, **values)
    session.add(cand)
    await commit_or_conflict(session, CONFLICTS)
    return cand


async def update_candidate(session: AsyncSession, principal: Principal, row: CandidateRecord, data: CandidateUpdate,
                           if_match: str | None) -> Candidate:
    cand = await _load_for_write(session, row)
    changes = data.model_dump(exclude_unset=True)
    for name in NOT_NULLABLE:
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be cleared.",
                                   errors=[field_error(f"body.{name}", "may not be null", "not_nullable")])
    if principal.role is Role.candidate and "external_id" in changes:
        raise Forbidden("external_id is managed by your organization.")
    if {"us_status", "visa_need"} <= changes.keys():
        _check_consistency(changes)  # the body by itself (a 422), before the precondition as the schema is
    check_if_match(if_match, cand.version)  # then the precondition (428, 412), before the stored record's part (409)
    _check_consistency(changes, {"us_status": cand.us_status, "visa_need": cand.visa_need})
    await update_versioned(session, cand, changes, if_match, CONFLICTS)
    await commit_or_conflict(session, CONFLICTS)
    return cand


async def delete_candidate(session: AsyncSession, principal: Principal, row: CandidateRecord,
                           if_match: str | None) -> None:
    cand = await _load_for_write(session, row)
    users = (await session.execute(select(col(User.id)).where(col(User.candidate_id) == cand.id))).scalars().all()
    await delete_versioned(session, cand, if_match)  # their account goes with it (a cascade)
    # The replays of their data go too, each leaving a tombstone: retrying the request that created the record
    # is refused, not run again to create it anew (erasure, app.privacy.erasure, leaves none).
    await forget_idempotency_for(session, candidate_id=cand.id, user_ids=users, tombstones=True)
    await session.commit()


async def get_by_external_id(session: AsyncSession, principal: Principal, external_id: str) -> Candidate:
    """The candidate of the caller's organization known as `external_id`, or 404."""
    if principal.organization_id is None or principal.role is Role.candidate:
        raise NotFound("Candidate not found.")  # admins and candidates have no organization's ids to look up
    cand = await _find_by_external_id(session, principal.organization_id, external_id)
    if cand is None:
        raise NotFound("Candidate not found.")
    return cand


async def _find_by_external_id(session: AsyncSession, organization_id: uuid.UUID, external_id: str
                               ) -> Candidate | None:
    return (await session.execute(select(Candidate).where(
        col(Candidate.organization_id) == organization_id,
        col(Candidate.external_id) == external_id))).scalars().first()


async def upsert_by_external_id(session: AsyncSession, principal: Principal, external_id: str,
                                data: CandidateUpsert, if_match: str | None) -> tuple[Candidate, UpsertOutcome]:
    """Create or replace the candidate your system knows as `external_id`."""
    assert principal.organization_id is not None  # the route takes an organization's advisors and systems
    return await apply_by_external_id(session, principal.organization_id, external_id, data, if_match)


def candidate_row(organization_id: uuid.UUID, external_id: str, data: CandidateUpsert) -> dict[str, Any]:
    """A new candidate's row, for a caller that writes many at once (an import); checked as a create is."""
    values = data.model_dump()
    _check_consistency(values)
    return new_row(Candidate, organization_id=organization_id, external_id=external_id, **values)


async def apply_by_external_id(session: AsyncSession, organization_id: uuid.UUID, external_id: str,
                               data: CandidateUpsert, if_match: str | None, *, commit: bool | None = True
                               ) -> tuple[Candidate, UpsertOutcome]:
    """The upsert itself, for a caller whose right to write the organization is settled (the route above, an
    import); with `commit=False` it joins the caller's transaction."""
    values = data.model_dump()
    _check_consistency(values)

    async def create() -> Candidate:
        cand = Candidate(**new_row(Candidate, organization_id=organization_id, external_id=external_id, **values))
        session.add(cand)
        await finish(session, CONFLICTS, commit=commit)
        return cand

    async def replace(existing: Candidate) -> bool:
        changed = await update_versioned(session, existing, values, f'"v{existing.version}"', CONFLICTS,
                                         flush=commit is not None)
        await finish(session, CONFLICTS, commit=commit)
        return changed

    return await upsert(session, if_match=if_match,
                        find=lambda: _find_by_external_id(session, organization_id, external_id),
                        create=create, replace=replace)
