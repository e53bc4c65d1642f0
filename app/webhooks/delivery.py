"""Sending deliveries: claim, sign and POST, record the outcome. Used by the worker's deliver job and by the
endpoint's `test` operation.

Claiming takes a lease: `locked_until` is set in a short transaction of its own (on PostgreSQL with
`FOR UPDATE SKIP LOCKED`, so workers never wait for each other; on SQLite the UPDATE is the lock). The requests
run outside any transaction: a transaction held open while receivers answer would hold back the change feed, whose
readers only see transactions older than every one still running (app.events.service). A worker that dies leaves
its lease to expire, and the delivery is sent again: at least once; receivers dedupe by `webhook-id`.

The outcome is written only while the lease is still the one taken (`locked_until` unchanged): a result that comes
back after the lease expired, or after the delivery was queued again by hand, does not overwrite the newer state.
A 2xx succeeds. Anything else schedules the next attempt after the next delay of WEBHOOK_RETRY_SCHEDULE (±10 %
jitter); after the last one the delivery is dead and the endpoint disabled, and a 410 Gone disables it at once.
Each automatic disable writes a `webhook_endpoint.disabled` event into the change feed, in the same transaction.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import ssl
import time
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks import Webhook

from app.core.coalesced import accesses
from app.core.config import get_settings
from app.core.crud import rows_changed
from app.core.db import utcnow
from app.core.models import table_of
from app.core.serialization import dumps
from app.events.models import Event
from app.events.schemas import EventPublic
from app.events.service import render
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.webhooks.schemas import WebhookEndpointPublic
from app.webhooks.signing import SecretUnreadable, signature_headers, signer
from app.webhooks.urls import UrlRefused, parse, resolve

log = logging.getLogger("matchready.webhooks")

D = table_of(WebhookDelivery)
A = table_of(WebhookAttempt)
E = table_of(WebhookEndpoint)
EV = table_of(Event)

PIPELINES = 2  # deliver loops per worker (app.webhooks.jobs), sharing one gate of WEBHOOK_CONCURRENCY requests
BATCH = 200 // PIPELINES  # per claim: a worker holds at most 200 at once, so other workers find work too
_MAX_RESPONSE_BYTES = 64 * 1024
_USER_AGENT = "MatchReady-Webhooks/1"
DISABLED_EVENT = "webhook_endpoint.disabled"


def lease_seconds(batch: int) -> float:
    """Long enough for a whole batch of requests that each take the full timeout, behind the other pipelines'
    batches in the shared gate."""
    settings = get_settings()
    waves = math.ceil(batch * PIPELINES / settings.webhook_concurrency)
    return waves * settings.webhook_timeout_seconds + 30.0


def next_delay(step: int) -> float | None:
    """Seconds before the attempt after attempt number `step` (1-based) failed; None after the last."""
    schedule = get_settings().webhook_retry_schedule
    if step > len(schedule):
        return None
    return schedule[step - 1] * random.uniform(0.9, 1.1)


# ---- claiming ----------------------------------------------------------------------------------------------------

@dataclass
class Claimed:
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    payload: str | None  # None: the event is no longer kept
    schedule_step: int
    lease: datetime
    url: str = ""
    signers: Sequence[Webhook] = ()
    problem: str | None = None  # why it cannot be sent (then nothing is)
    candidate_id: uuid.UUID | None = None  # whose record the event is about (sending it is a disclosure)


async def claim(session: AsyncSession, limit: int = BATCH) -> list[Claimed]:
    """Lease up to `limit` due deliveries of enabled endpoints (oldest due first) and commit the lease; then load
    what sending them needs. The session holds no transaction when this returns."""
    now = utcnow()
    lease = now + timedelta(seconds=lease_seconds(limit))
    due = (select(D.c.id)
           .where(D.c.next_attempt_at <= now, or_(D.c.locked_until.is_(None), D.c.locked_until < now),
                  D.c.endpoint_id.in_(select(E.c.id).where(E.c.enabled.is_(True))))
           .order_by(D.c.next_attempt_at).limit(limit).with_for_update(skip_locked=True))
    stmt = (update(D).where(D.c.id.in_(due.scalar_subquery())).values(locked_until=lease)
            .returning(D.c.id, D.c.endpoint_id, D.c.event_id, D.c.event_type, D.c.payload, D.c.schedule_step))
    rows = (await session.execute(stmt)).all()
    await session.commit()
    if not rows:
        return []
    claimed = [Claimed(r.id, r.endpoint_id, r.event_id, r.event_type, r.payload, r.schedule_step, lease)
               for r in rows]
    await prepare(session, claimed)
    await session.commit()
    return claimed


async def prepare(session: AsyncSession, claimed: list[Claimed]) -> None:
    """Each delivery's URL, signers and payload (the event as `GET /v1/events` renders it)."""
    endpoints = {r.id: r for r in (await session.execute(
        select(E.c.id, E.c.url, E.c.secret_encrypted, E.c.previous_secret_encrypted, E.c.previous_secret_expires_at)
        .where(E.c.id.in_({c.endpoint_id for c in claimed})))).all()}
    wanted = {c.event_id for c in claimed if c.payload is None}
    events = {r.id: r for r in (await session.execute(select(EV).where(EV.c.id.in_(wanted)))).all()} \
        if wanted else {}
    whose: dict[uuid.UUID, uuid.UUID] = dict((await session.execute(select(EV.c.id, EV.c.candidate_id).where(
        EV.c.id.in_({c.event_id for c in claimed}), EV.c.candidate_id.is_not(None)))).tuples().all())
    now = utcnow()
    for c in claimed:
        ep = endpoints.get(c.endpoint_id)
        if ep is None:  # deleted since the claim, with its deliveries
            c.problem = "the endpoint was deleted"
            continue
        c.url = ep.url
        c.candidate_id = whose.get(c.event_id)
        try:
            tokens = [ep.secret_encrypted]
            if ep.previous_secret_encrypted and ep.previous_secret_expires_at and ep.previous_secret_expires_at > now:
                tokens.append(ep.previous_secret_encrypted)
            c.signers = [signer(t) for t in tokens]
        except SecretUnreadable as exc:
            c.problem = str(exc)
        if c.payload is None and c.event_id in events:
            c.payload = render_payload(events[c.event_id])


