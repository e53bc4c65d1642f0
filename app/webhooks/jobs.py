"""The webhook jobs of the worker (app.worker): fan-out, deliver, purge.

Fan-out reads the change feed in its order, (txid, seq), from a position of its own (the `webhooks` row of
`feed_consumer`) and queues one delivery per enabled endpoint of the event's organization that selects its type;
the deliveries and the new position commit together, so an event is queued once. On PostgreSQL the position row
is locked (`FOR UPDATE SKIP LOCKED`: a second worker skips the turn rather than queue the same events again), and
only events of transactions older than every one still running are read, as for `GET /v1/events`, so an event
committed late by an older transaction is never left behind the position. On SQLite the first statement is the
UPDATE of the position: it takes the database's one write lock before anything is read.

Deliver claims due deliveries in batches and sends them concurrently (app.webhooks.delivery). `delivery.PIPELINES`
loops of it run in each worker: while one waits for the database (claiming, recording), the other's requests are
in flight. Their requests share one gate, so a worker never has more than WEBHOOK_CONCURRENCY in flight.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.crud import rows_changed
from app.core.db import db, utcnow
from app.core.models import table_of
from app.events.models import Event, FeedConsumer
from app.events.service import _visible as visible_events  # the feed's visibility rule, one source for both
from app.events.service import retention_cutoff
from app.webhooks import delivery
from app.webhooks.models import WebhookDelivery, WebhookEndpoint
from app.webhooks.schemas import EVENT_SELECTORS
from app.worker import job

CONSUMER = "webhooks"
FAN_OUT_BATCH = 1000
_PURGE_BATCH = 5000
POLL_SECONDS = 0.2  # the idle wait between polls: most of the latency from commit to delivery

C = table_of(FeedConsumer)
D = table_of(WebhookDelivery)
E = table_of(WebhookEndpoint)
EV = table_of(Event)


def _types_of(selectors: list[str]) -> frozenset[str] | None:
    """The event types an endpoint's selectors stand for; None: every type."""
    if not selectors:
        return None
    return frozenset(t for t in EVENT_SELECTORS if not t.endswith(".*") and any(
        t == s or (s.endswith(".*") and t.startswith(s[:-1])) for s in selectors))


async def _lock_position(session: AsyncSession, pg: bool) -> Any:
    if pg:
        return (await session.execute(select(C.c.txid, C.c.seq).where(C.c.name == CONSUMER)
                                      .with_for_update(skip_locked=True))).first()
    return (await session.execute(update(C).where(C.c.name == CONSUMER).values(updated_at=utcnow())
                                  .returning(C.c.txid, C.c.seq))).first()


def _after(pg: bool, txid: int, seq: int) -> Any:
    return (tuple_(EV.c.txid, EV.c.seq) > tuple_(txid, seq) if pg
            else or_(EV.c.txid > txid, and_(EV.c.txid == txid, EV.c.seq > seq)))


async def _anything_new(session: AsyncSession, pg: bool) -> bool:
    """A look without locks first: an idle poll then takes no lock (SQLite: no write lock; PostgreSQL: no
    transaction id)."""
    position = (await session.execute(select(C.c.txid, C.c.seq).where(C.c.name == CONSUMER))).first()
    if position is None:
        return True
    found = (await session.execute(select(EV.c.seq).where(_after(pg, *position),
                                                          *visible_events(session.get_bind().dialect.name)).limit(1))).first()
    await session.rollback()
    return found is not None


async def fan_out_batch(session: AsyncSession) -> int:
    """Queue the deliveries of up to FAN_OUT_BATCH events past the position; returns how many events it read."""
    pg = session.get_bind().dialect.name == "postgresql"
    if not await _anything_new(session, pg):
        return 0
    position = await _lock_position(session, pg)
    if position is None:  # the first run (or another worker holds it)
        ins = (pg_insert if pg else sqlite_insert)(C).values(name=CONSUMER, txid=0, seq=0, updated_at=utcnow())
        await session.execute(ins.on_conflict_do_nothing())
        position = await _lock_position(session, pg)
        if position is None:
            await session.rollback()
            return 0
    events = (await session.execute(
        select(EV.c.txid, EV.c.seq, EV.c.id, EV.c.type, EV.c.organization_id, EV.c.occurred_at)
        .where(_after(pg, *position), *visible_events(session.get_bind().dialect.name))
        .order_by(EV.c.txid, EV.c.seq).limit(FAN_OUT_BATCH))).all()
    if not events:
        await session.rollback()
        return 0
    endpoints: dict[uuid.UUID, list[tuple[uuid.UUID, frozenset[str] | None, Any]]] = defaultdict(list)
    for ep in (await session.execute(select(E.c.id, E.c.organization_id, E.c.event_types, E.c.created_at)
                                     .where(E.c.enabled.is_(True)))).all():
        endpoints[ep.organization_id].append((ep.id, _types_of(ep.event_types), ep.created_at))
    now = utcnow()
    rows = [{"id": uuid.uuid4(), "endpoint_id": ep_id, "event_id": ev.id, "event_type": ev.type, "payload": None,
             "status": "pending", "attempt_count": 0, "schedule_step": 0, "next_attempt_at": now,
             "locked_until": None, "created_at": now, "updated_at": now, "version": 1}
            for ev in events for ep_id, types, since in endpoints.get(ev.organization_id, ())
            if ev.occurred_at >= since and (types is None or ev.type in types)]
    if rows:
        await session.execute(insert(D), rows)
    last = events[-1]
    await session.execute(update(C).where(C.c.name == CONSUMER).values(txid=last.txid, seq=last.seq,
                                                                        updated_at=now))
    await session.commit()
    return len(events)


@job("webhooks.fan_out", idle_seconds=POLL_SECONDS)
async def fan_out() -> int:
    async with db.session() as session:
        return await fan_out_batch(session)


@job("webhooks.deliver", idle_seconds=POLL_SECONDS, parallel=delivery.PIPELINES)
async def deliver() -> int:
    """One batch: claim, send concurrently, record the outcomes in one transaction."""
    async with db.session() as session:
        claimed = await delivery.claim(session)
        if not claimed:
            return 0
        outcomes = await delivery.send_all(claimed)
        await delivery.record(session, outcomes)
        return len(claimed)


@job("webhooks.purge", idle_seconds=3600)
async def purge_old_deliveries() -> int:
    """The delivery log is kept as long as the change feed keeps events; older deliveries go, with their
    attempts, one batch at a time."""
    async with db.session() as session:
        oldest = select(D.c.id).where(D.c.created_at < retention_cutoff()).limit(_PURGE_BATCH)
        result = await session.execute(delete(D).where(D.c.id.in_(oldest.scalar_subquery())))
        await session.commit()
        return rows_changed(result)
