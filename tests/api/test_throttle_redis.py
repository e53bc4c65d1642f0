"""Throttling on the real Redis (TEST_REDIS_URL, default redis://127.0.0.1:6379/0): two app instances, as two worker
processes or hosts would be, share one budget and one count of failed sign-ins. Each test has a key prefix of its
own and removes its keys. An unreachable Redis skips these tests, except under CI=true, where it fails them."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis

from app.core.config import get_settings
from app.main import create_app
from tests.api.helpers import create, email

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = "a long passphrase 42"


@pytest.fixture(scope="module")
def redis_client() -> Iterator[redis.Redis]:
    r = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        r.ping()
    except redis.RedisError as exc:
        reason = f"Redis at {REDIS_URL} is unreachable ({exc})"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " -- CI=true, so an unreachable Redis fails the run", pytrace=False)
        pytest.skip(reason + "; start it, or set TEST_REDIS_URL (under CI=true this fails)")
    yield r
    r.close()


@pytest.fixture
def apps(client, monkeypatch, redis_client) -> Iterator[Callable[..., list[Any]]]:  # type: ignore[no-untyped-def]
    """`apps(n, NAME=value, ...)`: n app instances built with these settings, on Redis under a fresh key prefix."""
    prefix = f"mr-test-{uuid.uuid4().hex}"

    def build(n: int, **env: str) -> list[Any]:
        for name, value in {"RATE_LIMIT_STORAGE_URL": REDIS_URL, "RATE_LIMIT_KEY_PREFIX": prefix, **env}.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        return [create_app() for _ in range(n)]

    yield build
    monkeypatch.undo()
    get_settings.cache_clear()
    keys = list(redis_client.scan_iter(f"{prefix}*"))
    if keys:
        redis_client.delete(*keys)


def _keys(redis_client: redis.Redis, app: Any) -> list[bytes]:
    prefix = app.state.throttle.key_prefix
    return list(redis_client.scan_iter(f"{prefix}*"))


def _run(apps: list[Any], steps: list[tuple[int, str, str, dict[str, Any]]]) -> list[httpx.Response]:
    """Send each (app index, method, path, request kwargs) in turn, all in one event loop (as a worker runs)."""

    async def go() -> list[httpx.Response]:
        clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://testserver")
                   for a in apps]
        try:
            return [await clients[i].request(method, path, **kw) for i, method, path, kw in steps]
        finally:
            for c in clients:
                await c.aclose()
            for a in apps:  # the Redis connections belong to this loop
                await a.state.throttle.close()

    return asyncio.run(go())


def test_two_instances_share_one_request_budget(world, apps, redis_client):
    a, b = apps(2, RATE_LIMIT_PER_PRINCIPAL="4/minute")
    me = ("GET", "/v1/auth/me", {"headers": world.north.advisor_headers})
    answers = _run([a, b], [(i % 2, *me) for i in range(6)])
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 429, 429]
    assert [r.headers["ratelimit"].split(";")[1] for r in answers[:4]] == ["r=3", "r=2", "r=1", "r=0"]
    assert all(int(r.headers["retry-after"]) >= 1 for r in answers[4:])
    assert _keys(redis_client, a)  # the counters really are in Redis, under this test's prefix
    other = _run([b], [(0, "GET", "/v1/auth/me", {"headers": world.south.advisor_headers})])
    assert other[0].status_code == 200


def test_memory_storage_counts_per_instance(world, apps):
    a, b = apps(2, RATE_LIMIT_STORAGE_URL="memory://", RATE_LIMIT_PER_PRINCIPAL="2/minute")
    me = ("GET", "/v1/auth/me", {"headers": world.north.advisor_headers})
    answers = _run([a, b], [(0, *me), (0, *me), (1, *me), (1, *me), (0, *me)])
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 429]


def test_two_instances_share_the_count_of_failed_sign_ins(client, world, apps):
    body = {"email": email(), "full_name": "Ada Advisor", "password": PASSWORD, "role": "advisor",
            "organization_id": world.north.org_id}
    create(client, "/v1/users", body, world.admin_headers)
    a, b = apps(2, SIGN_IN_FAILURES_PER_ACCOUNT="2/minute")

    def sign_in(i: int, username: str, password: str) -> tuple[int, str, str, dict[str, Any]]:
        return (i, "POST", "/v1/auth/token", {"data": {"username": username, "password": password}})

    user, unknown = str(body["email"]), "nobody-here@example.org"
    answers = _run([a, b], [
        sign_in(0, unknown, "wrong"), sign_in(1, unknown, "wrong"), sign_in(0, unknown, "wrong"),
        sign_in(0, user, "wrong"), sign_in(1, user, PASSWORD),  # a success on the other instance clears it
        sign_in(0, user, "wrong"), sign_in(1, user, "wrong"), sign_in(0, user, PASSWORD),
    ])
    assert [r.status_code for r in answers] == [401, 401, 429, 401, 200, 401, 401, 429]
    assert int(answers[2].headers["retry-after"]) <= 60


def test_reset_removes_only_this_prefixes_keys(world, apps, redis_client):
    redis_client.set("mr-test-bystander", "1", ex=60)
    try:
        (a,) = apps(1)
        _run([a], [(0, "GET", "/v1/auth/me", {"headers": world.north.advisor_headers})])
        assert _keys(redis_client, a)

        async def reset() -> None:
            await a.state.throttle.reset()
            await a.state.throttle.close()

        asyncio.run(reset())
        assert not _keys(redis_client, a)
        assert redis_client.get("mr-test-bystander") == b"1"
    finally:
        redis_client.delete("mr-test-bystander")
