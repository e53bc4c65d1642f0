"""Webhooks end to end: endpoints over HTTP, the worker's jobs, and a real receiver (tests/api/receiver.py).

The jobs run in the test process (one batch per call, as the worker calls them), except where the worker itself is
under test: killed with SIGKILL mid-delivery, and (PostgreSQL) two worker processes side by side.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from standardwebhooks import Webhook, WebhookVerificationError

from app.core.config import get_settings
from app.core.idempotency import unseal
from tests.api.helpers import (
    check_list_contract,
    check_write_contract,
    create,
    insert_event,
    milestone_body,
    problem,
    snapshot,
)
from tests.api.receiver import Receiver, start_receiver, stop_receiver
from tests.conftest import DATABASE_URL, PG_URL, World, sync_engine

ROOT = Path(__file__).resolve().parents[2]


# ---- helpers ---------------------------------------------------------------------------------------------------

@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = start_receiver()
    yield r
    stop_receiver(r)


def endpoints_url(w: World) -> str:
    return f"/v1/organizations/{w.north.org_id}/webhook-endpoints"


def add_endpoint(client: Any, w: World, url: str, **body: Any) -> dict[str, Any]:
    ep, _ = create(client, endpoints_url(w), {"url": url, **body}, w.north.advisor_headers)
    return ep


def add_milestone(client: Any, w: World, **overrides: Any) -> dict[str, Any]:
    ms, _ = create(client, f"/v1/candidates/{w.north.candidate_id}/milestones", milestone_body(**overrides),
                   w.north.advisor_headers)
    return ms


def work(rounds: int = 1) -> None:
    """What the worker does: fan out new events, then deliver one batch of due deliveries."""
    from app.webhooks import jobs

    async def go() -> None:
        for _ in range(rounds):
            await jobs.fan_out()
            await jobs.deliver()

    asyncio.run(go())


def deliveries(client: Any, w: World, ep: dict[str, Any], **params: Any) -> list[dict[str, Any]]:
    r = client.get(f"{endpoints_url(w)}/{ep['id']}/deliveries", headers=w.north.advisor_headers, params=params)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def feed_items(client: Any, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    r = client.get("/v1/events", headers=headers, params={"limit": 1000, **params})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def db_rows(sql: str, **params: Any) -> list[Any]:
    with sync_engine().connect() as conn:
        return list(conn.execute(text(sql), params).all())


def uid(value: str) -> str:
    return value if PG_URL else uuid.UUID(value).hex


# ---- endpoints -------------------------------------------------------------------------------------------------

def test_create_shows_the_secret_once_and_stores_it_encrypted(client, world, receiver):
    r = client.post(endpoints_url(world), json={"url": receiver.url, "event_types": ["milestone.*"],
                                                "description": "SIS"}, headers=world.north.advisor_headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["location"] == f"{endpoints_url(world)}/{body['id']}"
    assert r.headers["etag"] == f'"v{body["version"]}"' and r.headers["cache-control"] == "no-store"
    secret = body["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    assert body["enabled"] is True and body["event_types"] == ["milestone.*"]
    got = client.get(r.headers["location"], headers=world.north.advisor_headers)
    assert got.status_code == 200 and "secret" not in got.json() and got.headers["etag"] == r.headers["etag"]
    (stored,) = db_rows("SELECT secret_encrypted FROM webhook_endpoint")
    assert secret not in stored[0] and secret.removeprefix("whsec_") not in stored[0]
    from app.webhooks.signing import decrypt_secret

    assert decrypt_secret(stored[0]) == secret


def test_the_secret_is_not_kept_for_idempotent_replays(client, world):
    """The replay kept for a retry holds the endpoint without its secret (shown once, in the first answer)."""
    h = {**world.north.advisor_headers, "Idempotency-Key": "create-hook-1"}
    first = client.post(endpoints_url(world), json={"url": "http://127.0.0.1:9/x"}, headers=h)
    assert first.status_code == 201 and first.json()["secret"]
    with sync_engine().connect() as conn:
        kept = [unseal(r[0]) for r in conn.execute(text("SELECT response_body FROM idempotency_record")).all()]
    assert len(kept) == 1
    assert first.json()["secret"].encode() not in kept[0]
    assert json.loads(kept[0])["secret"] is None and json.loads(kept[0])["id"] == first.json()["id"]


def test_endpoint_list_and_write_contracts(client, world):
    h = world.north.advisor_headers
    ids = [add_endpoint(client, world, f"http://127.0.0.1:9/hooks/{i}")["id"] for i in range(4)]
    add_endpoint(client, World(world.admin_headers, world.south, world.north), "http://127.0.0.1:9/south")
    check_list_contract(client, endpoints_url(world), h, ids)
    url = f"{endpoints_url(world)}/{ids[0]}"
    client.patch(url, json={"description": "first"}, headers={**h, "If-Match": '"v1"'})
    check_write_contract(client, url, h, patch={"event_types": ["candidate.*", "milestone.created"],
                                                "enabled": False},
                         nullable="description", required=["url", "event_types", "enabled"],
                         check_patched=lambda b: b["disabled_reason"] == "manual" or pytest.fail(str(b)))


def test_same_values_keep_the_version_and_enabling_clears_the_reason(client, world):
    h = world.north.advisor_headers
    ep = add_endpoint(client, world, "http://127.0.0.1:9/x", event_types=["milestone.*", "candidate.created"])
    url = f"{endpoints_url(world)}/{ep['id']}"
    same = client.patch(url, json={"event_types": ["candidate.created", "milestone.*"], "url": ep["url"]},
                        headers={**h, "If-Match": '"v1"'})
    assert same.status_code == 200 and same.json()["version"] == 1 and same.json()["updated_at"] == ep["updated_at"]
    off = client.patch(url, json={"enabled": False}, headers={**h, "If-Match": '"v1"'}).json()
    assert (off["enabled"], off["disabled_reason"], off["version"]) == (False, "manual", 2) and off["disabled_at"]
    on = client.patch(url, json={"enabled": True}, headers={**h, "If-Match": '"v2"'}).json()
    assert (on["enabled"], on["disabled_reason"], on["disabled_at"]) == (True, None, None)


def test_another_organizations_endpoint_is_not_found_through_your_own(client, world):
    """South's staff name their own organization in the path and north's endpoint or delivery after it."""
    north_ep = add_endpoint(client, world, "http://127.0.0.1:9/north")
    ping = client.post(f"{endpoints_url(world)}/{north_ep['id']}/test", headers=world.north.advisor_headers).json()
    south = World(world.admin_headers, world.south, world.north)
    south_ep = add_endpoint(client, south, "http://127.0.0.1:9/south")
    h = world.south.advisor_headers
    theirs = f"{endpoints_url(south)}/{north_ep['id']}"
    before = snapshot()
    problem(client.get(theirs, headers=h), 404)
    problem(client.patch(theirs, json={"enabled": False}, headers={**h, "If-Match": "*"}), 404)
    problem(client.delete(theirs, headers={**h, "If-Match": "*"}), 404)
    problem(client.post(f"{theirs}/test", headers=h), 404)
    problem(client.post(f"{theirs}/rotate-secret", headers=h), 404)
    problem(client.get(f"{theirs}/deliveries", headers=h), 404)
    mine = f"{endpoints_url(south)}/{south_ep['id']}/deliveries/{ping['id']}"
    problem(client.get(mine, headers=h), 404)
    problem(client.post(f"{mine}/retry", headers=h), 404)
    assert snapshot() == before


@pytest.mark.parametrize("url,code", [
    ("http://127.0.0.1:8080/hooks", "url_not_public"),
    ("http://10.1.2.3/hooks", "url_not_public"),
    ("http://169.254.169.254/latest/meta-data", "url_not_public"),
    ("http://[::1]/hooks", "url_not_public"),
    ("http://[::ffff:127.0.0.1]/hooks", "url_not_public"),
    ("http://100.64.0.1/hooks", "url_not_public"),
    ("http://localhost:8000/hooks", "url_not_public"),
    ("https://no-such-host.invalid/hooks", "url_unresolvable"),
    ("https://user:pass@hooks.example.org/x", "url_credentials"),
    ("https://hooks.example.org:99999/x", "invalid_url"),
    ("http://\u010a\u00b3|\u0083/x", "invalid_url"),  # no IDNA form: resolving it raised UnicodeError (a 500)
])
def test_internal_addresses_are_refused(client, world, settings, url, code):
    settings(WEBHOOK_ALLOW_PRIVATE_URLS="false")
    body = problem(client.post(endpoints_url(world), json={"url": url}, headers=world.north.advisor_headers), 422,
                   "validation-error", code=code)
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("body.url", code)], body
    assert db_rows("SELECT id FROM webhook_endpoint") == []


def test_public_addresses_are_accepted_and_https_is_required_in_production(client, world, settings):
    settings(WEBHOOK_ALLOW_PRIVATE_URLS="false")
    h = world.north.advisor_headers
    assert client.post(endpoints_url(world), json={"url": "http://93.184.216.34/hooks"}, headers=h).status_code == 201
    settings(ENVIRONMENT="production", SMTP_HOST="smtp.example.org")
    body = problem(client.post(endpoints_url(world), json={"url": "http://93.184.216.34/hooks"}, headers=h), 422,
                   code="https_required")
    assert body["errors"][0]["code"] == "https_required"
    assert client.post(endpoints_url(world), json={"url": "https://93.184.216.34/hooks"}, headers=h).status_code == 201


@pytest.mark.parametrize("body,field", [
    ({"url": "ftp://files.example.org/x"}, "body.url"),
    ({"url": "https://hooks.example.org/x", "event_types": ["milestone.exploded"]}, "body.event_types.0"),
    ({"url": "https://hooks.example.org/x", "event_types": ["webhook.test"]}, "body.event_types.0"),
    ({"url": "https://hooks.example.org/x", "secret": "mine"}, "body.secret"),
])
def test_invalid_bodies_are_422_naming_the_field(client, world, body, field):
    resp = problem(client.post(endpoints_url(world), json=body, headers=world.north.advisor_headers), 422)
    assert field in {e["field"] for e in resp["errors"]}, resp


# ---- delivery --------------------------------------------------------------------------------------------------

def test_events_arrive_signed_as_the_feed_renders_them(client, world, receiver):
    h = world.north.advisor_headers
    r = client.post(endpoints_url(world), json={"url": receiver.url}, headers=h)
    secret, ep = r.json()["secret"], r.json()
    ms = add_milestone(client, world)
    work()
    (got,) = receiver.wait_for(1)
    payload = Webhook(secret).verify(got.body, got.headers)  # raises unless signed with the secret
    (item,) = feed_items(client, h)
    assert payload == item and got.headers["webhook-id"] == item["id"]
    assert item["type"] == "milestone.created" and item["data"]["object"]["id"] == ms["id"]
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    assert got.headers["content-type"] == "application/json"
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"another secret of 24 bytes").decode()).verify(got.body, got.headers)
    (d,) = deliveries(client, world, ep)
    assert (d["status"], d["event_id"], d["event_type"], d["attempt_count"]) == \
        ("succeeded", item["id"], "milestone.created", 1)
    assert d["next_attempt_at"] is None
    (a,) = d["attempts"]
    assert a["status_code"] == 204 and a["error"] is None and a["duration_ms"] >= 0
    work()  # nothing more to do: delivered once
    assert len(receiver.requests) == 1


def test_each_endpoint_gets_the_types_it_selects_of_its_own_organization_only(client, world, receiver):
    other = start_receiver()
    try:
        add_endpoint(client, world, receiver.url, event_types=["milestone.*"])
        off = add_endpoint(client, world, other.url, enabled=False)
        south = World(world.admin_headers, world.south, world.north)
        south_ep = add_endpoint(client, south, other.url)
        add_milestone(client, world)
        create(client, f"/v1/candidates/{world.north.candidate_id}/program-lists", {"name": "L"},
               world.north.advisor_headers)
        work()
        assert [json.loads(r.body)["type"] for r in receiver.wait_for(1)] == ["milestone.created"]
        assert deliveries(client, world, off) == [] and deliveries(client, south, south_ep) == []
        add_milestone(client, south)  # south's own event reaches south's endpoint only
        work()
        assert [json.loads(r.body)["organization_id"] for r in other.wait_for(1)] == [world.south.org_id]
        time.sleep(0.2)
        assert len(receiver.requests) == 1
    finally:
        stop_receiver(other)


def test_events_from_before_an_endpoint_existed_are_not_sent_to_it(client, world, receiver):
    add_milestone(client, world)
    ep = add_endpoint(client, world, receiver.url)
    work()
    assert deliveries(client, world, ep) == [] and receiver.requests == []


def _attempts(client: Any, w: World, ep: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    (d,) = deliveries(client, w, ep)
    return d, d["attempts"]


def test_receiver_down_is_a_failed_attempt_scheduled_again(client, world):
    ep = add_endpoint(client, world, "http://127.0.0.1:9/hooks")
    add_milestone(client, world)
    before = datetime.now(UTC)
    work()
    d, (a,) = _attempts(client, world, ep)
    assert d["status"] == "failed" and d["attempt_count"] == 1
    assert a["status_code"] is None and a["error"].startswith("connection failed"), a
    delay = (datetime.fromisoformat(d["next_attempt_at"]) - before).total_seconds()
    assert 4.4 <= delay <= 6, delay  # the first delay of the default schedule: 5 s ± 10 %


def test_a_receiver_slower_than_the_timeout_is_a_failed_attempt(client, world, receiver, settings):
    settings(WEBHOOK_TIMEOUT_SECONDS="0.3")
    receiver.mode, receiver.delay = "slow", 2.0
    ep = add_endpoint(client, world, receiver.url)
    add_milestone(client, world)
    started = time.monotonic()
    work()
    assert time.monotonic() - started < 1.8
    d, (a,) = _attempts(client, world, ep)
    assert d["status"] == "failed" and a["status_code"] is None
    assert a["error"] == "no answer within 0.3 s" and 250 <= a["duration_ms"] < 1500, a


def test_an_answer_that_trickles_in_is_cut_off_at_the_timeout(client, world, receiver, settings):
    """Each read arrives well within the timeout, but the answer as a whole does not."""
    settings(WEBHOOK_TIMEOUT_SECONDS="0.5")
    receiver.mode, receiver.delay = "trickle", 0.05
    ep = add_endpoint(client, world, receiver.url)
    add_milestone(client, world)
    work()
    d, (a,) = _attempts(client, world, ep)
    assert d["status"] == "failed" and a["error"] == "no answer within 0.5 s" and a["duration_ms"] < 1500, a


def test_retries_follow_the_schedule_then_the_endpoint_is_disabled_with_an_event(client, world, receiver, settings):
    schedule = (0.3, 0.6)
    settings(WEBHOOK_RETRY_SCHEDULE=json.dumps(schedule))
    receiver.mode = 500
    h = world.north.advisor_headers
    ep = add_endpoint(client, world, receiver.url)
    add_milestone(client, world)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        work()
        d, attempts = _attempts(client, world, ep)
        if d["status"] == "dead":
            break
        assert d["status"] == "failed" or not attempts
        time.sleep(0.03)
    assert d["status"] == "dead" and d["next_attempt_at"] is None and d["attempt_count"] == len(schedule) + 1
    assert [a["status_code"] for a in attempts] == [500] * 3 and {a["error"] for a in attempts} == {"HTTP 500"}
    times = [datetime.fromisoformat(a["attempted_at"]) for a in attempts]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    for gap, wanted in zip(gaps, schedule, strict=True):
        assert wanted * 0.9 <= gap <= wanted * 1.1 + 0.3, (gaps, schedule)
    assert len(receiver.requests) == 3
    got = client.get(f"{endpoints_url(world)}/{ep['id']}", headers=h)
    after = got.json()
    assert (after["enabled"], after["disabled_reason"]) == (False, "failing")
    assert after["version"] == ep["version"] + 1 and got.headers["etag"] == f'"v{after["version"]}"'
    (event,) = feed_items(client, h, types="webhook_endpoint.*")
    assert event["type"] == "webhook_endpoint.disabled" and event["organization_id"] == world.north.org_id
    assert event["subject"] == {"type": "webhook_endpoint", "id": ep["id"], "external_id": None,
                                "version": after["version"]}
    assert event["data"]["reason"] == "failing" and event["data"]["delivery_id"] == d["id"]
    assert event["data"]["object"]["enabled"] is False
    assert "whsec_" not in json.dumps(event) and "secret_encrypted" not in json.dumps(event)
    # a disabled endpoint gets nothing new
    add_milestone(client, world, type_code="mentor_contact")
    work()
    assert len(deliveries(client, world, ep)) == 1 and len(receiver.requests) == 3
    # queued again by hand and the endpoint enabled: the whole schedule lies ahead once more
    assert client.post(f"{endpoints_url(world)}/{ep['id']}/deliveries/{d['id']}/retry", headers=h).status_code == 202
    assert client.patch(f"{endpoints_url(world)}/{ep['id']}", json={"enabled": True},
                        headers={**h, "If-Match": got.headers["etag"]}).status_code == 200
    work()
    d, attempts = _attempts(client, world, ep)
    assert (d["status"], len(attempts), d["attempt_count"]) == ("failed", 4, 4) and d["next_attempt_at"]


def test_410_gone_disables_the_endpoint_at_once(client, world, receiver):
    receiver.mode = 410
    h = world.north.advisor_headers
    ep = add_endpoint(client, world, receiver.url)
    add_milestone(client, world)
    work()
    d, (a,) = _attempts(client, world, ep)
    assert d["status"] == "dead" and a["status_code"] == 410 and d["next_attempt_at"] is None
    after = client.get(f"{endpoints_url(world)}/{ep['id']}", headers=h).json()
    assert (after["enabled"], after["disabled_reason"]) == (False, "gone")
    (event,) = feed_items(client, h, types="webhook_endpoint.disabled")
    assert event["data"]["reason"] == "gone" and event["subject"]["id"] == ep["id"]


def test_the_disabled_event_reaches_the_other_endpoints(client, world, receiver):
    gone = start_receiver(mode=410)
    try:
        watcher = add_endpoint(client, world, receiver.url, event_types=["webhook_endpoint.*"])
        failing = add_endpoint(client, world, gone.url, event_types=["milestone.*"])
        add_milestone(client, world)
        work(rounds=2)
        (got,) = receiver.wait_for(1)
        body = json.loads(got.body)
        assert body["type"] == "webhook_endpoint.disabled" and body["subject"]["id"] == failing["id"]
        assert deliveries(client, world, watcher)[0]["status"] == "succeeded"
    finally:
        stop_receiver(gone)


def test_retry_queues_again_now_and_waits_while_the_endpoint_is_disabled(client, world, receiver):
    receiver.mode = 410
    h = world.north.advisor_headers
    ep = add_endpoint(client, world, receiver.url)
    add_milestone(client, world)
    work()
    (d,) = deliveries(client, world, ep)
    receiver.mode = "ok"
    url = f"{endpoints_url(world)}/{ep['id']}/deliveries/{d['id']}/retry"
    r = client.post(url, headers=h)
    assert r.status_code == 202, r.text
    queued = r.json()
    assert queued["status"] == "pending" and queued["next_attempt_at"] and queued["version"] == d["version"] + 1
    assert r.headers["etag"] == f'"v{queued["version"]}"'
    work()
    assert len(receiver.requests) == 1  # the endpoint is disabled (410): the delivery waits
    etag = client.get(f"{endpoints_url(world)}/{ep['id']}", headers=h).headers["etag"]
    assert client.patch(f"{endpoints_url(world)}/{ep['id']}", json={"enabled": True},
                        headers={**h, "If-Match": etag}).status_code == 200
    work()
    (d,) = deliveries(client, world, ep)
    assert d["status"] == "succeeded" and [a["status_code"] for a in d["attempts"]] == [410, 204]
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1  # the same webhook-id again
    problem(client.post(f"{endpoints_url(world)}/{ep['id']}/deliveries/{uuid.uuid4()}/retry", headers=h), 404)


def test_redirects_are_not_followed(client, world):
    elsewhere = start_receiver()
    moved = start_receiver(mode=307, redirect_to=elsewhere.url)
    try:
        ep = add_endpoint(client, world, moved.url)
        add_milestone(client, world)
        work()
        d, (a,) = _attempts(client, world, ep)
        assert d["status"] == "failed" and a["status_code"] == 307
        assert a["error"] == "HTTP 307: redirects are not followed" and elsewhere.requests == []
    finally:
        stop_receiver(moved)
        stop_receiver(elsewhere)


def test_deliveries_log_filters_and_reads_one(client, world, receiver):
    receiver.mode = 500
    h = world.north.advisor_headers
    ep = add_endpoint(client, world, receiver.url)
    add_milestone(client, world)
    add_milestone(client, world, type_code="mentor_contact")
    work()
    log = deliveries(client, world, ep)
    assert len(log) == 2 and {d["status"] for d in log} == {"failed"}
    assert log[0]["created_at"] >= log[1]["created_at"]
    assert deliveries(client, world, ep, status="succeeded") == []
    one = client.get(f"{endpoints_url(world)}/{ep['id']}/deliveries/{log[0]['id']}", headers=h)
    assert one.status_code == 200 and one.json() == log[0] and one.headers["etag"] == f'"v{log[0]["version"]}"'
    problem(client.get(f"{endpoints_url(world)}/{ep['id']}/deliveries", params={"status": "lost"}, headers=h), 422)


def test_test_ping_is_sent_now_signed_and_logged(client, world, receiver):
    h = world.north.advisor_headers
    r = client.post(endpoints_url(world), json={"url": receiver.url, "enabled": False}, headers=h)
    secret, ep = r.json()["secret"], r.json()
    ping = client.post(f"{endpoints_url(world)}/{ep['id']}/test", headers=h)
    assert ping.status_code == 201, ping.text
    d = ping.json()
    assert ping.headers["location"] == f"{endpoints_url(world)}/{ep['id']}/deliveries/{d['id']}"
    assert (d["status"], d["event_type"], d["attempts"][0]["status_code"]) == ("succeeded", "webhook.test", 204)
    (got,) = receiver.requests
    body = Webhook(secret).verify(got.body, got.headers)
    assert body["type"] == "webhook.test" and body["id"] == d["event_id"] == got.headers["webhook-id"]
    assert body["subject"]["id"] == ep["id"] and body["organization_id"] == world.north.org_id
    assert feed_items(client, h) == []  # a ping is not a change: not in the feed
    receiver.mode = 500
    failed = client.post(f"{endpoints_url(world)}/{ep['id']}/test", headers=h).json()
    assert failed["status"] == "failed" and failed["attempts"][0]["error"] == "HTTP 500"


def test_rotating_the_secret_signs_with_both_for_a_while(client, world, receiver):
    h = world.north.advisor_headers
    r = client.post(endpoints_url(world), json={"url": receiver.url}, headers=h)
    old, ep = r.json()["secret"], r.json()
    rotated = client.post(f"{endpoints_url(world)}/{ep['id']}/rotate-secret", headers=h)
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["version"] == ep["version"] + 1
    assert rotated.json()["previous_secret_expires_at"]
    client.post(f"{endpoints_url(world)}/{ep['id']}/test", headers=h)
    (got,) = receiver.requests
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(got.body, got.headers)
    Webhook(old).verify(got.body, got.headers)
    # past the grace period only the new secret signs
    with sync_engine().begin() as conn:
        conn.execute(text("UPDATE webhook_endpoint SET previous_secret_expires_at = :t"),
                     {"t": datetime(2000, 1, 1)})
    client.post(f"{endpoints_url(world)}/{ep['id']}/test", headers=h)
    last = receiver.requests[-1]
    Webhook(new).verify(last.body, last.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(last.body, last.headers)


def test_internal_addresses_are_refused_again_at_delivery_time(client, world, receiver, settings, monkeypatch):
    """DNS rebinding: a name that resolved to a public address when saved resolves to loopback later."""
    from app.webhooks import urls

    answers = {"now": "93.184.216.34"}
    real = socket.getaddrinfo

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "hooks.rebind.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers["now"], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    settings(WEBHOOK_ALLOW_PRIVATE_URLS="false")
    port = receiver.url.split(":")[2].split("/")[0]
    ep = add_endpoint(client, world, f"http://hooks.rebind.test:{port}/hooks")
    answers["now"] = "127.0.0.1"
    urls._resolved.clear()  # as if the 30 s the answer is kept had passed
    add_milestone(client, world)
    work()
    d, (a,) = _attempts(client, world, ep)
    assert d["status"] == "failed" and a["status_code"] is None
    assert a["error"].startswith("address refused: resolves to a non-public address (127.0.0.1)"), a
    assert receiver.requests == []


def test_a_lease_that_expires_is_claimed_again(client, world, receiver):
    """A worker that claimed deliveries and never came back: once the lease runs out another worker sends them."""
    from app.core.db import db
    from app.webhooks import delivery, jobs

    ep = add_endpoint(client, world, receiver.url)
    add_milestone(client, world)

    async def claim_and_vanish() -> int:
        await jobs.fan_out()
        async with db.session() as session:
            return len(await delivery.claim(session))

    assert asyncio.run(claim_and_vanish()) == 1
    work()
    assert receiver.requests == [] and deliveries(client, world, ep)[0]["status"] == "pending"
    with sync_engine().begin() as conn:  # time passes
        conn.execute(text("UPDATE webhook_delivery SET locked_until = :t"), {"t": datetime(2000, 1, 1)})
    work()
    assert len(receiver.wait_for(1)) == 1 and deliveries(client, world, ep)[0]["status"] == "succeeded"


def test_a_late_result_does_not_overwrite_a_newer_claim(client, world, receiver):
    from app.core.db import db
    from app.webhooks import delivery, jobs

    ep = add_endpoint(client, world, receiver.url)
    add_milestone(client, world)

    async def go() -> None:
        await jobs.fan_out()
        async with db.session() as session:
            (stale,) = await delivery.claim(session)
            outcome = await delivery.send(stale)
            receiver.mode = 500
            with sync_engine().begin() as conn:  # the lease ran out and another worker claimed it meanwhile
                conn.execute(text("UPDATE webhook_delivery SET locked_until = :t"), {"t": datetime(2000, 1, 1)})
            (fresh,) = await delivery.claim(session)
            await delivery.record(session, [await delivery.send(fresh)])
            await delivery.record(session, [outcome])  # the first worker's answer comes back last

    asyncio.run(go())
    d, attempts = _attempts(client, world, ep)
    assert d["status"] == "failed" and d["attempt_count"] == 1, d  # the newer claim's outcome stands
    assert sorted(a["status_code"] for a in attempts) == [204, 500]  # both attempts are in the history


def test_deleting_an_endpoint_deletes_its_log_and_stops_deliveries(client, world, receiver):
    h = world.north.advisor_headers
    receiver.mode = 500
    ep = add_endpoint(client, world, receiver.url)
    add_milestone(client, world)
    work()
    url = f"{endpoints_url(world)}/{ep['id']}"
    assert client.delete(url, headers={**h, "If-Match": client.get(url, headers=h).headers["etag"]}).status_code == 204
    assert db_rows("SELECT id FROM webhook_delivery") == [] and db_rows("SELECT id FROM webhook_attempt") == []


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: SQLite has one writer at a time, so seq is commit order")
def test_fan_out_waits_for_an_older_open_transaction(client, world, receiver):
    """An event of a transaction that began before another and commits after it must not be skipped."""
    ep = add_endpoint(client, world, receiver.url)
    with sync_engine().connect() as older:
        tx = older.begin()
        insert_event(older, world.north.org_id, world.north.candidate_id, "program_list.created", "program_list")
        add_milestone(client, world)  # commits while the older one is open
        work()
        assert deliveries(client, world, ep) == []  # held back, not skipped
        tx.commit()
    work()
    assert sorted(d["event_type"] for d in deliveries(client, world, ep)) == ["milestone.created",
                                                                             "program_list.created"]


def test_the_delivery_log_is_kept_as_long_as_the_feed_keeps_events(client, world, receiver):
    from app.webhooks import jobs

    receiver.mode = 500
    ep = add_endpoint(client, world, receiver.url)
    add_milestone(client, world)
    add_milestone(client, world, type_code="mentor_contact")
    work()
    old, recent = (r[0] for r in db_rows("SELECT id FROM webhook_delivery ORDER BY id"))
    days = get_settings().event_retention_days
    with sync_engine().begin() as conn:
        conn.execute(text("UPDATE webhook_delivery SET created_at = :t WHERE id = :id"),
                     {"t": datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days, hours=1), "id": old})
    assert asyncio.run(jobs.purge_old_deliveries()) == 1
    assert [d["id"] for d in deliveries(client, world, ep)] == [str(uuid.UUID(str(recent)))]
    assert len(db_rows("SELECT id FROM webhook_attempt")) == 1


def _in_thread(fn: Any) -> tuple[list[Any], Any]:
    """Run `fn` (a coroutine function) in a thread of its own; (its result once it returns, the thread)."""
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(asyncio.run(fn())), daemon=True)
    thread.start()
    return out, thread


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: SQLite has one writer at a time")
def test_a_second_fan_out_skips_its_turn_while_another_holds_the_position(client, world, receiver):
    from app.webhooks import jobs

    ep = add_endpoint(client, world, receiver.url)
    add_milestone(client, world)
    work()  # the position row exists now
    add_milestone(client, world, type_code="mentor_contact")
    with sync_engine().connect() as other:  # another worker, in the middle of its fan-out
        tx = other.begin()
        other.execute(text("SELECT seq FROM feed_consumer WHERE name = 'webhooks' FOR UPDATE"))
        out, thread = _in_thread(jobs.fan_out)
        thread.join(3)
        tx.rollback()
    thread.join(10)
    assert out == [0], out  # it skipped at once rather than wait (or queue the same events again)
    assert len(deliveries(client, world, ep)) == 1
    work()
    assert len(deliveries(client, world, ep)) == 2


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: SQLite has one writer at a time")
def test_a_claim_skips_deliveries_another_worker_is_claiming(client, world, receiver):
    from app.core.db import db
    from app.webhooks import delivery, jobs

    add_endpoint(client, world, receiver.url)
    add_milestone(client, world)
    asyncio.run(jobs.fan_out())

    async def claim() -> list[Any]:
        async with db.session() as session:
            return await delivery.claim(session)

    with sync_engine().connect() as other:  # another worker's claim, not yet committed
        tx = other.begin()
        other.execute(text("UPDATE webhook_delivery SET locked_until = now() + interval '1 minute'"))
        started = time.monotonic()
        out, thread = _in_thread(claim)
        thread.join(3)
        took = time.monotonic() - started
        tx.commit()
    thread.join(10)
    assert out == [[]] and took < 2, (out, took)  # skipped, not waited for (and not claimed twice)


# ---- the worker as a process -----------------------------------------------------------------------------------

def start_worker(**env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "app", "worker"], cwd=ROOT,
                            env={**os.environ, "DATABASE_URL": DATABASE_URL, "WORKER_JOBS": "webhooks.*", **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def statuses() -> list[str]:
    return [r[0] for r in db_rows("SELECT status FROM webhook_delivery")]


def test_a_worker_killed_mid_delivery_loses_nothing(client, world, receiver):
    receiver.mode = "stall"
    ep = add_endpoint(client, world, receiver.url)
    for kind in ("specialty_decided", "mentor_contact", "usmle_id_registered"):
        add_milestone(client, world, type_code=kind)
    worker = start_worker()
    try:
        receiver.wait_for(3, timeout=30)  # all three in flight, held by the receiver
    finally:
        worker.kill()  # SIGKILL: no chance to record anything
        worker.wait()
    assert sorted(statuses()) == ["pending"] * 3
    with sync_engine().begin() as conn:  # the dead worker's lease runs out
        conn.execute(text("UPDATE webhook_delivery SET locked_until = :t"), {"t": datetime(2000, 1, 1)})
    receiver.mode = "ok"
    receiver.release()
    second = start_worker()
    try:
        wait_until(lambda: statuses() == ["succeeded"] * 3, 30, "the new worker to deliver")
    finally:
        stop_worker(second)
    first_ids = [r.headers["webhook-id"] for r in receiver.requests[:3]]
    assert sorted(first_ids) == sorted({e["id"] for e in feed_items(client, world.north.advisor_headers)})
    assert sorted(receiver.ids()[3:]) == sorted(first_ids)  # each one sent again, and answered
    assert {d["status"] for d in deliveries(client, world, ep)} == {"succeeded"}


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: SQLite has one writer, so one worker delivers at a time")
def test_two_workers_never_send_the_same_event_at_once(client, world, receiver):
    receiver.delay = 0.02
    ep = add_endpoint(client, world, receiver.url)
    n = 300
    with sync_engine().begin() as conn:  # events straight into the feed, as the write hook writes them
        for _ in range(n):
            insert_event(conn, world.north.org_id, world.north.candidate_id, "milestone.created", "milestone")
    workers = [start_worker(WEBHOOK_CONCURRENCY="5") for _ in range(2)]
    try:
        wait_until(lambda: statuses().count("succeeded") == n, 60, "both workers to deliver everything")
    finally:
        for w in workers:
            stop_worker(w)
    assert len(statuses()) == n  # fanned out once: one delivery per event
    assert receiver.max_in_flight_per_id == 1
    assert len(receiver.ids()) == len(set(receiver.ids())) == n  # and each sent once
    assert receiver.max_in_flight > 5, receiver.max_in_flight  # more than one worker's worth: both were sending
    assert len(deliveries(client, world, ep, limit=100)) == 100


def test_a_worker_holds_at_most_its_concurrency_in_flight_over_all_its_pools(client, world, receiver):
    """The worker's connections are split into small pools (5 each; 7 is a pool of 5 and one of 2), each slot of
    its gate bound to one: a receiver holding every request sees exactly WEBHOOK_CONCURRENCY at once, never
    more, and the rest are delivered as slots come free."""
    receiver.mode = "stall"
    add_endpoint(client, world, receiver.url)
    n = 12
    from sqlalchemy import insert

    from app.events.models import Event

    with sync_engine().begin() as conn:  # events straight into the feed, as the write hook writes them
        conn.execute(insert(Event.__table__), [  # type: ignore[attr-defined]
            {"id": uuid.uuid4(), "type": "milestone.created", "occurred_at": datetime.now(UTC),
             "organization_id": uuid.UUID(world.north.org_id), "candidate_id": uuid.UUID(world.north.candidate_id),
             "subject_type": "milestone", "subject_id": uuid.uuid4(), "subject_version": 1, "data": {}}
            for _ in range(n)])
    worker = start_worker(WEBHOOK_CONCURRENCY="7")
    try:
        receiver.wait_for(7, timeout=30)
        time.sleep(0.5)  # time enough for an eighth request, were one let through
        assert receiver.max_in_flight == 7 and len(receiver.requests) == 7, receiver.max_in_flight
        receiver.mode = "ok"
        receiver.release()
        wait_until(lambda: statuses().count("succeeded") == n, 30, "the worker to deliver the rest")
    finally:
        stop_worker(worker)
    assert receiver.max_in_flight == 7
