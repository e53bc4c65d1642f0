"""Shared helpers of the HTTP tests: valid bodies, create-and-check, and the list / write contracts every resource
follows (see /work/shared/api-conventions.md). Each helper asserts what a client relies on, so a resource test is
mostly a call to `check_list_contract` and `check_write_contract` plus its own domain rules."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import text

from app.accounts.models import User
from app.events.models import Event
from tests.conftest import TABLES, World, _uid, assert_problem, insert_rows, sync_engine

_seq = itertools.count(1)

# A URL where nothing listens (the discard port, which no test binds): deliveries to it fail at once.
CLOSED_URL = "http://127.0.0.1:9/hooks"
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def seq() -> int:
    """A process-wide counter for unique values (ACGME ids, e-mails, names)."""
    return next(_seq)


# ---- bodies ----------------------------------------------------------------------------------------------------

def program_body(**overrides: Any) -> dict[str, Any]:
    n = seq()
    body = {
        "acgme_id": f"{1400000000 + n:010d}",
        "name": f"Riverbend Internal Medicine {n} (fictional)",
        "institution": "Riverbend Teaching Hospital (fictional)",
        "specialty": "internal_medicine",
        "track": "categorical",
        "state": "NY",
        "city": "Riverbend",
        "sponsors_j1": True,
        "sponsors_h1b": False,
        "source": "https://example.org/riverbend-im/requirements",
        "facts_as_of": "2026-09-01",
    }
    body.update(overrides)
    return body


def candidate_body(**overrides: Any) -> dict[str, Any]:
    n = seq()
    body = {
        "full_name": f"Amina Okafor {n}",
        "email": f"amina{n}@example.org",
        "citizenship_country": "NG",
        "us_status": "none",
        "school_name": "University of Example Medicine",
        "school_country": "NG",
        "graduation_on": "2024-07-15",
        "target_specialties": ["internal_medicine"],
        "target_match_year": 2027,
        "visa_need": "j1",
    }
    body.update(overrides)
    return body


def usce_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "kind": "sub_internship",
        "institution": "Lakeside Teaching Hospital (fictional)",
        "city": "Springfield",
        "state": "IL",
        "specialty": "internal_medicine",
        "start_on": "2026-06-01",
        "end_on": "2026-06-26",
        "supervisor": "Dr. Example Attending",
        "us_letter": True,
    }
    body.update(overrides)
    return body


def milestone_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type_code": "specialty_decided", "status": "completed", "completed_on": "2025-03-01",
                            "notes": "Internal medicine, after the medicine rotation."}
    body.update(overrides)
    return body


def email() -> str:
    return f"user{seq()}-{uuid.uuid4().hex[:6]}@example.org"


# ---- responses -------------------------------------------------------------------------------------------------

def problem(resp: Any, status: int, slug: str | None = None, code: str | None = None) -> dict[str, Any]:
    """`assert_problem` plus the documented members and, for domain refusals, the stable `code`."""
    body = assert_problem(resp, status, slug)
    assert isinstance(body.get("title"), str) and body["title"], body
    assert body["type"].startswith("/problems/"), body
    if code is not None:
        assert body.get("code") == code, body
    return body


def field_names(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body.get("errors") or []}


def created(resp: Any) -> tuple[dict[str, Any], str]:
    """A 201 with the resource, a `Location` that answers the same resource, and an `ETag`."""
    assert resp.status_code == 201, resp.text
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    body = resp.json()
    location = resp.headers["location"]
    assert location.endswith(f"/{body['id']}"), (location, body)
    assert location.startswith("/v1/"), location
    etag = resp.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"'), etag
    return body, etag


def create(client: Any, url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[dict[str, Any], str]:
    return created(client.post(url, json=body, headers=headers))


def get_ok(client: Any, url: str, headers: dict[str, str]) -> tuple[dict[str, Any], str]:
    r = client.get(url, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json(), r.headers["etag"]


# ---- database snapshots ----------------------------------------------------------------------------------------

_VERSIONED = {t for t in TABLES if t not in ("idempotency_record", "event", "audit_record", "feed_consumer",
                                             "computed_state", "webhook_attempt",
                                             "import_job", "import_item")}


def snapshot() -> dict[str, tuple[int, int]]:
    """Row count and the sum of version counters of every table: any insert, delete or update shows."""
    out = {}
    with sync_engine().connect() as conn:
        for t in TABLES:
            if t in _VERSIONED:
                row = conn.execute(text(f"SELECT COUNT(*), COALESCE(SUM(version), 0) FROM {t}")).one()
            else:
                row = conn.execute(text(f"SELECT COUNT(*), 0 FROM {t}")).one()
            out[t] = (int(row[0]), int(row[1]))
    return out


# ---- the list contract -----------------------------------------------------------------------------------------

def page(client: Any, url: str, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = client.get(url, headers=headers, params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"items", "total", "limit", "offset"}, body.keys()
    return body


def walk(client: Any, url: str, headers: dict[str, str], limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every item of a collection, page by page."""
    out: list[dict[str, Any]] = []
    offset = 0
    while True:
        body = page(client, url, headers, limit=limit, offset=offset, **params)
        assert body["limit"] == limit and body["offset"] == offset, body
        out.extend(body["items"])
        offset += limit
        if offset >= body["total"]:
            assert len(body["items"]) == body["total"] - (offset - limit), body
            return out
        assert len(body["items"]) == limit, body


