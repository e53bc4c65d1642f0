from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import ConfigDict, Field

from app.core.types import InputModel, PublicModel, ShortText


class CalendarSubscriptionCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {"name": "Phone calendar"}})
    name: ShortText = Field(description="To recognise the subscription in the list (e.g. the device).")


class CalendarSubscriptionPublic(PublicModel):
    id: uuid.UUID
    candidate_id: uuid.UUID
    name: str
    version: int = Field(description="The value of the `ETag` (`\"v<version>\"`), for `If-Match` on revoking.")
    created_at: datetime
    updated_at: datetime


class CalendarSubscriptionCreated(CalendarSubscriptionPublic):
    url: str | None = Field(description="The feed's address for a calendar app: the candidate's timeline as "
                                        "iCalendar, readable without credentials by anyone holding it. Shown only "
                                        "once: its token is stored only as a hash. Revoke the subscription to stop "
                                        "it. Null in the replay of this response to a retry with the same "
                                        "`Idempotency-Key` (`Secret-Withheld`).")
