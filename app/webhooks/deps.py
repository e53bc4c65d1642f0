from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path

from app.accounts.deps import OrganizationDep
from app.core.db import SessionDep
from app.webhooks import service
from app.webhooks.models import WebhookEndpoint


async def endpoint_for_organization(session: SessionDep, org: OrganizationDep,
                                    endpoint_id: Annotated[uuid.UUID, Path()]) -> WebhookEndpoint:
    return await service.get_endpoint(session, org, endpoint_id)


WebhookEndpointDep = Annotated[WebhookEndpoint, Depends(endpoint_for_organization)]
