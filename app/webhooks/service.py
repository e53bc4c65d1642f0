"""An organization's webhook endpoints and their delivery log. Each write use case commits once, at its end
(sending a test ping commits the queued delivery first, so the worker can retry it if this process dies)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.accounts.models import Organization
from app.core.crud import delete_versioned, fetch_page, update_versioned
from app.core.db import utcnow
from app.core.errors import NotFound, ValidationFailed, field_error
from app.core.metrics import backlog
from app.core.models import table_of
from app.core.pagination import PageParams
from app.core.serialization import dumps
from app.events.schemas import EventSubject
from app.webhooks import delivery
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.webhooks.schemas import (
    PING_TYPE,
    WebhookDeliveryPublic,
    WebhookEndpointCreate,
    WebhookEndpointUpdate,
    WebhookPing,
)
from app.webhooks.signing import encrypt_secret, new_secret
from app.webhooks.urls import UrlRefused, check_url

# After a rotation the previous secret keeps signing this long, so receivers can switch without a gap.
PREVIOUS_SECRET_GRACE = timedelta(hours=24)

D = table_of(WebhookDelivery)
A = table_of(WebhookAttempt)


async def _checked_url(url: str) -> str:
    try:
        await check_url(url)
    except UrlRefused as exc:
        raise ValidationFailed(f"url is not allowed: {exc}.", code=exc.code,
                               errors=[field_error("body.url", str(exc), exc.code)]) from exc
    return url


def _selectors(values: list[str]) -> list[str]:
    return sorted(set(values))  # the same set in another order is no change


# ---- endpoints ---------------------------------------------------------------------------------------------------

async def get_endpoint(session: AsyncSession, org: Organization, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    ep = await session.get(WebhookEndpoint, endpoint_id)
    if ep is None or ep.organization_id != org.id:
        raise NotFound("Webhook endpoint not found.")
    return ep


async def list_endpoints(session: AsyncSession, org: Organization, page: PageParams) -> tuple[list[Any], int]:
    return await fetch_page(session, WebhookEndpoint, [col(WebhookEndpoint.organization_id) == org.id],
                            [WebhookEndpoint.created_at, WebhookEndpoint.id], page)


async def create_endpoint(session: AsyncSession, org: Organization, data: WebhookEndpointCreate
                          ) -> tuple[WebhookEndpoint, str]:
    secret = new_secret()
    ep = WebhookEndpoint(organization_id=org.id, url=await _checked_url(data.url),
                         event_types=_selectors(data.event_types), description=data.description,
                         enabled=data.enabled, disabled_reason=None if data.enabled else "manual",
                         disabled_at=None if data.enabled else utcnow(), secret_encrypted=encrypt_secret(secret))
    session.add(ep)
    await session.commit()
    return ep, secret


async def update_endpoint(session: AsyncSession, ep: WebhookEndpoint, data: WebhookEndpointUpdate,
                          if_match: str | None) -> WebhookEndpoint:
    changes = data.model_dump(exclude_unset=True)
    for name in ("url", "event_types", "enabled"):
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be cleared.",
                                   errors=[field_error(f"body.{name}", "may not be null", "not_nullable")])
    if "url" in changes and changes["url"] != ep.url:
        await _checked_url(changes["url"])
    if "event_types" in changes:
        changes["event_types"] = _selectors(changes["event_types"])
    if "enabled" in changes and changes["enabled"] != ep.enabled:
        changes["disabled_reason"] = None if changes["enabled"] else "manual"
        changes["disabled_at"] = None if changes["enabled"] else utcnow()
    if any(getattr(ep, name) != value for name, value in changes.items()):
        changes["updated_at"] = utcnow()  # (the write hook stamps only the tables it describes)
    if await update_versioned(session, ep, changes, if_match):
        await session.commit()
    return ep


async def delete_endpoint(session: AsyncSession, ep: WebhookEndpoint, if_match: str | None) -> None:
    """Deletes the endpoint with its delivery log."""
    await delete_versioned(session, ep, if_match)
    await session.commit()


async def rotate_secret(session: AsyncSession, ep: WebhookEndpoint) -> tuple[WebhookEndpoint, str]:
    secret = new_secret()
    now = utcnow()
    ep.previous_secret_encrypted = ep.secret_encrypted
    ep.previous_secret_expires_at = now + PREVIOUS_SECRET_GRACE
    ep.secret_encrypted = encrypt_secret(secret)
    ep.updated_at = now
    await session.commit()
    return ep, secret


# ---- deliveries --------------------------------------------------------------------------------------------------

async def _with_attempts(session: AsyncSession, rows: list[Any]) -> list[dict[str, Any]]:
    by_delivery: dict[uuid.UUID, list[Any]] = {r.id: [] for r in rows}
    if rows:
        for a in (await session.execute(select(A).where(A.c.delivery_id.in_(list(by_delivery)))
                                        .order_by(A.c.attempted_at, A.c.id))).all():
            by_delivery[a.delivery_id].append(a)
    return [{**r._mapping, "attempts": by_delivery[r.id]} for r in rows]


async def list_deliveries(session: AsyncSession, ep: WebhookEndpoint, page: PageParams, status: str | None
                          ) -> tuple[list[dict[str, Any]], int]:
    where = [col(WebhookDelivery.endpoint_id) == ep.id]
    if status is not None:
        where.append(col(WebhookDelivery.status) == status)
    rows, total = await fetch_page(session, WebhookDelivery, where,
                                   [col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id).desc()], page)
    return await _with_attempts(session, rows), total


async def get_delivery(session: AsyncSession, ep: WebhookEndpoint, delivery_id: uuid.UUID) -> dict[str, Any]:
    row = (await session.execute(select(D).where(D.c.id == delivery_id, D.c.endpoint_id == ep.id))).first()
    if row is None:
        raise NotFound("Delivery not found.")
    return (await _with_attempts(session, [row]))[0]


async def retry_delivery(session: AsyncSession, ep: WebhookEndpoint, delivery_id: uuid.UUID) -> dict[str, Any]:
    """Queue the delivery again, due now, with the whole retry schedule ahead of it (it waits while the endpoint is
    disabled). A result still on its way from an earlier attempt no longer changes it."""
    await get_delivery(session, ep, delivery_id)
    now = utcnow()
    await session.execute(update(D).where(D.c.id == delivery_id).values(
        status="pending", next_attempt_at=now, locked_until=None, schedule_step=0, version=D.c.version + 1,
        updated_at=now))
    await session.commit()
    return await get_delivery(session, ep, delivery_id)


async def send_test(session: AsyncSession, ep: WebhookEndpoint) -> dict[str, Any]:
    """A `webhook.test` ping, sent now (also to a disabled endpoint, to check a receiver before enabling it) and
    recorded as a delivery like any other: if it fails, it is retried on the schedule while the endpoint is
    enabled."""
    now = utcnow()
    event_id = uuid.uuid4()
    payload = dumps(WebhookPing(id=event_id, occurred_at=now, organization_id=ep.organization_id, subject=EventSubject(
        type="webhook_endpoint", id=ep.id, external_id=None, version=ep.version))).decode()
    delivery_id = uuid.uuid4()
    lease = now + timedelta(seconds=delivery.lease_seconds(1))
    await session.execute(insert(D).values(
        id=delivery_id, endpoint_id=ep.id, event_id=event_id, event_type=PING_TYPE, payload=payload,
        status="pending", attempt_count=0, schedule_step=0, next_attempt_at=now, locked_until=lease,
        created_at=now, updated_at=now, version=1))
    await session.commit()
    claimed = delivery.Claimed(delivery_id, ep.id, event_id, PING_TYPE, payload, 0, lease)
    await delivery.prepare(session, [claimed])
    await session.commit()
    await delivery.record(session, [await delivery.send(claimed)])
    return await get_delivery(session, ep, delivery_id)


def delivery_public(row: dict[str, Any]) -> WebhookDeliveryPublic:
    return WebhookDeliveryPublic.model_validate(row)


# ---- the worker's backlog, for the metrics (`matchready_worker_backlog{queue=...}`) --------------------------

@backlog("webhook_deliveries_waiting")
async def count_waiting_deliveries(session: AsyncSession) -> int:
    """Deliveries not yet settled (pending, or failed and to be retried), whether due or not."""
    return int((await session.execute(
        select(func.count()).select_from(D).where(D.c.next_attempt_at.is_not(None)))).scalar_one())


@backlog("webhook_deliveries_due")
async def count_due_deliveries(session: AsyncSession) -> int:
    """Deliveries whose time has come: a worker keeping up holds this near zero."""
    return int((await session.execute(
        select(func.count()).select_from(D).where(D.c.next_attempt_at <= utcnow()))).scalar_one())
