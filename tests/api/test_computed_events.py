"""Computed events in the change feed (`readiness.changed`, `deadline.approaching`), the organization's lead days
behind them, and calendar subscriptions of the timeline.

The worker's jobs are called directly, with the day to compute for (`as_of`), so the tests set the clock.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from app.guidance.computed import consume_feed, daily_sweep
from tests.api.helpers import create, insert_event, milestone_body, problem
from tests.api.test_change_feed import feed, position
from tests.conftest import PG_URL, World, _uid, count_rows, sync_engine

AS_OF = date(2026, 3, 2)
OET = {"listening": 380, "reading": 370, "writing": 330, "speaking": 400}


def settle(timeout: float = 60.0) -> None:
    """On PostgreSQL, wait until every event written so far is visible to feed readers: transaction ids are the
    cluster's, so a transaction open elsewhere on the server (another database's, even) holds the feed back for
    a moment, as it should. SQLite: nothing to wait for."""
    if not PG_URL:
        return
    deadline = time.monotonic() + timeout
    while True:
        with sync_engine().connect() as conn:
            if conn.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint > "
                                 "COALESCE((SELECT max(txid) FROM event), 0)")).scalar_one():
                return
        assert time.monotonic() < deadline, "events stayed invisible: a transaction is left open"
        time.sleep(0.05)


def once(job: Any, day: date, **kw: Any) -> int:
    """One call of the job; one that waits for a lock (instead of leaving the batch) fails after a while."""
    settle()
    return int(asyncio.run(asyncio.wait_for(job(as_of=day, **kw), timeout=20)))


def run(job: Any, day: date, **kw: Any) -> int:
    """Call the job until it has nothing left (as the worker does); the total it handled."""
    total = 0
    while (done := once(job, day, **kw)) > 0:
        total += done
    return total


def computed(client: Any, headers: dict[str, str], after: str | None, candidate_id: str | None = None
             ) -> list[dict[str, Any]]:
    settle()
    params = {"candidate_id": candidate_id} if candidate_id else {}
    return feed(client, headers, after, types="readiness.*,deadline.*", limit=1000, **params)["items"]


def state(candidate_id: str) -> dict[str, Any] | None:
    with sync_engine().connect() as conn:
        row = conn.execute(text("SELECT cycle, status, next_step, earliest_feasible_cycle, deadline_notices "
                                "FROM computed_state WHERE candidate_id = :c"),
                           {"c": _uid(uuid.UUID(candidate_id))}).mappings().first()
    return dict(row) if row else None


def next_step_code(client: Any, w: World) -> str | None:
    r = client.get(f"/v1/candidates/{w.north.candidate_id}/next-step", params={"as_of": AS_OF.isoformat()},
                   headers=w.north.advisor_headers)
    assert r.status_code == 200, r.text
    step = r.json()["next_step"]
    return step["code"] if step else None


# ---- readiness.changed ---------------------------------------------------------------------------------------

def _registered(client: Any, w: World) -> str:
    """North's candidate has the USMLE id: the next step is an exam (OET or Step 1); passing it changes it."""
    create(client, f"/v1/candidates/{w.north.candidate_id}/milestones",
           {"type_code": "usmle_id_registered", "status": "completed", "completed_on": "2025-01-10"},
           w.north.advisor_headers)
    step = next_step_code(client, w)
    assert step in ("oet_medicine", "usmle_step1"), step
    return step


def _pass(client: Any, w: World, step: str) -> None:
    create(client, f"/v1/candidates/{w.north.candidate_id}/milestones",
           {"type_code": step, "status": "passed", "completed_on": "2026-02-01",
            **({"result": OET} if step == "oet_medicine" else {})}, w.north.advisor_headers)


