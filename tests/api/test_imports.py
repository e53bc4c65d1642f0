"""Bulk import and export over HTTP; the worker's import job run in the test process (one batch a call), and as a
process killed with SIGKILL in the middle of an import (and, on PostgreSQL, two workers sharing one)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.api.helpers import candidate_body, milestone_body, problem, snapshot, usce_body
from tests.conftest import DATABASE_URL, PG_URL, sync_engine

ROOT = Path(__file__).resolve().parents[2]
NDJSON = {"Content-Type": "application/x-ndjson"}
RESOURCES = ("candidate", "milestone", "usce_record", "program_list")


def item(n: int, *, milestones: int = 2, usce: int = 1, lists: int = 1, **over: Any) -> dict[str, Any]:
    body = candidate_body(full_name=f"Imported Person {n}", email=f"imported{n}@example.org")
    body.update({
        "external_id": f"SIS-{n}",
        "milestones": [milestone_body(external_id=f"SIS-{n}-M{i}",
                                      type_code=("specialty_decided", "mentor_contact", "usmle_id_registered")[i],
                                      status="completed", completed_on="2025-03-01")
                       for i in range(milestones)],
        "usce_records": [usce_body(external_id=f"SIS-{n}-U{i}") for i in range(usce)],
        "program_lists": [{"external_id": f"SIS-{n}-L{i}", "name": f"IM list {i}", "cycle": 2027}
                          for i in range(lists)],
    })
    body.update(over)
    return body


def run_worker(rounds: int = 50) -> None:
    """What the worker does, until the imports are done."""
    from app.imports.service import run_batch

    async def go() -> None:
        for _ in range(rounds):
            if not await run_batch():
                return

    asyncio.run(go())


def submit(client: Any, headers: dict[str, str], items: list[Any], *, ndjson: bool = False,
           **params: Any) -> dict[str, Any]:
    if ndjson:
        body = b"\n".join(x if isinstance(x, bytes) else json.dumps(x).encode() for x in items) + b"\n"
        r = client.post("/v1/imports", content=body, headers={**headers, **NDJSON}, params=params)
    else:
        r = client.post("/v1/imports", json={"candidates": items}, headers=headers, params=params)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/v1/imports/{r.json()['id']}"
    return dict(r.json())


def finished(client: Any, headers: dict[str, str], job: dict[str, Any]) -> dict[str, Any]:
    run_worker()
    r = client.get(f"/v1/imports/{job['id']}", headers=headers)
    assert r.status_code == 200, r.text
    out = dict(r.json())
    assert out["status"] == "succeeded" and out["processed"] == out["total"] and out["finished_at"], out
    return out


def items_of(client: Any, headers: dict[str, str], job: dict[str, Any], **params: Any) -> list[dict[str, Any]]:
    r = client.get(f"/v1/imports/{job['id']}/items", headers=headers, params={"limit": 100, **params})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def resources() -> dict[str, tuple[int, int]]:
    snap = snapshot()
    return {t: snap[t] for t in RESOURCES}


def counts(job: dict[str, Any]) -> dict[str, int]:
    return {k: v for k, v in job["counts"].items() if k != "pending"}


# ---- the import ------------------------------------------------------------------------------------------------

def test_import_creates_everything_and_a_second_run_changes_nothing(client, world):
    h = world.north.api_key_headers
    before = resources()
    job = submit(client, h, [item(1), item(2, milestones=3, usce=2), item(3, milestones=0, usce=0, lists=0)])
    assert job["status"] == "queued" and job["total"] == 3 and job["counts"]["pending"] == 3
    done = finished(client, h, job)
    assert counts(done) == {"created": 3, "updated": 0, "unchanged": 0, "rejected": 0}
    after = resources()
    assert {t: after[t][0] - before[t][0] for t in RESOURCES} == {
        "candidate": 3, "milestone": 5, "usce_record": 3, "program_list": 2}
    cand = client.get("/v1/candidates/by-external-id/SIS-2", headers=h).json()
    assert cand["full_name"] == "Imported Person 2"
    m = client.get(f"/v1/candidates/{cand['id']}/milestones/by-external-id/SIS-2-M2", headers=h)
    assert m.status_code == 200 and m.json()["type_code"] == "usmle_id_registered"
    assert [i["status"] for i in items_of(client, h, done)] == ["created"] * 3
    assert all(i["candidate_id"] and i["problem"] is None for i in items_of(client, h, done))

    again = finished(client, h, submit(client, h, [item(1), item(2, milestones=3, usce=2),
                                                    item(3, milestones=0, usce=0, lists=0)]))
    assert counts(again) == {"created": 0, "updated": 0, "unchanged": 3, "rejected": 0}
    assert resources() == after  # the same rows, the same versions


def test_an_item_that_changes_anything_is_updated(client, world):
    h = world.north.api_key_headers
    finished(client, h, submit(client, h, [item(1), item(2)]))
    changed_child = item(2)
    changed_child["milestones"][0]["notes"] = "New note"
    done = finished(client, h, submit(client, h, [item(1, full_name="Renamed Person"), changed_child]))
    assert counts(done) == {"created": 0, "updated": 2, "unchanged": 0, "rejected": 0}
    assert client.get("/v1/candidates/by-external-id/SIS-1", headers=h).json()["full_name"] == "Renamed Person"


def test_rejected_items_say_why_and_stop_no_other(client, world):
    h = world.north.advisor_headers
    bad_field = item(2, target_match_year="2027")
    bad_child = item(3)
    bad_child["milestones"][1]["status"] = "victorious"
    items = [item(1), bad_field, bad_child, b"{not json", item(1, full_name="Same id again"), [1, 2], item(4)]
    job = finished(client, h, submit(client, h, items, ndjson=True))
    assert counts(job) == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 5}
    rejected = items_of(client, h, job, status="rejected")
    assert [i["position"] for i in rejected] == [1, 2, 3, 4, 5]
    by_pos = {i["position"]: i for i in rejected}
    assert {e["field"] for e in by_pos[1]["problem"]["errors"]} == {"target_match_year"}
    assert {e["field"] for e in by_pos[2]["problem"]["errors"]} == {"milestones.1.status"}
    assert by_pos[3]["problem"]["errors"][0]["code"] == "json_invalid"
    assert by_pos[4]["problem"]["code"] == "duplicate_external_id" and by_pos[4]["external_id"] == "SIS-1"
    assert all(i["problem"]["type"] == "/problems/validation-error" and i["problem"]["status"] == 422
               for i in rejected)
    assert client.get("/v1/candidates/by-external-id/SIS-4", headers=h).status_code == 200
    assert client.get("/v1/candidates/by-external-id/SIS-3", headers=h).status_code == 404


def test_one_candidate_is_all_or_nothing(client, world):
    """The second milestone is refused by the database side (a milestone's type cannot change): the candidate's
    new name and its first new milestone are not written either."""
    h = world.north.api_key_headers
    finished(client, h, submit(client, h, [item(1)]))
    before = resources()
    attempt = item(1, full_name="Should not stick")
    attempt["milestones"].insert(0, milestone_body(external_id="SIS-1-NEW", type_code="mentor_contact"))
    attempt["milestones"][2]["type_code"] = "usmle_id_registered"  # SIS-1-M1 was mentor_contact
    job = finished(client, h, submit(client, h, [attempt, item(2)]))
    assert counts(job) == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    (rej,) = items_of(client, h, job, status="rejected")
    assert rej["problem"]["code"] == "type_code_immutable" and rej["problem"]["status"] == 409
    assert rej["problem"]["errors"][0]["field"].startswith("milestones.2")
    after = resources()
    assert after["candidate"][0] == before["candidate"][0] + 1 and after["milestone"][0] == before["milestone"][0] + 2
    assert client.get("/v1/candidates/by-external-id/SIS-1", headers=h).json()["full_name"] == "Imported Person 1"


_OWN = {"id", "candidate_id", "external_id", "created_at", "updated_at", "full_name", "email", "links"}


def _record(client: Any, h: dict[str, str], ext: str) -> dict[str, Any]:
    """A candidate's record as the API shows it, without what tells two candidates apart."""
    cand = client.get(f"/v1/candidates/by-external-id/{ext}", headers=h).json()
    out: dict[str, Any] = {"candidate": {k: v for k, v in cand.items() if k not in _OWN}}
    for path in ("milestones", "usce-records", "program-lists"):
        rows = client.get(f"/v1/candidates/{cand['id']}/{path}", headers=h, params={"limit": 100}).json()["items"]
        out[path] = sorted(({k: v for k, v in r.items() if k not in _OWN} for r in rows), key=json.dumps)
    events = client.get("/v1/events", headers=h, params={"limit": 1000}).json()["items"]
    mine = [e for e in events if e["candidate_id"] == cand["id"]]
    out["events"] = sorted((e["type"], e["subject"]["version"],
                            sorted(k for k in e["data"]["object"] if k not in _OWN)) for e in mine)
    return out


def test_new_candidates_are_written_in_bulk_as_their_upserts_one_by_one_would_write_them(client, world):
    """New candidates go in bulk (one INSERT per table for a group of items); the rows, their versions and their
    events must be those that the same records sent one request each make."""
    h = world.north.api_key_headers
    finished(client, h, submit(client, h, [item(1, milestones=3, usce=2, lists=1)]))
    one = item(2, milestones=3, usce=2, lists=1)
    children = {"milestones": one.pop("milestones"), "usce-records": one.pop("usce_records"),
                "program-lists": one.pop("program_lists")}
    r = client.put(f"/v1/candidates/by-external-id/{one.pop('external_id')}", json=one, headers=h)
    assert r.status_code == 201, r.text
    for path, rows in children.items():
        for row in rows:
            ext = row.pop("external_id")
            r2 = client.put(f"/v1/candidates/{r.json()['id']}/{path}/by-external-id/{ext}", json=row, headers=h)
            assert r2.status_code == 201, r2.text
    assert _record(client, h, "SIS-1") == _record(client, h, "SIS-2")


def test_a_conflict_in_a_bulk_group_rejects_that_item_alone(client, world):
    """A new candidate whose USMLE ID another candidate has fails the group's bulk INSERT; the group is then
    applied item by item, so only that item is rejected (409 usmle_id_taken) and the others are created."""
    h = world.north.api_key_headers
    finished(client, h, submit(client, h, [item(1, usmle_id="12345678")]))
    before = resources()
    job = finished(client, h, submit(client, h, [item(5), item(6, usmle_id="12345678"), item(7)]))
    assert counts(job) == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 1}
    (rej,) = items_of(client, h, job, status="rejected")
    assert rej["position"] == 1 and rej["problem"]["status"] == 409 and rej["problem"]["code"] == "usmle_id_taken"
    after = resources()
    assert after["candidate"][0] - before["candidate"][0] == 2 and after["milestone"][0] - before["milestone"][0] == 4


