"""The right of access (a candidate's export and their access log) and the right to erasure."""

from __future__ import annotations

import logging
import uuid

import pytest

from tests.api.helpers import candidate_body, create, milestone_body, problem, usce_body
from tests.api.test_observability import debug_json_logs  # noqa: F401  (a fixture: the service's logs, at DEBUG)
from tests.conftest import _uid, sync_engine


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
    assert "items" in doc["computed"]["timeline"] or "unavailable" in doc["computed"]["timeline"]
    assert list(doc["computed"]["screening"]) == [plist["id"]]
    (account,) = doc["accounts"]  # the candidate's own sign-in account, without its password hash
    assert account["candidate_id"] == cid and account["role"] == "candidate"
    assert not {"password", "password_hash", "hashed_password"} & set(account)
    assert doc["invitations"] == []
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
PASSWORD = "erased candidate's passphrase 7731"


def _scan(values: list[str]) -> list[str]:
    """Every column of every table the models declare (text, JSON, binary, dates: all of them), searched for the
    values; a remembered Idempotency-Key response is searched decrypted, as a replay would send it."""
    import json

    from sqlalchemy import inspect, text
    from sqlmodel import SQLModel

    import app.models  # noqa: F401  (every table on the metadata)
    from app.core.idempotency import unseal

    found = []
    with sync_engine().connect() as conn:
        tables = SQLModel.metadata.sorted_tables
        assert {t.name for t in tables} == set(inspect(conn).get_table_names()) - {"alembic_version"}
        for table in tables:
            for column in table.columns:
                for (cell,) in conn.execute(text(f'SELECT "{column.name}" FROM "{table.name}"')):
                    if cell is None:
                        continue
                    if isinstance(cell, memoryview | bytes):
                        cell = bytes(cell)
                        if (table.name, column.name) == ("idempotency_record", "response_body"):
                            cell = unseal(cell)
                        blob = cell
                    elif isinstance(cell, dict | list):
                        blob = json.dumps(cell).encode()
                    else:
                        blob = str(cell).encode()
                    found += [f"{table.name}.{column.name}: {v}" for v in values if v.encode() in blob]
    return found


def _replays() -> list[dict]:  # type: ignore[type-arg]
    from sqlalchemy import text

    with sync_engine().connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text("SELECT key, candidate_id, user_id FROM "
                                                            "idempotency_record ORDER BY key"))]


def _client_addresses(actor_id: str | None = None, subject_type: str | None = None) -> list[str | None]:
    """The client addresses of the audit rows of an actor, or of the rows about a kind of subject."""
    from sqlalchemy import text

    where, value = ("actor_id", _uid(uuid.UUID(actor_id))) if actor_id else ("subject_type", subject_type)
    with sync_engine().connect() as conn:
        return [r[0] for r in conn.execute(text(f"SELECT client_address FROM audit_record WHERE {where} = :v"),
                                           {"v": value})]


