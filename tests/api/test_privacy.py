"""The right of access: a candidate's export and their access log."""

from __future__ import annotations

from tests.api.helpers import create, milestone_body, problem, usce_body


def _record(client, world):  # type: ignore[no-untyped-def]
    h, cid = world.north.advisor_headers, world.north.candidate_id
    ms, _ = create(client, f"/v1/candidates/{cid}/milestones", milestone_body(), h)
    rec, _ = create(client, f"/v1/candidates/{cid}/usce-records", usce_body(), h)
    plist, _ = create(client, f"/v1/candidates/{cid}/program-lists", {"name": "IM 2027", "cycle": 2027}, h)
    return ms, rec, plist


def test_a_candidate_exports_everything_held_about_them_and_the_export_is_logged(client, world):
    ms, rec, plist = _record(client, world)
    cid = world.north.candidate_id
    r = client.get(f"/v1/candidates/{cid}/export", headers=world.north.candidate_headers)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    doc = r.json()
    assert doc["candidate"]["id"] == cid
    assert [m["id"] for m in doc["milestones"]] == [ms["id"]]
    assert [u["id"] for u in doc["usce_records"]] == [rec["id"]]
    assert [(p["id"], p["entries"]) for p in doc["program_lists"]] == [(plist["id"], [])]
    assert "status" in doc["computed"]["readiness"] or "unavailable" in doc["computed"]["readiness"]
    actions = [(a["action"], a["subject_type"]) for a in doc["access_log"]]
    assert actions[0] == ("export", "candidate")  # newest first: this export
    assert {("create", "milestone"), ("create", "usce_record"), ("create", "program_list")} <= set(actions)
    log = client.get(f"/v1/candidates/{cid}/access-log", headers=world.north.candidate_headers).json()
    assert log["items"][0]["action"] == "export" and log["items"][0]["actor_role"] == "candidate"
    assert log["total"] == len(doc["access_log"])


def test_no_one_exports_or_reads_the_access_log_of_a_record_they_cannot_see(client, world):
    cid = world.north.candidate_id
    for path in ("export", "access-log"):
        for h in (world.south.advisor_headers, world.south.api_key_headers):
            problem(client.get(f"/v1/candidates/{cid}/{path}", headers=h), 404)
        problem(client.get(f"/v1/candidates/{world.north.other_candidate_id}/{path}",
                           headers=world.north.candidate_headers), 404)
        assert client.get(f"/v1/candidates/{cid}/{path}", headers=world.north.advisor_headers).status_code == 200
    problem(client.get(f"/v1/candidates/{cid}/export"), 401)


# ---- erasure ---------------------------------------------------------------------------------------------------

SEEDED = {"full_name": "Zebulon Quixotic-Farnsworth", "email": "zebulon.quixotic@erase.example",
          "date_of_birth": "1994-02-29".replace("29", "28"), "usmle_id": "87654321", "external_id": "ERASE-ME-7731"}


def _scan(values: list[str]) -> list[str]:
    """Every text, JSON and binary column of every table, searched for the values."""
    from sqlalchemy import inspect, text

    from tests.conftest import TABLES, sync_engine

    found = []
    with sync_engine().connect() as conn:
        insp = inspect(conn)
        for table in TABLES:
            for col in insp.get_columns(table):
                for row in conn.execute(text(f'SELECT "{col["name"]}" FROM {table}')):
                    cell = row[0]
                    if cell is None:
                        continue
                    blob = cell if isinstance(cell, bytes) else str(cell).encode()
                    found += [f"{table}.{col['name']}: {v}" for v in values if v.encode() in blob]
    return found


def test_erasure_leaves_no_copy_of_the_candidates_personal_data(client, world):
    import json as _json

    from tests.api.test_imports import finished, submit

    h = world.north.advisor_headers
    body = {**{k: v for k, v in SEEDED.items() if k != "external_id"}, "citizenship_country": "NG",
            "target_match_year": 2028, "organization_id": world.north.org_id}
    r = client.post("/v1/candidates", json={**body, "external_id": SEEDED["external_id"]},
                    headers={**h, "Idempotency-Key": "erase-test-1"})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    client.post(f"/v1/candidates/{cid}/milestones", json=milestone_body(notes="Zebulon's note"), headers=h)
    client.post(f"/v1/candidates/{cid}/usce-records", json=usce_body(), headers=h)
    item = {k: v for k, v in body.items() if k != "organization_id"}
    item.update(external_id=SEEDED["external_id"], full_name=SEEDED["full_name"] + " Jr")
    finished(client, world.north.api_key_headers, submit(client, world.north.api_key_headers, [item]))
    values = [*SEEDED.values(), SEEDED["full_name"] + " Jr", "Zebulon's note"]
    assert _scan(values), "the seeding did not reach the tables; the scan proves nothing"

    problem(client.post(f"/v1/candidates/{cid}/erasure", headers=world.north.api_key_headers), 403)
    r = client.post(f"/v1/candidates/{cid}/erasure", headers=h)
    assert r.status_code == 200, r.text
    receipt = r.json()
    assert receipt["candidate_id"] == cid and receipt["removed"]["events"] >= 3
    assert receipt["removed"]["idempotency_records"] == 1 and receipt["removed"]["import_items"] == 1
    assert _scan(values) == []
    problem(client.get(f"/v1/candidates/{cid}", headers=h), 404)
    audit = client.get(f"/v1/organizations/{world.north.org_id}/audit", headers=h,
                       params={"candidate_id": cid, "limit": 100}).json()["items"]
    assert audit[0]["action"] == "erase" and _json.dumps(audit).find("Zebulon") < 0
    feed = client.get("/v1/events", headers=h, params={"candidate_id": cid, "limit": 1000}).json()["items"]
    assert feed[-1]["type"] == "candidate.deleted" and {e["subject"]["external_id"] for e in feed} == {None}
    assert all(e["data"] == {"erased": True} for e in feed)


def test_a_candidate_erases_their_own_record_only_when_the_organization_allows_it(client, world):
    cid, h = world.north.candidate_id, world.north.candidate_headers
    problem(client.post(f"/v1/candidates/{cid}/erasure", headers=h), 403)
    org = client.get(f"/v1/organizations/{world.north.org_id}", headers=world.admin_headers)
    r = client.patch(f"/v1/organizations/{world.north.org_id}", json={"candidates_may_erase": True},
                     headers={**world.admin_headers, "If-Match": org.headers["etag"]})
    assert r.status_code == 200 and r.json()["candidates_may_erase"] is True
    problem(client.post(f"/v1/candidates/{world.north.other_candidate_id}/erasure", headers=h), 404)
    r = client.post(f"/v1/candidates/{cid}/erasure", headers=h)
    assert r.status_code == 200 and r.json()["removed"]["user_accounts"] == 1
    problem(client.get(f"/v1/candidates/{cid}", headers=world.north.advisor_headers), 404)
