from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from app.core.types import PublicModel

AuditAction = Literal["create", "update", "delete", "read", "export", "disclose", "erase", "sign_in"]
AUDIT_ACTIONS_DESCRIPTION = (
    "`create`, `update`, `delete`: a write (in its transaction). `read`: the record or anything under it was read "
    "(one row per principal, candidate and hour, written within seconds, off the request path; a candidate's "
    "reads of their own record are not recorded). `export`: the record was exported (the candidate's export, or "
    "the organization's, then once per hour). `disclose`: an event about the record was sent to a webhook "
    "endpoint (`subject_id`; once per endpoint, candidate and hour). `erase`: the candidate was erased. "
    "`sign_in`: a user signed in (`actor_id`: the user; `subject_id`: the new sign-in session).")


class AuditRecordPublic(PublicModel):
    id: uuid.UUID
    occurred_at: datetime
    organization_id: uuid.UUID | None
    candidate_id: uuid.UUID | None = Field(description="The candidate whose record it is, if any.")
    actor_type: Literal["user", "api_key", "system"] = Field(description="`system`: the service itself (the "
                                                                        "background worker).")
    actor_id: uuid.UUID | None = Field(description="The user or API key.")
    actor_role: str | None
    action: AuditAction = Field(description=AUDIT_ACTIONS_DESCRIPTION)
    subject_type: str
    subject_id: uuid.UUID
    changed_fields: list[str] = Field(description="Names of the fields an update changed; never their values.")
    request_id: str | None = Field(description="The request's id: its `X-Request-Id` if valid, else one made for it.")
    client_address: str | None