def check_list_contract(client: Any, url: str, headers: dict[str, str], expected_ids: list[str],
                        *, page_size: int = 3) -> list[dict[str, Any]]:
    """Envelope, default and maximum limit, stable order, every item once across pages, correct total.

    `expected_ids` are all ids the collection should hold for this caller, in creation order."""
    n = len(expected_ids)
    first = page(client, url, headers)
    assert first["limit"] == DEFAULT_LIMIT and first["offset"] == 0, first
    assert first["total"] == n, (first["total"], n)
    assert len(first["items"]) == min(n, DEFAULT_LIMIT), len(first["items"])
    ids_default = [i["id"] for i in first["items"]]
    again = page(client, url, headers)
    assert [i["id"] for i in again["items"]] == ids_default, "order is not stable between two reads"

    assert page(client, url, headers, limit=MAX_LIMIT)["total"] == n
    problem(client.get(url, headers=headers, params={"limit": MAX_LIMIT + 1}), 422, "validation-error")
    problem(client.get(url, headers=headers, params={"limit": 0}), 422, "validation-error")
    problem(client.get(url, headers=headers, params={"offset": -1}), 422, "validation-error")

    items = walk(client, url, headers, page_size)
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)), "an item appeared on two pages"
    assert sorted(ids) == sorted(expected_ids), "pages did not return exactly the collection"
    assert ids[:DEFAULT_LIMIT] == ids_default, "paging and the default page disagree on the order"
    beyond = page(client, url, headers, offset=n + 5)
    assert beyond["items"] == [] and beyond["total"] == n
    return items


# ---- the write contract ----------------------------------------------------------------------------------------

