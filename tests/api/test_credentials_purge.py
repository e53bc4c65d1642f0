"""The worker's purge of credentials that can no longer be used (app.accounts.purge)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from app.accounts.purge import INVITATION_KEEP_DAYS, purge_expired_credentials
from app.worker import jobs
from tests.api.test_passwords import _refresh, _sign_in, _user
from tests.conftest import count_rows, sync_engine


def _age(table: str, days: float, **where: Any) -> None:
    cond = " AND ".join(f"{k} = :{k}" for k in where) or "1 = 1"
    with sync_engine().begin() as conn:
        conn.execute(text(f"UPDATE {table} SET expires_at = :t WHERE {cond}"),
                     {"t": datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days), **where})


def _purge() -> int:
    return asyncio.run(purge_expired_credentials())


def _invite(client: Any, headers: dict[str, str], candidate_id: str) -> None:
    from tests.api.helpers import email

    r = client.post("/v1/invitations", json={"email": email(), "full_name": "Invited", "role": "candidate",
                                             "candidate_id": candidate_id}, headers=headers)
    assert r.status_code == 201, r.text


def test_expired_sessions_refresh_tokens_and_resets_go_live_ones_stay(client, world):
    assert "accounts.purge" in jobs()
    _, old_addr = _user(client, world)
    _, live_addr = _user(client, world)
    assert _sign_in(client, old_addr).status_code == 200
    live = _sign_in(client, live_addr).json()
    assert client.post("/v1/auth/password-reset", json={"email": old_addr}).status_code == 202
    assert (count_rows("auth_session"), count_rows("refresh_token"), count_rows("password_reset")) == (2, 2, 1)
    with sync_engine().begin() as conn:
        (old_user,) = conn.execute(text("SELECT id FROM user_account WHERE email = :e"), {"e": old_addr}).one()
    _age("refresh_token", 1, session_id=_session_of(old_user))
    _age("auth_session", 1, user_id=old_user)
    _age("password_reset", 1)
    audit_rows = count_rows("audit_record")
    assert _purge() == 3
    assert count_rows("audit_record") == audit_rows  # retention, not a change to a record
    assert (count_rows("auth_session"), count_rows("refresh_token"), count_rows("password_reset")) == (1, 1, 0)
    assert _purge() == 0
    assert _refresh(client, live["refresh_token"]).status_code == 200  # the live sign-in goes on


def _session_of(user_id: Any) -> Any:
    with sync_engine().begin() as conn:
        return conn.execute(text("SELECT id FROM auth_session WHERE user_id = :u"), {"u": user_id}).scalar_one()


def test_invitations_stay_listed_for_a_while_after_they_expire(client, world, monkeypatch):
    from tests.api.mail_server import serve

    for _ in serve(monkeypatch):
        _invite(client, world.north.advisor_headers, world.north.other_candidate_id)
        _age("invitation", INVITATION_KEEP_DAYS - 1)
        assert _purge() == 0 and count_rows("invitation") == 1  # expired, still listed
        _age("invitation", INVITATION_KEEP_DAYS + 1)
        assert _purge() == 1 and count_rows("invitation") == 0
        break
