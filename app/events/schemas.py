"""The event envelope, the same in the change feed and in webhook payloads."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from app.core.types import PublicModel

SubjectType = Literal["candidate", "milestone", "usce_record", "program_list", "program_list_entry",
                      "webhook_endpoint", "import"]

# Every type the service emits; `noun.*` selects all of a noun's.
EVENT_TYPES: tuple[str, ...] = tuple(
    f"{noun}.{verb}" for noun in ("candidate", "milestone", "usce_record", "program_list", "program_list_entry")
    for verb in ("created", "updated", "deleted")
)
# Computed from the candidate's record and the date (app.guidance.computed); their subject is the candidate.
EVENT_TYPES += ("readiness.changed", "deadline.approaching")
# Written by app.webhooks when deliveries keep failing or the receiver is gone.
EVENT_TYPES += ("webhook_endpoint.disabled",)
# Written by app.imports when every item of an import is applied or rejected.
EVENT_TYPES += ("import.completed",)
# What a subscriber or a reader of the feed can ask for: an event type, or `noun.*` for all of a noun's.
EVENT_SELECTORS: tuple[str, ...] = EVENT_TYPES + tuple(dict.fromkeys(f"{t.split('.')[0]}.*" for t in EVENT_TYPES))
_SELECTOR = "(?:" + "|".join(re.escape(t) for t in EVENT_SELECTORS) + ")"
# The feed's `types` filter: selectors separated by commas, spaces allowed around each; empty: every type.
TYPES_PATTERN = rf"^(?: *{_SELECTOR} *(?:, *{_SELECTOR} *)*)?$"


class EventSubject(PublicModel):
    type: SubjectType
    id: uuid.UUID
    external_id: str | None = Field(description="Your system's id of the subject, when it has one.")
    version: int | None = Field(description="The subject's version after the change (its ETag's value). Events "
                                            "are not ordered across deliveries: keep the highest version.")


class EventPublic(PublicModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "id": "0b6f3f0e-4c1b-4a8e-9d55-1f1f7f3e2a10", "type": "milestone.updated",
        "occurred_at": "2026-12-01T21:30:00Z", "organization_id": "6f1c1d8e-1b9a-4a53-9a0e-3b8c1d3e2f10",
        "subject": {"type": "milestone", "id": "1d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "external_id": "SIS-M-1",
                    "version": 3},
        "data": {"object": {"id": "1d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "status": "passed"},
                 "changed_fields": ["completed_on", "status"]},
        "cursor": "100.42"}})
    id: uuid.UUID = Field(description="Unique; a receiver dedupes by it (it is also the `webhook-id`).")
    type: str = Field(description="`noun.verb`: " + ", ".join(f"`{t}`" for t in EVENT_TYPES))
    occurred_at: datetime
    organization_id: uuid.UUID | None
    candidate_id: uuid.UUID | None = Field(description="The candidate whose record changed.")
    subject: EventSubject
    data: dict[str, Any] = Field(description="`object`: the subject's representation after the change (for a "
                                             "deleted candidate only its ids); `changed_fields`: the names of "
                                             "the fields an update changed. Computed events: "
                                             "`readiness.changed` has `cycle`, `as_of`, `changed_fields` and "
                                             "`old`/`new` {`status`, `next_step`, `earliest_feasible_cycle`}; "
                                             "`deadline.approaching` has `step`, `latest_safe_date`, "
                                             "`days_left` and `lead_days`; `import.completed` has `dry_run`, "
                                             "`total` and `counts` (created, updated, unchanged, rejected).")
    cursor: str = Field(description="This event's position: pass it as `after` to read on from here.")


class EventPage(PublicModel):
    items: list[EventPublic]
    next_cursor: str = Field(description="Pass as `after` for the next page; at the end of the feed it is the "
                                         "position to poll from.")
    has_more: bool = Field(description="Whether more events follow right now.")
    limit: int
