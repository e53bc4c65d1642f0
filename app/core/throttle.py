"""Throttling, on the `limits` library: a request budget per caller, and a brake on failed sign-ins.

* **Request budget.** Every authenticated request spends one unit of its principal's budget (a user, or an API key:
  `RATE_LIMIT_PER_PRINCIPAL`); the public routes and every request with invalid credentials spend one of the client
  address's (`RATE_LIMIT_PER_ADDRESS`). A fixed window: one counter increment per request, the cheapest the library
  offers. The answer carries the IETF draft's (draft-ietf-httpapi-ratelimit-headers) `RateLimit-Policy` and
  `RateLimit` fields; an exhausted budget is 429 with `Retry-After` until the window ends.
* **Failed sign-ins**, counted per account (the e-mail as given, normalised, whether or not it exists, so the answer
  tells nothing about which accounts exist) and per client address, in moving windows (`5/minute;20/hour;100/day`:
  each limit reached means a longer wait). While any is reached, sign-in answers 429, even to the right password.
  A successful sign-in clears the account's failures (not the address's).

Counters live in the process (`memory://`) or in Redis (`RATE_LIMIT_STORAGE_URL`), where every worker and host shares
them. A storage that fails (Redis down) lets requests through with a warning: throttling is a guard, not a dependency
the service stops for. With `memory://` each of several server processes counts on its own, so every limit is
multiplied by their number: in production each such worker says so in a warning at start-up (see
`several_processes`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import multiprocessing
import os
import time
from typing import NamedTuple

from limits import RateLimitItem, parse, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import Settings
from app.core.errors import RateLimited

log = logging.getLogger("matchready.throttle")

_STATE_KEY = "rate_limit"  # in scope["state"]: the budget this request spent, for the response's headers


class Budget(NamedTuple):  # a tuple: made on every request
    """A policy's state after this request: the fields of the `RateLimit-Policy` and `RateLimit` headers."""

    policy: str  # "principal" or "address"
    quota: int
    window: int  # seconds
    remaining: int
    reset: int  # seconds until the window ends

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"ratelimit-policy", f'"{self.policy}";q={self.quota};w={self.window}'.encode()),
                (b"ratelimit", f'"{self.policy}";r={self.remaining};t={self.reset}'.encode())]


class SweptMemoryStorage(MemoryStorage):
    """The library's asynchronous memory storage, swept for expired counters by one long-lived task a second.

    As shipped it starts a new task on every increment that scans every key: on the request path that is a task per
    request and work growing with the number of callers. Holding its `timer` slot with a sweeper that is never done
    keeps it from starting its own; the sweep itself is the library's. Counters are exact either way: an expired one
    is dropped when next read."""

    SWEEP_SECONDS = 1.0

    def _ensure_sweeper(self) -> None:
        if self.timer is None or self.timer.done():  # none yet, or its event loop has gone (tests)
            self.timer = asyncio.get_running_loop().create_task(self._sweep())

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.SWEEP_SECONDS)
            await self._MemoryStorage__expire_events()  # type: ignore[attr-defined]

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        self._ensure_sweeper()
        return await super().incr(key, expiry, amount)

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        self._ensure_sweeper()
        return await super().acquire_entry(key, limit, expiry, amount)

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


def _storage(settings: Settings) -> tuple[Storage, ConnectionPool | None]:
    url = settings.rate_limit_storage_url
    if url.startswith("memory://"):
        return SweptMemoryStorage(), None
    # redis-py's asyncio client (installed by `limits[redis]`) on a pool of our own, to close at shutdown; short
    # timeouts: a Redis that hangs must not hold requests up for long (see _unavailable).
    pool = ConnectionPool.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    # `connection_pool` is passed through to redis-py (limits' annotation of **options is narrower than it takes)
    storage = RedisStorage("async+" + url, implementation="redispy", key_prefix=settings.rate_limit_key_prefix,
                           wrap_exceptions=True, connection_pool=pool)  # type: ignore[arg-type]
    return storage, pool


def several_processes() -> bool:
    """Whether this process is likely one of several serving the app: a worker started by a supervising process
    (`uvicorn --workers N` for N > 1, as `make serve` runs; `--reload` too), or WEB_CONCURRENCY above 1 (the
    image's worker count; gunicorn's too, whose forked workers have no multiprocessing parent)."""
    try:
        concurrency = int(os.environ.get("WEB_CONCURRENCY") or 1)
    except ValueError:
        concurrency = 1
    return multiprocessing.parent_process() is not None or concurrency > 1


def _account_key(username: str) -> str:
    # Hashed: the store needs no e-mail addresses, and keys stay short whatever was typed.
    return hashlib.sha256(username.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]


