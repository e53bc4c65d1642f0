"""Erasure: a candidate's record and account removed, and every copy of their personal data with them.

What goes, in one transaction: the candidate row (its milestones, USCE records, program lists and entries,
calendar subscriptions and computed state go with it, by the database's cascades), their user account, the
`data` and external id of every change-feed event about them (the events stay, as ids and types, so a feed
reader's positions stay valid), the payload, result and external id of every import item that carried them, and
the idempotency records of requests about them (`ERASERS`, registered by the modules that keep such copies).
Audit rows stay: they hold ids, never values, and the ids point at nothing once the record is gone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Organization, User
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


async def _idempotency(session: AsyncSession, cand: Candidate) -> int:
    """Replays kept for Idempotency-Key retries of requests about the candidate's record (they are encrypted, so
    they are found by the `Location` they answered with)."""
    return await forget_idempotency_for(session, candidate_id=cand.id)


ERASERS["events"] = _events
ERASERS["idempotency_records"] = _idempotency
ERASERS["import_items"] = _import_items


async def erase_candidate(session: AsyncSession, principal: Principal, cand_row: CandidateRecord) -> dict[str, Any]:
    cand = await session.get(Candidate, cand_row.id)
    assert cand is not None
    if principal.role is Role.candidate:
        org = await session.get(Organization, cand.organization_id)
        if org is None or not org.candidates_may_erase:
            raise Forbidden("Your organization does not let candidates erase their own record; ask your advisor.")
    users = (await session.execute(select(User).where(User.candidate_id == cand.id))).scalars().all()  # type: ignore[arg-type]
    for user in users:
        await session.delete(user)
    org_id, cand_id = cand.organization_id, cand.id
    await session.delete(cand)
    await session.flush()  # the write hook's events of the deletions come first, so the erasers see them too
    removed: dict[str, int] = {"user_accounts": len(users)}
    for name, eraser in ERASERS.items():
        removed[name] = await eraser(session, cand)
    for user in users:  # and what the candidate's own requests left behind
        removed["idempotency_records"] += await forget_idempotency_for(session, user_id=user.id)
    await session.run_sync(lambda s: record(s.connection(), action="erase", organization_id=org_id,
                                            candidate_id=cand_id, subject_type="candidate", subject_id=cand_id))
    await session.commit()
    return {"candidate_id": str(cand_id), "erased_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "removed": removed}