def test_a_dry_run_changes_nothing_and_says_what_would_happen(client, world):
    h = world.north.api_key_headers
    finished(client, h, submit(client, h, [item(1)]))
    before = resources()
    job = finished(client, h, submit(client, h, [item(1), item(2), item(3, visa_need="sometimes")],
                                     dry_run="true"))
    assert job["dry_run"] is True
    assert counts(job) == {"created": 1, "updated": 0, "unchanged": 1, "rejected": 1}
    assert resources() == before
    types = [e["type"] for e in client.get("/v1/events", headers=h, params={"limit": 1000}).json()["items"]]
    assert types.count("candidate.created") == 1  # the first, real import's only


def test_completion_is_an_event_and_the_writes_are_audited_to_the_importer(client, world):
    h = world.north.api_key_headers
    job = finished(client, h, submit(client, h, [item(1), item(2, target_match_year=1)]))
    events = client.get("/v1/events", headers=h, params={"types": "import.*"}).json()["items"]
    (done,) = events
    assert done["subject"] == {"type": "import", "id": job["id"], "external_id": None, "version": None}
    assert done["data"] == {"dry_run": False, "total": 2,
                            "counts": {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1}}
    audit = client.get(f"/v1/organizations/{world.north.org_id}/audit", headers=world.north.advisor_headers,
                       params={"limit": 100}).json()["items"]
    made = [a for a in audit if a["subject_type"] in ("candidate", "milestone") and a["action"] == "create"]
    assert len(made) == 3 and {a["actor_type"] for a in made} == {"api_key"}, made
    assert {a["actor_id"] for a in made} == {client.get("/v1/auth/me", headers=h).json()["api_key_id"]}


