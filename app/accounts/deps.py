from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Request

from app.accounts import service
from app.accounts.models import Organization, User
from app.accounts.principal import PrincipalDep
from app.core.db import SessionDep
from app.core.errors import Unauthorized
from app.core.throttle import address_budget, client_address, throttle_of


async def organization_for_principal(
    session: SessionDep, principal: PrincipalDep, organization_id: Annotated[uuid.UUID, Path()]
) -> Organization:
    return await service.get_organization(session, principal, organization_id)


async def user_for_principal(session: SessionDep, principal: PrincipalDep,
                             user_id: Annotated[uuid.UUID, Path()]) -> User:
    return await service.get_user(session, principal, user_id)


OrganizationDep = Annotated[Organization, Depends(organization_for_principal)]
UserDep = Annotated[User, Depends(user_for_principal)]


async def sign_in_throttle(request: Request, _: Annotated[None, Depends(address_budget)]) -> AsyncIterator[None]:
    """Around a sign-in: 429 before any password is checked while the account or the address is throttled; a 401
    counts as a failure of both, a success clears the account's failures (app.core.throttle)."""
    username = (await request.form()).get("username")  # the form the route reads (parsed once, cached)
    if not isinstance(username, str):  # the route's own validation answers this request
        yield
        return
    throttle, address = throttle_of(request), client_address(request)
    await throttle.check_sign_in(username, address)
    try:
        yield
    except Unauthorized:
        await throttle.sign_in_failed(username, address)
        raise
    else:
        await throttle.sign_in_succeeded(username)


SignInThrottleDep = Annotated[None, Depends(sign_in_throttle)]
