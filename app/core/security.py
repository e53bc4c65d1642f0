"""Credentials and the caller's identity: roles, the principal, password and token hashing, access tokens.

People sign in with a password and receive a short-lived JWT bearer token and a refresh token (app.accounts).
The token's signature is checked once per process (then remembered); whether the account and session it names still
stand is checked by app.accounts.principal, which loads the principal of each request.

Systems send an organization-scoped `X-API-Key`; keys are random, shown once, stored as SHA-256 (they carry enough
entropy that a slow hash adds nothing) and looked up by app.accounts.principal on every request.
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

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import Unauthorized


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
    """Verify a bearer token's signature and claims (not whether its session still stands: app.accounts.principal
    checks that)."""
    return signed_claims(token)[0]


def signed_claims(token: str) -> tuple[Principal, int]:
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


@dataclass(frozen=True)
class Actor:
    """Who is behind the writes of this request, for the write hook's audit rows (see app.core.changes)."""

    principal: Principal
    client_address: str | None
    request_id: str | None


# Set by `get_principal` in the request's task, so the flushes of that request see it; None in the worker.
current_actor: ContextVar[Actor | None] = ContextVar("current_actor", default=None)