# ---- refusals --------------------------------------------------------------------------------------------------


def test_over_the_limits_is_a_413_that_names_it_and_stores_nothing(client, world, settings):
    h = world.north.api_key_headers
    settings(IMPORT_MAX_ITEMS="2", MAX_IMPORT_BODY_BYTES="4096")
    before = snapshot()
    r = client.post("/v1/imports", json={"candidates": [item(1, milestones=0, usce=0, lists=0)] * 3}, headers=h)
    assert "at most 2 candidates" in problem(r, 413, "payload-too-large", "too_many_items")["detail"]
    r = client.post("/v1/imports", content=b"\n".join([json.dumps(item(1)).encode()] * 10), headers={**h, **NDJSON})
    assert "4096 bytes" in problem(r, 413, "payload-too-large")["detail"]
    assert snapshot() == before


@pytest.mark.parametrize(("body", "ctype", "status", "slug"), [
    (b"{", "application/json", 400, "bad-request"),
    (b"[]", "application/json", 422, "validation-error"),
    (b'{"candidates": []}', "application/json", 422, "validation-error"),
    (b'{"candidates": [], "mode": "merge"}', "application/json", 422, "validation-error"),
    (b"\n\n", "application/x-ndjson", 422, "validation-error"),
    (b"a,b\n1,2", "text/csv", 415, "unsupported-media-type"),
])
def test_a_body_that_is_no_import_is_refused(client, world, body, ctype, status, slug):
    before = snapshot()
    r = client.post("/v1/imports", content=body, headers={**world.north.api_key_headers, "Content-Type": ctype})
    problem(r, status, slug)
    assert snapshot() == before


