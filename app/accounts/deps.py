from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path

from app.accounts import service
from app.accounts.models import Organization, User
from app.core.db import SessionDep
from app.core.security import PrincipalDep


async def organization_for_principal(
    session: SessionDep, principal: PrincipalDep, organization_id: Annotated[uuid.UUID, Path()]
) -> Organization:
    return await service.get_organization(session, principal, organization_id)


async def user_for_principal(session: SessionDep, principal: PrincipalDep,
                             user_id: Annotated[uuid.UUID, Path()]) -> User:
    return await service.get_user(session, principal, user_id)


OrganizationDep = Annotated[Organization, Depends(organization_for_principal)]
UserDep = Annotated[User, Depends(user_for_principal)]
