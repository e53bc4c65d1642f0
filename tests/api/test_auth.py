"""Sign-in (`POST /v1/auth/token`), bearer tokens, API keys and `/v1/auth/me`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from app.core.config import get_settings
from tests.api.helpers import create, email, problem

PASSWORD = "a long passphrase 42"


def _make_user(client, world, **extra):  # type: ignore[no-untyped-def]
    body = {"email": email(), "full_name": "Ada Advisor", "password": PASSWORD, "role": "advisor",
            "organization_id": world.north.org_id, **extra}
    user, _ = create(client, "/v1/users", body, world.admin_headers)
    return user, body


def _sign_in(client, username: str, password: str):  # type: ignore[no-untyped-def]
    return client.post("/v1/auth/token", data={"username": username, "password": password})


def test_sign_in_returns_a_bearer_token_that_identifies_the_user(client, world):
    user, body = _make_user(client, world)
    r = _sign_in(client, body["email"], PASSWORD)
    assert r.status_code == 200, r.text
    token = r.json()
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == get_settings().access_token_minutes * 60
    assert r.headers["cache-control"] == "no-store"

    me = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.status_code == 200, me.text
    assert me.json() == {"role": "advisor", "user_id": user["id"], "organization_id": world.north.org_id,
                         "candidate_id": None, "api_key_id": None}
    # and it opens the user's organization, nothing else
    h = {"Authorization": f"Bearer {token['access_token']}"}
    assert client.get(f"/v1/candidates/{world.north.candidate_id}", headers=h).status_code == 200
    problem(client.get(f"/v1/candidates/{world.south.candidate_id}", headers=h), 404, "not-found")


def test_sign_in_ignores_email_case_and_surrounding_spaces(client, world):
    _, body = _make_user(client, world)
    assert _sign_in(client, "  " + body["email"].upper() + " ", PASSWORD).status_code == 200


def test_candidate_sign_in_carries_the_candidate_record(client, world):
    user, body = _make_user(client, world, role="candidate", organization_id=None,
                            candidate_id=world.north.other_candidate_id)
    assert user["organization_id"] == world.north.org_id  # taken from the candidate record
    token = _sign_in(client, body["email"], PASSWORD).json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    me = client.get("/v1/auth/me", headers=h).json()
    assert me["role"] == "candidate" and me["candidate_id"] == world.north.other_candidate_id
    assert client.get(f"/v1/candidates/{world.north.other_candidate_id}", headers=h).status_code == 200
    problem(client.get(f"/v1/candidates/{world.north.candidate_id}", headers=h), 404, "not-found")


@pytest.mark.parametrize("who", ["wrong-password", "unknown-email"])
def test_wrong_credentials_are_401_with_www_authenticate_and_the_same_message(client, world, who):
    _, body = _make_user(client, world)
    username, password = (body["email"], PASSWORD + "x") if who == "wrong-password" \
        else ("nobody@example.org", PASSWORD)
    r = _sign_in(client, username, password)
    b = problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"].lower().startswith("bearer")
    assert b["detail"] == "Email or password is incorrect."  # no hint whether the account exists
    assert PASSWORD not in r.text


def test_deactivated_user_cannot_sign_in(client, world):
    user, body = _make_user(client, world)
    r = client.patch(f"/v1/users/{user['id']}", json={"is_active": False},
                     headers={**world.admin_headers, "If-Match": '"v1"'})
    assert r.status_code == 200, r.text
    problem(_sign_in(client, body["email"], PASSWORD), 401, "unauthorized")


def test_changed_password_takes_effect(client, world):
    user, body = _make_user(client, world)
    r = client.patch(f"/v1/users/{user['id']}", json={"password": "another long one"},
                     headers={**world.admin_headers, "If-Match": '"v1"'})
    assert r.status_code == 200, r.text
    assert "password" not in r.json() and "password_hash" not in r.json()
    problem(_sign_in(client, body["email"], PASSWORD), 401, "unauthorized")
    assert _sign_in(client, body["email"], "another long one").status_code == 200


def test_token_endpoint_wants_a_form(client, world):
    _, body = _make_user(client, world)
    problem(client.post("/v1/auth/token", json={"username": body["email"], "password": PASSWORD}), 415,
            "unsupported-media-type")
    b = problem(client.post("/v1/auth/token", data={"username": body["email"]}), 422, "validation-error")
    assert "body.password" in {e["field"] for e in b["errors"]}


def test_nul_byte_in_username_is_a_plain_refusal(client, world):
    # PostgreSQL cannot even compare a string holding NUL: this must not become a 500
    r = _sign_in(client, "advisor\x00@north.test", PASSWORD)
    assert r.status_code in (401, 422), r.text
    problem(r, r.status_code)


def _token(claims: dict, key: str | None = None, alg: str = "HS256") -> str:  # type: ignore[type-arg]
    settings = get_settings()
    return jwt.encode(claims, key or settings.secret_key, algorithm=alg)


_SUBJECT: list[str] = []  # an existing admin's id: a token of no account is refused (see test_sessions_end.py)


def _claims(**over):  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    c = {"iss": "matchready", "sub": _SUBJECT[-1], "role": "admin", "iat": int(now.timestamp()),
         "exp": int((now + timedelta(minutes=5)).timestamp())}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


@pytest.mark.parametrize("token", [
    pytest.param(lambda: _token(_claims(exp=int((datetime.now(UTC) - timedelta(seconds=5)).timestamp()))),
                 id="expired"),
    pytest.param(lambda: "garbled.token.value", id="garbled"),
    pytest.param(lambda: _token(_claims())[:-3] + "abc", id="bad-signature"),
    pytest.param(lambda: _token(_claims(), key="another-secret-key-that-is-long-enough-000"), id="other-key"),
    pytest.param(lambda: _token(_claims(iss="someone-else")), id="other-issuer"),
    pytest.param(lambda: _token(_claims(exp=None)), id="no-expiry"),
    pytest.param(lambda: _token(_claims(role="system")), id="system-role"),
    pytest.param(lambda: _token(_claims(role="root")), id="unknown-role"),
    pytest.param(lambda: _token(_claims(sub="not-a-uuid")), id="bad-subject"),
    pytest.param(lambda: _token(_claims(sub=str(uuid.uuid4()))), id="no-such-account"),
    pytest.param(lambda: _token(_claims(tv=1)), id="old-token-version"),
    pytest.param(lambda: _token(_claims(tv="0")), id="token-version-not-integer"),
    pytest.param(lambda: _token(_claims(sid=str(uuid.uuid4()))), id="no-such-session"),
    pytest.param(lambda: _token(_claims(role="advisor")), id="role-not-the-accounts"),
    pytest.param(lambda: jwt.encode(_claims(), key="", algorithm="none"), id="alg-none"),
])
def test_bad_bearer_tokens_are_401(client, world, token):
    _SUBJECT.append(client.get("/v1/auth/me", headers=world.admin_headers).json()["user_id"])
    valid = _token(_claims())
    assert client.get("/v1/auth/me", headers={"Authorization": f"Bearer {valid}"}).status_code == 200
    r = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token()}"})
    problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"].lower().startswith("bearer")


def test_no_credentials_is_401_with_www_authenticate(client, world):
    r = client.get("/v1/candidates")
    problem(r, 401, "unauthorized")
    assert "www-authenticate" in r.headers
    problem(client.get("/v1/candidates", headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401, "unauthorized")


def test_api_key_identifies_the_organization(client, world):
    me = client.get("/v1/auth/me", headers=world.north.api_key_headers)
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["role"] == "system" and body["organization_id"] == world.north.org_id
    assert body["user_id"] is None and body["api_key_id"]
    for bad in ("mrk_not-a-key", "not-even-prefixed", "mrk_" + "x" * 200):
        r = client.get("/v1/auth/me", headers={"X-API-Key": bad})
        problem(r, 401, "unauthorized")


def test_revoked_api_key_stops_working_immediately(client, world):
    org = world.north.org_id
    key, etag = create(client, f"/v1/organizations/{org}/api-keys", {"name": "SIS sync"}, world.admin_headers)
    secret = key["key"]
    h = {"X-API-Key": secret}
    assert client.get("/v1/candidates", headers=h).status_code == 200
    r = client.delete(f"/v1/organizations/{org}/api-keys/{key['id']}", headers={**world.admin_headers,
                                                                              "If-Match": etag})
    assert r.status_code == 204, r.text
    r = client.get("/v1/candidates", headers=h)
    problem(r, 401, "unauthorized")
    assert secret not in r.text
    # the other key of the organization keeps working
    assert client.get("/v1/candidates", headers=world.north.api_key_headers).status_code == 200
