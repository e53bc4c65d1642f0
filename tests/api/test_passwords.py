"""Password change with the current password, and password reset by a one-time token sent by mail (a real SMTP
server, started by the test, receives it)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from app.core.config import get_settings
from tests.api.helpers import create, email, problem
from tests.api.mail_server import Mailbox, serve, token_in
from tests.conftest import World, sync_engine

PASSWORD = "a long passphrase 42"
NEW = "a brand new passphrase 7"


def _user(client: Any, world: World) -> tuple[dict[str, Any], str]:
    addr = email()
    user, _ = create(client, "/v1/users", {"email": addr, "full_name": "Ada Advisor", "password": PASSWORD,
                                           "role": "advisor", "organization_id": world.north.org_id},
                     world.admin_headers)
    return user, addr


def _sign_in(client: Any, addr: str, password: str = PASSWORD) -> Any:
    return client.post("/v1/auth/token", data={"username": addr, "password": password})


def _bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def _refresh(client: Any, token: str) -> Any:
    return client.post("/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": token})


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    yield from serve(monkeypatch)


# ---- change ----------------------------------------------------------------------------------------------------

def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(client, world):  # type: ignore[no-untyped-def]
    _, addr = _user(client, world)
    mine, other = _sign_in(client, addr).json(), _sign_in(client, addr).json()
    r = client.post("/v1/auth/password", json={"current_password": PASSWORD, "new_password": NEW},
                    headers=_bearer(mine))
    assert r.status_code == 204, r.text
    assert client.get("/v1/auth/me", headers=_bearer(mine)).status_code == 200
    assert _refresh(client, mine["refresh_token"]).status_code == 200
    problem(client.get("/v1/auth/me", headers=_bearer(other)), 401, "unauthorized")
    problem(_refresh(client, other["refresh_token"]), 401, "unauthorized", code="invalid_grant")
    problem(_sign_in(client, addr), 401, "unauthorized")
    assert _sign_in(client, addr, NEW).status_code == 200


def test_changing_the_password_needs_the_current_one(client, world):  # type: ignore[no-untyped-def]
    _, addr = _user(client, world)
    mine = _sign_in(client, addr).json()
    body = problem(client.post("/v1/auth/password", json={"current_password": "wrong", "new_password": NEW},
                               headers=_bearer(mine)), 403, "forbidden", code="current_password_incorrect")
    assert {e["field"] for e in body["errors"]} == {"body.current_password"}
    assert client.get("/v1/auth/me", headers=_bearer(mine)).status_code == 200  # the session goes on
    assert _sign_in(client, addr).status_code == 200  # unchanged
    problem(client.post("/v1/auth/password", json={"current_password": PASSWORD, "new_password": "short"},
                        headers=_bearer(mine)), 422, "validation-error")
    problem(client.post("/v1/auth/password", json={"current_password": "x", "new_password": NEW},
                        headers=world.north.api_key_headers), 403, "forbidden")


# ---- reset -----------------------------------------------------------------------------------------------------

def _request(client: Any, addr: str) -> Any:
    return client.post("/v1/auth/password-reset", json={"email": addr})


def _confirm(client: Any, token: str, password: str = NEW) -> Any:
    return client.post("/v1/auth/password-reset/confirm", json={"token": token, "new_password": password})


def test_a_reset_mails_a_one_time_token_that_sets_the_password_and_ends_every_session(client, world, mailbox):  # type: ignore[no-untyped-def]
    _, addr = _user(client, world)
    session = _sign_in(client, addr).json()
    r = _request(client, addr.upper())
    assert r.status_code == 202, r.text
    [message] = mailbox.wait_for(1)
    assert message["To"] == addr and "no-reply@matchready.test" in message["From"]
    assert mailbox.envelopes[0][1] == [addr]
    token = token_in(message)
    with sync_engine().connect() as conn:  # stored only as its hash
        stored = [tuple(str(v) for v in row) for row in conn.execute(text("SELECT * FROM password_reset"))]
    assert not any(token in v for row in stored for v in row)
    assert any(hashlib.sha256(token.encode()).hexdigest() in row for row in stored)

    assert _confirm(client, token).status_code == 204
    problem(client.get("/v1/auth/me", headers=_bearer(session)), 401, "unauthorized")
    problem(_refresh(client, session["refresh_token"]), 401, "unauthorized", code="invalid_grant")
    problem(_sign_in(client, addr), 401, "unauthorized")
    assert _sign_in(client, addr, NEW).status_code == 200
    # once only
    body = problem(_confirm(client, token, "yet another passphrase"), 404, "not-found", code="invalid_token")
    assert token not in str(body)


def test_a_reset_request_answers_the_same_for_an_unknown_address_and_sends_nothing(client, world, mailbox):  # type: ignore[no-untyped-def]
    user, addr = _user(client, world)
    known, unknown = _request(client, addr), _request(client, "nobody-here@example.org")
    assert (known.status_code, known.content, known.headers.get("content-type")) == \
        (unknown.status_code, unknown.content, unknown.headers.get("content-type")) == (202, b"", None)
    mailbox.wait_for(2, timeout=1.0)
    assert [m["To"] for m in mailbox.messages] == [addr]
    r = client.patch(f"/v1/users/{user['id']}", json={"is_active": False},
                     headers={**world.admin_headers, "If-Match": '"v1"'})
    assert r.status_code == 200
    assert _request(client, addr).status_code == 202  # a deactivated account gets no reset either
    mailbox.wait_for(2, timeout=1.0)
    assert len(mailbox.messages) == 1


def _expire(token: str) -> None:
    with sync_engine().begin() as conn:
        conn.execute(text("UPDATE password_reset SET expires_at = '2020-01-01 00:00:00' WHERE token_hash = :h"),
                     {"h": hashlib.sha256(token.encode()).hexdigest()})


@pytest.mark.parametrize("reason", ["unknown", "expired", "used", "superseded by a newer reset"])
def test_an_unusable_reset_token_gets_the_same_answer_whatever_the_reason(client, world, mailbox, reason):  # type: ignore[no-untyped-def]
    _, addr = _user(client, world)
    _request(client, addr)
    token = token_in(mailbox.wait_for(1)[0])
    if reason == "unknown":
        token = "z" * 43
    elif reason == "expired":
        _expire(token)
    elif reason == "used":
        assert _confirm(client, token).status_code == 204
    else:
        _request(client, addr)
        assert _confirm(client, token_in(mailbox.wait_for(2)[1])).status_code == 204
    body = problem(_confirm(client, token, "another passphrase 9"), 404, "not-found", code="invalid_token")
    assert body["detail"] == "The token is invalid, expired or already used."
    assert _sign_in(client, addr, "another passphrase 9").status_code == 401


def test_without_smtp_a_mail_is_written_where_a_developer_reads_it(client, world, tmp_path: Path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SMTP_HOST", "")
    monkeypatch.setenv("MAIL_DIR", str(tmp_path / "mail"))
    get_settings.cache_clear()
    try:
        _, addr = _user(client, world)
        assert _request(client, addr).status_code == 202
        [path] = list((tmp_path / "mail").glob("*.eml"))
        from email import message_from_bytes, policy

        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert message["To"] == addr
        assert _confirm(client, token_in(message)).status_code == 204  # type: ignore[arg-type]
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


@pytest.mark.parametrize("configured,delivered", [(("mailer", "smtp-secret"), True),
                                                  (("mailer", "wrong-secret"), False)])
def test_mail_is_sent_with_the_smtp_login(client, world, monkeypatch, configured, delivered):  # type: ignore[no-untyped-def]
    for box in serve(monkeypatch, login=("mailer", "smtp-secret"), configured_login=configured):
        _, addr = _user(client, world)
        assert _request(client, addr).status_code == 202  # the same answer when the mail could not be sent
        assert [m["To"] for m in box.wait_for(1, timeout=1.0 if not delivered else 5.0)] == \
            ([addr] if delivered else [])
