"""The throttle on memory storage, without HTTP: budgets, the header fields, sign-in failures, and the settings."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from app.core.config import Settings
from app.core.errors import RateLimited
from app.core.throttle import Budget, SweptMemoryStorage, Throttle, _account_key


def _throttle(**overrides: Any) -> Throttle:
    return Throttle(Settings(**overrides))


def _request() -> Any:
    """What Throttle.spend reads of a request: the scope's state slot the middleware sets up, and the client."""
    return SimpleNamespace(scope={"state": {"rate_limit": []}}, client=SimpleNamespace(host="192.0.2.7"))


@pytest.mark.parametrize("budget, policy, value", [
    (Budget("principal", 3000, 60, 2999, 60), b'"principal";q=3000;w=60', b'"principal";r=2999;t=60'),
    (Budget("address", 10, 3600, 0, 1), b'"address";q=10;w=3600', b'"address";r=0;t=1'),
])
def test_budget_header_fields_follow_the_ietf_draft(budget, policy, value):
    assert budget.headers() == [(b"ratelimit-policy", policy), (b"ratelimit", value)]


def test_spending_counts_down_then_refuses_with_retry_after():
    throttle, request = _throttle(rate_limit_per_principal="2/minute"), _request()

    async def scenario() -> RateLimited:
        await throttle.spend_principal(request, "user:a")
        await throttle.spend_principal(request, "user:a")
        await throttle.spend_principal(request, "user:b")  # another principal, another counter
        with pytest.raises(RateLimited) as caught:
            await throttle.spend_principal(request, "user:a")
        return caught.value

    error = asyncio.run(scenario())
    assert 1 <= int(error.headers["Retry-After"]) <= 60
    assert [(b.policy, b.remaining) for b in request.scope["state"]["rate_limit"]] == \
        [("principal", 1), ("principal", 0), ("principal", 1), ("principal", 0)]


@pytest.mark.parametrize("typed, same", [
    ("Ada@Example.org", True), ("  ada@example.org ", True), ("ADA@EXAMPLE.ORG", True), ("ada@example.com", False),
])
def test_accounts_are_counted_as_typed_normalised(typed, same):
    assert (_account_key(typed) == _account_key("ada@example.org")) is same


def test_sign_in_throttles_the_account_and_clears_on_success():
    throttle = _throttle(sign_in_failures_per_account="2/minute", sign_in_failures_per_address="3/minute")

    async def scenario() -> list[str]:
        seen = []
        for step in ("fail", "check", "fail", "check", "succeed", "check", "fail", "fail", "check"):
            try:
                if step == "fail":
                    await throttle.sign_in_failed("ada@example.org", "192.0.2.7")
                elif step == "succeed":
                    await throttle.sign_in_succeeded("ada@example.org")
                else:
                    await throttle.check_sign_in("ada@example.org", "192.0.2.8")  # another address
                seen.append("ok")
            except RateLimited:
                seen.append("429")
        return seen

    # the success cleared the account; the second address never reached its own limit
    assert asyncio.run(scenario()) == ["ok", "ok", "ok", "429", "ok", "ok", "ok", "ok", "429"]


@pytest.mark.parametrize("name, value", [
    ("rate_limit_per_principal", "lots"),
    ("rate_limit_per_address", "5/fortnight"),
    ("sign_in_failures_per_account", "5/minute;often"),
    ("rate_limit_storage_url", "memcached://127.0.0.1:11211"),
    ("rate_limit_key_prefix", ""),
])
def test_malformed_settings_are_refused_at_start(name, value):
    with pytest.raises(ValidationError):
        Settings(**{name: value})


def test_the_memory_storage_sweeps_expired_counters_with_one_task(monkeypatch):
    monkeypatch.setattr(SweptMemoryStorage, "SWEEP_SECONDS", 0.05)
    storage = SweptMemoryStorage()

    async def scenario() -> tuple[int, int, bool]:
        tasks_before = len(asyncio.all_tasks())
        for n in range(50):
            await storage.incr(f"k{n}", 0.01)
        tasks = len(asyncio.all_tasks()) - tasks_before  # one sweeper, not a task per increment
        await asyncio.sleep(0.2)
        left = len(storage.expirations)
        storage.stop()
        await asyncio.sleep(0)
        return tasks, left, storage.timer is not None and storage.timer.cancelled()

    assert asyncio.run(scenario()) == (1, 0, True)
