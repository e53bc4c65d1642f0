"""Erasure: a candidate's record and account removed, and every copy of their personal data with them.

What goes, in one transaction: the candidate row (its milestones, USCE records, program lists and entries,
calendar subscriptions and computed state go with it, by the database's cascades), their user account, the
`data` and external id of every change-feed event about them (the events stay, as ids and types, so a feed
reader's positions stay valid), the payload, result and external id of every import item that carried them, and
every remembered Idempotency-Key response that carries their data, whoever made the request, and those of their
own requests (app.core.idempotency); more copies through `ERASERS`, registered by the modules that keep them.
Audit rows stay: they hold ids, never values, and the ids point at nothing once the record is gone; the client
address of the rows of the candidate's own requests (as the actor, or on their account's rows before they signed
in: accepting their invitation, asking for a password reset) goes, since it identifies them."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.accounts.models import AuthSession, Invitation, Organization, PasswordReset, RefreshToken, User
from app.audit.models import AuditRecord
from app.audit.writer import record
from app.candidates.models import Candidate, CandidateRecord
from app.core.crud import rows_changed
from app.core.errors import Forbidden
from app.core.idempotency import forget_idempotency_for
from app.core.models import table_of
from app.core.security import Principal, Role
from app.events.models import Event
from app.imports.models import ImportItem, ImportJob

# More places that keep copies of a candidate's data: each removes them and says how many, in the transaction.
Eraser = Callable[[AsyncSession, Any], Awaitable[int]]
ERASERS: dict[str, Eraser] = {}

_EV = table_of(Event)
_ITEMS = table_of(ImportItem)
_JOBS = table_of(ImportJob)
_AUDIT = table_of(AuditRecord)


async def _events(session: AsyncSession, cand: Candidate) -> int:
    r = await session.execute(update(_EV).where(_EV.c.candidate_id == cand.id)
                              .values(data={"erased": True}, subject_external_id=None))
    return rows_changed(r)


async def _import_items(session: AsyncSession, cand: Candidate) -> int:
    theirs = [_ITEMS.c.candidate_id == cand.id]
    if cand.external_id is not None:
        theirs.append((_ITEMS.c.external_id == cand.external_id) & _ITEMS.c.import_id.in_(
            select(_JOBS.c.id).where(_JOBS.c.organization_id == cand.organization_id)))
    r = await session.execute(update(_ITEMS).where(or_(*theirs))
                              .values(external_id=None, payload=None, problem=None, candidate_id=None))
    return rows_changed(r)


ERASERS["events"] = _events
ERASERS["import_items"] = _import_items


async def _account_rows(session: AsyncSession, cand: Candidate, user_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """The ids of the rows of the candidate's account: the users, their sign-in sessions and refresh tokens, their
    password resets, the invitations to it (read before the cascades delete them)."""
    rows: list[uuid.UUID] = list(user_ids)
    rows += (await session.execute(select(col(Invitation.id)).where(or_(
        col(Invitation.candidate_id) == cand.id, col(Invitation.user_id).in_(user_ids))))).scalars().all()
    if user_ids:
        sessions = (await session.execute(select(col(AuthSession.id)).where(
            col(AuthSession.user_id).in_(user_ids)))).scalars().all()
        rows += sessions
        if sessions:
            rows += (await session.execute(select(col(RefreshToken.id)).where(
                col(RefreshToken.session_id).in_(sessions)))).scalars().all()
        rows += (await session.execute(select(col(PasswordReset.id)).where(
            col(PasswordReset.user_id).in_(user_ids)))).scalars().all()
    return rows


async def _audit_addresses(session: AsyncSession, user_ids: list[uuid.UUID], account_rows: list[uuid.UUID]) -> int:
    """Clear the client address of the audit rows of the candidate's own requests: made by one of their users, or
    by no one signed in on their account's rows (the invitation accepted, a password reset asked for). The address
    of an advisor or a system acting on their record stays: it is theirs, not the candidate's."""
    theirs: list[Any] = [and_(_AUDIT.c.actor_type == "system", _AUDIT.c.subject_id.in_(account_rows))]
    if user_ids:
        theirs.append(and_(_AUDIT.c.actor_type == "user", _AUDIT.c.actor_id.in_(user_ids)))
    r = await session.execute(update(_AUDIT).where(or_(*theirs), _AUDIT.c.client_address.is_not(None))
                              .values(client_address=None))
    return rows_changed(r)


async def erase_candidate(session: AsyncSession, principal: Principal, cand_row: CandidateRecord) -> dict[str, Any]:
    cand = await session.get(Candidate, cand_row.id)
    assert cand is not None
    if principal.role is Role.candidate:
        org = await session.get(Organization, cand.organization_id)
        if org is None or not org.candidates_may_erase:
            raise Forbidden("Your organization does not let candidates erase their own record; ask your advisor.")
    users = (await session.execute(select(User).where(col(User.candidate_id) == cand.id))).scalars().all()
    user_ids = [u.id for u in users]
    account_rows = await _account_rows(session, cand, user_ids)
    for user in users:
        await session.delete(user)
    org_id, cand_id = cand.organization_id, cand.id
    await session.delete(cand)
    await session.flush()  # the write hook's events of the deletions come first, so the erasers see them too
    removed: dict[str, int] = {"user_accounts": len(users)}
    for name, eraser in ERASERS.items():
        removed[name] = await eraser(session, cand)
    # Every replay that carries their data (their record, their invitation, their account), whoever asked, and
    # those of their own requests: deleted outright, not left as tombstones as a plain deletion leaves them
    # (app.core.idempotency): nothing of an erased person may remain, not even the keyed fingerprint of a request
    # that carried their data. A retry of such a request runs again.
    removed["idempotency_records"] = await forget_idempotency_for(session, candidate_id=cand_id, user_ids=user_ids)
    await session.run_sync(lambda s: record(s.connection(), action="erase", organization_id=org_id,
                                            candidate_id=cand_id, subject_type="candidate", subject_id=cand_id))
    removed["audit_client_addresses"] = await _audit_addresses(session, user_ids, account_rows)
    await session.commit()
    return {"candidate_id": str(cand_id), "erased_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "removed": removed}

