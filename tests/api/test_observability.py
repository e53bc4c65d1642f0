"""Logs, request ids, security headers and metrics (app.core.logs, app.core.observe, app.core.metrics).

The log tests drive the service's flows with distinctive personal data and every kind of secret, at DEBUG: the
requests of the resources, sign-in and keys in the first; refresh tokens, password reset and invitations by mail,
webhooks, an import, a pass of the worker, export and erasure in the second. They read everything logging produced
(the rendered JSON lines on stdout and the records themselves): none of those values may appear, and each request
has its access line with its route template.

The metrics tests serve the app with two uvicorn workers and check that a scrape sums both, and that a server
restarted with the same supervisor pid (pid 1 in a container) starts from zero."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.config import get_settings
from app.core.logs import configure_logging
from tests.api.helpers import CLOSED_URL, candidate_body, create, email, milestone_body, problem
from tests.conftest import DATABASE_URL, ROOT, backend
from tests.served import wait_live

PASSWORD = "seeded passphrase Qx7 observability"
SEEDED = {"full_name": "Zebulon Quillfeather-Marrowby", "email": "zebulon.quillfeather.7741@example.org",
          "date_of_birth": "1990-04-17", "usmle_id": "90817263"}
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture
def debug_json_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The service's logging as production configures it (JSON lines on stdout), at its most talkative level."""
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("LOG_FORMAT", "json")
    get_settings.cache_clear()
    configure_logging(get_settings(), force=True)
    yield
    monkeypatch.undo()
    get_settings.cache_clear()
    configure_logging(get_settings(), force=True)


def _flows(client: Any, world: Any) -> tuple[list[str], str]:
    """Run the flows; return the secrets they produced and the calendar token."""
    admin, h = world.admin_headers, world.north.advisor_headers
    org = world.north.org_id
    user, _ = create(client, "/v1/users", {"email": email(), "full_name": "Ada Advisor", "password": PASSWORD,
                                           "role": "advisor", "organization_id": org}, admin)
    r = client.post("/v1/auth/token", data={"username": user["email"], "password": PASSWORD})
    assert r.status_code == 200, r.text
    access_token = r.json()["access_token"]
    assert client.post("/v1/auth/token", data={"username": user["email"], "password": PASSWORD + "x"}
                       ).status_code == 401
    signed_in = {"Authorization": f"Bearer {access_token}"}
    body = candidate_body(**SEEDED)
    cand, _ = create(client, "/v1/candidates", body, {**signed_in, "Idempotency-Key": "obs-key-1"})
    replay = client.post("/v1/candidates", json=body, headers={**signed_in, "Idempotency-Key": "obs-key-1"})
    assert replay.headers.get("idempotent-replayed") == "true"
    r = client.get("/v1/candidates", params={"q": SEEDED["email"]}, headers=signed_in)
    assert r.status_code == 200 and r.json()["total"] == 1, r.text
    assert client.get("/v1/candidates", params={"q": SEEDED["full_name"]}, headers=h).status_code == 200
    problem(client.get("/v1/candidates", params={"email": SEEDED["email"]}, headers=h), 422, "validation-error")
    problem(client.post("/v1/candidates", json={**body, "date_of_birth": "2999-01-01"}, headers=h), 422)
    dup = client.patch(f"/v1/candidates/{cand['id']}", json={"usmle_id": SEEDED["usmle_id"]},
                       headers={**h, "If-Match": '"v0"'})
    assert dup.status_code == 412
    key, _ = create(client, f"/v1/organizations/{org}/api-keys", {"name": "observed"}, admin)
    assert client.get("/v1/auth/me", headers={"X-API-Key": key["key"]}).status_code == 200
    assert client.get("/v1/auth/me", headers={"X-API-Key": key["key"] + "x"}).status_code == 401
    endpoint, _ = create(client, f"/v1/organizations/{org}/webhook-endpoints", {"url": CLOSED_URL}, h)
    sub, _ = create(client, f"/v1/candidates/{cand['id']}/calendar-subscriptions", {"name": "Phone"}, h)
    token = sub["url"].rsplit("/", 1)[1].removesuffix(".ics")
    assert client.get(f"/v1/calendar/{token}.ics").status_code == 200
    assert client.get(f"/v1/calendar/{token}x.ics").status_code == 404
    return [access_token, PASSWORD, key["key"], endpoint["secret"], token], token