def check_write_contract(
    client: Any,
    url: str,
    headers: dict[str, str],
    *,
    patch: dict[str, Any],
    nullable: str | None,
    required: list[str],
    check_patched: Callable[[dict[str, Any]], None] | None = None,
    delete: bool = True,
) -> None:
    """GET with ETag; PATCH needs If-Match (428 / 412 / 200 + new ETag); `null` clears a nullable field and is
    refused for required ones; DELETE needs If-Match (428 / 412 / 204) and the resource is gone (404)."""
    body, etag = get_ok(client, url, headers)
    assert body["id"] == url.rsplit("/", 1)[1]

    before = snapshot()
    problem(client.patch(url, json=patch, headers=headers), 428, "precondition-required")
    problem(client.patch(url, json=patch, headers={**headers, "If-Match": '"v999"'}), 412, "precondition-failed")
    assert snapshot() == before, "a refused PATCH changed data"
    assert get_ok(client, url, headers)[1] == etag

    r = client.patch(url, json=patch, headers={**headers, "If-Match": etag})
    assert r.status_code == 200, r.text
    new_etag = r.headers["etag"]
    assert new_etag != etag, "PATCH must give a new ETag"
    for key, value in patch.items():
        if not isinstance(value, dict):
            assert r.json()[key] == value, (key, r.json()[key], value)
    if check_patched:
        check_patched(r.json())
    got, got_etag = get_ok(client, url, headers)
    assert got_etag == new_etag and got == r.json(), "GET after PATCH does not show the change"
    # the old ETag is stale now
    problem(client.patch(url, json=patch, headers={**headers, "If-Match": etag}), 412, "precondition-failed")

    if nullable is not None:
        assert got[nullable] is not None, f"set {nullable} first to test clearing it"
        r = client.patch(url, json={nullable: None}, headers={**headers, "If-Match": new_etag})
        assert r.status_code == 200, r.text
        assert r.json()[nullable] is None
        new_etag = r.headers["etag"]
    for name in required:
        before = snapshot()
        body422 = problem(client.patch(url, json={name: None}, headers={**headers, "If-Match": new_etag}), 422)
        assert f"body.{name}" in field_names(body422), body422
        assert snapshot() == before

    if not delete:
        return
    before = snapshot()
    problem(client.delete(url, headers=headers), 428, "precondition-required")
    problem(client.delete(url, headers={**headers, "If-Match": etag}), 412, "precondition-failed")
    assert snapshot() == before, "a refused DELETE changed data"
    r = client.delete(url, headers={**headers, "If-Match": new_etag})
    assert r.status_code == 204, r.text
    assert r.content == b""
    problem(client.get(url, headers=headers), 404, "not-found")
    problem(client.delete(url, headers={**headers, "If-Match": new_etag}), 404, "not-found")


# ---- a full set of north's objects ------------------------------------------------------------------------------

@dataclass
class NorthObjects:
    """Ids of one of every kind of north's objects, keyed by the path parameter that names them. `ids` hang from
    north's candidate (with `external_id` set); `other_ids` from north's other candidate; the rest are shared."""

    ids: dict[str, str]
    other_ids: dict[str, str]
    known_email: str
    session_headers: dict[str, str]  # the bearer of the second advisor's session (`session_id`): its owner's


@cache
def _password_hash(password: str) -> str:
    from app.core.security import hash_password

    return hash_password(password)


def _candidate_objects(client: Any, headers: dict[str, str], cid: str, program_listed: str,
                       external_id: str) -> dict[str, str]:
    """Each child carries `external_id` too (unique per candidate), so `.../by-external-id/{external_id}` finds it."""
    base = f"/v1/candidates/{cid}"
    milestone, _ = create(client, f"{base}/milestones", {**milestone_body(), "external_id": external_id}, headers)
    usce, _ = create(client, f"{base}/usce-records", {**usce_body(), "external_id": external_id}, headers)
    plist, _ = create(client, f"{base}/program-lists", {"name": "Main", "external_id": external_id}, headers)
    entry, _ = create(client, f"{base}/program-lists/{plist['id']}/entries", {"program_id": program_listed,
                                                                             "rank_position": 1}, headers)
    calendar, _ = create(client, f"{base}/calendar-subscriptions", {"name": "Phone"}, headers)
    return {"candidate_id": cid, "milestone_id": milestone["id"], "usce_record_id": usce["id"],
            "list_id": plist["id"], "entry_id": entry["id"], "subscription_id": calendar["id"],
            "token": calendar["url"].rsplit("/", 1)[1].removesuffix(".ics")}


