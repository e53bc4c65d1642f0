"""Who is calling: the principal behind a request's credentials, loaded from the accounts it names.

app.core.security verifies a bearer token's signature and claims (once per process, then remembered); what can change
after it was issued is checked here, against the database, at most once per `SESSION_CHECK_SECONDS` per user and
session in each worker: the account still exists and is active, its role, organization and candidate record are those
of the token, its `token_version` (bumped when all of its sessions must end) is the token's `tv`, and the token's
session (`sid`) is not revoked. So a deactivated or deleted user, a changed password or role, or a logout ends the
access on every worker within that bound, while a busy client costs one short read per bound, not one per request.
(Every token the service issues names its session; one without `sid`, minted by tests and tools with the secret key,
is held to its account only.) An `X-API-Key` is checked against the database on every request, so revocation is
immediate.

Every /v1 route requires a principal unless its router is one of the explicitly public ones (app.api); a route that
needs a role says so with `Roles(...)`, the one way roles are checked before a route runs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Coroutine, Iterable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam
from sqlalchemy import Row, and_, bindparam, select

from app.accounts.models import ApiKey, AuthSession, User
from app.core.config import get_settings
from app.core.errors import Forbidden, Unauthorized
from app.core.models import table_of
from app.core.observe import request_id_of, set_principal_id
from app.core.reads import TypedRead, read
from app.core.security import (
    API_KEY_PREFIX,
    Actor,
    Principal,
    Role,
    current_actor,
    hash_api_key,
    signed_claims,
)
from app.core.throttle import throttle_of

_KEY_LOOKUP: TypedRead | None = None
_SESSION_LOOKUP: TypedRead | None = None

# (user, session) -> (monotonic time read, the user's and session's row or None): what a token is checked against,
# re-read once it is SESSION_CHECK_SECONDS old. The bound on how long a change takes to end access on this worker.
_SESSION_STATE: dict[tuple[uuid.UUID, uuid.UUID | None], tuple[float, Row[Any] | None]] = {}
_SESSION_STATE_MAX = 8192


def forget_sessions(user_ids: Iterable[uuid.UUID]) -> None:
    """Drop this worker's remembered state of these users' sessions, after a change that ends them (the other
    workers see it within SESSION_CHECK_SECONDS)."""
    users = set(user_ids)
    for key in [k for k in _SESSION_STATE if k[0] in users]:
        _SESSION_STATE.pop(key, None)


async def _session_state(user_id: uuid.UUID, session_id: uuid.UUID | None) -> Row[Any] | None:
    key = (user_id, session_id)
    now = time.monotonic()
    found = _SESSION_STATE.get(key)
    if found is not None and now - found[0] < get_settings().session_check_seconds:
        return found[1]
    global _SESSION_LOOKUP
    if _SESSION_LOOKUP is None:
        u, s = table_of(User), table_of(AuthSession)
        _SESSION_LOOKUP = TypedRead(
            select(u.c.is_active, u.c.token_version, u.c.role, u.c.organization_id, u.c.candidate_id,
                   s.c.id.label("session_id"), s.c.revoked_at)
            .select_from(u.outerjoin(s, and_(s.c.id == bindparam("sid"), s.c.user_id == u.c.id)))
            .where(u.c.id == bindparam("uid")))
    rows = (await read((_SESSION_LOOKUP, {"uid": user_id, "sid": session_id})))[0]
    state = rows[0] if rows else None
    if len(_SESSION_STATE) >= _SESSION_STATE_MAX:
        _SESSION_STATE.clear()
    _SESSION_STATE[key] = (now, state)
    return state


async def _check_session(principal: Principal, tv: int) -> None:
    """The token still speaks for its user: see the module's docstring. One answer whatever the reason."""
    assert principal.user_id is not None
    state = await _session_state(principal.user_id, principal.session_id)
    if (state is None or not state.is_active or state.token_version != tv or state.role != principal.role.value
            or state.organization_id != principal.organization_id or state.candidate_id != principal.candidate_id
            or (principal.session_id is not None and (state.session_id is None or state.revoked_at is not None))):
        raise Unauthorized("The bearer token is invalid or has expired.")


async def get_principal(request: Request) -> Principal:
    """Who is calling, after spending one request of their budget (app.core.throttle): the principal's, or the
    client address's when the credentials are invalid, so guessing them is throttled too."""
    throttle = throttle_of(request)
    try:
        principal = await _principal(request)
    except Unauthorized:
        await throttle.spend_address(request)
        raise
    await throttle.spend_principal(request, principal.scope_key)
    # The id the access log and the answer carry (app.core.observe): validated, or made for this request.
    current_actor.set(Actor(principal, request.client.host if request.client else None, request_id_of(request.scope)))
    set_principal_id(request.scope, principal.api_key_id or principal.user_id)
    return principal


async def _principal(request: Request) -> Principal:
    """Who is calling. Bearer tokens need no database; API keys are looked up on a short read of their own (see
    app.core.reads), so no request pays for a database session it does not use."""
    auth = request.headers.get("authorization")
    api_key = request.headers.get("x-api-key")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Use `Authorization: Bearer <token>`.")
        principal, tv = signed_claims(token.strip())
        await _check_session(principal, tv)
        return principal
    if api_key:
        if not api_key.startswith(API_KEY_PREFIX) or len(api_key) > 128:
            raise Unauthorized("The API key is invalid or revoked.")
        global _KEY_LOOKUP
        if _KEY_LOOKUP is None:
            t = table_of(ApiKey)
            _KEY_LOOKUP = TypedRead(select(t.c.id, t.c.organization_id).where(t.c.key_hash == bindparam("h"),
                                                                              t.c.revoked_at.is_(None)))
        rows = (await read((_KEY_LOOKUP, {"h": hash_api_key(api_key)})))[0]
        if not rows:
            raise Unauthorized("The API key is invalid or revoked.")
        return Principal(role=Role.system, organization_id=rows[0].organization_id, api_key_id=rows[0].id)
    raise Unauthorized()


PrincipalDep = Annotated[Principal, Depends(get_principal)]


RoleCheck = Callable[[Principal], Coroutine[Any, Any, Principal]]


def require_roles(*roles: Role) -> RoleCheck:
    """A dependency that answers 403 unless the caller has one of `roles`."""
    allowed = frozenset(roles)

    async def _check(principal: PrincipalDep) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(f"The {principal.role.value} role may not use this function.")
        return principal

    return _check


def Roles(*roles: Role) -> DependsParam:  # noqa: N802 - reads as a declaration: dependencies=[Roles(Role.admin)]
    """`dependencies=[Roles(...)]` on a route or router: only these roles may call it."""
    return Depends(require_roles(*roles))


# Who may call what, by role alone, for the `dependencies` of routes and routers. A rule that also looks at the
# data (whose record, which fields) is the service's, and answers 403 or 404 from there.
ADMINS = Roles(Role.admin)
PEOPLE_MANAGERS = Roles(Role.admin, Role.advisor)  # those who make and manage accounts
STAFF = Roles(Role.admin, Role.advisor, Role.system)  # everyone but candidates: an organization's people and systems
PEOPLE = Roles(Role.admin, Role.advisor, Role.candidate)  # signed-in people, not API keys
ORGANIZATION_WRITERS = Roles(Role.advisor, Role.system)  # an organization's own advisors and systems