def _logged(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> str:
    """The rendered output (JSON lines on stdout, anything on stderr), then the records themselves."""
    out = capsys.readouterr()
    records = "\n".join(f"{r.name} {r.getMessage()} {r.args!r} {r.__dict__!r}" for r in caplog.records)
    return out.out + out.err + "\n" + records


def _assert_absent(values: list[str], logged: str) -> None:
    """Neither a value nor (a secret cut short) the last 16 characters of one appear."""
    found = [v for v in values if v in logged or (len(v) >= 32 and v[-16:] in logged)]
    assert not found, f"reached the logs: {found}"


def test_no_personal_data_or_secrets_reach_the_logs(client, world, debug_json_logs, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    secrets, token = _flows(client, world)
    out = capsys.readouterr()
    rendered = out.out + out.err
    records = "\n".join(f"{r.name} {r.getMessage()} {r.args!r} {r.__dict__!r}" for r in caplog.records)
    for value in [*SEEDED.values(), *secrets, token[:16]]:
        assert value not in rendered, f"{value!r} reached the log output"
        assert value not in records, f"{value!r} reached a log record"
    access = [json.loads(line) for line in rendered.splitlines()
              if line.startswith("{") and '"matchready.access"' in line]
    routes = {(a["method"], a["route"], a["status"]) for a in access}
    assert ("GET", "/v1/calendar/{token}.ics", 200) in routes, routes
    assert ("GET", "/v1/calendar/{token}.ics", 404) in routes, routes
    assert ("GET", "/v1/candidates", 200) in routes and ("POST", "/v1/auth/token", 401) in routes, routes
    assert all(UUID4.match(a["request_id"]) for a in access), access
    assert all(set(a) >= {"method", "route", "status", "duration_ms", "request_id", "principal_id", "timestamp"}
               for a in access), access
    assert {a["principal_id"] for a in access if a["route"] == "/v1/candidates"} != {None}


IMPORTED = {"full_name": "Ottoline Brackenridge-Vasquez", "email": "ottoline.brackenridge.6620@example.org",
            "date_of_birth": "1987-11-05", "usmle_id": "61728394", "external_id": "SIS-OTTOLINE-4410"}
INVITEE = {"full_name": "Peregrine Wolstenholme", "email": "peregrine.wolstenholme.2291@example.org"}
SMTP_LOGIN = ("mailer", "smtp-password-for-the-log-test-7f3a")


def _worker_pass(done: Any, timeout: float = 30.0) -> None:
    """The worker (app.worker.run_worker, every job) in this process until `done()` or `timeout`, then stopped as
    SIGTERM stops it."""
    import asyncio

    from app.worker import run_worker

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_worker(stop))
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline and not task.done():
            await asyncio.sleep(0.05)
        stop.set()
        await task

    asyncio.run(go())
    assert done(), "the worker did not finish the work in time"


def _more_flows(client: Any, world: Any, mailbox: Any, receiver: Any) -> tuple[list[str], list[str]]:
    """Refresh tokens, password reset, invitation, webhooks, import, a worker pass, export and erasure; return the
    personal data and the secrets they handled."""
    from tests.api.mail_server import token_in
    from tests.api.test_imports import item, submit

    admin, h, org = world.admin_headers, world.north.advisor_headers, world.north.org_id
    addr, new_password, invited_password = email(), PASSWORD + " renewed", PASSWORD + " invited"
    create(client, "/v1/users", {"email": addr, "full_name": "Ada Advisor", "password": PASSWORD, "role": "advisor",
                                 "organization_id": org}, admin)
    # refresh tokens: rotated, a spent one reused (the family ends), logout
    signed_in = client.post("/v1/auth/token", data={"username": addr, "password": PASSWORD}).json()
    refreshed = client.post("/v1/auth/token", data={"grant_type": "refresh_token",
                                                    "refresh_token": signed_in["refresh_token"]}).json()
    problem(client.post("/v1/auth/token", data={"grant_type": "refresh_token",
                                                "refresh_token": signed_in["refresh_token"]}), 401)
    again = client.post("/v1/auth/token", data={"username": addr, "password": PASSWORD}).json()
    assert client.post("/v1/auth/logout", headers={"Authorization": f"Bearer {again['access_token']}"}
                       ).status_code == 204
    # password reset by mail, and a request for no account
    assert client.post("/v1/auth/password-reset", json={"email": addr}).status_code == 202
    assert client.post("/v1/auth/password-reset", json={"email": "no-one." + addr}).status_code == 202
    reset = token_in(mailbox.wait_for(1)[0])
    assert client.post("/v1/auth/password-reset/confirm", json={"token": reset, "new_password": new_password}
                       ).status_code == 204
    problem(client.post("/v1/auth/password-reset/confirm", json={"token": reset, "new_password": new_password}), 404)
    # an invitation to a candidate, accepted
    cand, _ = create(client, "/v1/candidates", candidate_body(**SEEDED), h)
    assert client.post("/v1/invitations", json={**INVITEE, "role": "candidate", "candidate_id": cand["id"]},
                       headers=h).status_code == 201
    invitation = token_in(mailbox.wait_for(2)[1])
    assert client.post("/v1/invitations/accept", json={"token": invitation, "password": invited_password}
                       ).status_code == 201
    problem(client.post("/v1/invitations/accept", json={"token": invitation, "password": invited_password}), 404)
    # a webhook endpoint (its URL carries a token too, as some receivers want), an import, and the worker
    url_token = "hook-url-token-" + uuid.uuid4().hex
    endpoint, _ = create(client, f"/v1/organizations/{org}/webhook-endpoints",
                         {"url": f"{receiver.url}?auth={url_token}"}, h)
    create(client, f"/v1/candidates/{cand['id']}/milestones", milestone_body(), h)
    key, _ = create(client, f"/v1/organizations/{org}/api-keys", {"name": "importer"}, admin)
    job = submit(client, {"X-API-Key": key["key"]}, [item(1, **IMPORTED)])
    _worker_pass(lambda: len(receiver.requests) >= 2 and client.get(
        f"/v1/imports/{job['id']}", headers=h).json()["status"] == "succeeded")
    # the export, the organization's export, and the erasure
    assert client.get(f"/v1/candidates/{cand['id']}/export", headers=h).status_code == 200
    assert client.get(f"/v1/organizations/{org}/export", headers=h).status_code == 200
    assert client.post(f"/v1/candidates/{cand['id']}/erasure", headers=h).status_code == 200
    personal = [*SEEDED.values(), *IMPORTED.values(), *INVITEE.values(), addr]
    secrets = [PASSWORD, new_password, invited_password, signed_in["access_token"], signed_in["refresh_token"],
               refreshed["access_token"], refreshed["refresh_token"], again["refresh_token"], reset, invitation,
               key["key"], endpoint["secret"], url_token, SMTP_LOGIN[1]]
    return personal, secrets


@pytest.fixture
def mail_with_login(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from tests.api.mail_server import serve

    yield from serve(monkeypatch, login=SMTP_LOGIN)


def test_no_personal_data_or_secrets_reach_the_logs_in_any_flow(client, world, debug_json_logs, mail_with_login,
                                                               caplog, capsys):
    """The account, mail, webhook, import, worker and privacy flows, under the same capture. (The tests' SMTP
    server, aiosmtpd, logs every line it receives to `mail.log`: it is the mail's recipient, not the service, so it
    is silenced.)"""
    from tests.api.receiver import start_receiver, stop_receiver

    caplog.set_level(logging.DEBUG)
    smtp_server_log = logging.getLogger("mail.log")
    smtp_server_log.disabled = True
    receiver = start_receiver()
    try:
        personal, secrets = _more_flows(client, world, mail_with_login, receiver)
    finally:
        stop_receiver(receiver)
        smtp_server_log.disabled = False
    logged = _logged(caplog, capsys)
    assert "matchready.worker" in logged and "matchready.access" in logged, logged[-2000:]  # captured indeed
    _assert_absent(personal + secrets, logged)


def test_access_log_lines_are_json_with_the_route_template(client, world, debug_json_logs, capsys):
    rid = "trace-abc.123:xyz"
    cid = world.north.candidate_id
    assert client.get(f"/v1/candidates/{cid}", headers={**world.north.advisor_headers, "X-Request-Id": rid}
                      ).status_code == 200
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    line = next(a for a in lines if a.get("logger") == "matchready.access")
    assert line["route"] == "/v1/candidates/{candidate_id}" and line["request_id"] == rid, line
    assert line["status"] == 200 and line["level"] == "info" and isinstance(line["duration_ms"], float), line
    assert cid not in json.dumps(lines)


# ---- request id --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("sent", "echoed"), [
    ("abc-123", "abc-123"),
    ("A" * 64, "A" * 64),
    ("0af7651916cd43dd8448eb211c80319c:b7ad6b7169203331", "0af7651916cd43dd8448eb211c80319c:b7ad6b7169203331"),
    (None, None),                    # generated
    ("A" * 65, None),                # too long: replaced
    ("evil id\r", None),             # outside the charset: replaced
    ("<script>", None),
    ("", None),
])
def test_request_id_is_echoed_when_safe_and_generated_otherwise(client, world, sent, echoed):
    headers = {**world.north.advisor_headers, **({"X-Request-Id": sent} if sent is not None else {})}
    r = client.get("/v1/candidates", headers=headers)
    assert r.status_code == 200
    if echoed is not None:
        assert r.headers["x-request-id"] == echoed
    else:
        assert UUID4.match(r.headers["x-request-id"]), r.headers