@pytest.mark.usefixtures("debug_json_logs")
def test_erasure_leaves_no_copy_of_the_candidates_personal_data(client, world, caplog, capsys):
    import json as _json

    from tests.api.test_imports import finished, submit

    caplog.set_level(logging.DEBUG)
    h, key_h, admin = world.north.advisor_headers, world.north.api_key_headers, world.admin_headers
    body = {**{k: v for k, v in SEEDED.items() if k != "external_id"}, "citizenship_country": "NG",
            "target_match_year": 2028, "organization_id": world.north.org_id}
    r = client.post("/v1/candidates", json={**body, "external_id": SEEDED["external_id"]},
                    headers={**h, "Idempotency-Key": "erase-candidate"})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    # Replays that carry their data, kept for other callers: the API key's, the admin's, the advisor's.
    r = client.post(f"/v1/candidates/{cid}/milestones", json=milestone_body(notes="Zebulon's note"),
                    headers={**key_h, "Idempotency-Key": "erase-milestone-by-key"})
    assert r.status_code == 201, r.text
    client.post(f"/v1/candidates/{cid}/usce-records", json=usce_body(), headers=h)
    invitation = {"email": SEEDED["email"], "full_name": SEEDED["full_name"], "role": "candidate",
                  "candidate_id": cid}
    r = client.post("/v1/invitations", json=invitation, headers={**admin, "Idempotency-Key": "erase-invitation"})
    assert r.status_code == 201, r.text
    account = {"email": SEEDED["email"], "full_name": SEEDED["full_name"], "password": PASSWORD,
               "role": "candidate", "candidate_id": cid}
    r = client.post("/v1/users", json=account, headers={**h, "Idempotency-Key": "erase-account"})
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    # Their own requests, from their own address: a sign-in, a password reset asked for, a write with a key.
    r = client.post("/v1/auth/token", data={"username": SEEDED["email"], "password": PASSWORD})
    assert r.status_code == 200, r.text
    own = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert client.post("/v1/auth/password-reset", json={"email": SEEDED["email"]}).status_code == 202
    r = client.post(f"/v1/candidates/{cid}/usce-records", json=usce_body(supervisor="Dr. Zebulon's mentor"),
                    headers={**own, "Idempotency-Key": "erase-own"})
    assert r.status_code == 201, r.text
    r = client.post("/v1/auth/logout", headers={**own, "Idempotency-Key": "erase-own-logout"})
    assert r.status_code == 204, r.text  # a replay of theirs that names no record, only them as its caller
    # Someone else's replay, which stays.
    other = client.post("/v1/candidates", json=candidate_body(), headers={**key_h, "Idempotency-Key": "unrelated"})
    assert other.status_code == 201, other.text
    item = {k: v for k, v in body.items() if k != "organization_id"}
    item.update(external_id=SEEDED["external_id"], full_name=SEEDED["full_name"] + " Jr")
    finished(client, key_h, submit(client, key_h, [item]))
    values = [*SEEDED.values(), SEEDED["full_name"] + " Jr", "Zebulon's note", "Dr. Zebulon's mentor"]
    seeded = {f.split(".")[0] for f in _scan(values)}
    assert seeded >= {"candidate", "user_account", "invitation", "milestone", "usce_record", "event", "import_item",
                      "idempotency_record"}, "the seeding did not reach the tables; the scan proves nothing"
    theirs = [r["key"] for r in _replays() if r["key"] != "unrelated"]
    assert len(theirs) == 6 and _client_addresses(user_id) and None not in _client_addresses(user_id)
    assert _client_addresses(subject_type="password_reset") == ["testclient"]  # asked by no one signed in

    problem(client.post(f"/v1/candidates/{cid}/erasure", headers=key_h), 403)
    r = client.post(f"/v1/candidates/{cid}/erasure", headers=h)
    assert r.status_code == 200, r.text
    receipt = r.json()
    assert receipt["candidate_id"] == cid and receipt["removed"]["events"] >= 3
    assert receipt["removed"]["idempotency_records"] == 6 and receipt["removed"]["import_items"] == 1
    assert receipt["removed"]["user_accounts"] == 1 and receipt["removed"]["audit_client_addresses"] >= 3
    assert _scan(values) == []
    assert [r["key"] for r in _replays()] == ["unrelated"]  # every replay of their data went, whoever made it
    r = client.post("/v1/users", json=account, headers={**h, "Idempotency-Key": "erase-account"})
    problem(r, 404)  # run again (the candidate is gone), not replayed
    assert "idempotent-replayed" not in r.headers
    problem(client.get(f"/v1/candidates/{cid}", headers=h), 404)
    audit = client.get(f"/v1/organizations/{world.north.org_id}/audit", headers=h,
                       params={"candidate_id": cid, "limit": 100}).json()["items"]
    assert audit[0]["action"] == "erase" and _json.dumps(audit).find("Zebulon") < 0
    # Their own requests' rows stay, without the address they came from; the advisor's keep the advisor's.
    assert _client_addresses(user_id) and set(_client_addresses(user_id)) == {None}
    assert _client_addresses(subject_type="password_reset") == [None]
    advisor = next(a["actor_id"] for a in audit if a["action"] == "erase")
    assert set(_client_addresses(advisor)) == {"testclient"}
    feed = client.get("/v1/events", headers=h, params={"candidate_id": cid, "limit": 1000}).json()["items"]
    assert feed[-1]["type"] == "candidate.deleted" and {e["subject"]["external_id"] for e in feed} == {None}
    assert all(e["data"] == {"erased": True} for e in feed)
    out = capsys.readouterr()
    records = "\n".join(f"{r.name} {r.getMessage()} {r.args!r} {r.__dict__!r}" for r in caplog.records)
    assert caplog.records and out.out, "no log was captured; the scan of the logs proves nothing"
    for value in [*values, PASSWORD]:
        assert value not in out.out + out.err, f"{value!r} reached the log output"
        assert value not in records, f"{value!r} reached a log record"


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
