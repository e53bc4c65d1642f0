"""Invitations: an advisor invites a candidate (linked to their record), an admin an advisor; the mailed one-time
token (read from the mail a real SMTP server received) sets the password and creates the account."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from tests.api.helpers import email, get_ok, problem
from tests.api.mail_server import Mailbox, serve, token_in
from tests.conftest import sync_engine

PASSWORD = "an invited passphrase 3"


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    yield from serve(monkeypatch)


def _invite(client: Any, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/v1/invitations", json={"email": body.pop("email", None) or email(),
                                                "full_name": "Invited Person", **body}, headers=headers)


def _accept(client: Any, token: str, password: str = PASSWORD) -> Any:
    return client.post("/v1/invitations/accept", json={"token": token, "password": password})


def test_an_advisor_invites_a_candidate_who_sets_a_password_and_signs_in(client, world, mailbox):  # type: ignore[no-untyped-def]
    addr = email()
    r = _invite(client, world.north.advisor_headers, email=addr, role="candidate",
                candidate_id=world.north.other_candidate_id)
    assert r.status_code == 201, r.text
    invitation = r.json()
    assert invitation["organization_id"] == world.north.org_id and invitation["accepted_at"] is None
    assert "token" not in invitation and "token_hash" not in invitation
    assert r.headers["location"] == f"/v1/invitations/{invitation['id']}"
    [message] = mailbox.wait_for(1)
    assert message["To"] == addr
    token = token_in(message)
    assert token not in r.text
    with sync_engine().connect() as conn:  # only the hash is kept
        stored = [tuple(str(v) for v in row) for row in conn.execute(text("SELECT * FROM invitation"))]
    assert not any(token in v for row in stored for v in row)
    assert any(hashlib.sha256(token.encode()).hexdigest() in row for row in stored)

    r = _accept(client, token)
    assert r.status_code == 201, r.text
    user = r.json()
    assert (user["email"], user["role"], user["candidate_id"], user["organization_id"]) == \
        (addr, "candidate", world.north.other_candidate_id, world.north.org_id)
    tokens = client.post("/v1/auth/token", data={"username": addr, "password": PASSWORD}).json()
    me = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert me["candidate_id"] == world.north.other_candidate_id
    seen, _ = get_ok(client, f"/v1/invitations/{invitation['id']}", world.north.advisor_headers)
    assert seen["accepted_at"] is not None and seen["user_id"] == user["id"]
    # once only
    problem(_accept(client, token, "some other passphrase"), 404, "not-found", code="invalid_token")


def test_an_admin_invites_an_advisor(client, world, mailbox):  # type: ignore[no-untyped-def]
    addr = email()
    r = _invite(client, world.admin_headers, email=addr, role="advisor", organization_id=world.south.org_id)
    assert r.status_code == 201, r.text
    user = _accept(client, token_in(mailbox.wait_for(1)[0])).json()
    assert (user["role"], user["organization_id"], user["candidate_id"]) == ("advisor", world.south.org_id, None)
    assert client.post("/v1/auth/token", data={"username": addr, "password": PASSWORD}).status_code == 200


def test_who_may_invite_whom(client, world, mailbox):  # type: ignore[no-untyped-def]
    north, south = world.north, world.south
    cand = {"role": "candidate", "candidate_id": north.other_candidate_id}
    problem(_invite(client, north.advisor_headers, role="advisor", organization_id=north.org_id), 403, "forbidden")
    problem(_invite(client, south.advisor_headers, **cand), 404, "not-found")  # not theirs: as if not there
    problem(_invite(client, north.candidate_headers, **cand), 403, "forbidden")
    problem(_invite(client, north.api_key_headers, **cand), 403, "forbidden")
    problem(_invite(client, {}, **cand), 401, "unauthorized")
    problem(_invite(client, world.admin_headers, role="admin"), 422, "validation-error")
    # the address or the candidate record already has an account
    problem(_invite(client, world.admin_headers, email="advisor@north.test", role="advisor",
                    organization_id=north.org_id), 409, "conflict", code="email_taken")
    problem(_invite(client, north.advisor_headers, role="candidate", candidate_id=north.candidate_id), 409,
            "conflict", code="candidate_has_user")
    assert mailbox.messages == []
    # an advisor sees the invitations of their organization's candidates only
    invitation = _invite(client, north.advisor_headers, **cand).json()
    problem(client.get(f"/v1/invitations/{invitation['id']}", headers=south.advisor_headers), 404, "not-found")
    problem(client.get(f"/v1/invitations/{invitation['id']}", headers=north.candidate_headers), 403, "forbidden")
    assert client.get(f"/v1/invitations/{invitation['id']}", headers=world.admin_headers).status_code == 200


def _expire(token: str) -> None:
    with sync_engine().begin() as conn:
        conn.execute(text("UPDATE invitation SET expires_at = '2020-01-01 00:00:00' WHERE token_hash = :h"),
                     {"h": hashlib.sha256(token.encode()).hexdigest()})


@pytest.mark.parametrize("reason", ["unknown", "expired", "used"])
def test_an_unusable_invitation_token_gets_the_same_answer_whatever_the_reason(client, world, mailbox, reason):  # type: ignore[no-untyped-def]
    r = _invite(client, world.north.advisor_headers, role="candidate", candidate_id=world.north.other_candidate_id)
    assert r.status_code == 201, r.text
    token = token_in(mailbox.wait_for(1)[0])
    if reason == "unknown":
        token = "q" * 43
    elif reason == "expired":
        _expire(token)
    else:
        assert _accept(client, token).status_code == 201
    body = problem(_accept(client, token, "yet another passphrase"), 404, "not-found", code="invalid_token")
    assert body["detail"] == "The token is invalid, expired or already used."
