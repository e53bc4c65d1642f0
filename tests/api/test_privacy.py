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
