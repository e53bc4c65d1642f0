"""Authentication and the caller's identity.

People sign in with a password and receive a short-lived JWT bearer token and a refresh token (app.accounts).
The token's signature is checked once per process (then remembered); what can change after it was issued is checked
against the database at most once per `SESSION_CHECK_SECONDS` per user and session in each worker: the account still
exists and is active, its role, organization and candidate record are those of the token, its `token_version` (bumped
when all of its sessions must end) is the token's `tv`, and the token's session (`sid`) is not revoked. So a
deactivated or deleted user, a changed password or role, or a logout ends the access on every worker within that
bound, while a busy client costs one short read per bound, not one per request. (Every token the service issues
names its session; one without `sid`, minted by tests and tools with the secret key, is held to its account only.)

Systems send an organization-scoped `X-API-Key`; keys are random, shown once, stored as SHA-256 (they carry enough
entropy that a slow hash adds nothing) and checked against the database on every request, so revocation is immediate.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from sqlalchemy import and_, bindparam, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import Forbidden, Unauthorized
from app.core.observe import request_id_of, set_principal_id
from app.core.reads import TypedRead, read
from app.core.throttle import throttle_of


class Role(StrEnum):
    admin = "admin"
    advisor = "advisor"
    candidate = "candidate"
    system = "system"  # an organization's API key


_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("timing-equaliser")
API_KEY_PREFIX = "mrk_"
ISSUER = "matchready"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Constant work whether or not the account exists (no user enumeration by timing)."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    user_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    candidate_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None  # the sign-in session a bearer token was issued in

    @property
    def scope_key(self) -> str:
        """Who the caller is, for per-caller state such as idempotency keys."""
        return f"key:{self.api_key_id}" if self.api_key_id else f"user:{self.user_id}"

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin

    def can_see_org(self, organization_id: uuid.UUID) -> bool:
        return self.is_admin or (self.role is not Role.candidate and self.organization_id == organization_id)

    def can_see_candidate(self, organization_id: uuid.UUID, candidate_id: uuid.UUID) -> bool:
        if self.role is Role.candidate:
            return self.candidate_id == candidate_id
        return self.can_see_org(organization_id)


def new_secret_token() -> str:
    """An opaque one-time secret (refresh, reset, invitation): 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Opaque tokens are stored as SHA-256 only: with 256 random bits a slow hash adds nothing."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_access_token(
    *, user_id: uuid.UUID, role: Role, organization_id: uuid.UUID | None, candidate_id: uuid.UUID | None,
    token_version: int = 0, session_id: uuid.UUID | None = None,
) -> tuple[str, int]:
    settings = get_settings()
    now = utcnow()
    ttl = timedelta(minutes=settings.access_token_minutes)
    claims: dict[str, object] = {
        "iss": ISSUER,
        "sub": str(user_id),
        "role": role.value,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "tv": token_version,
        "jti": secrets.token_urlsafe(9),  # two tokens issued in one second are still two tokens
    }
    if session_id:
        claims["sid"] = str(session_id)
    if organization_id:
        claims["org"] = str(organization_id)
    if candidate_id:
        claims["cand"] = str(candidate_id)
    token = jwt.encode(claims, settings.secret_key, algorithm=settings.jwt_algorithm)
    return token, int(ttl.total_seconds())


_TOKEN_CACHE: dict[str, tuple[Principal, int, int]] = {}
_TOKEN_CACHE_MAX = 4096


def principal_from_token(token: str) -> Principal:
    """Verify a bearer token's signature and claims (not whether its session still stands: `_principal` does)."""
    return _signed_claims(token)[0]


def _signed_claims(token: str) -> tuple[Principal, int]:
    """The token's principal and its `tv`. Verified tokens are remembered until they expire: a token is immutable,
    so the signature and claims need checking only once (this is most of the cost of a small authenticated read)."""
    cached = _TOKEN_CACHE.get(token)
    if cached is not None:
        principal, exp, tv = cached
        if time.time() < exp:
            return principal, tv
        _TOKEN_CACHE.pop(token, None)
    principal, exp, tv = _verify_token(token)
    if len(_TOKEN_CACHE) >= _TOKEN_CACHE_MAX:
        _TOKEN_CACHE.clear()
    _TOKEN_CACHE[token] = (principal, exp, tv)
    return principal, tv


