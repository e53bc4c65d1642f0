from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from app.accounts.deps import OrganizationDep
from app.accounts.principal import STAFF
from app.core.db import SessionDep
from app.core.errors import DELETE, LIST, READ, UPDATE, WRITE_BODY, problem_responses
from app.core.http import (
    IdempotencyKeyHeader,
    IdempotencyKeyShownOnceHeader,
    IfMatchHeader,
    json_response,
    shown_once,
    shown_once_replay_headers,
)
from app.core.pagination import Page, PageDep, page_response
from app.events.schemas import EventPublic
from app.webhooks import service
from app.webhooks.deps import WebhookEndpointDep
from app.webhooks.models import WebhookEndpoint
from app.webhooks.schemas import (
    DeliveryStatus,
    WebhookDeliveryPublic,
    WebhookEndpointCreate,
    WebhookEndpointPublic,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
    WebhookPing,
)

router = APIRouter(prefix="/organizations/{organization_id}/webhook-endpoints", tags=["webhooks"],
                   dependencies=[STAFF])  # an organization's staff and systems, and admins

_ETAG = {"ETag": {"description": "The representation's version (`\"v<version>\"`); send it as `If-Match`.",
                  "schema": {"type": "string"}}}
_LOCATION = {"Location": {"description": "The URL of the created resource.", "schema": {"type": "string"}}}


def _ok(description: str, *problems: int, status: int = 200, location: bool = False, secret: bool = False
        ) -> dict[int | str, Any]:
    headers = {**_ETAG, **(_LOCATION if location else {}), **(shown_once_replay_headers("secret") if secret else {})}
    return {status: {"description": description, "headers": headers}, **problem_responses(*problems)}


def _base(ep: WebhookEndpoint) -> str:
    return f"/v1/organizations/{ep.organization_id}/webhook-endpoints/{ep.id}"


def _endpoint(ep: WebhookEndpoint, status_code: int = 200, secret: str | None = None,
              location: bool = False) -> Response:
    public = WebhookEndpointPublic.model_validate(ep)
    body = public if secret is None else WebhookEndpointWithSecret(**public.model_dump(), secret=secret)
    resp = json_response(body, status_code=status_code, etag_version=ep.version,
                         location=_base(ep) if location else None)
    if secret is not None:
        resp.headers["Cache-Control"] = "no-store"
    return resp


def _delivery(ep: WebhookEndpoint, row: dict[str, Any], status_code: int = 200, location: bool = False
              ) -> Response:
    return json_response(service.delivery_public(row), status_code=status_code, etag_version=row["version"],
                         location=f"{_base(ep)}/deliveries/{row['id']}" if location else None)


@router.get("", response_model=Page[WebhookEndpointPublic], responses=problem_responses(*LIST, 404))
async def list_webhook_endpoints(session: SessionDep, org: OrganizationDep, page: PageDep) -> Response:
    """The organization's webhook endpoints, oldest first (advisors of the organization, its API keys, admins)."""
    items, total = await service.list_endpoints(session, org, page)
    return page_response(WebhookEndpointPublic, items, total, page)


@router.post("", status_code=201, response_model=WebhookEndpointWithSecret,
             responses=_ok("Created; the signing secret is in this response only.", *WRITE_BODY, status=201,
                           location=True, secret=True))
@shown_once("secret")
async def create_webhook_endpoint(session: SessionDep, org: OrganizationDep,
                                  body: WebhookEndpointCreate, idempotency_key: IdempotencyKeyShownOnceHeader = None
                                  ) -> Response:
    """Add an endpoint: the worker POSTs each new event of the organization whose type it selects, signed per the
    Standard Webhooks specification (see the `webhooks` section). The signing `secret` is shown only here: a retry
    with the same `Idempotency-Key` replays it with `secret` null (`Secret-Withheld: secret`) and adds no second
    endpoint."""
    ep, secret = await service.create_endpoint(session, org, body)
    return _endpoint(ep, 201, secret=secret, location=True)