class Throttle:
    """The limits of one app instance and the storage of their counters (built by create_app from Settings)."""

    def __init__(self, settings: Settings) -> None:
        self.storage, self._pool = _storage(settings)
        if settings.environment == "production" and isinstance(self.storage, MemoryStorage) and several_processes():
            log.warning("RATE_LIMIT_STORAGE_URL is memory:// and this is one of several server processes: each "
                        "counts requests and failed sign-ins on its own, so every limit is multiplied by the number "
                        "of workers; set RATE_LIMIT_STORAGE_URL to a Redis URL that they share")
        self.key_prefix = settings.rate_limit_key_prefix
        self.moving = MovingWindowRateLimiter(self.storage)
        self.per_principal = parse(settings.rate_limit_per_principal)
        self.per_address = parse(settings.rate_limit_per_address)
        self._key_base = {"principal": self.per_principal.key_for("principal") + "/",
                          "address": self.per_address.key_for("address") + "/"}
        self.failures_per_account = parse_many(settings.sign_in_failures_per_account)
        self.failures_per_address = parse_many(settings.sign_in_failures_per_address)
        self._warned_at = 0.0

    def _unavailable(self, exc: Exception) -> None:
        if time.monotonic() - self._warned_at > 60:  # one line a minute in an outage, not one per request
            self._warned_at = time.monotonic()
            log.warning("rate-limit storage unavailable, not throttling: %s", exc)

    # ---- request budgets --------------------------------------------------------------------------------------

    async def spend(self, request: Request, policy: str, limit: RateLimitItem, who: str) -> None:
        """Spend one unit of `who`'s budget under `policy`: note it for the response headers, 429 when exhausted."""
        key = self._key_base[policy] + who  # the library's key_for, less its per-call escaping of a known prefix
        expiry = limit.get_expiry()
        try:
            count = await self.storage.incr(key, expiry)
            reset_at = await self.storage.get_expiry(key)
        except StorageError as exc:
            self._unavailable(exc)
            return
        reset = max(0, math.ceil(reset_at - time.time()))
        budget = Budget(policy, limit.amount, expiry, max(0, limit.amount - count), reset)
        slot = request.scope.get("state", {}).get(_STATE_KEY)
        if slot is not None:
            slot.append(budget)
        if count > limit.amount:
            raise RateLimited(f"Request rate limit of {limit.amount} per {expiry} s reached; retry after {reset} s.",
                              retry_after=reset)

    async def spend_principal(self, request: Request, scope_key: str) -> None:
        await self.spend(request, "principal", self.per_principal, scope_key)

    async def spend_address(self, request: Request) -> None:
        await self.spend(request, "address", self.per_address, client_address(request))

    # ---- failed sign-ins --------------------------------------------------------------------------------------

    def _sign_in_limits(self, username: str, address: str) -> list[tuple[RateLimitItem, str, str]]:
        account = _account_key(username)
        return [(item, "sign-in-account", account) for item in self.failures_per_account] + \
               [(item, "sign-in-address", address) for item in self.failures_per_address]

    async def check_sign_in(self, username: str, address: str) -> None:
        """429 while the account or the address has reached a limit of failed sign-ins (before any password check,
        so the answer is the same for every account and every password)."""
        waits = []
        try:
            for item, kind, who in self._sign_in_limits(username, address):
                if not await self.moving.test(item, kind, who):
                    stats = await self.moving.get_window_stats(item, kind, who)
                    waits.append(math.ceil(stats.reset_time - time.time()))
        except StorageError as exc:
            self._unavailable(exc)
            return
        if waits:
            wait = max(1, max(waits))
            raise RateLimited(f"Too many failed sign-ins; retry after {wait} s.", retry_after=wait)

    async def sign_in_failed(self, username: str, address: str) -> None:
        try:
            for item, kind, who in self._sign_in_limits(username, address):
                await self.moving.hit(item, kind, who)
        except StorageError as exc:
            self._unavailable(exc)

    async def sign_in_succeeded(self, username: str) -> None:
        account = _account_key(username)
        try:
            for item in self.failures_per_account:
                await self.moving.clear(item, "sign-in-account", account)
        except StorageError as exc:
            self._unavailable(exc)

    async def close(self) -> None:
        """At shutdown: close the Redis connections (they belong to the event loop that opened them), or stop the
        memory storage's sweeper."""
        if self._pool is not None:
            await self._pool.disconnect()
        if isinstance(self.storage, SweptMemoryStorage):
            self.storage.stop()

    async def reset(self) -> None:
        """Forget every counter (tests; on Redis only the keys under this instance's prefix)."""
        await self.storage.reset()


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def throttle_of(request: Request) -> Throttle:
    throttle: Throttle = request.app.state.throttle
    return throttle


async def address_budget(request: Request) -> None:
    """Dependency of the public routes (no credentials): spend the client address's request budget."""
    await throttle_of(request).spend_address(request)


class RateLimitHeaders:
    """Pure ASGI middleware: the response to a request that spent a budget carries `RateLimit-Policy` and
    `RateLimit` (whatever its status: 2xx, 304, a problem, the 429 itself)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        slot: list[Budget] = []
        scope.setdefault("state", {})[_STATE_KEY] = slot

        async def send_with_headers(message: Message) -> None:
            if slot and message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], *slot[-1].headers()]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