def test_request_ids_differ_between_requests(client):
    assert client.get("/livez").headers["x-request-id"] != client.get("/livez").headers["x-request-id"]


@pytest.mark.parametrize(("method", "url", "kwargs", "status"), [
    ("GET", "/v1/no-such-path", {}, 404),
    ("GET", "/v1/candidates", {}, 401),
    ("DELETE", "/livez", {}, 405),
    ("POST", "/v1/candidates", {"content": b"x", "headers": {"Content-Type": "text/plain"}}, 415),
    ("POST", "/v1/candidates", {"content": b"x" * (2 * 1024 * 1024)}, 413),
    ("GET", "/livez?unknown=1", {}, 422),
])
def test_errors_carry_the_request_id_and_security_headers(client, method, url, kwargs, status):
    headers = {**kwargs.pop("headers", {}), "X-Request-Id": "err-1"}
    r = client.request(method, url, headers=headers, **kwargs)
    assert r.status_code == status, r.text
    assert r.headers["x-request-id"] == "err-1"
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"


def _failing_app() -> FastAPI:
    from app.main import create_app

    app = create_app()

    async def boom() -> None:
        raise RuntimeError("a bug")

    async def down() -> None:
        raise psycopg.OperationalError("connection refused")

    app.add_api_route("/boom", boom)
    app.add_api_route("/down", down)
    return app


