"""The audit trail: the write hook records who changed which record and which fields (names, never values); the
organization's trail is filtered by candidate, actor, action and time; no route writes to it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from tests.api.helpers import create, field_names, milestone_body, problem
from tests.conftest import World, count_rows, sync_engine


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


# ---- the filters: each narrows what the others leave ---------------------------------------------------------

ACTOR_A, ACTOR_B, CAND_1, CAND_2 = (uuid.UUID(int=n) for n in (0xA, 0xB, 0xC1, 0xC2))
T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
# name: (hours after T0, actor, candidate, action); r9 is another organization's, at T1, by actor A
TRAIL = {"r0": (0, ACTOR_A, CAND_1, "update"), "r1": (1, ACTOR_B, CAND_1, "read"),
         "r2": (2, ACTOR_A, CAND_2, "create"), "r3": (3, ACTOR_B, None, "sign_in")}


def _at(hours: float) -> str:
    return (T0 + hours * HOUR).isoformat().replace("+00:00", "Z")


@pytest.fixture
def seeded(world: World) -> dict[str, str]:
    """The rows straight into the table (their times are the test's), and the id of each."""
    from app.audit.models import AuditRecord
    from app.core.models import table_of

    rows = {name: {"id": uuid.uuid4(), "occurred_at": T0 + h * HOUR, "organization_id": uuid.UUID(world.north.org_id),
                   "candidate_id": cand, "actor_type": "user", "actor_id": actor, "actor_role": "advisor",
                   "action": action, "subject_type": "candidate", "subject_id": cand or uuid.uuid4(),
                   "changed_fields": []}
            for name, (h, actor, cand, action) in TRAIL.items()}
    rows["r9"] = {**rows["r1"], "id": uuid.uuid4(), "actor_id": ACTOR_A,
                  "organization_id": uuid.UUID(world.south.org_id)}
    with sync_engine().begin() as conn:
        conn.execute(insert(table_of(AuditRecord)), list(rows.values()))
    return {str(r["id"]): name for name, r in rows.items()}


@pytest.mark.parametrize(("params", "expected"), [
    ({}, ["r3", "r2", "r1", "r0"]),
    ({"actor_id": ACTOR_A}, ["r2", "r0"]),
    ({"actor_id": ACTOR_B}, ["r3", "r1"]),
    ({"actor_id": uuid.UUID(int=0xD)}, []),
    ({"since": _at(1)}, ["r3", "r2", "r1"]),                      # inclusive
    ({"since": _at(1).replace("Z", ".000001Z")}, ["r3", "r2"]),
    ({"since": "2026-11-30T13:00:00+02:00"}, ["r3", "r2", "r1"]),  # 11:00Z: the zone is read
    ({"until": _at(2)}, ["r1", "r0"]),                              # exclusive
    ({"until": "2026-11-30T09:00:01-03:00"}, ["r2", "r1", "r0"]),  # 12:00:01Z
    ({"since": _at(1), "until": _at(3)}, ["r2", "r1"]),
    ({"since": _at(1), "until": _at(1)}, []),                       # an empty window, not an error
    ({"since": _at(2), "until": _at(1)}, []),                       # nor one that ends before it starts: the
    # document cannot say that one parameter bounds another, so what it calls valid is answered (empty)
    ({"since": _at(1), "actor_id": ACTOR_A}, ["r2"]),
    ({"until": _at(3), "actor_id": ACTOR_B}, ["r1"]),
    ({"candidate_id": CAND_1, "actor_id": ACTOR_B}, ["r1"]),
    ({"action": "read", "actor_id": ACTOR_A}, []),
    ({"action": "sign_in", "since": _at(2)}, ["r3"]),
])
def test_the_filters_narrow_the_trail(client, world, seeded, params, expected):
    got = trail(client, world, **{k: str(v) for k, v in params.items()})
    assert [seeded[r["id"]] for r in got] == expected


@pytest.mark.parametrize(("params", "field"), [
    ({"since": "yesterday"}, "query.since"),
    ({"since": "1700000000"}, "query.since"),                # a Unix time is not RFC 3339
    ({"until": "2026-11-30T10:00:00"}, "query.until"),       # no zone
    ({"until": "2026-13-01T00:00:00Z"}, "query.until"),      # no 13th month
    ({"since": "2026-11-30 10:00:00Z"}, "query.since"),
    ({"actor_id": "not-a-uuid"}, "query.actor_id"),
    ({"actor_id": ""}, "query.actor_id"),
])
def test_bad_filters_are_a_422_that_names_the_parameter(client, world, params, field):
    r = client.get(f"/v1/organizations/{world.north.org_id}/audit", headers=world.north.advisor_headers,
                   params=params)
    body = problem(r, 422, "validation-error")
    assert field_names(body) == {field}, body


# ---- no API changes an audit row ----------------------------------------------------------------------------

AUDIT_PATHS = ("/audit", "/access-log")


def test_every_audit_operation_in_the_document_is_a_read(app):
    paths = {p: ops for p, ops in app.openapi()["paths"].items() if any(s in p for s in AUDIT_PATHS)}
    assert {s for s in AUDIT_PATHS if any(s in p for p in paths)} == set(AUDIT_PATHS), sorted(paths)
    methods = {(p, m) for p, ops in paths.items() for m in ops if m != "parameters"}
    assert methods == {(p, "get") for p in paths}, sorted(methods)


def test_no_route_answers_a_write_on_an_audit_path(app, client, world):
    from fastapi.routing import APIRoute

    routes = [r for r in app.routes if isinstance(r, APIRoute) and any(s in r.path for s in AUDIT_PATHS)]
    assert routes and all(r.methods <= {"GET", "HEAD"} for r in routes), [(r.path, r.methods) for r in routes]
    org, cid = world.north.org_id, world.north.candidate_id
    for url in (f"/v1/organizations/{org}/audit", f"/v1/candidates/{cid}/access-log"):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            r = client.request(method, url, headers=world.admin_headers, json={})
            assert r.status_code == 405, (method, url, r.status_code)
            assert r.headers["content-type"].startswith("application/problem+json"), (method, url)