@router.get("/{endpoint_id}", response_model=WebhookEndpointPublic, responses=_ok("The endpoint.", *READ, 403))
async def get_webhook_endpoint(ep: WebhookEndpointDep) -> Response:
    """One endpoint (never its secret)."""
    return _endpoint(ep)


@router.patch("/{endpoint_id}", response_model=WebhookEndpointPublic,
              responses=_ok("Changed (or unchanged: the same values keep the version).", *UPDATE))
async def update_webhook_endpoint(session: SessionDep, ep: WebhookEndpointDep, body: WebhookEndpointUpdate,
                                  if_match: IfMatchHeader = None) -> Response:
    """Change the URL, the event types, the description, or enable and disable the endpoint. Needs `If-Match`."""
    return _endpoint(await service.update_endpoint(session, ep, body, if_match))


@router.delete("/{endpoint_id}", status_code=204, responses=problem_responses(*DELETE))
async def delete_webhook_endpoint(session: SessionDep, ep: WebhookEndpointDep, if_match: IfMatchHeader = None
                                  ) -> Response:
    """Delete the endpoint and its delivery log; nothing more is sent to it. Needs `If-Match`."""
    await service.delete_endpoint(session, ep, if_match)
    return Response(status_code=204)


@router.post("/{endpoint_id}/rotate-secret", response_model=WebhookEndpointWithSecret,
             responses=_ok("The endpoint with its new secret, shown only in this response.", 401, 403, 404, 409, 422,
                           503, secret=True))
@shown_once("secret")
async def rotate_webhook_secret(session: SessionDep, ep: WebhookEndpointDep,
                                idempotency_key: IdempotencyKeyShownOnceHeader = None) -> Response:
    """Replace the signing secret. For 24 hours deliveries carry two signatures, one made with the new secret and
    one with the previous, so the receiver can switch over without rejecting a delivery. A retry with the same
    `Idempotency-Key` replays the answer with `secret` null (`Secret-Withheld: secret`) and rotates nothing."""
    ep, secret = await service.rotate_secret(session, ep)
    return _endpoint(ep, secret=secret)


@router.post("/{endpoint_id}/test", status_code=201, response_model=WebhookDeliveryPublic,
             responses=_ok("The delivery of the ping, with the outcome of its first attempt.", 401, 403, 404, 422, 503,
                           status=201, location=True))
async def test_webhook_endpoint(session: SessionDep, ep: WebhookEndpointDep,
                                idempotency_key: IdempotencyKeyHeader = None) -> Response:
    """Send a `webhook.test` ping now, signed like every delivery, and answer with its delivery (the receiver's
    status, or why there was none). Works on a disabled endpoint too, to check a receiver before enabling it."""
    return _delivery(ep, await service.send_test(session, ep), 201, location=True)


@router.get("/{endpoint_id}/deliveries", response_model=Page[WebhookDeliveryPublic],
            responses=problem_responses(*LIST, 404))
async def list_webhook_deliveries(
    session: SessionDep, ep: WebhookEndpointDep, page: PageDep,
    status: Annotated[DeliveryStatus | None, Query(description="Only deliveries in this state.")] = None,
) -> Response:
    """The delivery log, newest first: each event sent to the endpoint, its state and every attempt (time, HTTP
    status, duration, error) and when the next one is due. Kept as long as the change feed keeps events."""
    rows, total = await service.list_deliveries(session, ep, page, status)
    return page_response(WebhookDeliveryPublic, rows, total, page)


@router.get("/{endpoint_id}/deliveries/{delivery_id}", response_model=WebhookDeliveryPublic,
            responses=_ok("The delivery.", *READ, 403))
async def get_webhook_delivery(session: SessionDep, ep: WebhookEndpointDep, delivery_id: uuid.UUID) -> Response:
    """One delivery with its attempts."""
    return _delivery(ep, await service.get_delivery(session, ep, delivery_id))


