from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from app.core.types import PublicModel

AuditAction = Literal["create", "update", "delete", "export", "erase"]


class AuditRecordPublic(PublicModel):
    id: uuid.UUID
    occurred_at: datetime
    organization_id: uuid.UUID | None
    candidate_id: uuid.UUID | None = Field(description="The candidate whose record it is, if any.")
    actor_type: Literal["user", "api_key", "system"] = Field(description="`system`: the service itself (the "
                                                                        "background worker).")
    actor_id: uuid.UUID | None = Field(description="The user or API key.")
    actor_role: str | None
    action: AuditAction
    subject_type: str
    subject_id: uuid.UUID
    changed_fields: list[str] = Field(description="Names of the fields an update changed; never their values.")
    request_id: str | None = Field(description="The request's id: its `X-Request-Id` if valid, else one made for it.")
    client_address: str | None