def test_who_may_import_and_read_imports(client, world):
    job = submit(client, world.north.api_key_headers, [item(1)])
    problem(client.post("/v1/imports", json={"candidates": [item(2)]}, headers=world.north.candidate_headers), 403)
    problem(client.post("/v1/imports", json={"candidates": [item(2)]}, headers=world.admin_headers), 403)
    for h in (world.south.advisor_headers, world.south.api_key_headers, world.north.candidate_headers):
        problem(client.get(f"/v1/imports/{job['id']}", headers=h), 404)
        problem(client.get(f"/v1/imports/{job['id']}/items", headers=h), 404)
    assert client.get(f"/v1/imports/{job['id']}", headers=world.north.advisor_headers).status_code == 200
    assert client.get(f"/v1/imports/{job['id']}", headers=world.admin_headers).status_code == 200
    listed = client.get("/v1/imports", headers=world.north.advisor_headers).json()
    assert [j["id"] for j in listed["items"]] == [job["id"]] and listed["total"] == 1
    assert client.get("/v1/imports", headers=world.south.api_key_headers).json()["total"] == 0


def test_payloads_are_not_kept_once_applied(client, world):
    h = world.north.api_key_headers
    finished(client, h, submit(client, h, [item(1), item(2, target_match_year=1)]))
    with sync_engine().connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM import_item WHERE payload IS NOT NULL")).scalar() == 0


# ---- export ----------------------------------------------------------------------------------------------------

def test_export_reimports_to_the_same_state(client, world):
    h = world.north.api_key_headers
    finished(client, h, submit(client, h, [item(n) for n in range(1, 6)]))
    url = f"/v1/organizations/{world.north.org_id}/export"
    r = client.get(url, headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(x) for x in r.content.splitlines()]
    mine = [x for x in lines if (x["external_id"] or "").startswith("SIS-")]
    assert [x["external_id"] for x in mine] == [f"SIS-{n}" for n in range(1, 6)]
    assert mine[0]["milestones"][0]["external_id"] == "SIS-1-M0" and len(mine[0]["usce_records"]) == 1
    before = resources()
    again = finished(client, h, submit(client, h, mine, ndjson=True))
    assert counts(again) == {"created": 0, "updated": 0, "unchanged": 5, "rejected": 0}
    assert resources() == before
    assert client.get(url, headers={**h, "If-None-Match": r.headers["etag"]}).status_code == 304
    first = client.get("/v1/candidates/by-external-id/SIS-1", headers=h)
    r2 = client.patch(f"/v1/candidates/{first.json()['id']}", json={"full_name": "Changed"},
                      headers={**h, "If-Match": first.headers["etag"]})
    assert r2.status_code == 200, r2.text
    assert client.get(url, headers={**h, "If-None-Match": r.headers["etag"]}).status_code == 200
    problem(client.get(url, headers=world.north.candidate_headers), 403)
    problem(client.get(f"/v1/organizations/{world.south.org_id}/export", headers=h), 404)