@pytest.mark.parametrize(("path", "status", "slug"), [("/boom", 500, "internal-error"),
                                                      ("/down", 503, "service-unavailable")])
def test_500_and_503_carry_the_request_id(path, status, slug):
    with TestClient(_failing_app(), raise_server_exceptions=False) as c:
        r = c.get(path, headers={"X-Request-Id": "fail-1", "Authorization": "Bearer x"})
    problem(r, status, slug)
    assert r.headers["x-request-id"] == "fail-1"
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["cache-control"] == "private, no-cache"


def test_the_audit_trail_records_the_validated_request_id(client, world):
    h = world.north.advisor_headers
    sent = client.post("/v1/candidates", json=candidate_body(), headers={**h, "X-Request-Id": "audit-rid-1"})
    made = client.post("/v1/candidates", json=candidate_body(), headers={**h, "X-Request-Id": "bad id!"})
    assert sent.status_code == made.status_code == 201
    audit = client.get(f"/v1/organizations/{world.north.org_id}/audit", headers=h).json()["items"]
    by_object = {a["subject_id"]: a["request_id"] for a in audit}
    assert by_object[sent.json()["id"]] == "audit-rid-1"
    assert by_object[made.json()["id"]] == made.headers["x-request-id"] != "bad id!"


# ---- security headers --------------------------------------------------------------------------------------------

