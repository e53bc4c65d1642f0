from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from app.core.types import InputModel, LongText, PublicModel, described
from app.events.schemas import EVENT_SELECTORS, EventSubject

PING_TYPE = "webhook.test"


def _selector(value: str) -> str:
    if value not in EVENT_SELECTORS:
        raise PydanticCustomError("enum", "unknown event type {value!r}", {"value": value})
    return value


EventSelector = Annotated[str, AfterValidator(_selector), Field(json_schema_extra={"enum": list(EVENT_SELECTORS)})]
EventSelectors = Annotated[list[EventSelector], Field(max_length=len(EVENT_SELECTORS), description=(
    "Event types to send, or `noun.*` for all of a noun's (e.g. `milestone.*`); empty: every type."))]
# No whitespace (in both the JSON Schema and pydantic senses) and no NUL anywhere; a host after the scheme.
_URL_CHAR = r"[^\s\x85\ufeff\x00]"
_URL = described(rf"^https?://[^\s\x85\ufeff\x00/?#]+{_URL_CHAR}*$",
                 "must be an absolute http or https URL with a host, without whitespace or NUL characters")
WebhookUrl = Annotated[str, StringConstraints(max_length=500, pattern=_URL),
                       Field(description="Where to POST the events. `https` in production; the host must resolve to "
                                         "public addresses only (checked again at every delivery).")]
Description = Annotated[LongText, StringConstraints(max_length=500)]
DisabledReason = Literal["manual", "failing", "gone"]
DeliveryStatus = Literal["pending", "succeeded", "failed", "dead"]

_VERSION = Field(description="Bumped by every change; the value of the `ETag` (`\"v<version>\"`), so an item read "
                             "from a list can be sent back with `If-Match`.")


class WebhookEndpointCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "url": "https://sis.example.org/hooks/matchready", "event_types": ["milestone.*", "candidate.updated"],
        "description": "Student information system", "enabled": True}})
    url: WebhookUrl
    event_types: EventSelectors = []
    description: Description | None = None
    enabled: bool = True


class WebhookEndpointUpdate(InputModel):
    not_nullable = ("url", "event_types", "enabled")
    model_config = ConfigDict(json_schema_extra={"example": {"enabled": True, "event_types": []}})
    url: WebhookUrl | None = None
    event_types: EventSelectors | None = None
    description: Description | None = Field(default=None, description="`null` clears it.")
    enabled: bool | None = Field(default=None, description="`true` re-enables a disabled endpoint: the deliveries "
                                                           "that waited are sent.")


class WebhookEndpointPublic(PublicModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str] = Field(description="Empty: every type.")
    enabled: bool = Field(description="A disabled endpoint receives nothing: new events are not queued for it, "
                                      "and queued deliveries wait until it is enabled again.")
    disabled_reason: DisabledReason | None = Field(description=(
        "`manual`: by a PATCH; `failing`: a delivery failed its last attempt; `gone`: the receiver answered "
        "410 Gone. Each automatic disable emits a `webhook_endpoint.disabled` event."))
    disabled_at: datetime | None
    previous_secret_expires_at: datetime | None = Field(description=(
        "After a secret rotation, deliveries carry a second signature made with the previous secret until then."))
    version: int = _VERSION
    created_at: datetime
    updated_at: datetime


class WebhookEndpointWithSecret(WebhookEndpointPublic):
    secret: str | None = Field(description="The signing secret (`whsec_` + base64). Shown only in this response: "
                                           "store it now. Verify each delivery with it (Standard Webhooks). Null "
                                           "in the replay of this response to a retry with the same "
                                           "`Idempotency-Key` (`Secret-Withheld`).")


class AttemptPublic(PublicModel):
    attempted_at: datetime
    status_code: int | None = Field(description="The receiver's HTTP status; null when there was no answer.")
    duration_ms: int
    error: str | None = Field(description="Why the attempt failed (no answer, a non-2xx status, a refused "
                                          "address); null on success.")


class WebhookDeliveryPublic(PublicModel):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID = Field(description="The event sent; also the `webhook-id` header, by which a receiver "
                                            "dedupes (delivery is at least once).")
    event_type: str
    status: DeliveryStatus = Field(description=(
        "`pending`: not attempted yet (or queued again); `failed`: the last attempt failed and another is "
        "scheduled at `next_attempt_at`; `succeeded`: the receiver answered 2xx; `dead`: no more attempts."))
    attempt_count: int
    next_attempt_at: datetime | None
    attempts: list[AttemptPublic] = Field(description="Every attempt, oldest first.")
    version: int = _VERSION
    created_at: datetime
    updated_at: datetime


class WebhookPing(PublicModel):
    """The body of a `webhook.test` delivery: the event envelope without a feed position (it is not in the feed)."""

    id: uuid.UUID = Field(description="Unique; also the `webhook-id`.")
    type: Literal["webhook.test"] = "webhook.test"
    occurred_at: datetime
    organization_id: uuid.UUID
    candidate_id: None = None
    subject: EventSubject = Field(description="The endpoint tested.")
    data: dict[str, Any] = {"message": "A test delivery from MatchReady."}
