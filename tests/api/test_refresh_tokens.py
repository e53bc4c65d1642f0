"""Refresh tokens (`grant_type=refresh_token` at POST /v1/auth/token): rotation, reuse detection, logout."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from sqlalchemy import text

from app.core import security
from app.core.config import get_settings
from tests.api.helpers import create, email, problem
from tests.conftest import World, sync_engine

PASSWORD = "a long passphrase 42"


def _user(client: Any, world: World) -> tuple[dict[str, Any], str]:
    addr = email()
    user, _ = create(client, "/v1/users", {"email": addr, "full_name": "Ada Advisor", "password": PASSWORD,
                                           "role": "advisor", "organization_id": world.north.org_id},
                     world.admin_headers)
    return user, addr


def _sign_in(client: Any, addr: str) -> dict[str, Any]:
    r = client.post("/v1/auth/token", data={"username": addr, "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    return r.json()  # type: ignore[no-any-return]


def _refresh(client: Any, token: str) -> Any:
    return client.post("/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": token})


def _bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def _refused(r: Any) -> dict[str, Any]:
    body = problem(r, 401, "unauthorized", code="invalid_grant")
    assert r.headers["www-authenticate"].lower().startswith("bearer")
    return body


def test_sign_in_returns_a_refresh_token_that_rotates(client, world):  # type: ignore[no-untyped-def]
    _, addr = _user(client, world)
    first = _sign_in(client, addr)
    assert first["refresh_expires_in"] == get_settings().refresh_token_days * 86400
    assert len(first["refresh_token"]) >= 40
    r = _refresh(client, first["refresh_token"])
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    me = client.get("/v1/auth/me", headers=_bearer(second))
    assert me.status_code == 200 and me.json()["organization_id"] == world.north.org_id
    # the chain goes on
    third = _refresh(client, second["refresh_token"])
    assert third.status_code == 200, third.text


def test_reusing_a_spent_refresh_token_ends_the_whole_family(client, world):  # type: ignore[no-untyped-def]
    _, addr = _user(client, world)
    first = _sign_in(client, addr)
    second = _refresh(client, first["refresh_token"]).json()
    other = _sign_in(client, addr)  # another session of the same user, unaffected
    _refused(_refresh(client, first["refresh_token"]))  # spent: someone holds a copy
    _refused(_refresh(client, second["refresh_token"]))  # the live token of the family is dead too
    problem(client.get("/v1/auth/me", headers=_bearer(second)), 401, "unauthorized")
    problem(client.get("/v1/auth/me", headers=_bearer(first)), 401, "unauthorized")
    assert client.get("/v1/auth/me", headers=_bearer(other)).status_code == 200
    assert _refresh(client, other["refresh_token"]).status_code == 200


def _expire(token: str) -> None:
    with sync_engine().begin() as conn:
        conn.execute(text("UPDATE refresh_token SET expires_at = '2020-01-01 00:00:00' WHERE token_hash = :h"),
                     {"h": hashlib.sha256(token.encode()).hexdigest()})


def _deactivate(client: Any, world: World, user: dict[str, Any]) -> None:
    r = client.patch(f"/v1/users/{user['id']}", json={"is_active": False},
                     headers={**world.admin_headers, "If-Match": f'"v{user["version"]}"'})
    assert r.status_code == 200, r.text


def _new_password(client: Any, world: World, user: dict[str, Any]) -> None:
    r = client.patch(f"/v1/users/{user['id']}", json={"password": "quite another passphrase"},
                     headers={**world.admin_headers, "If-Match": f'"v{user["version"]}"'})
    assert r.status_code == 200, r.text


REASONS = {
    "unknown": lambda client, world, user, tokens: tokens.update(refresh_token="x" * 43),
    "expired": lambda client, world, user, tokens: _expire(tokens["refresh_token"]),
    "logged out": lambda client, world, user, tokens: client.post("/v1/auth/logout", headers=_bearer(tokens)),
    "user deactivated": lambda client, world, user, tokens: _deactivate(client, world, user),
    "password set by an admin": lambda client, world, user, tokens: _new_password(client, world, user),
}


@pytest.mark.parametrize("reason", list(REASONS))
def test_an_unusable_refresh_token_gets_the_same_answer_whatever_the_reason(client, world, reason):  # type: ignore[no-untyped-def]
    user, addr = _user(client, world)
    tokens = _sign_in(client, addr)
    REASONS[reason](client, world, user, tokens)
    r = _refresh(client, tokens["refresh_token"])
    body = _refused(r)
    assert body["detail"] == "The refresh token is invalid, expired or revoked."
    assert tokens["refresh_token"] not in r.text


def test_logout_ends_this_session_only(client, world):  # type: ignore[no-untyped-def]
    _, addr = _user(client, world)
    mine, other = _sign_in(client, addr), _sign_in(client, addr)
    r = client.post("/v1/auth/logout", headers=_bearer(mine))
    assert r.status_code == 204, r.text
    problem(client.get("/v1/auth/me", headers=_bearer(mine)), 401, "unauthorized")
    _refused(_refresh(client, mine["refresh_token"]))
    assert client.get("/v1/auth/me", headers=_bearer(other)).status_code == 200
    problem(client.post("/v1/auth/logout", headers=world.north.api_key_headers), 403, "forbidden")
    problem(client.post("/v1/auth/logout"), 401, "unauthorized")


def test_refresh_tokens_are_stored_only_as_their_hash(client, world):  # type: ignore[no-untyped-def]
    _, addr = _user(client, world)
    tokens = _sign_in(client, addr)
    with sync_engine().connect() as conn:
        rows = [tuple(str(v) for v in row) for row in conn.execute(text("SELECT * FROM refresh_token"))]
    assert rows and not any(tokens["refresh_token"] in v for row in rows for v in row)
    assert any(hashlib.sha256(tokens["refresh_token"].encode()).hexdigest() in row for row in rows)


@pytest.mark.parametrize("form,field", [
    ({"grant_type": "refresh_token"}, "body.refresh_token"),
    ({"grant_type": "password", "username": "someone@example.org"}, "body.password"),
    ({"password": "whatever"}, "body.username"),
])
def test_each_grant_needs_its_fields(client, world, form, field):  # type: ignore[no-untyped-def]
    body = problem(client.post("/v1/auth/token", data=form), 422, "validation-error")
    assert field in {e["field"] for e in body["errors"]}
    problem(client.post("/v1/auth/token", data={"grant_type": "client_credentials"}), 422, "validation-error")


def test_sessions_and_their_tokens_are_in_the_audit_trail_by_field_names_only(client, world):  # type: ignore[no-untyped-def]
    user, addr = _user(client, world)
    tokens = _sign_in(client, addr)
    rotated = _refresh(client, tokens["refresh_token"]).json()
    assert client.post("/v1/auth/logout", headers=_bearer(rotated)).status_code == 204
    r = client.get(f"/v1/organizations/{world.north.org_id}/audit", headers=world.admin_headers,
                   params={"limit": 100})
    assert r.status_code == 200, r.text
    rows = [(x["subject_type"], x["action"], x["changed_fields"]) for x in r.json()["items"]]
    assert ("auth_session", "sign_in", []) in rows  # a new sign-in session is the sign-in
    sign_in = next(x for x in r.json()["items"] if x["action"] == "sign_in")
    assert (sign_in["actor_type"], sign_in["actor_id"]) == ("user", user["id"])
    assert ("refresh_token", "create", []) in rows
    assert ("refresh_token", "update", ["spent_at"]) in rows
    assert ("auth_session", "update", ["revoked_at"]) in rows
    logout = next(x for x in r.json()["items"] if x["changed_fields"] == ["revoked_at"])
    assert (logout["actor_type"], logout["actor_id"]) == ("user", user["id"])
    for secret in (tokens["refresh_token"], rotated["refresh_token"], tokens["access_token"]):
        assert secret not in r.text


def test_a_new_secret_key_ends_access_tokens_and_refresh_renews_them(client, world, settings):  # type: ignore[no-untyped-def]
    """Rotating SECRET_KEY (README, Security and privacy): every access token signed with the old key is refused at
    once; the refresh token, a random value kept as its hash, renews the session under the new key."""
    _, addr = _user(client, world)
    tokens = _sign_in(client, addr)
    assert client.get("/v1/auth/me", headers=_bearer(tokens)).status_code == 200
    settings(SECRET_KEY="a rotated secret key, long enough to be accepted 0123456789")
    security._TOKEN_CACHE.clear()  # a new key takes a restart, which starts with no verified tokens
    old = client.get("/v1/auth/me", headers=_bearer(tokens))
    problem(old, 401, "unauthorized")
    r = _refresh(client, tokens["refresh_token"])
    assert r.status_code == 200, r.text
    assert client.get("/v1/auth/me", headers=_bearer(r.json())).status_code == 200


def test_a_refresh_token_spent_by_another_request_at_the_same_instant_ends_the_family(client, world):  # type: ignore[no-untyped-def]
    """Two uses of one refresh token at once: one spends it (the version check), and the other is a reuse like any
    other: the family ends for both. The other request is played by a write that spends the token between this
    request's read and its write."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from app.accounts.models import RefreshToken

    _, addr = _user(client, world)
    tokens = _sign_in(client, addr)
    digest = hashlib.sha256(tokens["refresh_token"].encode()).hexdigest()
    raced: list[bool] = []

    def spend_first(session: Any, *_: Any) -> None:
        if not raced and any(isinstance(o, RefreshToken) and o.token_hash == digest for o in session.dirty):
            raced.append(True)
            with sync_engine().begin() as conn:
                conn.execute(text("UPDATE refresh_token SET spent_at = expires_at, version = version + 1 "
                                  "WHERE token_hash = :h"), {"h": digest})

    event.listen(Session, "before_flush", spend_first)
    try:
        _refused(_refresh(client, tokens["refresh_token"]))
    finally:
        event.remove(Session, "before_flush", spend_first)
    assert raced == [True]
    with sync_engine().connect() as conn:
        revoked = conn.execute(text("SELECT s.revoked_at FROM auth_session s JOIN refresh_token t "
                                    "ON t.session_id = s.id WHERE t.token_hash = :h"), {"h": digest}).scalar_one()
    assert revoked is not None
    problem(client.get("/v1/auth/me", headers=_bearer(tokens)), 401, "unauthorized")