def test_security_headers_and_cache_control(client, world):
    h = world.north.advisor_headers
    cid = world.north.candidate_id
    read = client.get(f"/v1/candidates/{cid}", headers=h)
    key = client.post(f"/v1/organizations/{world.north.org_id}/api-keys", json={"name": "k"},
                      headers=world.admin_headers)
    sub = client.post(f"/v1/candidates/{cid}/calendar-subscriptions", json={"name": "Phone"}, headers=h)
    feed = client.get(sub.json()["url"].removeprefix("http://testserver"))
    cases = {  # answer: its Cache-Control
        "authenticated read": (read, "private, no-cache"),
        "revalidated read (304)": (client.get(f"/v1/candidates/{cid}",
                                              headers={**h, "If-None-Match": read.headers["etag"]}),
                                   "private, no-cache"),
        "a secret shown once": (key, "no-store"),
        "a calendar link shown once": (sub, "no-store"),
        "the calendar feed": (feed, "private, max-age=300"),
        "unauthenticated": (client.get("/livez"), None),
    }
    for name, (r, cache_control) in cases.items():
        assert r.status_code in (200, 201, 304), (name, r.text)
        assert r.headers.get("cache-control") == cache_control, (name, r.headers)
        assert r.headers["x-content-type-options"] == "nosniff", name
        assert r.headers["referrer-policy"] == "no-referrer", name
        assert r.headers["x-frame-options"] == "DENY", name
        assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'", name
        assert "server" not in r.headers, name
    docs = client.get("/docs")
    assert docs.status_code == 200 and docs.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert docs.headers["x-frame-options"] == "DENY"


def test_the_server_commands_hide_the_server_header():
    for path in ("Makefile", "Dockerfile"):
        for line in (ROOT / path).read_text().splitlines():
            if "uvicorn app.main:app" in line:
                assert "--no-server-header" in line and "--no-access-log" in line, (path, line)
                assert "--log-config app/logging.json" in line, (path, line)


# ---- metrics -----------------------------------------------------------------------------------------------------

METRICS_TOKEN = "metrics-token-for-the-tests-0123"


@pytest.fixture
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("METRICS_TOKEN", METRICS_TOKEN)
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_metrics_are_off_without_a_token(client):
    problem(client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}), 404, "not-found")


def test_metrics_want_the_token(client, metrics_on):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {METRICS_TOKEN}"}):
        r = client.get("/metrics", headers=headers)
        problem(r, 401, "unauthorized")
        assert r.headers["www-authenticate"].startswith("Bearer")