def render_payload(event_row: Any) -> str:
    return dumps(EventPublic.model_validate(render(event_row))).decode()


# ---- sending -----------------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    claimed: Claimed
    attempted_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None
    attempted: bool = True  # False: nothing was sent (the event is no longer kept)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


# Connections per pool. httpx's pool (httpcore) scans all its connections, polling each socket, for every request
# it hands out (encode/httpcore#928): with WEBHOOK_CONCURRENCY connections in one pool that scan took a third of a
# busy worker's time. So a worker holds several small pools, and each slot of its gate belongs to one of them.
POOL_CONNECTIONS = 5


@dataclass
class _Pools:
    sizes: list[int]  # connections of each pool
    slots: asyncio.Queue[int]  # one entry per connection: the index of its pool
    clients: dict[int, httpx.AsyncClient]  # made when first used, all with one TLS context
    tls: ssl.SSLContext

    def client(self, index: int) -> httpx.AsyncClient:
        client = self.clients.get(index)
        if client is None:
            k = self.sizes[index]
            client = self.clients[index] = httpx.AsyncClient(
                timeout=httpx.Timeout(get_settings().webhook_timeout_seconds), follow_redirects=False,
                trust_env=False, verify=self.tls, limits=httpx.Limits(max_connections=k, max_keepalive_connections=k))
        return client


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pools] = weakref.WeakKeyDictionary()


