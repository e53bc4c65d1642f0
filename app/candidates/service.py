"""Candidates: the record every other resource hangs from. Access is decided by `Principal` in one place."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Organization
from app.candidates.models import Candidate
from app.candidates.schemas import NOT_NULLABLE, CandidateCreate, CandidateUpdate, CandidateUpsert
from app.core.crud import (
    commit_or_conflict,
    conflict_from,
    delete_versioned,
    fetch_page,
    order_clause,
    update_versioned,
)
from app.core.db import db
from app.core.errors import (
    DomainRuleViolation,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
    field_error,
)
from app.core.http import check_if_match
from app.core.pagination import PageParams
from app.core.security import Principal, Role

CONFLICTS = {
    "usmle_id": ("usmle_id_taken", "Another candidate has this USMLE ID."),
    "external_id": ("external_id_taken", "Another candidate of this organization has this external_id."),
}
SORTABLE = ("created_at", "full_name", "target_match_year", "updated_at")


_TABLE = Candidate.__table__  # type: ignore[attr-defined]
# Built once: every candidate-scoped request loads the candidate, so this is the hottest query of the service.
_BY_ID = select(_TABLE).where(_TABLE.c.id == bindparam("candidate_id"))


async def get_candidate(principal: Principal, candidate_id: uuid.UUID) -> Any:
    """The candidate as a read-only row, or 404 whether it is missing or simply not the caller's.

    A short read on a pooled connection of its own: every candidate-scoped request starts here, and most of them
    are reads that then need nothing else, or only their own session."""
    async with db.connect() as conn:
        row = (await conn.execute(_BY_ID, {"candidate_id": candidate_id})).first()
    if row is None or not principal.can_see_candidate(row.organization_id, row.id):
        raise NotFound("Candidate not found.")
    return row


async def _load_for_write(session: AsyncSession, cand: Any) -> Candidate:
    obj = await session.get(Candidate, cand.id)
    if obj is None:  # deleted since the dependency read it
        raise NotFound("Candidate not found.")
    return obj


def _check_consistency(values: dict[str, Any]) -> None:
    if values.get("us_status") == "citizen" and values.get("visa_need", "none") != "none":
        raise DomainRuleViolation("A US citizen needs no visa; set visa_need to none.", code="visa_not_needed",
                                  errors=[field_error("body.visa_need", "must be none for US citizens",
                                                      "visa_not_needed")])
    if values.get("us_status") == "permanent_resident" and values.get("visa_need", "none") != "none":
        raise DomainRuleViolation("A US permanent resident needs no visa for residency; set visa_need to none.",
                                  code="visa_not_needed",
                                  errors=[field_error("body.visa_need", "must be none for permanent residents",
                                                      "visa_not_needed")])


def _escape_like(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_candidates(
    session: AsyncSession, principal: Principal, page: PageParams, *, organization_id: uuid.UUID | None,
    target_match_year: int | None, us_status: str | None, visa_need: str | None, q: str | None, sort: str,
) -> tuple[list[Candidate], int]:
    where: list[Any] = []
    if principal.role is Role.candidate:
        where.append(_TABLE.c.id == principal.candidate_id)
    elif not principal.is_admin:
        where.append(_TABLE.c.organization_id == principal.organization_id)
    elif organization_id is not None:
        where.append(_TABLE.c.organization_id == organization_id)
    if principal.organization_id is not None and organization_id is not None and \
            organization_id != principal.organization_id:
        where.append(_TABLE.c.organization_id == organization_id)  # yields nothing: not theirs
    if target_match_year is not None:
        where.append(_TABLE.c.target_match_year == target_match_year)
    if us_status is not None:
        where.append(_TABLE.c.us_status == us_status)
    if visa_need is not None:
        where.append(_TABLE.c.visa_need == visa_need)
    if q:
        pattern = f"%{_escape_like(q.lower())}%"
        where.append(or_(_TABLE.c.full_name.ilike(pattern, escape="\\"),  # type: ignore[attr-defined]
                         _TABLE.c.email.ilike(pattern, escape="\\")))  # type: ignore[union-attr]
    return await fetch_page(session, Candidate, where, order_clause(Candidate, sort, SORTABLE), page)


async def _resolve_org(session: AsyncSession, principal: Principal, requested: uuid.UUID | None) -> uuid.UUID:
    if principal.role is Role.candidate:
        raise Forbidden("Candidates may not create candidate records.")
    if principal.is_admin:
        if requested is None:
            raise ValidationFailed("Admins must say which organization the candidate belongs to.", errors=[
                field_error("body.organization_id", "required for admins", "missing")])
        if await session.get(Organization, requested) is None:
            raise ValidationFailed("No such organization.", errors=[
                field_error("body.organization_id", "unknown organization", "unknown")])
        return requested
    assert principal.organization_id is not None
    if requested is not None and requested != principal.organization_id:
        raise ValidationFailed("You can create candidates only in your own organization.", errors=[
            field_error("body.organization_id", "not your organization", "not_allowed")])
    return principal.organization_id


async def create_candidate(session: AsyncSession, principal: Principal, data: CandidateCreate) -> Candidate:
    org_id = await _resolve_org(session, principal, data.organization_id)
    values = data.model_dump(exclude={"organization_id"})
    _check_consistency(values)
    cand = Candidate(organization_id=org_id, **values)
    session.add(cand)
    await commit_or_conflict(session, CONFLICTS)
    return cand


async def update_candidate(session: AsyncSession, principal: Principal, row: Any, data: CandidateUpdate,
                           if_match: str | None) -> Candidate:
    cand = await _load_for_write(session, row)
    changes = data.model_dump(exclude_unset=True)
    for name in NOT_NULLABLE:
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be cleared.",
                                   errors=[field_error(f"body.{name}", "may not be null", "not_nullable")])
    if principal.role is Role.candidate and "external_id" in changes:
        raise Forbidden("external_id is managed by your organization.")
    _check_consistency({"us_status": cand.us_status, "visa_need": cand.visa_need, **changes})
    await update_versioned(session, cand, changes, if_match, CONFLICTS)
    await commit_or_conflict(session, CONFLICTS)
    return cand


async def delete_candidate(session: AsyncSession, principal: Principal, row: Any,
                           if_match: str | None) -> None:
    if principal.role is Role.candidate:
        raise Forbidden("Ask your advising office to delete your record.")
    cand = await _load_for_write(session, row)
    await delete_versioned(session, cand, if_match)
    await session.commit()


async def upsert_by_external_id(session: AsyncSession, principal: Principal, external_id: str,
                                data: CandidateUpsert, if_match: str | None) -> tuple[Candidate, bool]:
    """Create or replace the candidate your system knows as `external_id`. Returns (candidate, created)."""
    if principal.role not in (Role.system, Role.advisor):
        raise Forbidden("Only an organization's systems and advisors upsert by external id.")
    assert principal.organization_id is not None
    if if_match is not None and not if_match.strip():
        if_match = None  # If-Match is optional here: an empty one is no precondition (not a 428)
    values = data.model_dump()
    _check_consistency(values)
    for attempt in range(2):
        existing = (await session.execute(select(Candidate).where(
            Candidate.organization_id == principal.organization_id, Candidate.external_id == external_id
        ))).scalars().first()
        if existing is not None:
            if if_match is not None:
                check_if_match(if_match, existing.version)
            current = {k: getattr(existing, k) for k in values}
            if current == values:
                return existing, False  # nothing changed: same ETag, no write
            await update_versioned(session, existing, values, if_match or f'"v{existing.version}"', CONFLICTS)
            await commit_or_conflict(session, CONFLICTS)
            return existing, False
        if if_match is not None:
            raise PreconditionFailed("No candidate has this external_id yet; If-Match cannot match.")
        cand = Candidate(organization_id=principal.organization_id, external_id=external_id, **values)
        session.add(cand)
        try:
            await session.commit()
            return cand, True
        except IntegrityError as exc:
            await session.rollback()
            if "external_id" in str(exc.orig) and attempt == 0:
                continue  # a concurrent upsert created it first: update instead
            raise conflict_from(exc, CONFLICTS) from exc
    raise AssertionError("unreachable")
