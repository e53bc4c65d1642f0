"""Sessions end: after a deactivation, a deletion or a password change, a bearer token that two separate server
processes accepted is refused by both within SESSION_CHECK_SECONDS; a revoked API key at once.

The two servers are real uvicorn processes on free ports against the test database (migrated by the session
fixture), so nothing is shared between them but the database, as between the workers of a deployment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.helpers import create, email, problem
from tests.conftest import ROOT, World

BOUND = 2.0  # the servers' SESSION_CHECK_SECONDS
SLACK = 1.5  # a loaded two-core machine: the request itself, process scheduling
PASSWORD = "a long passphrase 42"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def servers(migrated_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    env = {**os.environ, "DATABASE_URL": migrated_database, "SESSION_CHECK_SECONDS": str(BOUND),
           "WORKER_IN_PROCESS": "false",
           "PYTHONPATH": os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(ROOT)) if p)}
    logs: list[Path] = []
    procs: list[subprocess.Popen[bytes]] = []
    bases: list[str] = []
    tmp = tmp_path_factory.mktemp("servers")
    try:
        for i in range(2):
            port = _free_port()
            log_path = tmp / f"server{i}.log"
            logs.append(log_path)
            with open(log_path, "wb") as log:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port),
                     "--no-access-log"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
            bases.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 120  # start-up is not what is measured
        for proc, base in zip(procs, bases, strict=True):
            while True:
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, "a server did not start"
                time.sleep(0.2)
        yield bases
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)
        for log_path in logs:
            sys.stdout.write(log_path.read_text(errors="replace")[-2000:])


def _me(base: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{base}/v1/auth/me", headers=headers, timeout=10)


def _until_refused(bases: list[str], headers: dict[str, str], started: float) -> list[float]:
    """Seconds after `started` at which each server first refused the credentials (401 problem+json)."""
    refused: dict[str, float] = {}
    while len(refused) < len(bases) and time.monotonic() - started < BOUND + SLACK + 5:
        for base in bases:
            if base in refused:
                continue
            r = _me(base, headers)
            if r.status_code == 401:
                problem(r, 401, "unauthorized")
                assert r.headers["www-authenticate"].lower().startswith("bearer")
                refused[base] = time.monotonic() - started
            else:
                assert r.status_code == 200, r.text
        time.sleep(0.05)
    assert len(refused) == len(bases), f"still accepted after {BOUND + SLACK + 5} s: {refused}"
    return [refused[b] for b in bases]


def _deactivate(base: str, admin: dict[str, str], user: dict[str, Any], token: dict[str, str]) -> None:
    r = httpx.patch(f"{base}/v1/users/{user['id']}", json={"is_active": False},
                    headers={**admin, "If-Match": f'"v{user["version"]}"'}, timeout=10)
    assert r.status_code == 200, r.text


def _delete(base: str, admin: dict[str, str], user: dict[str, Any], token: dict[str, str]) -> None:
    r = httpx.delete(f"{base}/v1/users/{user['id']}", headers={**admin, "If-Match": f'"v{user["version"]}"'},
                     timeout=10)
    assert r.status_code == 204, r.text


def _new_password(base: str, admin: dict[str, str], user: dict[str, Any], token: dict[str, str]) -> None:
    r = httpx.patch(f"{base}/v1/users/{user['id']}", json={"password": "another long passphrase"},
                    headers={**admin, "If-Match": f'"v{user["version"]}"'}, timeout=10)
    assert r.status_code == 200, r.text


def _logout(base: str, admin: dict[str, str], user: dict[str, Any], token: dict[str, str]) -> None:
    r = httpx.post(f"{base}/v1/auth/logout", headers=token, timeout=10)
    assert r.status_code == 204, r.text


ENDINGS: dict[str, Callable[[str, dict[str, str], dict[str, Any], dict[str, str]], None]] = {
    "deactivated": _deactivate,
    "deleted": _delete,
    "password set by an admin": _new_password,
    "logged out": _logout,
}


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_a_token_both_servers_accept_is_refused_by_both_within_the_bound(client, world: World, servers, ending):
    user, _ = create(client, "/v1/users", {"email": (addr := email()), "full_name": "Ada Advisor",
                                            "password": PASSWORD, "role": "advisor",
                                            "organization_id": world.north.org_id}, world.admin_headers)
    r = httpx.post(f"{servers[0]}/v1/auth/token", data={"username": addr, "password": PASSWORD}, timeout=10)
    assert r.status_code == 200, r.text
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    for base in servers:  # both accept it, and remember the session's state
        assert _me(base, headers).status_code == 200
        assert _me(base, headers).status_code == 200

    started = time.monotonic()
    ENDINGS[ending](servers[1], world.admin_headers, user, headers)
    times = _until_refused(servers, headers, started)
    assert max(times) <= BOUND + SLACK, times
    # and it stays refused (no worker serves it from a stale copy afterwards)
    for base in servers:
        problem(_me(base, headers), 401, "unauthorized")


def test_a_revoked_api_key_is_refused_by_both_servers_at_once(client, world: World, servers):
    r = client.post(f"/v1/organizations/{world.north.org_id}/api-keys", json={"name": "sync"},
                    headers=world.admin_headers)
    assert r.status_code == 201, r.text
    key = r.json()
    headers = {"X-API-Key": key["key"]}
    for base in servers:
        assert _me(base, headers).status_code == 200
    r = httpx.delete(f"{servers[0]}/v1/organizations/{world.north.org_id}/api-keys/{key['id']}",
                     headers={**world.admin_headers, "If-Match": f'"v{key["version"]}"'}, timeout=10)
    assert r.status_code == 204, r.text
    for base in servers:
        problem(_me(base, headers), 401, "unauthorized")


def test_within_one_server_the_change_ends_access_at_once(client, world: World):  # type: ignore[no-untyped-def]
    """The server that made the change forgets what it remembered about the user's sessions."""
    user, _ = create(client, "/v1/users", {"email": (addr := email()), "full_name": "Ada Advisor",
                                            "password": PASSWORD, "role": "advisor",
                                            "organization_id": world.north.org_id}, world.admin_headers)
    token = client.post("/v1/auth/token", data={"username": addr, "password": PASSWORD}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/auth/me", headers=headers).status_code == 200
    r = client.patch(f"/v1/users/{user['id']}", json={"is_active": False},
                     headers={**world.admin_headers, "If-Match": '"v1"'})
    assert r.status_code == 200, r.text
    problem(client.get("/v1/auth/me", headers=headers), 401, "unauthorized")
    # reactivating does not bring the old token back: its token_version is gone
    r = client.patch(f"/v1/users/{user['id']}", json={"is_active": True},
                     headers={**world.admin_headers, "If-Match": '"v2"'})
    assert r.status_code == 200, r.text
    problem(client.get("/v1/auth/me", headers=headers), 401, "unauthorized")


def test_a_token_whose_role_no_longer_matches_the_account_is_refused(client, world: World):
    from sqlalchemy import text

    from app.accounts.principal import forget_sessions
    from tests.conftest import _uid, sync_engine

    user, _ = create(client, "/v1/users", {"email": (addr := email()), "full_name": "Ada Advisor",
                                            "password": PASSWORD, "role": "advisor",
                                            "organization_id": world.north.org_id}, world.admin_headers)
    token = client.post("/v1/auth/token", data={"username": addr, "password": PASSWORD}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/auth/me", headers=headers).status_code == 200


    with sync_engine().begin() as conn:  # no route changes a role; an operator might
        conn.execute(text("UPDATE user_account SET role = 'admin', organization_id = NULL WHERE id = :id"),
                     {"id": _uid(uuid.UUID(user["id"]))})
    forget_sessions([uuid.UUID(user["id"])])
    problem(client.get("/v1/auth/me", headers=headers), 401, "unauthorized")