def test_a_milestone_passed_that_changes_the_next_step_sends_one_readiness_changed(client, world):
    h = world.north.advisor_headers
    before_step = _registered(client, world)
    assert run(daily_sweep, AS_OF) == 4  # every candidate's first state: recorded, nothing sent
    assert run(consume_feed, AS_OF) == 1  # the milestone above: nothing changed since
    assert computed(client, h, None) == []
    assert state(world.north.candidate_id)["next_step"] == before_step  # type: ignore[index]
    start = position(client, h)

    _pass(client, world, before_step)
    after_step = next_step_code(client, world)
    assert after_step != before_step
    assert once(consume_feed, AS_OF) == 1  # the milestone.created, in one batch

    events = computed(client, h, start)
    assert [e["type"] for e in events] == ["readiness.changed"], events
    ev = events[0]
    assert ev["subject"]["type"] == "candidate" and ev["subject"]["id"] == world.north.candidate_id
    assert ev["candidate_id"] == world.north.candidate_id and ev["organization_id"] == world.north.org_id
    cand = client.get(f"/v1/candidates/{world.north.candidate_id}", headers=h).json()
    assert ev["subject"]["version"] == cand["version"]
    data = ev["data"]
    assert data["cycle"] == 2027 and data["as_of"] == AS_OF.isoformat()
    assert data["old"]["next_step"] == before_step and data["new"]["next_step"] == after_step
    assert "next_step" in data["changed_fields"]
    readiness = client.get(f"/v1/candidates/{world.north.candidate_id}/readiness",
                           params={"as_of": AS_OF.isoformat()}, headers=h).json()
    assert data["new"]["status"] == readiness["status"]
    assert data["new"]["earliest_feasible_cycle"] == readiness["earliest_feasible_cycle"]
    assert state(world.north.candidate_id)["next_step"] == after_step  # type: ignore[index]
    # the candidate sees it in their own feed
    assert [e["id"] for e in computed(client, world.north.candidate_headers, start)] == [ev["id"]]
    # south sees none of it
    assert computed(client, world.south.advisor_headers, None) == []


def test_a_change_that_changes_nothing_computed_sends_nothing(client, world):
    h = world.north.advisor_headers
    base = f"/v1/candidates/{world.north.candidate_id}"
    ms, etag = create(client, f"{base}/milestones", milestone_body(), h)
    run(consume_feed, AS_OF)
    kept = state(world.north.candidate_id)
    assert kept is not None
    start = position(client, h)

    r = client.patch(f"{base}/milestones/{ms['id']}", json={"notes": "other words"}, headers={**h, "If-Match": etag})
    assert r.status_code == 200, r.text
    assert run(consume_feed, AS_OF) == 1
    assert computed(client, h, start) == []
    assert state(world.north.candidate_id) == kept


def test_a_computed_event_never_causes_a_recomputation(client, world):
    h = world.north.advisor_headers
    step = _registered(client, world)
    run(daily_sweep, AS_OF)
    run(consume_feed, AS_OF)
    _pass(client, world, step)
    start = position(client, h)
    assert once(consume_feed, AS_OF) == 1
    assert len(computed(client, h, start)) == 1
    # Make the kept state stale: a recomputation would now see a change and send an event.
    with sync_engine().begin() as conn:
        conn.execute(text("UPDATE computed_state SET status = 'tampered' WHERE candidate_id = :c"),
                     {"c": _uid(uuid.UUID(world.north.candidate_id))})
    assert once(consume_feed, AS_OF) == 1  # read: the readiness.changed ...
    assert once(consume_feed, AS_OF) == 0
    assert len(computed(client, h, start)) == 1  # ... and skipped
    assert state(world.north.candidate_id)["status"] == "tampered"  # type: ignore[index]


# ---- deadline.approaching ------------------------------------------------------------------------------------

def _a_step_deadline(client: Any, w: World, lead: int) -> tuple[str, date]:
    """A remaining step of north's candidate with its latest safe date more than `lead` days after AS_OF."""
    r = client.get(f"/v1/candidates/{w.north.candidate_id}/timeline", params={"as_of": AS_OF.isoformat()},
                   headers=w.north.advisor_headers)
    assert r.status_code == 200, r.text
    items = [i for i in r.json()["items"] if i["kind"] == "step" and date.fromisoformat(i["on"]) > AS_OF +
             timedelta(days=lead + 1)]
    assert items, r.json()
    return items[0]["code"], date.fromisoformat(items[0]["on"])


def _notices(client: Any, w: World, after: str | None, step: str, on: date) -> list[int]:
    """North's candidate's notices of the step's date (north's other candidate has the same road)."""
    return [e["data"]["lead_days"] for e in computed(client, w.north.advisor_headers, after, w.north.candidate_id)
            if e["type"] == "deadline.approaching" and e["data"]["step"] == step
            and e["data"]["latest_safe_date"] == on.isoformat()]