def _verify_token(token: str) -> tuple[Principal, int, int]:
    settings = get_settings()
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[settings.jwt_algorithm],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iss"]},
        )
        role = Role(claims["role"])
        if role is Role.system:
            raise ValueError("tokens are not issued to systems")
        principal = Principal(
            role=role,
            user_id=uuid.UUID(claims["sub"]),
            organization_id=uuid.UUID(claims["org"]) if claims.get("org") else None,
            candidate_id=uuid.UUID(claims["cand"]) if claims.get("cand") else None,
            session_id=uuid.UUID(claims["sid"]) if claims.get("sid") else None,
        )
        tv = claims.get("tv", 0)
        if not isinstance(tv, int) or isinstance(tv, bool):
            raise ValueError("tv must be an integer")
        return principal, int(claims["exp"]), tv
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise Unauthorized("The bearer token is invalid or has expired.") from exc


# The two schemes as declared in OpenAPI (see app.main); headers are read directly, in one dependency.
SECURITY_SCHEMES = {
    "BearerToken": {"type": "oauth2", "description": (
        "Sign in at POST /v1/auth/token; send `Authorization: Bearer`. The access token is short-lived (see "
        "`expires_in`); renew it with the `refresh_token` grant. Access ends on every server within "
        "SESSION_CHECK_SECONDS (5 s by default) of a logout, a deactivation or deletion of the user, or a change "
        "of their password or role."),
                    "flows": {"password": {"tokenUrl": "/v1/auth/token", "scopes": {}}}},
    "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
               "description": "An organization's API key, for server-to-server use."},
}


_KEY_LOOKUP: TypedRead | None = None
_SESSION_LOOKUP: TypedRead | None = None

# (user, session) -> (monotonic time read, the user's and session's row or None): what a token is checked against,
# re-read once it is SESSION_CHECK_SECONDS old. The bound on how long a change takes to end access on this worker.
_SESSION_STATE: dict[tuple[uuid.UUID, uuid.UUID | None], tuple[float, Any]] = {}
_SESSION_STATE_MAX = 8192


def forget_sessions(user_ids: Iterable[uuid.UUID]) -> None:
    """Drop this worker's remembered state of these users' sessions, after a change that ends them (the other
    workers see it within SESSION_CHECK_SECONDS)."""
    users = set(user_ids)
    for key in [k for k in _SESSION_STATE if k[0] in users]:
        _SESSION_STATE.pop(key, None)


async def _session_state(user_id: uuid.UUID, session_id: uuid.UUID | None) -> Any:
    from app.accounts.models import AuthSession, User  # local import: accounts depends on core, not the reverse

    key = (user_id, session_id)
    now = time.monotonic()
    found = _SESSION_STATE.get(key)
    if found is not None and now - found[0] < get_settings().session_check_seconds:
        return found[1]
    global _SESSION_LOOKUP
    if _SESSION_LOOKUP is None:
        u, s = User.__table__, AuthSession.__table__  # type: ignore[attr-defined]
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


@dataclass(frozen=True)
class Actor:
    """Who is behind the writes of this request, for the write hook's audit rows (see app.core.changes)."""

    principal: Principal
    client_address: str | None
    request_id: str | None


# Set by `get_principal` in the request's task, so the flushes of that request see it; None in the worker.
current_actor: ContextVar[Actor | None] = ContextVar("current_actor", default=None)


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
        principal, tv = _signed_claims(token.strip())
        await _check_session(principal, tv)
        return principal
    if api_key:
        from app.accounts.models import ApiKey  # local import: accounts depends on core, not the reverse

        if not api_key.startswith(API_KEY_PREFIX) or len(api_key) > 128:
            raise Unauthorized("The API key is invalid or revoked.")
        global _KEY_LOOKUP
        if _KEY_LOOKUP is None:
            t = ApiKey.__table__  # type: ignore[attr-defined]
            _KEY_LOOKUP = TypedRead(select(t.c.id, t.c.organization_id).where(t.c.key_hash == bindparam("h"),
                                                                              t.c.revoked_at.is_(None)))
        rows = (await read((_KEY_LOOKUP, {"h": hash_api_key(api_key)})))[0]
        if not rows:
            raise Unauthorized("The API key is invalid or revoked.")
        return Principal(role=Role.system, organization_id=rows[0].organization_id, api_key_id=rows[0].id)
    raise Unauthorized()


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role):  # type: ignore[no-untyped-def]
    allowed = frozenset(roles)

    async def _check(principal: PrincipalDep) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(f"The {principal.role.value} role may not use this function.")
        return principal

    return _check


AdminDep = Annotated[Principal, Depends(require_roles(Role.admin))]
StaffDep = Annotated[Principal, Depends(require_roles(Role.admin, Role.advisor, Role.system))]
