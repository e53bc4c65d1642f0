"""The audit trail's record of access and disclosure: reads, exports, webhook disclosures and sign-ins, written off
the request path and coalesced to one row per principal, candidate and hour."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api.helpers import create, milestone_body
from tests.api.receiver import start_receiver, stop_receiver
from tests.conftest import World, count_rows


def access_log(client: Any, w: World, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    r = client.get(f"/v1/candidates/{w.north.candidate_id}/access-log", headers=headers or w.north.advisor_headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def reads(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["action"] == "read"]


def flush() -> int:
    from app.audit.writer import flush_coalesced

    return asyncio.run(flush_coalesced())


def test_reads_are_one_row_per_principal_candidate_and_hour(client, world):
    cid = world.north.candidate_id
    h = {**world.north.advisor_headers, "X-Request-Id": "first-read"}
    for url in (f"/v1/candidates/{cid}", f"/v1/candidates/{cid}", f"/v1/candidates/{cid}/milestones",
                f"/v1/candidates/{cid}/next-step", f"/v1/candidates/{cid}/usce-records"):
        assert client.get(url, headers=h).status_code == 200
        h = world.north.advisor_headers  # the row keeps the first read's request
    (row,) = reads(access_log(client, world))
    assert (row["actor_type"], row["actor_role"], row["subject_type"], row["subject_id"]) == \
        ("user", "advisor", "candidate", cid)
    assert row["organization_id"] == world.north.org_id and row["candidate_id"] == cid
    assert row["request_id"] == "first-read" and row["client_address"] and row["changed_fields"] == []
    assert client.head(f"/v1/candidates/{cid}", headers=world.north.api_key_headers).status_code == 200
    assert sorted(r["actor_type"] for r in reads(access_log(client, world))) == ["api_key", "user"]


def test_reads_are_written_off_the_request_path(client, world):
    """The request only notes the read; the row comes with the next flush (the process's flusher, every
    AUDIT_FLUSH_SECONDS, or the audit's own reads)."""
    from app.core.coalesced import accesses

    before = count_rows("audit_record")
    for _ in range(3):
        assert client.get(f"/v1/candidates/{world.north.candidate_id}", headers=world.north.advisor_headers
                          ).status_code == 200
    assert len(accesses) == 1 and count_rows("audit_record") == before  # noted once, not written yet
    assert flush() == 1 and count_rows("audit_record") == before + 1
    assert flush() == 0  # nothing twice


def test_the_flusher_writes_within_its_period_and_once_more_at_shutdown(world):
    from app.audit.writer import flush_coalesced_every
    from app.core.coalesced import accesses

    cand = uuid.UUID(world.north.candidate_id)

    async def go() -> tuple[int, int]:
        stop = asyncio.Event()
        task = asyncio.create_task(flush_coalesced_every(0.05, stop))
        accesses.note("read", (cand,))
        await asyncio.sleep(0.5)
        within_period = count_rows("audit_record")
        accesses.note("export", (cand,))
        stop.set()
        await task
        return within_period, count_rows("audit_record")

    assert asyncio.run(go()) == (1, 2)


def test_a_candidate_reading_their_own_record_is_not_recorded(client, world):
    cid = world.north.candidate_id
    assert client.get(f"/v1/candidates/{cid}", headers=world.north.candidate_headers).status_code == 200
    assert client.get("/v1/candidates", headers=world.north.candidate_headers).status_code == 200
    assert reads(access_log(client, world, world.north.candidate_headers)) == []


def test_each_record_on_a_list_page_and_by_external_id_is_a_read(client, world):
    h = world.north.advisor_headers
    other, _ = create(client, "/v1/candidates", {"full_name": "Second Candidate", "email": "second@example.org",
                                                 "external_id": "sis-2", "target_match_year": 2027}, h)
    assert client.get("/v1/candidates", headers=h).json()["total"] == 3
    assert client.get("/v1/candidates/by-external-id/sis-2", headers=world.north.api_key_headers).status_code == 200
    trail = client.get(f"/v1/organizations/{world.north.org_id}/audit", headers=h, params={"action": "read"}).json()
    got = sorted((r["candidate_id"], r["actor_type"]) for r in trail["items"])
    assert got == sorted([(world.north.candidate_id, "user"), (world.north.other_candidate_id, "user"),
                          (other["id"], "user"), (other["id"], "api_key")])


def test_a_new_hour_is_a_new_row_and_processes_do_not_write_one_twice(client, world, monkeypatch):
    from app.core import coalesced

    cand = uuid.UUID(world.north.candidate_id)
    other_process = coalesced.Coalescer()
    now = datetime(2026, 12, 2, 9, 59, tzinfo=UTC)
    monkeypatch.setattr(coalesced, "utcnow", lambda: now)
    assert client.get(f"/v1/candidates/{cand}", headers=world.north.advisor_headers).status_code == 200
    flush()
    # another worker noted the same read in the same hour: its insert finds the row there
    monkeypatch.setattr(coalesced, "accesses", other_process)
    from app.audit import writer

    monkeypatch.setattr(writer, "accesses", other_process)
    other_process.note("read", (cand,), actor=_advisor_actor(world))
    assert len(other_process) == 1
    flush()
    assert len(reads(access_log(client, world))) == 1
    now = now + timedelta(minutes=1)  # 10:00: the next hour
    other_process.note("read", (cand,), actor=_advisor_actor(world))
    flush()
    assert len(reads(access_log(client, world))) == 2


def _advisor_actor(w: World) -> Any:
    """The north advisor as the request's actor (what `get_principal` sets)."""
    import jwt

    from app.core.security import Actor, Principal, Role

    token = w.north.advisor_headers["Authorization"].split()[1]
    claims = jwt.decode(token, options={"verify_signature": False})
    return Actor(Principal(role=Role.advisor, user_id=uuid.UUID(claims["sub"]),
                           organization_id=uuid.UUID(w.north.org_id)), None, None)


def test_notes_wait_while_the_database_is_down_and_the_oldest_go_beyond_the_bound():
    from app.core.coalesced import Coalescer

    c = Coalescer(max_pending=3)
    ids = [uuid.uuid4() for _ in range(5)]
    c.note("read", ids[:2])
    failed = c.drain()
    c.note("read", ids[2:4])
    c.restore(failed)  # the flush failed: back in front
    assert [a.candidate_id for a in c.drain()] == ids[1:4] and c.dropped == 1
    c.note("read", ids[:4])  # noted this hour already: nothing new
    assert len(c) == 0


def test_exports_are_recorded_per_candidate(client, world):
    cid = world.north.candidate_id
    r = client.get(f"/v1/organizations/{world.north.org_id}/export", headers=world.north.advisor_headers)
    assert r.status_code == 200 and "north candidate one" in r.text
    (row,) = [x for x in access_log(client, world) if x["action"] == "export"]
    assert (row["actor_role"], row["subject_id"]) == ("advisor", cid)


def test_a_webhook_delivery_is_a_disclosure_to_its_endpoint(client, world):
    from tests.api.test_webhooks import add_endpoint, work

    receiver = start_receiver()
    try:
        ep = add_endpoint(client, world, receiver.url)
        for _ in range(2):
            create(client, f"/v1/candidates/{world.north.candidate_id}/milestones", milestone_body(),
                   world.north.advisor_headers)
        work()
        receiver.wait_for(2)
    finally:
        stop_receiver(receiver)
    (row,) = [x for x in access_log(client, world) if x["action"] == "disclose"]
    assert (row["actor_type"], row["subject_type"], row["subject_id"], row["candidate_id"]) == \
        ("system", "webhook_endpoint", ep["id"], world.north.candidate_id)


@pytest.mark.parametrize("password_ok", [True, False])
def test_a_sign_in_is_recorded_with_its_request_and_address(client, world, password_ok):
    from tests.api.test_auth import PASSWORD, _make_user

    user, body = _make_user(client, world)
    r = client.post("/v1/auth/token", headers={"X-Request-Id": "sign-in-1"},
                    data={"username": body["email"], "password": PASSWORD if password_ok else "wrong"})
    assert r.status_code == (200 if password_ok else 401)
    trail = client.get(f"/v1/organizations/{world.north.org_id}/audit", headers=world.north.advisor_headers,
                       params={"action": "sign_in"}).json()["items"]
    if not password_ok:
        assert trail == []
        return
    (row,) = trail
    assert (row["actor_type"], row["actor_role"], row["subject_type"]) == ("user", "advisor", "auth_session")
    assert row["actor_id"] == user["id"]
    assert row["request_id"] == "sign-in-1" and row["client_address"]