def _loop_pools() -> _Pools:
    """This event loop's pools: WEBHOOK_CONCURRENCY connections in all, shared by every delivery. No redirects
    are followed and no proxy settings are read from the environment (a proxy would connect to addresses not
    checked here)."""
    loop = asyncio.get_running_loop()
    pools = _pools.get(loop)
    if pools is None:
        n = get_settings().webhook_concurrency
        sizes = [POOL_CONNECTIONS] * (n // POOL_CONNECTIONS) + ([n % POOL_CONNECTIONS] if n % POOL_CONNECTIONS else [])
        slots: asyncio.Queue[int] = asyncio.Queue()
        for i in range(POOL_CONNECTIONS):  # interleaved: a few requests spread over the pools
            for index, k in enumerate(sizes):
                if i < k:
                    slots.put_nowait(index)
        pools = _pools[loop] = _Pools(sizes, slots, {}, httpx.create_ssl_context())
    return pools


async def _pinned(url: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The URL to connect to, with the Host header and TLS name of the original: unless private addresses are
    allowed, the host is resolved and checked here and the connection goes to that checked address."""
    target = parse(url)
    if get_settings().webhook_allow_private_urls:
        return url, {}, {}
    addresses = await resolve(target)
    parsed = httpx.URL(url)
    ip = addresses[0]
    pinned = str(parsed.copy_with(host=str(ip)))
    host_header = parsed.netloc.decode("ascii")
    extensions: dict[str, Any] = {"sni_hostname": target.host} if target.scheme == "https" else {}
    return pinned, {"Host": host_header}, extensions


def _describe(exc: BaseException, timeout: float) -> str:
    """Error text for the delivery log: what happened, never a header, a secret or the URL's query."""
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, httpx.ConnectError):
        cause = exc.__context__ or exc.__cause__
        reason = getattr(cause, "strerror", None) or "could not connect"
        return f"connection failed: {reason}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the receiver closed the connection or sent an invalid HTTP response"
    if isinstance(exc, httpx.HTTPError):
        return f"request failed ({type(exc).__name__})"
    return f"request failed ({type(exc).__name__})"


async def send(claimed: Claimed, client: httpx.AsyncClient | None = None) -> Outcome:
    """One attempt (on `client`, or one of this loop's pools that has a free connection). Never raises for what a
    receiver does: every failure is an outcome with its error text."""
    if client is None:
        pools = _loop_pools()
        index = await pools.slots.get()
        try:
            return await send(claimed, pools.client(index))
        finally:
            pools.slots.put_nowait(index)
    at = utcnow()
    start = time.perf_counter()

    def outcome(status: int | None, error: str | None, attempted: bool = True) -> Outcome:
        return Outcome(claimed, at, int((time.perf_counter() - start) * 1000), status, error, attempted)

    if claimed.payload is None:
        return outcome(None, "the event is no longer kept (past the change feed's retention)", attempted=False)
    if claimed.problem is not None:
        return outcome(None, claimed.problem)
    timeout = get_settings().webhook_timeout_seconds
    try:
        url, headers, extensions = await _pinned(claimed.url)
    except UrlRefused as exc:
        return outcome(None, f"address refused: {exc}")
    headers.update(signature_headers(str(claimed.event_id), at, claimed.payload, list(claimed.signers)))
    headers["content-type"] = "application/json"
    headers["user-agent"] = _USER_AGENT
    try:
        async with asyncio.timeout(timeout):  # in total: httpx's timeouts are per read, a trickle never ends
            async with client.stream("POST", url, content=claimed.payload.encode(), headers=headers,
                                            extensions=extensions) as resp:
                size = 0
                async for chunk in resp.aiter_raw():  # read (a little of) the answer so the connection is reused
                    size += len(chunk)
                    if size > _MAX_RESPONSE_BYTES:
                        break
                status = resp.status_code
    except Exception as exc:  # noqa: BLE001 - a receiver's failure is an outcome, whatever it is
        return outcome(None, _describe(exc, timeout))
    if 200 <= status < 300:
        return outcome(status, None)
    if 300 <= status < 400:
        return outcome(status, f"HTTP {status}: redirects are not followed")
    return outcome(status, f"HTTP {status}")


async def send_all(claimed: list[Claimed]) -> list[Outcome]:
    """Send concurrently; every batch in flight in this worker shares its WEBHOOK_CONCURRENCY connections."""
    return list(await asyncio.gather(*(send(c) for c in claimed)))


# ---- recording ---------------------------------------------------------------------------------------------------

_SETTLE = (update(D).where(D.c.id == bindparam("b_id"), D.c.locked_until == bindparam("b_lease"))
           .values(status=bindparam("b_status"), next_attempt_at=bindparam("b_next"), locked_until=None,
                   attempt_count=D.c.attempt_count + bindparam("b_tried"), schedule_step=D.c.schedule_step + 1,
                   version=D.c.version + 1, updated_at=bindparam("b_now")))


async def record(session: AsyncSession, outcomes: list[Outcome]) -> None:
    """Write the attempts and each delivery's new state in one transaction, and commit."""
    if not outcomes:
        return
    for o in outcomes:  # what left the service about whom, to which endpoint: the audit's record of disclosure
        if o.attempted and o.claimed.candidate_id is not None:
            accesses.note("disclose", (o.claimed.candidate_id,), subject_type="webhook_endpoint",
                          subject_id=o.claimed.endpoint_id)
    now = utcnow()
    attempts = [{"id": uuid.uuid4(), "delivery_id": o.claimed.id, "attempted_at": o.attempted_at,
                 "status_code": o.status_code, "duration_ms": o.duration_ms, "error": o.error}
                for o in outcomes if o.attempted or o.error]
    going: list[dict[str, Any]] = []
    ending: list[tuple[Outcome, str]] = []  # dead, with the reason to disable the endpoint ("" for none)
    for o in outcomes:
        row = {"b_id": o.claimed.id, "b_lease": o.claimed.lease, "b_now": now, "b_tried": int(o.attempted)}
        if o.ok:
            going.append({**row, "b_status": "succeeded", "b_next": None})
            continue
        if not o.attempted:
            ending.append((o, ""))
            continue
        if o.status_code == 410:
            ending.append((o, "gone"))
            continue
        delay = next_delay(o.claimed.schedule_step + 1)
        if delay is None:
            ending.append((o, "failing"))
        else:
            going.append({**row, "b_status": "failed", "b_next": o.attempted_at + timedelta(seconds=delay)})
    if going:
        await session.execute(_SETTLE, going)
    disable: dict[uuid.UUID, tuple[str, uuid.UUID]] = {}
    for o, reason in ending:
        result = await session.execute(_SETTLE, {"b_id": o.claimed.id, "b_lease": o.claimed.lease, "b_now": now,
                                                 "b_tried": int(o.attempted), "b_status": "dead", "b_next": None})
        if reason and rows_changed(result) == 1:
            disable.setdefault(o.claimed.endpoint_id, (reason, o.claimed.id))
    if attempts:  # the history of deliveries still there (an endpoint deleted meanwhile took its own along)
        ids = list({a["delivery_id"] for a in attempts})
        kept = set((await session.execute(select(D.c.id).where(D.c.id.in_(ids))
                                          .with_for_update(key_share=True))).scalars())
        attempts = [a for a in attempts if a["delivery_id"] in kept]
        if attempts:
            await session.execute(insert(A), attempts)
    for endpoint_id, (reason, delivery_id) in disable.items():
        await disable_endpoint(session, endpoint_id, reason, delivery_id)
    await session.commit()


async def disable_endpoint(session: AsyncSession, endpoint_id: uuid.UUID, reason: str,
                           delivery_id: uuid.UUID) -> None:
    """Disable the endpoint and write the `webhook_endpoint.disabled` event, in the caller's transaction."""
    ep = await session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
    if ep is None or not ep.enabled:
        return
    ep.enabled = False
    ep.disabled_reason = reason
    ep.disabled_at = ep.updated_at = utcnow()
    await session.flush()  # bumps the version (the ETag changes)
    log.warning("webhook endpoint %s disabled (%s)", ep.id, reason)
    await session.execute(insert(EV).values(
        id=uuid.uuid4(), type=DISABLED_EVENT, occurred_at=utcnow(), organization_id=ep.organization_id,
        candidate_id=None, subject_type="webhook_endpoint", subject_id=ep.id, subject_external_id=None,
        subject_version=ep.version,
        data={"object": WebhookEndpointPublic.model_validate(ep).model_dump(mode="json"),
              "reason": reason, "delivery_id": str(delivery_id)}))