@router.post("/{endpoint_id}/deliveries/{delivery_id}/retry", status_code=202, response_model=WebhookDeliveryPublic,
             responses=_ok("Queued again; the worker sends it at once (while the endpoint is enabled).",
                           401, 403, 404, 422, 503, status=202))
async def retry_webhook_delivery(session: SessionDep, ep: WebhookEndpointDep, delivery_id: uuid.UUID,
                                 idempotency_key: IdempotencyKeyHeader = None) -> Response:
    """Send the delivery again now, whatever its state, with a fresh retry schedule. It carries the same
    `webhook-id`, so a receiver that already has it can ignore it."""
    return _delivery(ep, await service.retry_delivery(session, ep, delivery_id), 202)


# ---- what receivers get: the `webhooks` section of the OpenAPI document ------------------------------------------

def _webhook_id(route: Any) -> str:
    return f"webhooks-{route.name.replace('_', '-')}"


deliveries_doc = APIRouter(tags=["webhooks"], generate_unique_id_function=_webhook_id)

_RECEIVER_ANSWERS: dict[int | str, dict[str, Any]] = {
    204: {"description": "Any 2xx answer (within WEBHOOK_TIMEOUT_SECONDS, 10 s by default) means received; the "
                         "body is ignored. Redirects are not followed."},
    410: {"description": "Gone: the endpoint is disabled at once (a `webhook_endpoint.disabled` event follows)."},
    "default": {"description": "Anything else, or no answer in time, is retried after 5 s, 5 min, 30 min, 2 h, "
                               "5 h, 10 h and 10 h (WEBHOOK_RETRY_SCHEDULE, ±10 %); after the last the delivery is "
                               "dead and the endpoint disabled."},
}
WebhookIdHeader = Annotated[str, Header(alias="webhook-id", description=(
    "The event's `id`: the same on every attempt and every redelivery. Delivery is at least once: dedupe by it."))]
WebhookTimestampHeader = Annotated[str, Header(alias="webhook-timestamp", pattern=r"^[0-9]+$", description=(
    "When this attempt was signed, in seconds since the Unix epoch. Refuse timestamps more than 5 minutes away "
    "from your clock (replays)."))]
WebhookSignatureHeader = Annotated[str, Header(alias="webhook-signature", description=(
    "Space-separated `v1,<base64 HMAC-SHA256>` signatures of `{webhook-id}.{webhook-timestamp}.{body}` with the "
    "secret's bytes (the base64 after `whsec_`); any one matching is enough (after a secret rotation two are "
    "sent, for 24 hours). The Standard Webhooks libraries check all this: "
    "`Webhook(secret).verify(body, headers)`."))]

_SIGNED = ("Signed per the Standard Webhooks specification (https://www.standardwebhooks.com): verify the "
           "signature over the raw body before parsing it.")


@deliveries_doc.post("event", status_code=204, response_class=Response, responses=_RECEIVER_ANSWERS,
                     summary="An event of the organization, POSTed to each endpoint that selects its type",
                     description="The body is the event envelope exactly as `GET /v1/events` renders an item. "
                                 "Events go out about in the feed's order, many at a time, and a retry comes after "
                                 "later events: keep the highest `subject.version`. " + _SIGNED)
async def event_delivery(body: EventPublic, webhook_id: WebhookIdHeader, webhook_timestamp: WebhookTimestampHeader,
                         webhook_signature: WebhookSignatureHeader) -> None:
    pass


@deliveries_doc.post("webhook.test", status_code=204, response_class=Response, responses=_RECEIVER_ANSWERS,
                     summary="A ping, sent by POST …/webhook-endpoints/{endpoint_id}/test",
                     description="The envelope of an event that is not in the change feed (so without `cursor`). "
                                 + _SIGNED)
async def test_delivery(body: WebhookPing, webhook_id: WebhookIdHeader, webhook_timestamp: WebhookTimestampHeader,
                        webhook_signature: WebhookSignatureHeader) -> None:
    pass
