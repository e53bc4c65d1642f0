"""Computed events: `readiness.changed` and `deadline.approaching`, written into the change feed (and so delivered to
webhooks like every other event) by two worker jobs.

* `guidance.computed_events` reads the feed from a cursor of its own, recomputes every candidate whose record the
  batch touched (once per batch), and advances the cursor in the same transaction as the events it writes: a
  batch is handled completely or not at all. It skips computed events (`readiness.*`, `deadline.*`), so they
  never cause a recomputation of their own.
* `guidance.daily_sweep` goes over every candidate once a day, in batches, for what changes with time alone: a
  latest safe date coming within an organization's lead days, a step that becomes overdue.

Each candidate's last computed state (cycle, readiness status, next step, earliest feasible cycle and the
deadline notices already sent) is kept in `computed_state`; an event is written only when it changes. The first
computation of a candidate records its state without a `readiness.changed` (there is nothing it changed from);
deadline notices are sent from the first computation on, each (step, date, lead days) once.

Both jobs take the feed consumer's row `FOR UPDATE` (SKIP LOCKED: a second worker leaves the batch to the first)
before they read or write a candidate's state, so two workers never compute the same candidate at once. On
PostgreSQL the feed is read under the same visibility rule as `GET /v1/events` (app.events.service): only events
of transactions older than every one still running, so none can appear behind the cursor.

The day computed for is today (UTC); tests pass `as_of`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import and_, insert, literal_column, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.accounts.models import DEFAULT_DEADLINE_LEAD_DAYS, Organization
from app.candidates.models import Candidate
from app.core.db import db, utcnow
from app.core.models import table_of
from app.events.models import Event, FeedConsumer
from app.guidance import service
from app.guidance.models import ComputedState
from app.pathway.cohort import cohort_summary
from app.pathway.rules import RuleBook
from app.pathway.timeline import timeline
from app.worker import job

E = table_of(Event)
F = table_of(FeedConsumer)
S = table_of(ComputedState)
C = table_of(Candidate)
O = table_of(Organization)  # noqa: E741

CONSUMER = "guidance.computed_events"
SWEEP = "guidance.daily_sweep"
COMPUTED_PREFIXES = ("readiness.", "deadline.")
FEED_BATCH = 500
SWEEP_BATCH = 200


def today() -> date:
    return datetime.now(UTC).date()


# ---- the jobs ------------------------------------------------------------------------------------------------------

@job(CONSUMER)
async def consume_feed(*, as_of: date | None = None, limit: int = FEED_BATCH) -> int:
    """One batch of the feed: recompute the candidates it touched; returns the number of events read."""
    day = as_of or today()
    async with db.session() as session:
        conn = await session.connection()
        cursor = await _lock(conn, CONSUMER)
        if cursor is None:  # another worker has this batch
            return 0
        rows = (await conn.execute(
            select(E.c.txid, E.c.seq, E.c.type, E.c.candidate_id)
            .where(_after(conn, cursor.txid, cursor.seq), *_visible(conn))
            .order_by(E.c.txid, E.c.seq).limit(limit))).all()
        if not rows:
            await session.rollback()
            return 0
        touched = {r.candidate_id for r in rows
                   if r.candidate_id is not None and not r.type.startswith(COMPUTED_PREFIXES)}
        await recompute(session, touched, day)
        last = rows[-1]
        await conn.execute(update(F).where(F.c.name == CONSUMER)
                           .values(txid=last.txid, seq=last.seq, updated_at=utcnow()))
        await session.commit()
        return len(rows)


@job(SWEEP, idle_seconds=600)
async def daily_sweep(*, as_of: date | None = None, limit: int = SWEEP_BATCH) -> int:
    """One batch of today's sweep over all candidates; returns the number recomputed (0: today's sweep is done)."""
    day = as_of or today()
    async with db.session() as session:
        conn = await session.connection()
        if await _lock(conn, CONSUMER) is None:  # the feed consumer is computing: its batch first
            return 0
        progress = await _lock(conn, SWEEP)
        if progress is None or (progress.swept_on == day and progress.swept_after is None):
            await session.rollback()
            return 0
        after = progress.swept_after if progress.swept_on == day else None
        stmt = select(C.c.id).order_by(C.c.id).limit(limit)
        if after is not None:
            stmt = stmt.where(C.c.id > after)
        ids = list((await conn.execute(stmt)).scalars())
        await recompute(session, ids, day)
        await conn.execute(update(F).where(F.c.name == SWEEP).values(
            swept_on=day, swept_after=ids[-1] if len(ids) == limit else None, updated_at=utcnow()))
        await session.commit()
        return len(ids)


# ---- the feed --------------------------------------------------------------------------------------------------

async def _lock(conn: AsyncConnection, name: str) -> Any:
    """The consumer's row, created at the feed's start if missing, locked for this transaction (None: another
    worker holds it). On SQLite the insert takes the database's single write lock, which serves the same end."""
    values = {"name": name, "txid": 0, "seq": 0, "updated_at": utcnow()}
    if conn.dialect.name == "postgresql":
        await conn.execute(pg_insert(F).values(**values).on_conflict_do_nothing(index_elements=["name"]))
        stmt = select(F).where(F.c.name == name).with_for_update(skip_locked=True)
    else:
        await conn.execute(sqlite_insert(F).values(**values).on_conflict_do_nothing(index_elements=["name"]))
        stmt = select(F).where(F.c.name == name)
    return (await conn.execute(stmt)).first()