def test_deadline_notices_at_the_organizations_lead_days_once_each(client, world):
    h = world.north.advisor_headers
    org_url = f"/v1/organizations/{world.north.org_id}"
    etag = client.get(org_url, headers=world.admin_headers).headers["etag"]
    r = client.patch(org_url, json={"deadline_lead_days": [3, 30, 14]}, headers={**world.admin_headers,
                                                                                 "If-Match": etag})
    assert r.status_code == 200 and r.json()["deadline_lead_days"] == [30, 14, 3], r.text
    etag = r.headers["etag"]
    r = client.patch(org_url, json={"deadline_lead_days": [21, 9, 2]}, headers={**world.admin_headers,
                                                                                "If-Match": etag})
    assert r.status_code == 200, r.text
    step, on = _a_step_deadline(client, world, 21)
    start = position(client, h)
    seen: list[int] = []
    for days_before in range(23, -2, -1):  # one sweep a day, from 23 days before to the day after
        day = on - timedelta(days=days_before)
        run(daily_sweep, day)
        run(daily_sweep, day)  # a second run the same day: the sweep is done
        now = _notices(client, world, start, step, on)
        if days_before in (21, 9, 2):
            assert now[len(seen):] == [days_before], (days_before, now)
        else:
            assert now == seen, (days_before, now)
        seen = now
    assert seen == [21, 9, 2]
    ev = next(e for e in computed(client, h, start) if e["type"] == "deadline.approaching"
              and e["data"]["step"] == step and e["data"]["lead_days"] == 9)
    assert ev["data"]["days_left"] == 9 and ev["subject"]["id"] == world.north.candidate_id
    assert ev["data"]["cycle"] == 2027


def test_a_notice_goes_once_even_when_the_feed_recomputes_the_same_day(client, world):
    h = world.north.advisor_headers
    step, on = _a_step_deadline(client, world, 30)
    day = on - timedelta(days=20)  # default lead days [30, 14, 3]: within 30
    start = position(client, h)
    run(daily_sweep, day)
    assert _notices(client, world, start, step, on) == [30]
    create(client, f"/v1/candidates/{world.north.candidate_id}/milestones", milestone_body(), h)
    run(consume_feed, day)
    run(consume_feed, day + timedelta(days=1))
    assert _notices(client, world, start, step, on) == [30]
    # a worker that missed days sends the tightest notice due, once
    run(daily_sweep, on - timedelta(days=2))
    assert _notices(client, world, start, step, on) == [30, 3]


def test_the_sweep_goes_over_every_candidate_in_batches(client, world):
    assert run(daily_sweep, AS_OF, limit=1) == 4
    assert count_rows("computed_state") == 4
    assert once(daily_sweep, AS_OF, limit=1) == 0  # done for the day
    assert once(daily_sweep, AS_OF + timedelta(days=1), limit=1) == 1  # a new day, a new sweep


@pytest.mark.parametrize("days", [[], [0], [366], [3, 3], list(range(1, 12)), None, ["7"]])
def test_lead_days_are_validated(client, world, days):
    org_url = f"/v1/organizations/{world.north.org_id}"
    etag = client.get(org_url, headers=world.admin_headers).headers["etag"]
    body = problem(client.patch(org_url, json={"deadline_lead_days": days},
                                headers={**world.admin_headers, "If-Match": etag}), 422)
    assert any(e["field"].startswith("body.deadline_lead_days") for e in body["errors"]), body


def test_a_new_organization_has_the_default_lead_days(client, world):
    r = client.post("/v1/organizations", json={"name": "Lead Days Office"}, headers=world.admin_headers)
    assert r.status_code == 201 and r.json()["deadline_lead_days"] == [30, 14, 3], r.text
    r = client.post("/v1/organizations", json={"name": "Custom Office", "deadline_lead_days": [60, 7]},
                    headers=world.admin_headers)
    assert r.status_code == 201 and r.json()["deadline_lead_days"] == [60, 7], r.text


# ---- PostgreSQL: one worker per batch, and the feed's visibility rule --------------------------------------------

@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: SQLite has one writer at a time")
def test_a_second_worker_leaves_a_locked_batch_alone(client, world):
    create(client, f"/v1/candidates/{world.north.candidate_id}/milestones", milestone_body(),
           world.north.advisor_headers)
    assert once(consume_feed, AS_OF) == 1  # the consumer's row exists now
    create(client, f"/v1/candidates/{world.north.candidate_id}/milestones", milestone_body(),
           world.north.advisor_headers)
    with sync_engine().connect() as other:
        tx = other.begin()
        other.execute(text("SELECT * FROM feed_consumer WHERE name = 'guidance.computed_events' FOR UPDATE"))
        assert once(consume_feed, AS_OF) == 0
        assert once(daily_sweep, AS_OF) == 0
        tx.rollback()
    assert once(consume_feed, AS_OF) == 1


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: SQLite has one writer at a time, so seq is commit order")
def test_the_consumer_waits_for_an_older_open_transaction(client, world):
    run(consume_feed, AS_OF)
    with sync_engine().connect() as older:
        tx = older.begin()
        insert_event(older, world.north.org_id, world.north.candidate_id, "program_list.created", "program_list")
        create(client, f"/v1/candidates/{world.north.candidate_id}/milestones", milestone_body(),
               world.north.advisor_headers)
        assert asyncio.run(consume_feed(as_of=AS_OF)) == 0  # the newer event waits behind the open one
        tx.commit()
    assert run(consume_feed, AS_OF) == 2