# ---- the worker as a process -----------------------------------------------------------------------------------

def start_worker() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "app", "worker"], cwd=ROOT,
                            env={**os.environ, "DATABASE_URL": DATABASE_URL, "WORKER_JOBS": "imports.*"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def applied() -> int:
    with sync_engine().connect() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM import_item WHERE status <> 'pending'")).scalar() or 0)


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _check_applied_once(client: Any, h: dict[str, str], job: dict[str, Any], n: int) -> None:
    r = client.get(f"/v1/imports/{job['id']}", headers=h).json()
    assert r["status"] == "succeeded" and counts(r) == {"created": n, "updated": 0, "unchanged": 0, "rejected": 0}
    with sync_engine().connect() as conn:
        per = conn.execute(text("SELECT external_id, COUNT(*) FROM candidate WHERE external_id LIKE 'SIS-%' "
                                "GROUP BY external_id")).all()
        assert len(per) == n and {c for _, c in per} == {1}
        assert conn.execute(text("SELECT COUNT(*) FROM milestone WHERE external_id LIKE 'SIS-%'")).scalar() == 2 * n
        created = conn.execute(text("SELECT COUNT(*) FROM event WHERE type = 'candidate.created'")).scalar()
        assert created == n  # one event per candidate: none written twice, none lost


def test_a_worker_killed_mid_import_resumes_and_applies_each_item_once(client, world):
    h = world.north.api_key_headers
    n = 300
    job = submit(client, h, [item(i) for i in range(n)])
    worker = start_worker()
    try:
        wait_until(lambda: applied() >= 20, 60, "the worker to apply some items")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    part = applied()
    assert part < n, "the worker finished before it could be killed; make the import larger"
    second = start_worker()
    try:
        wait_until(lambda: client.get(f"/v1/imports/{job['id']}", headers=h).json()["status"] == "succeeded",
                   120, "the second worker to finish the import")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(15)
    _check_applied_once(client, h, job, n)


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: SQLite has one writer, so one worker applies at a time")
def test_two_workers_share_an_import_and_apply_no_item_twice(client, world):
    h = world.north.api_key_headers
    n = 300
    job = submit(client, h, [item(i) for i in range(n)])
    workers = [start_worker() for _ in range(2)]
    try:
        wait_until(lambda: client.get(f"/v1/imports/{job['id']}", headers=h).json()["status"] == "succeeded",
                   120, "the workers to finish the import")
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(15)
    _check_applied_once(client, h, job, n)


# ---- the cohort as a spreadsheet -------------------------------------------------------------------------------

def test_the_cohort_answers_text_csv_with_the_rows_of_its_json(client, world):
    import csv
    import io

    h = world.north.advisor_headers
    url = f"/v1/organizations/{world.north.org_id}/readiness"
    params = {"as_of": "2026-09-01", "sort": "full_name"}
    as_json = client.get(url, params=params, headers=h)
    as_csv = client.get(url, params=params, headers={**h, "Accept": "text/csv"})
    assert as_csv.status_code == 200 and as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert as_csv.headers["x-total-count"] == str(as_json.json()["total"]) == "2"
    assert as_csv.headers["vary"] == as_json.headers["vary"] == "Accept"
    assert as_csv.headers["etag"] != as_json.headers["etag"]  # two representations, two tags
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["candidate_id"] for r in rows] == [i["candidate_id"] for i in as_json.json()["items"]]
    assert [r["status"] for r in rows] == [i["status"] for i in as_json.json()["items"]]
    assert set(rows[0]) == set(as_json.json()["items"][0])
    both = client.get(url, params=params, headers={**h, "Accept": "application/json, text/csv"})
    assert both.headers["content-type"].startswith("application/json")
    problem(client.get(url, headers={**world.north.candidate_headers, "Accept": "text/csv"}), 403)