def north_objects(client: Any, world: World, *, external_id: str, password: str) -> NorthObjects:
    """Create through the API (and one row directly): a milestone, USCE record, program list and entry for each of
    north's candidates, an unlisted program (`program_id`) and a listed one, a second API key and a second advisor
    whose password is `password`."""
    h = world.north.advisor_headers
    r = client.patch(f"/v1/candidates/{world.north.candidate_id}", json={"external_id": external_id},
                     headers={**h, "If-Match": '"v1"'})
    assert r.status_code == 200, r.text
    program, _ = create(client, "/v1/programs", program_body(), h)  # on no list: can be deleted
    listed, _ = create(client, "/v1/programs", program_body(), h)
    ids = _candidate_objects(client, h, world.north.candidate_id, listed["id"], external_id)
    other_ids = _candidate_objects(client, h, world.north.other_candidate_id, listed["id"], external_id)
    key, _ = create(client, f"/v1/organizations/{world.north.org_id}/api-keys", {"name": "second"},
                    world.admin_headers)
    user_id = uuid.uuid4()
    known_email = f"second.advisor.{seq()}@north.test"
    with sync_engine().begin() as conn:
        insert_rows(conn, User, dict(id=user_id, email=known_email, full_name="Second Advisor",
                                     password_hash=_password_hash(password), role="advisor",
                                     organization_id=uuid.UUID(world.north.org_id)))
    # a sign-in session of that advisor's: someone else's to every caller of the matrix
    signed_in = client.post("/v1/auth/token", data={"username": known_email, "password": password})
    assert signed_in.status_code == 200, signed_in.text
    with sync_engine().connect() as conn:
        event_id = conn.execute(text("SELECT id FROM event WHERE candidate_id = :c ORDER BY seq LIMIT 1"),
                                {"c": _uid(uuid.UUID(world.north.candidate_id))}).scalar_one()
        session_id = conn.execute(text("SELECT id FROM auth_session WHERE user_id = :u"),
                                  {"u": _uid(user_id)}).scalar_one()
    # a webhook endpoint whose receiver refuses connections at once, and the delivery of its test ping
    org = world.north.org_id
    endpoint, _ = create(client, f"/v1/organizations/{org}/webhook-endpoints", {"url": CLOSED_URL}, h)
    ping, _ = created(client.post(f"/v1/organizations/{org}/webhook-endpoints/{endpoint['id']}/test", headers=h))
    # an import, accepted (not applied: no worker runs here)
    imported = client.post("/v1/imports", json={"candidates": [{"external_id": "IMPORTED-1", "full_name": "Imported"}]},
                           headers=h)
    assert imported.status_code == 202, imported.text
    invitation, _ = create(client, "/v1/invitations", {"email": f"invitee.{seq()}@north.test", "full_name": "Invitee",
                                                       "role": "candidate",
                                                       "candidate_id": world.north.other_candidate_id}, h)
    common = {"event_id": str(uuid.UUID(str(event_id))), "program_id": program["id"], "organization_id": org,
              "invitation_id": invitation["id"],
              "api_key_id": key["id"], "user_id": str(user_id), "external_id": external_id,
              "endpoint_id": endpoint["id"], "delivery_id": ping["id"], "import_id": imported.json()["id"],
              "session_id": str(uuid.UUID(str(session_id)))}
    return NorthObjects(ids={**ids, **common}, other_ids={**other_ids, **common}, known_email=known_email,
                        session_headers={"Authorization": f"Bearer {signed_in.json()['access_token']}"})


def insert_event(conn: Any, org_id: str, candidate_id: str, type_: str, subject_type: str) -> None:
    """One event straight into the feed on `conn`, as the write hook writes it (its row built by the model), for
    tests that hold its transaction open or fill the feed faster than writes through the API would."""
    insert_rows(conn, Event, dict(id=uuid.uuid4(), type=type_, occurred_at=datetime.now(UTC),
                                  organization_id=uuid.UUID(org_id), candidate_id=uuid.UUID(candidate_id),
                                  subject_type=subject_type, subject_id=uuid.uuid4(), subject_version=1))


# ---- the document's headers ------------------------------------------------------------------------------------

# Headers of HTTP itself and of every answer alike, which the document does not repeat per operation: the
# representation's (`Content-Type`, `Content-Length`), the connection's, and the security headers every answer
# carries (app.core.observe; the document's introduction names them). Everything else the service sends is its
# contract: declared for the operation and status, as a generic client reads it.
HTTP_HEADERS = frozenset({"content-type", "content-length", "date", "server", "connection", "keep-alive",
                          "transfer-encoding", "vary", "cache-control", "x-content-type-options", "referrer-policy",
                          "x-frame-options", "content-security-policy"})


def undeclared_headers(response_doc: dict[str, Any], headers: Any) -> list[str]:
    """The headers of an answer that its response in the document (`response_doc`) does not declare."""
    names = {name.lower() for name in response_doc.get("headers", {})}
    return sorted({name.lower() for name in headers} - names - HTTP_HEADERS)
