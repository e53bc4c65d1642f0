"""The audit trail: the write hook records who changed which record and which fields (names, never values)."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import create, milestone_body, problem
from tests.conftest import World, count_rows


def trail(client: Any, w: World, **params: Any) -> list[dict[str, Any]]:
    r = client.get(f"/v1/organizations/{w.north.org_id}/audit", headers=w.north.advisor_headers, params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_a_change_is_recorded_with_its_actor_and_field_names_only(client, world):
    cid = world.north.candidate_id
    h = {**world.north.advisor_headers, "X-Request-Id": "req-audit-1"}
    r = client.patch(f"/v1/candidates/{cid}", json={"school_name": "Secret School Name", "email": "a@example.org"},
                     headers={**h, "If-Match": '"v1"'})
    assert r.status_code == 200, r.text
    (row,) = trail(client, world, candidate_id=cid)
    assert row["action"] == "update" and row["subject_type"] == "candidate" and row["subject_id"] == cid
    assert row["changed_fields"] == ["email", "school_name"]
    assert row["actor_type"] == "user" and row["actor_role"] == "advisor"
    assert row["request_id"] == "req-audit-1" and row["client_address"]
    assert "Secret School" not in str(row) and "a@example.org" not in str(row)


def test_api_keys_and_deletes_are_recorded(client, world):
    cid = world.north.candidate_id
    m, etag = create(client, f"/v1/candidates/{cid}/milestones", milestone_body(), world.north.api_key_headers)
    r = client.delete(f"/v1/candidates/{cid}/milestones/{m['id']}",
                      headers={**world.north.advisor_headers, "If-Match": etag})
    assert r.status_code == 204
    rows = trail(client, world, candidate_id=cid)
    assert [(x["action"], x["actor_type"]) for x in rows] == [("delete", "user"), ("create", "api_key")]
    assert [x["action"] for x in trail(client, world, action="create")] == ["create"]


def test_refused_writes_leave_no_audit_row(client, world):
    cid = world.north.candidate_id
    before = count_rows("audit_record")
    problem(client.patch(f"/v1/candidates/{cid}", json={"school_name": "x"},
                         headers={**world.north.advisor_headers, "If-Match": '"v9"'}), 412)
    problem(client.patch(f"/v1/candidates/{cid}", json={"school_name": "x"}, headers=world.north.advisor_headers),
            428)
    assert count_rows("audit_record") == before


def test_only_the_organizations_advisors_and_admins_read_it(client, world):
    url = f"/v1/organizations/{world.north.org_id}/audit"
    assert client.get(url, headers=world.admin_headers).status_code == 200
    problem(client.get(url, headers=world.north.candidate_headers), 403)
    problem(client.get(url, headers=world.north.api_key_headers), 403)
    problem(client.get(url, headers=world.south.advisor_headers), 404)