def _after(conn: AsyncConnection, txid: int, seq: int) -> Any:
    if conn.dialect.name == "postgresql":
        return tuple_(E.c.txid, E.c.seq) > tuple_(txid, seq)
    return or_(E.c.txid > txid, and_(E.c.txid == txid, E.c.seq > seq))


def _visible(conn: AsyncConnection) -> list[Any]:
    if conn.dialect.name == "postgresql":
        return [E.c.txid < literal_column("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")]
    return []


# ---- recomputing -----------------------------------------------------------------------------------------------

def cycle_for(book: RuleBook, target: int | None, day: date) -> int:
    """The readiness endpoint's default: the candidate's target year, else the next open cycle (also when the
    target has no rule set, where the endpoint answers 422: a background job cannot ask the candidate)."""
    if target is not None and book.has(target):
        return target
    return service.resolve_cycle(book, None, None, day)


async def recompute(session: AsyncSession, candidate_ids: Iterable[uuid.UUID], day: date) -> int:
    """Recompute the candidates, write the events their changes call for and keep their new state; returns the
    number of events written. Candidates deleted meanwhile are skipped (their state went with them)."""
    ids = sorted(set(candidate_ids), key=str)
    if not ids:
        return 0
    conn = await session.connection()
    orgs = {r.id: r.deadline_lead_days for r in (await conn.execute(
        select(O.c.id, O.c.deadline_lead_days).where(O.c.id.in_(select(C.c.organization_id)
                                                                .where(C.c.id.in_(ids)))))).all()}
    by_org: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for r in (await conn.execute(select(C.c.id, C.c.organization_id).where(C.c.id.in_(ids)))).all():
        by_org[r.organization_id].append(r.id)
    states = {r.candidate_id: r for r in (await conn.execute(select(S).where(S.c.candidate_id.in_(ids)))).all()}
    book = service.rulebook()
    now = utcnow()
    events: list[dict[str, Any]] = []
    for org_id, members in by_org.items():
        leads = sorted(orgs.get(org_id) or DEFAULT_DEADLINE_LEAD_DAYS)
        for cand, facts in await service.load_cohort(session, org_id, members):
            year = cycle_for(book, cand.target_match_year, day)
            summary = cohort_summary(facts, book, year, day)
            current = {"cycle": year, "status": summary.status, "next_step": summary.next_step_code,
                       "earliest_feasible_cycle": summary.earliest_feasible_cycle}
            old = states.get(cand.id)
            sent = [list(k) for k in (old.deadline_notices if old is not None else [])]
            new_events: list[tuple[str, dict[str, Any]]] = []
            if old is not None:
                previous = {"cycle": old.cycle, "status": old.status, "next_step": old.next_step,
                            "earliest_feasible_cycle": old.earliest_feasible_cycle}
                changed = [k for k in ("status", "next_step", "earliest_feasible_cycle") if previous[k] != current[k]]
                if changed:
                    new_events.append(("readiness.changed", {
                        "cycle": year, "as_of": day.isoformat(), "rules_version": summary.rules_version,
                        "changed_fields": changed, "old": previous, "new": current}))
            for notice, key in _deadline_notices(facts, book, year, day, leads, sent):
                sent.append(key)
                new_events.append(("deadline.approaching", notice))
            sent = [k for k in sent if k[1] >= day.isoformat()]  # notices of past dates are kept no longer
            for kind, data in new_events:
                events.append({"id": uuid.uuid4(), "type": kind, "occurred_at": now, "organization_id": org_id,
                               "candidate_id": cand.id, "subject_type": "candidate", "subject_id": cand.id,
                               "subject_external_id": cand.external_id, "subject_version": cand.version,
                               "data": data})
            values = {**current, "deadline_notices": sent, "computed_on": day, "updated_at": now}
            if old is None:
                await conn.execute(insert(S).values(candidate_id=cand.id, **values))
            else:
                await conn.execute(update(S).where(S.c.candidate_id == cand.id).values(**values))
    if events:
        await conn.execute(insert(E), events)
    return len(events)


def _deadline_notices(facts: Any, book: RuleBook, year: int, day: date, leads: Sequence[int],
                      sent: list[list[Any]]) -> list[tuple[dict[str, Any], list[Any]]]:
    """For each remaining step whose latest safe date is at most N days ahead (N one of the lead days), the
    notice for the smallest such N, unless it was sent: a worker that missed days sends the tightest one once."""
    out = []
    for item in timeline(facts, book, year, day).items:
        if item.kind != "step":
            continue
        days_left = (item.on - day).days
        due = [n for n in leads if n >= days_left]
        if days_left < 0 or not due:
            continue
        key = [item.code, item.on.isoformat(), due[0]]
        if key in sent:
            continue
        out.append(({"cycle": year, "as_of": day.isoformat(), "step": item.code, "title": item.title,
                     "latest_safe_date": item.on.isoformat(), "days_left": days_left, "lead_days": due[0],
                     "severity": item.severity,
                     "deadline": ({"name": item.deadline.name, "on": item.deadline.on.isoformat(),
                                   "estimated": item.deadline.estimated} if item.deadline else None)}, key))
    return out
