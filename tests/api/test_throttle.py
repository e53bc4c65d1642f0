"""Throttling through the app, on memory storage: failed sign-ins (per account and per address, growing delays, the
same answer for unknown accounts, reset on success) and the request budgets with their headers."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from app.core.config import get_settings
from app.main import create_app
from tests.api.helpers import create, email, problem

PASSWORD = "a long passphrase 42"
_POLICY = re.compile(r'^"(principal|address)";q=(\d+);w=(\d+)$')
_BUDGET = re.compile(r'^"(principal|address)";r=(\d+);t=(\d+)$')


@pytest.fixture
def throttled(client, monkeypatch) -> Iterator[Callable[..., TestClient]]:  # type: ignore[no-untyped-def]
    """`throttled(NAME=value, ...)`: an app built by create_app() with these settings (its own memory storage)."""

    def build(**env: str) -> TestClient:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        return TestClient(create_app(), raise_server_exceptions=False)

    yield build
    monkeypatch.undo()
    get_settings.cache_clear()


def _user(client, world) -> str:  # type: ignore[no-untyped-def]
    body = {"email": email(), "full_name": "Ada Advisor", "password": PASSWORD, "role": "advisor",
            "organization_id": world.north.org_id}
    create(client, "/v1/users", body, world.admin_headers)
    return str(body["email"])


def _sign_in(c: TestClient, username: str, password: str):  # type: ignore[no-untyped-def]
    return c.post("/v1/auth/token", data={"username": username, "password": password})


def _throttled(resp) -> int:  # type: ignore[no-untyped-def]
    """A 429 problem with a Retry-After in seconds; returns it."""
    problem(resp, 429, "rate-limited")
    retry_after = int(resp.headers["retry-after"])
    assert retry_after >= 1
    return retry_after


def _budget(resp) -> tuple[str, int, int, int, int]:  # type: ignore[no-untyped-def]
    """(policy, quota, window, remaining, reset) from the RateLimit-Policy and RateLimit headers."""
    policy = _POLICY.match(resp.headers["ratelimit-policy"])
    budget = _BUDGET.match(resp.headers["ratelimit"])
    assert policy and budget, resp.headers
    assert policy.group(1) == budget.group(1)
    return policy.group(1), int(policy.group(2)), int(policy.group(3)), int(budget.group(2)), int(budget.group(3))


# ---- failed sign-ins -------------------------------------------------------------------------------------------

def test_after_the_failure_limit_even_the_right_password_is_429(client, world, throttled):
    c = throttled(SIGN_IN_FAILURES_PER_ACCOUNT="3/minute;10/hour")
    user = _user(client, world)
    for _ in range(3):
        problem(_sign_in(c, user, "wrong password"), 401, "unauthorized")
    retry_after = _throttled(_sign_in(c, user, PASSWORD))
    assert retry_after <= 60
    _throttled(_sign_in(c, user.upper() + " ", "wrong password"))  # the account as given, normalised
    assert _sign_in(c, "someone.else@example.org", "x").status_code == 401  # other accounts: not throttled


def test_unknown_and_known_accounts_get_the_same_answers(client, world, throttled):
    c = throttled(SIGN_IN_FAILURES_PER_ACCOUNT="2/minute")
    known, unknown = _user(client, world), "nobody-here@example.org"
    answers = {}
    for name in (known, unknown):
        seq = [_sign_in(c, name, "wrong password") for _ in range(3)]
        answers[name] = [(r.status_code, r.headers.get("retry-after") is not None,
                          {k: v for k, v in r.json().items() if k != "detail"} | {"detail": r.json()["detail"]})
                         for r in seq]
    assert [a[0] for a in answers[known]] == [401, 401, 429]
    assert answers[known] == answers[unknown]


def test_a_successful_sign_in_clears_the_accounts_failures(client, world, throttled):
    c = throttled(SIGN_IN_FAILURES_PER_ACCOUNT="3/minute")
    user = _user(client, world)
    for _ in range(2):
        assert _sign_in(c, user, "wrong password").status_code == 401
    assert _sign_in(c, user, PASSWORD).status_code == 200
    for _ in range(3):  # three more failures are allowed: the earlier two were forgotten
        assert _sign_in(c, user, "wrong password").status_code == 401
    _throttled(_sign_in(c, user, PASSWORD))


def test_failures_from_one_address_are_limited_across_accounts(client, world, throttled):
    c = throttled(SIGN_IN_FAILURES_PER_ACCOUNT="5/minute", SIGN_IN_FAILURES_PER_ADDRESS="3/minute")
    user = _user(client, world)
    for n in range(3):
        assert _sign_in(c, f"guess{n}@example.org", "wrong password").status_code == 401
    _throttled(_sign_in(c, user, PASSWORD))  # an account with no failures of its own, from that address


def test_delays_grow_with_the_longer_windows(client, world, throttled):
    c = throttled(SIGN_IN_FAILURES_PER_ACCOUNT="2/2second;3/hour")
    user = _user(client, world)
    for _ in range(2):
        assert _sign_in(c, user, "wrong password").status_code == 401
    assert _throttled(_sign_in(c, user, PASSWORD)) <= 2  # the short window first
    time.sleep(2.1)
    assert _sign_in(c, user, "wrong password").status_code == 401  # the third failure this hour
    assert _throttled(_sign_in(c, user, PASSWORD)) > 60  # now the hour's window


def test_the_default_limits_throttle_the_fifth_failure(client, world):
    user = _user(client, world)
    answers = [_sign_in(client, user, "wrong password").status_code for _ in range(6)]
    assert answers == [401] * 5 + [429]


# ---- request budgets -------------------------------------------------------------------------------------------

def test_a_principal_spends_its_own_budget_with_headers_on_each_answer(world, throttled):
    c = throttled(RATE_LIMIT_PER_PRINCIPAL="3/minute")
    seen = []
    for _ in range(3):
        r = c.get("/v1/auth/me", headers=world.north.advisor_headers)
        assert r.status_code == 200, r.text
        seen.append(_budget(r))
    assert [s[:4] for s in seen] == [("principal", 3, 60, left) for left in (2, 1, 0)]
    assert all(0 <= s[4] <= 60 for s in seen)
    r = c.get("/v1/auth/me", headers=world.north.advisor_headers)
    assert 1 <= _throttled(r) <= 60
    assert _budget(r)[:4] == ("principal", 3, 60, 0)
    # other principals have budgets of their own: another user, an API key
    assert c.get("/v1/auth/me", headers=world.south.advisor_headers).status_code == 200
    r = c.get(f"/v1/candidates/{world.north.candidate_id}", headers=world.north.api_key_headers)
    assert r.status_code == 200 and _budget(r)[3] == 2


@pytest.mark.parametrize("kind", ["not_found", "forbidden", "not_modified"])
def test_every_answer_to_a_principal_carries_the_budget(world, throttled, kind):
    c = throttled(RATE_LIMIT_PER_PRINCIPAL="50/minute")
    h = world.north.advisor_headers
    if kind == "not_found":
        r = c.get("/v1/candidates/00000000-0000-4000-8000-000000000000", headers=h)
        assert r.status_code == 404
    elif kind == "forbidden":
        r = c.get("/v1/organizations", headers=world.north.candidate_headers)
        assert r.status_code == 403
    else:
        first = c.get(f"/v1/candidates/{world.north.candidate_id}", headers=h)
        r = c.get(f"/v1/candidates/{world.north.candidate_id}", headers={**h, "If-None-Match": first.headers["etag"]})
        assert r.status_code == 304
    assert _budget(r)[0] == "principal"


def test_public_routes_and_bad_credentials_spend_the_address_budget(world, throttled):
    c = throttled(RATE_LIMIT_PER_ADDRESS="3/minute")
    r = c.post("/v1/auth/token", data={"username": "nobody@example.org", "password": "x"})
    assert r.status_code == 401 and _budget(r)[:4] == ("address", 3, 60, 2)
    r = c.get("/v1/calendar/not-a-subscription.ics")
    assert r.status_code == 404 and _budget(r)[:4] == ("address", 3, 60, 1)
    r = c.get("/v1/auth/me", headers={"Authorization": "Bearer forged"})
    assert r.status_code == 401 and _budget(r)[:4] == ("address", 3, 60, 0)
    _throttled(c.get("/v1/auth/me", headers={"X-API-Key": "mrk_guessed"}))
    _throttled(c.post("/v1/auth/token", data={"username": "nobody@example.org", "password": "x"}))
    # a valid principal is not held back by its address's budget
    assert c.get("/v1/auth/me", headers=world.north.advisor_headers).status_code == 200


def test_routes_outside_the_api_are_not_throttled(throttled):
    c = throttled(RATE_LIMIT_PER_ADDRESS="1/minute")
    for _ in range(3):
        r = c.get("/livez")
        assert r.status_code == 200 and "ratelimit" not in r.headers


def test_the_defaults_are_generous(client, world):
    r = client.get("/v1/auth/me", headers=world.north.advisor_headers)
    policy, quota, window, remaining, _ = _budget(r)
    assert (policy, quota, window, remaining) == ("principal", 3000, 60, 2999)


def test_an_unreachable_redis_lets_requests_through(world, throttled):
    c = throttled(RATE_LIMIT_STORAGE_URL="redis://127.0.0.1:9/0", RATE_LIMIT_PER_PRINCIPAL="1/minute")
    for _ in range(2):
        r = c.get("/v1/auth/me", headers=world.north.advisor_headers)
        assert r.status_code == 200 and "ratelimit" not in r.headers
    assert c.post("/v1/auth/token", data={"username": "nobody@example.org", "password": "x"}).status_code == 401


# ---- the contract ----------------------------------------------------------------------------------------------

def test_every_api_operation_declares_429_and_the_rate_limit_headers(client):
    doc = client.get("/openapi.json").json()
    assert {"RateLimit", "RateLimit-Policy"} <= set(doc["components"]["headers"])
    operations = [(path, op) for path, ops in doc["paths"].items() if path.startswith("/v1/")
                  for op in ops.values()]
    assert len(operations) > 50
    for path, op in operations:
        too_many = op["responses"]["429"]
        assert {"Retry-After", "RateLimit", "RateLimit-Policy"} <= set(too_many["headers"]), path
        assert "application/problem+json" in too_many["content"], path
        for status, response in op["responses"].items():
            assert {"RateLimit", "RateLimit-Policy"} <= set(response.get("headers", {})), (path, status)
    assert not any("429" in op["responses"] for path, ops in doc["paths"].items() if not path.startswith("/v1/")
                   for op in ops.values())


def test_wrong_current_passwords_count_as_failed_sign_ins(client, world, throttled):
    """A stolen access token must not buy unlimited guesses at the password: a wrong current password at
    POST /v1/auth/password is a failed sign-in of the account, on the same counters as /v1/auth/token."""
    c = throttled(SIGN_IN_FAILURES_PER_ACCOUNT="3/minute")
    user = _user(client, world)
    token = _sign_in(c, user, PASSWORD).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}

    def change(current: str):  # type: ignore[no-untyped-def]
        return c.post("/v1/auth/password", json={"current_password": current, "new_password": "a new passphrase 43"},
                      headers=bearer)

    for _ in range(2):
        problem(change("wrong password"), 403, "forbidden", code="current_password_incorrect")
    problem(_sign_in(c, user, "wrong password"), 401, "unauthorized")  # the third failure, at sign-in
    _throttled(change(PASSWORD))                                          # even the right one, now
    _throttled(_sign_in(c, user, PASSWORD))