def _sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            got = dict(re.findall(r'(\w+)="([^"]*)"', line.rsplit(" ", 1)[0]))
            if all(got.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_count_requests_by_route_template_and_status(client, world, metrics_on):
    auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    route = "/v1/candidates/{candidate_id}"
    before = client.get("/metrics", headers=auth).text
    cid = world.north.candidate_id
    for _ in range(3):
        assert client.get(f"/v1/candidates/{cid}", headers=world.north.advisor_headers).status_code == 200
    assert client.get(f"/v1/candidates/{uuid.uuid4()}", headers=world.north.advisor_headers).status_code == 404
    org = world.north.org_id
    ep, _ = create(client, f"/v1/organizations/{org}/webhook-endpoints", {"url": CLOSED_URL},
                   world.north.advisor_headers)
    assert client.post(f"/v1/organizations/{org}/webhook-endpoints/{ep['id']}/test",
                       headers=world.north.advisor_headers).status_code == 201
    r = client.get("/metrics", headers=auth)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain"), r.text
    assert r.headers["cache-control"] == "no-store"
    text = r.text

    def count(t: str, status: str) -> float:
        return _sample(t, "matchready_http_requests_total", method="GET", route=route, status=status) or 0.0

    assert count(text, "200") - count(before, "200") == 3
    assert count(text, "404") - count(before, "404") == 1
    assert _sample(text, "matchready_http_request_duration_seconds_count", method="GET", route=route,
                   status="200") is not None
    assert cid not in text  # templates, never paths
    assert _sample(text, "matchready_worker_backlog", queue="webhook_deliveries_waiting") is not None
    assert "matchready_http_errors_total" in text
    if backend() == "sqlite":  # PostgreSQL tests run without a pool (NullPool): nothing to report
        assert _sample(text, "matchready_db_pool_connections", pool="sessions", state="size") is not None


def test_a_server_error_is_counted():
    from app.core.metrics import ERRORS

    before = ERRORS.labels("GET", "(unmatched)", "500")._value.get()
    with TestClient(_failing_app(), raise_server_exceptions=False) as c:
        assert c.get("/boom").status_code == 500
    assert ERRORS.labels("GET", "(unmatched)", "500")._value.get() == before + 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


LIVEZ = {"method": "GET", "route": "/livez", "status": "200"}


def _serve(tmp_path: Path, port: int, *, as_pid_1: bool = False) -> subprocess.Popen[bytes]:
    """`uvicorn --workers 2` on `port`, its output in tmp_path/server.log (appended), TMPDIR tmp_path; `as_pid_1`:
    the supervisor is pid 1 of a PID namespace of its own, as in a container."""
    env = {**os.environ, "DATABASE_URL": DATABASE_URL, "ENVIRONMENT": "test", "METRICS_TOKEN": METRICS_TOKEN,
           "LOG_FORMAT": "json", "TMPDIR": str(tmp_path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    # uvicorn's own access log left on: the app silences it (it prints raw paths and query strings)
    command = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port),
               "--workers", "2", "--no-server-header", "--log-config", "app/logging.json"]
    if as_pid_1:
        command = [*PID_NAMESPACE, *command]
    with (tmp_path / "server.log").open("a") as output:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    wait_live(proc, f"http://127.0.0.1:{port}", timeout=60)
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the supervisor (inside a PID namespace: to its pid 1, whose exit ends the namespace)."""
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    inner = children.read_text().split() if proc.args[0] == PID_NAMESPACE[0] and children.exists() else []
    os.kill(int(inner[0]) if inner else proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def _scrape(base: str) -> str:
    m = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}", "Connection": "close"},
                  timeout=5)
    assert m.status_code == 200, m.text
    return m.text


def _livez(base: str, n: int) -> None:
    """`n` requests to /livez, eight at a time, a connection each: the workers share the listening socket, and
    concurrent connections go to both."""
    def one(_: int) -> None:
        r = httpx.get(f"{base}/livez", headers={"Connection": "close"}, timeout=5)
        assert r.status_code == 200 and "server" not in r.headers

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(n)))


def _per_worker(shared: Path) -> dict[str, float]:
    """/livez 200s counted by each worker: its own file in the shared directory (prometheus_client's format)."""
    from prometheus_client import multiprocess

    counts = {}
    for f in shared.glob("counter_*.db"):
        samples = [s for m in multiprocess.MultiProcessCollector.merge([str(f)], accumulate=True) for s in m.samples
                   if s.name == "matchready_http_requests_total" and s.labels == LIVEZ]
        counts[f.stem.rsplit("_", 1)[1]] = sum(s.value for s in samples)
    return counts


def _settled(shared: Path, total: float | None = None) -> dict[str, float]:
    """`_per_worker` once it sums to `total`, or (none given) has not changed for half a second: a request is counted
    as its answer goes out, so a client can see the answer a moment before the count (longer on a busy machine)."""
    deadline = time.monotonic() + 15
    seen, since = _per_worker(shared), time.monotonic()
    while time.monotonic() < deadline:
        if total is not None and sum(seen.values()) == total:
            return seen
        time.sleep(0.05)
        now = _per_worker(shared)
        if now != seen:
            seen, since = now, time.monotonic()
        elif total is None and seen and time.monotonic() - since >= 0.5:
            return seen
    return seen


def test_metrics_sum_over_several_uvicorn_workers(tmp_path: Path):
    """Two real uvicorn workers that both answer requests: whichever answers a scrape reports every worker's."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _serve(tmp_path, port)
    try:
        (shared,) = tmp_path.glob("matchready-metrics-*")
        start = _settled(shared)  # wait_live's requests
        scraped = _sample(_scrape(base), "matchready_http_requests_total", **LIVEZ)
        assert scraped == sum(start.values()), (scraped, start)
        sent = 0
        while sent < 800:  # until both have served some (the kernel hands a connection to either)
            _livez(base, 40)
            sent += 40
            counted = _settled(shared, total=sum(start.values()) + sent)
            served = {pid: n - start.get(pid, 0) for pid, n in counted.items()}
            if len(served) == 2 and min(served.values()) > 0:
                break
        assert len(served) == 2 and min(served.values()) > 0, f"one worker served all {sent}: {served}"
        assert sum(served.values()) == sent, (served, sent)
        totals = {_sample(_scrape(base), "matchready_http_requests_total", **LIVEZ) for _ in range(6)}
        assert totals == {scraped + sent}, (totals, scraped, sent)  # every scrape, whichever worker answers it
        secret = "calendar-token-" + uuid.uuid4().hex
        assert httpx.get(f"{base}/v1/calendar/{secret}.ics", timeout=5).status_code == 404
        assert httpx.get(f"{base}/livez", params={"q": SEEDED["email"]}, timeout=5).status_code == 422
    finally:
        _stop(proc)
    log = (tmp_path / "server.log").read_text()
    assert secret not in log and SEEDED["email"] not in log and "zebulon" not in log, log[-2000:]
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    routes = [(a["route"], a["status"]) for a in lines if a.get("logger") == "matchready.access"]
    assert ("/v1/calendar/{token}.ics", 404) in routes and ("/livez", 422) in routes, routes
    assert len(routes) >= sent + 8, len(routes)
    # JSON lines only, the supervisor's own included (app/logging.json)
    assert all(line.startswith("{") for line in log.splitlines() if line.strip()), log[:3000]
    assert "color_message" not in log and "parent process" in log


PID_NAMESPACE = ["unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount-proc"]


def _pid_namespaces() -> bool:
    try:
        return subprocess.run([*PID_NAMESPACE, "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not _pid_namespaces(), reason="needs unshare and user and PID namespaces")
def test_a_restarted_server_counts_from_zero_though_its_pid_is_the_same(tmp_path: Path):
    """In a container the supervisor is pid 1 at every start, and TMPDIR survives a restart: the second start's
    metrics are its own requests only, and the first start's directory is gone."""
    first, second = _free_port(), _free_port()
    proc = _serve(tmp_path, first, as_pid_1=True)
    try:
        _livez(f"http://127.0.0.1:{first}", 30)
        (old,) = tmp_path.glob("matchready-metrics-*")
        assert re.fullmatch(r"matchready-metrics-1(-.+)?", old.name), old  # pid 1 indeed
        _settled(old)
        before = _sample(_scrape(f"http://127.0.0.1:{first}"), "matchready_http_requests_total", **LIVEZ)
        assert before is not None and before >= 31, before
    finally:
        _stop(proc)
    proc = _serve(tmp_path, second, as_pid_1=True)
    try:
        _livez(f"http://127.0.0.1:{second}", 5)
        (shared,) = tmp_path.glob("matchready-metrics-*")
        own = sum(_settled(shared).values())
        after = _sample(_scrape(f"http://127.0.0.1:{second}"), "matchready_http_requests_total", **LIVEZ)
    finally:
        _stop(proc)
    # its own requests only (wait_live's and these 5), none of the first start's
    assert after is not None and 6 <= after < before, (after, before)
    assert after == own, (after, own)
    assert shared != old and not old.exists()


def test_the_shared_directory_is_per_start_of_the_supervisor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The same pid started anew (pid 1 in a container) gets a directory of its own; the directories of supervisors
    that no longer run are removed, those of running ones kept."""
    from app.core import metrics

    starts = {1: "0a1b2c3d-100"}
    monkeypatch.setattr(metrics, "started", lambda pid: starts.get(pid, "0a1b2c3d-7") if pid != 4242 else None)
    before = metrics.shared_dir(str(tmp_path), 1)
    os.makedirs(before)
    Path(before, "counter_17.db").write_bytes(b"stale")
    running = tmp_path / "matchready-metrics-55-0a1b2c3d-7"  # another supervisor, still running
    gone = tmp_path / "matchready-metrics-4242-0a1b2c3d-9"  # no such process any more
    unrelated = tmp_path / "matchready-metrics-old"
    for d in (running, gone, unrelated):
        d.mkdir()
    starts[1] = "0a1b2c3d-900"  # the container restarted: pid 1 again, started later
    after = metrics.shared_dir(str(tmp_path), 1)
    assert after != before
    metrics.remove_stale(str(tmp_path), keep=after)
    assert not Path(before).exists() and not gone.exists()
    assert running.exists() and unrelated.exists()
    assert metrics.shared_dir(str(tmp_path), 1) == after  # the workers of one start agree


@pytest.mark.parametrize("name", ["sqlalchemy.engine.Engine", "httpx", "httpcore.connection", "uvicorn.access",
                                  "psycopg.pool"])
def test_libraries_that_log_request_data_stay_quiet_at_debug(debug_json_logs, name):
    """SQL parameters, URLs with their query strings, raw request paths: never logged, whatever LOG_LEVEL says."""
    assert logging.getLogger().isEnabledFor(logging.DEBUG)
    assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