# ---- calendar subscriptions ----------------------------------------------------------------------------------

def test_a_calendar_subscription_serves_the_timeline_without_credentials_until_revoked(client, world):
    n = world.north
    base = f"/v1/candidates/{n.candidate_id}/calendar-subscriptions"
    r = client.post(base, json={"name": "My phone"}, headers=n.candidate_headers)
    assert r.status_code == 201, r.text
    sub = r.json()
    assert r.headers["location"] == f"{base}/{sub['id']}" and r.headers["cache-control"] == "no-store"
    path = "/v1/calendar/" + sub["url"].rsplit("/v1/calendar/", 1)[1]
    token = path.removeprefix("/v1/calendar/").removesuffix(".ics")
    assert len(token) >= 43
    with sync_engine().connect() as conn:  # stored only as its hash
        stored = conn.execute(text("SELECT token_hash FROM calendar_subscription")).scalar_one()
    assert stored == hashlib.sha256(token.encode()).hexdigest()

    listed = client.get(base, headers=n.advisor_headers).json()
    assert [s["id"] for s in listed["items"]] == [sub["id"]] and token not in str(listed)
    assert "url" not in listed["items"][0]

    ics = client.get(path)  # no credentials
    assert ics.status_code == 200, ics.text
    assert ics.headers["content-type"].startswith("text/calendar")
    same = client.get(f"/v1/candidates/{n.candidate_id}/timeline.ics", headers=n.candidate_headers)
    assert ics.content == same.content
    etag = ics.headers["etag"]
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304

    current = client.get(f"{base}/{sub['id']}", headers=n.candidate_headers)
    problem(client.delete(f"{base}/{sub['id']}", headers=n.candidate_headers), 428)
    r = client.delete(f"{base}/{sub['id']}", headers={**n.candidate_headers, "If-Match": current.headers["etag"]})
    assert r.status_code == 204, r.text
    gone = client.get(path)
    body = problem(gone, 404, "not-found")
    assert token not in gone.text and body["instance"] == "/v1/calendar/{token}.ics"
    problem(client.get(f"/v1/calendar/{'x' * 43}.ics"), 404, "not-found")
    assert client.get(base, headers=n.advisor_headers).json()["total"] == 0


def test_other_organizations_and_candidates_cannot_reach_a_subscription(client, world):
    n, s = world.north, world.south
    base = f"/v1/candidates/{n.candidate_id}/calendar-subscriptions"
    sub, _ = create(client, base, {"name": "Desk"}, n.advisor_headers)
    for h in (s.advisor_headers, s.api_key_headers, s.candidate_headers):
        problem(client.post(base, json={"name": "Theirs"}, headers=h), 404)
        problem(client.get(base, headers=h), 404)
        problem(client.get(f"{base}/{sub['id']}", headers=h), 404)
        problem(client.delete(f"{base}/{sub['id']}", headers={**h, "If-Match": '"v1"'}), 404)
    # north's other candidate's path does not reach this one's subscription
    other = f"/v1/candidates/{n.other_candidate_id}/calendar-subscriptions/{sub['id']}"
    problem(client.get(other, headers=n.advisor_headers), 404)
    assert client.get(f"{base}/{sub['id']}", headers=n.api_key_headers).status_code == 200


def test_a_deleted_candidate_takes_its_subscriptions_and_state_along(client, world):
    n = world.north
    cid = n.other_candidate_id
    sub, _ = create(client, f"/v1/candidates/{cid}/calendar-subscriptions", {"name": "Phone"}, n.advisor_headers)
    path = "/v1/calendar/" + sub["url"].rsplit("/v1/calendar/", 1)[1]
    run(daily_sweep, AS_OF)
    etag = client.get(f"/v1/candidates/{cid}", headers=n.advisor_headers).headers["etag"]
    assert client.delete(f"/v1/candidates/{cid}", headers={**n.advisor_headers, "If-Match": etag}).status_code == 204
    problem(client.get(path), 404)
    assert state(cid) is None
    run(consume_feed, AS_OF)  # the candidate.deleted event: nothing to compute
