"""Authentication and the caller's identity.

People sign in with a password and receive a short-lived JWT bearer token (stateless: no lookup per request).
Systems send an organization-scoped `X-API-Key`; keys are random, shown once, stored as SHA-256 (they carry enough
entropy that a slow hash adds nothing) and checked against the database on every request, so revocation is immediate.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from sqlalchemy import bindparam, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import Forbidden, Unauthorized
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


def create_access_token(
    *, user_id: uuid.UUID, role: Role, organization_id: uuid.UUID | None, candidate_id: uuid.UUID | None
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
    }
    if organization_id:
        claims["org"] = str(organization_id)
    if candidate_id:
        claims["cand"] = str(candidate_id)
    token = jwt.encode(claims, settings.secret_key, algorithm=settings.jwt_algorithm)
    return token, int(ttl.total_seconds())


_TOKEN_CACHE: dict[str, tuple[Principal, int]] = {}
_TOKEN_CACHE_MAX = 4096


def principal_from_token(token: str) -> Principal:
    """Verify a bearer token. Verified tokens are remembered until they expire: a token is immutable, so the
    signature and claims need checking only once (this is most of the cost of a small authenticated read)."""
    cached = _TOKEN_CACHE.get(token)
    if cached is not None:
        principal, exp = cached
        if time.time() < exp:
            return principal
        _TOKEN_CACHE.pop(token, None)
    principal, exp = _verify_token(token)
    if len(_TOKEN_CACHE) >= _TOKEN_CACHE_MAX:
        _TOKEN_CACHE.clear()
    _TOKEN_CACHE[token] = (principal, exp)
    return principal


def _verify_token(token: str) -> tuple[Principal, int]:
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
        )
        return principal, int(claims["exp"])
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise Unauthorized("The bearer token is invalid or has expired.") from exc


# The two schemes as declared in OpenAPI (see app.main); headers are read directly, in one dependency.
SECURITY_SCHEMES = {
    "BearerToken": {"type": "oauth2", "description": "Sign in at POST /v1/auth/token; send `Authorization: Bearer`.",
                    "flows": {"password": {"tokenUrl": "/v1/auth/token", "scopes": {}}}},
    "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
               "description": "An organization's API key, for server-to-server use."},
}


_KEY_LOOKUP: TypedRead | None = None


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
    request_id = request.headers.get("x-request-id")
    current_actor.set(Actor(principal, request.client.host if request.client else None,
                            request_id[:64] if request_id else None))
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
        return principal_from_token(token.strip())
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
