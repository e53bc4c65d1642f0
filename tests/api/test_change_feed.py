"""The change feed and the write hook behind it.

Every write path produces its event, in the transaction of the write: a table of writes, each followed by a read of
the feed from the cursor before it, holds the types, subjects and versions. A refused write (409, 412, 422) and a
write that changes nothing produce none. The cursor neither skips nor repeats, also on PostgreSQL while an older
transaction is still open.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text, update

from app.events.service import CURSOR_PATTERN
from tests.api.helpers import create, insert_event, milestone_body, problem, program_body, snapshot, usce_body
from tests.conftest import PG_URL, World, sync_engine


def feed(client: Any, headers: dict[str, str], after: str | None = None, **params: Any) -> dict[str, Any]:
    r = client.get("/v1/events", headers=headers, params={**({"after": after} if after else {}), **params})
    assert r.status_code == 200, r.text
    return r.json()


def position(client: Any, headers: dict[str, str]) -> str | None:
    """The feed's current end (the cursor after the last event)."""
    after = None
    while True:
        body = feed(client, headers, after, limit=1000)
        after = body["next_cursor"]
        if not body["has_more"]:
            return after


# ---- every write path --------------------------------------------------------------------------------------------

Write = Callable[[Any, World, dict[str, Any]], Any]


def _base(w: World) -> str:
    return f"/v1/candidates/{w.north.candidate_id}"


def _etag_version(resp: Any) -> int:
    return int(resp.headers["etag"].strip('"v'))


def _setup(client: Any, w: World) -> dict[str, Any]:
    """Objects the writes below act on."""
    h = w.north.advisor_headers
    base = _base(w)
    ctx: dict[str, Any] = {}
    ctx["milestone"], _ = create(client, f"{base}/milestones", milestone_body(), h)
    ctx["usce"], _ = create(client, f"{base}/usce-records", usce_body(), h)
    ctx["list"], _ = create(client, f"{base}/program-lists", {"name": "Main"}, h)
    ctx["program"], _ = create(client, "/v1/programs", program_body(), h)
    ctx["entry"], _ = create(client, f"{base}/program-lists/{ctx['list']['id']}/entries",
                             {"program_id": ctx["program"]["id"]}, h)
    return ctx


def _patch(url: str, body: dict[str, Any]) -> Write:
    def run(client: Any, w: World, ctx: dict[str, Any]) -> Any:
        current = client.get(url.format(b=_base(w), **{k: v["id"] for k, v in ctx.items()}),
                             headers=w.north.advisor_headers)
        return client.patch(current.url, json=body, headers={**w.north.advisor_headers,
                                                             "If-Match": current.headers["etag"]})
    return run


def _delete(url: str) -> Write:
    def run(client: Any, w: World, ctx: dict[str, Any]) -> Any:
        target = url.format(b=_base(w), **{k: v["id"] for k, v in ctx.items()})
        current = client.get(target, headers=w.north.advisor_headers)
        return client.delete(target, headers={**w.north.advisor_headers, "If-Match": current.headers["etag"]})
    return run


def _post(url: str, body: Callable[[dict[str, Any]], dict[str, Any]]) -> Write:
    def run(client: Any, w: World, ctx: dict[str, Any]) -> Any:
        return client.post(url.format(b=_base(w), **{k: v["id"] for k, v in ctx.items()}), json=body(ctx),
                           headers=w.north.advisor_headers)
    return run


def _put(url: str, body: dict[str, Any], headers: str = "advisor") -> Write:
    def run(client: Any, w: World, ctx: dict[str, Any]) -> Any:
        h = w.north.advisor_headers if headers == "advisor" else w.north.api_key_headers
        return client.put(url.format(b=_base(w)), json=body, headers=h)
    return run


# (operation id, write, expected event type, subject type) — the subject is the written resource
WRITES: list[tuple[str, Write, str, str]] = [
    ("candidates-create-candidate", _post("/v1/candidates", lambda c: {"full_name": "Feed Candidate"}),
     "candidate.created", "candidate"),
    ("candidates-update-candidate", _patch("{b}", {"school_name": "Feed School"}),
     "candidate.updated", "candidate"),
    ("candidates-upsert-candidate-by-external-id",
     _put("/v1/candidates/by-external-id/FEED-1", {"full_name": "Feed Upsert"}, "key"),
     "candidate.created", "candidate"),
    ("milestones-create-milestone",
     _post("{b}/milestones", lambda c: milestone_body(type_code="oet_medicine", status="planned",
                                                      completed_on=None)),
     "milestone.created", "milestone"),
    ("milestones-update-milestone", _patch("{b}/milestones/{milestone}", {"notes": "changed"}),
     "milestone.updated", "milestone"),
    ("milestones-upsert-milestone-by-external-id",
     _put("{b}/milestones/by-external-id/M-1", milestone_body(type_code="mentor_contact", status="planned",
                                                              completed_on=None)),
     "milestone.created", "milestone"),
    ("milestones-delete-milestone", _delete("{b}/milestones/{milestone}"), "milestone.deleted", "milestone"),
    ("usce-create-usce-record",
     _post("{b}/usce-records", lambda c: usce_body(institution="Second Hospital (fictional)")),
     "usce_record.created", "usce_record"),
    ("usce-update-usce-record", _patch("{b}/usce-records/{usce}", {"supervisor": "Dr. Other"}),
     "usce_record.updated", "usce_record"),
    ("usce-upsert-usce-record-by-external-id", _put("{b}/usce-records/by-external-id/U-1", usce_body()),
     "usce_record.created", "usce_record"),
    ("usce-delete-usce-record", _delete("{b}/usce-records/{usce}"), "usce_record.deleted", "usce_record"),
    ("program-lists-create-program-list", _post("{b}/program-lists", lambda c: {"name": "Second"}),
     "program_list.created", "program_list"),
    ("program-lists-update-program-list", _patch("{b}/program-lists/{list}", {"cycle": 2028}),
     "program_list.updated", "program_list"),
    ("program-lists-upsert-program-list-by-external-id",
     _put("{b}/program-lists/by-external-id/L-1", {"name": "Synced"}),
     "program_list.created", "program_list"),
    ("program-lists-create-entry",
     _post("{b}/program-lists/{list}/entries", lambda c: {"program_id": create_program_id(c)}),
     "program_list_entry.created", "program_list_entry"),
    ("program-lists-update-entry", _patch("{b}/program-lists/{list}/entries/{entry}", {"status": "applied"}),
     "program_list_entry.updated", "program_list_entry"),
    ("program-lists-delete-entry", _delete("{b}/program-lists/{list}/entries/{entry}"),
     "program_list_entry.deleted", "program_list_entry"),
    ("program-lists-delete-program-list", _delete("{b}/program-lists/{list}"),
     "program_list.deleted", "program_list"),
    ("candidates-delete-candidate", _delete("/v1/candidates/{w_other}"), "candidate.deleted", "candidate"),
]


def test_the_table_covers_every_write_to_a_candidates_record():
    """A new write operation on a candidate's record fails here until it is in WRITES (and so has its event)."""
    from app.main import create_app

    spec = create_app().openapi()
    writes = {op["operationId"] for path, item in spec["paths"].items() if path.startswith("/v1/candidates")
              for method, op in item.items() if method in ("post", "put", "patch", "delete")}
    # calendar subscriptions are credentials to a candidate's record, not part of it: audited, not in the feed
    credentials = {"calendar-subscriptions-create-calendar-subscription",
                   "calendar-subscriptions-revoke-calendar-subscription"}
    # erasure deletes through the ORM (so its candidate.deleted is the hook's) and then scrubs the feed itself:
    # tests/api/test_privacy.py checks the event it leaves
    erasure = {"privacy-erase-candidate"}
    assert writes - {w[0] for w in WRITES} == credentials | erasure


def create_program_id(ctx: dict[str, Any]) -> str:
    return str(ctx["second_program"]["id"])


@pytest.mark.parametrize("label,write,event_type,subject_type", WRITES, ids=[w[0] for w in WRITES])
def test_every_write_path_produces_its_event(client, world, label, write, event_type, subject_type):
    h = world.north.advisor_headers
    ctx = _setup(client, world)
    ctx["second_program"], _ = create(client, "/v1/programs", program_body(), h)
    ctx["w_other"] = {"id": world.north.other_candidate_id}
    before = position(client, h)

    resp = write(client, world, ctx)
    assert 200 <= resp.status_code < 300, resp.text

    events = feed(client, h, before)["items"]
    assert [e["type"] for e in events] == [event_type], events
    ev = events[0]
    assert ev["subject"]["type"] == subject_type
    assert ev["organization_id"] == world.north.org_id
    if resp.status_code != 204:
        assert ev["subject"]["id"] == resp.json()["id"]
        assert ev["subject"]["version"] == _etag_version(resp) == resp.json()["version"]
        assert ev["data"]["object"] == resp.json()
    if event_type.endswith(".updated"):
        assert ev["data"]["changed_fields"], ev
    if subject_type != "candidate" or event_type != "candidate.created":
        assert ev["candidate_id"] in (world.north.candidate_id, world.north.other_candidate_id,
                                      ev["subject"]["id"])
    # the same event, by id
    one = client.get(f"/v1/events/{ev['id']}", headers=h)
    assert one.status_code == 200 and one.json() == ev


def test_a_deleted_candidate_leaves_only_ids_in_the_feed(client, world):
    h = world.north.advisor_headers
    before = position(client, h)
    cid = world.north.other_candidate_id
    etag = client.get(f"/v1/candidates/{cid}", headers=h).headers["etag"]
    assert client.delete(f"/v1/candidates/{cid}", headers={**h, "If-Match": etag}).status_code == 204
    (ev,) = feed(client, h, before)["items"]
    assert ev["type"] == "candidate.deleted"
    assert set(ev["data"]["object"]) == {"id", "external_id", "organization_id"}
    assert "north candidate two" not in str(ev)


def test_refused_and_empty_writes_produce_no_event(client, world):
    h = world.north.advisor_headers
    base = _base(world)
    create(client, f"{base}/program-lists", {"name": "Main"}, h)
    ms, etag = create(client, f"{base}/milestones", milestone_body(), h)
    before = position(client, h)
    rows_before = snapshot()

    # 409: a second list of the same name
    problem(client.post(f"{base}/program-lists", json={"name": "Main"}, headers=h), 409)
    # 412: a stale If-Match
    problem(client.patch(f"{base}/milestones/{ms['id']}", json={"notes": "x"}, headers={**h, "If-Match": '"v99"'}),
            412)
    # 422: a body the rules refuse
    problem(client.post(f"{base}/milestones", json={"type_code": "usmle_step2cs", "status": "passed",
                                                     "completed_on": "2026-01-01"}, headers=h), 422)
    # a PATCH that changes nothing keeps the version and writes nothing
    r = client.patch(f"{base}/milestones/{ms['id']}", json={"notes": ms["notes"]}, headers={**h, "If-Match": etag})
    assert r.status_code == 200 and r.headers["etag"] == etag and r.json()["version"] == ms["version"]
    assert r.json()["updated_at"] == ms["updated_at"]

    assert feed(client, h, before)["items"] == []
    assert snapshot() == rows_before


def test_upsert_twice_is_one_row_and_one_event(client, world):
    h = world.north.api_key_headers
    url = f"{_base(world)}/milestones/by-external-id/SIS-STEP1"
    body = {"type_code": "usmle_step1", "status": "passed", "completed_on": "2025-05-02",
            "result": {"outcome": None}}
    body.pop("result")
    before = position(client, h)
    first = client.put(url, json=body, headers=h)
    assert first.status_code == 201, first.text
    assert first.headers["upsert-result"] == "created"
    assert first.headers["location"].endswith(f"/milestones/{first.json()['id']}")
    second = client.put(url, json=body, headers=h)
    assert second.status_code == 200 and second.headers["upsert-result"] == "unchanged"
    assert second.json() == first.json() and second.headers["etag"] == first.headers["etag"]
    changed = client.put(url, json={**body, "notes": "from the SIS"}, headers=h)
    assert changed.status_code == 200 and changed.headers["upsert-result"] == "updated"
    assert changed.json()["version"] == first.json()["version"] + 1
    items = client.get(f"{_base(world)}/milestones", headers=h, params={"type_code": "usmle_step1"}).json()
    assert items["total"] == 1
    assert [e["type"] for e in feed(client, h, before)["items"]] == ["milestone.created", "milestone.updated"]
    got = client.get(url, headers=h)
    assert got.status_code == 200 and got.json() == changed.json()


@pytest.mark.parametrize(("child", "body"), [
    ("milestones", milestone_body(type_code="usmle_step1", status="planned")),
    ("usce-records", usce_body()),
    ("program-lists", {"name": "Synced"}),
])
@pytest.mark.parametrize("sent", ["OTHER-1", "SIS-1", None])
def test_an_upsert_body_leaves_the_external_id_to_the_path(client, world, child, body, sent):
    # The path names the external id; the body's schema has no such field, and a body that sends one (even the
    # same value, or null) is refused as any field the schema lacks is, and nothing is written.
    h = world.north.api_key_headers
    schema = client.get("/openapi.json").json()
    op = schema["paths"][f"/v1/candidates/{{candidate_id}}/{child}/by-external-id/{{external_id}}"]["put"]
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    components = schema["components"]["schemas"]
    body_schema = components[ref]
    # a milestone's body is one variant per type (oneOf): none of them names the external id
    variants = [components[v["$ref"].rsplit("/", 1)[1]] for v in body_schema["oneOf"]] if "oneOf" in body_schema \
        else [body_schema]
    assert variants and all("external_id" not in v["properties"] for v in variants)
    before = snapshot()
    b = problem(client.put(f"{_base(world)}/{child}/by-external-id/SIS-1", json={**body, "external_id": sent},
                           headers=h), 422, "validation-error")
    assert [(e["field"], e["code"]) for e in b["errors"]] == [("body.external_id", "extra_forbidden")]
    assert snapshot() == before


# ---- reading the feed ----------------------------------------------------------------------------------------------

def test_cursor_pages_neither_skip_nor_repeat(client, world):
    h = world.north.advisor_headers
    start = position(client, h)
    for i in range(7):
        create(client, f"{_base(world)}/program-lists", {"name": f"List {i}"}, h)
    seen: list[str] = []
    after = start
    while True:
        body = feed(client, h, after, limit=3)
        seen += [e["id"] for e in body["items"]]
        assert len(body["items"]) <= 3
        after = body["next_cursor"]
        if body["items"]:
            assert after == body["items"][-1]["cursor"]
        if not body["has_more"]:
            break
    assert len(seen) == len(set(seen)) == 7
    # at the end, the cursor stays put and new events appear after it
    assert feed(client, h, after)["items"] == []
    assert feed(client, h, after)["next_cursor"] == after
    create(client, f"{_base(world)}/program-lists", {"name": "Later"}, h)
    assert [e["data"]["object"]["name"] for e in feed(client, h, after)["items"]] == ["Later"]


def test_a_cursor_is_a_position_in_either_form(client, world):
    """Any position the declared pattern allows reads on from there; the earlier base64 form of a cursor reads the
    same page; anything else is refused, naming the parameter."""
    import base64

    h = world.north.advisor_headers
    start = position(client, h)
    for i in range(3):
        create(client, f"{_base(world)}/program-lists", {"name": f"List {i}"}, h)
    items = feed(client, h, start)["items"]
    cursors = [e["cursor"] for e in items]
    assert len(cursors) == 3 and all(re.fullmatch(CURSOR_PATTERN, c) for c in cursors)
    txid, seq = (int(x) for x in cursors[0].split("."))
    # a cursor never handed out (the first event's position, written with leading zeros) reads the events after it
    assert [e["id"] for e in feed(client, h, f"0{txid}.00{seq}")["items"]] == [e["id"] for e in items[1:]]
    assert feed(client, h, f"{10**18 - 1}.0")["items"] == []
    assert feed(client, h, f"{10**18 - 1}.0")["next_cursor"] == f"{10**18 - 1}.0"
    legacy = base64.urlsafe_b64encode(cursors[0].encode()).decode().rstrip("=")
    assert feed(client, h, legacy) == feed(client, h, cursors[0])
    for bad in ("", "abc", "1.2.3", "1", "-1.2", f"{10**18}.0", "MS4yLjM", "x" * 65, "1.2 ", "1.2\n"):
        body = problem(client.get("/v1/events", headers=h, params={"after": bad}), 422)
        assert body["errors"][0]["field"] == "query.after", bad
        assert body["errors"][0]["code"] == "invalid_cursor", bad


def test_types_filter_and_wildcard(client, world):
    h = world.north.advisor_headers
    start = position(client, h)
    base = _base(world)
    create(client, f"{base}/milestones", milestone_body(), h)
    create(client, f"{base}/usce-records", usce_body(), h)
    types = [e["type"] for e in feed(client, h, start, types="usce_record.created")["items"]]
    assert types == ["usce_record.created"]
    assert [e["type"] for e in feed(client, h, start, types="milestone.*")["items"]] == ["milestone.created"]
    both = feed(client, h, start, types="milestone.created,usce_record.*")["items"]
    assert [e["type"] for e in both] == ["milestone.created", "usce_record.created"]
    assert feed(client, h, start, types=" milestone.created , usce_record.* ")["items"] == both
    assert feed(client, h, start, types="")["items"] == feed(client, h, start)["items"]


TYPES_VALUES = ["milestone.created", "milestone.*", " milestone.created , usce_record.* ", "",
                "milestone.exploded", "milestone", "*", "milestone.created,", ",", "milestone.created\t",
                "milestone.created\n", "milestone.created,,candidate.*", "Milestone.created", "readiness.*"]


@pytest.mark.parametrize("value", TYPES_VALUES)
def test_the_types_filter_takes_what_its_declared_pattern_takes(client, world, value):
    """The document's pattern (read with ECMA-262 semantics, as a client's validator reads it) and the feed agree
    on every value: what the pattern refuses is a 422 naming `query.types`, what it allows is read."""
    from jsonschema_rs import Draft202012Validator

    declared = next(p for p in client.get("/openapi.json").json()["paths"]["/v1/events"]["get"]["parameters"]
                    if p["name"] == "types")["schema"]
    r = client.get("/v1/events", params={"types": value}, headers=world.north.advisor_headers)
    if Draft202012Validator(declared).is_valid(value):
        assert r.status_code == 200, r.text
    else:
        body = problem(r, 422)
        assert body["errors"][0] == {**body["errors"][0], "field": "query.types", "code": "unknown_event_type"}


@pytest.mark.parametrize("params,field", [
    ({"after": "bm90LWEtY3Vyc29y"}, "query.after"),
    ({"after": "!!"}, "query.after"),
    ({"types": "milestone.exploded"}, "query.types"),
    ({"limit": 0}, "query.limit"),
    ({"limit": 1001}, "query.limit"),
])
def test_bad_feed_queries_are_422_naming_the_field(client, world, params, field):
    body = problem(client.get("/v1/events", params=params, headers=world.north.advisor_headers), 422)
    assert field in {e["field"] for e in body["errors"]}, body


def test_each_caller_sees_only_their_own_events(client, world):
    n, s = world.north, world.south
    create(client, f"/v1/candidates/{n.candidate_id}/milestones", milestone_body(), n.advisor_headers)
    create(client, f"/v1/candidates/{n.other_candidate_id}/milestones", milestone_body(), n.advisor_headers)
    create(client, f"/v1/candidates/{s.candidate_id}/milestones", milestone_body(), s.advisor_headers)

    def orgs(headers: dict[str, str], **params: Any) -> set[str]:
        return {e["organization_id"] for e in feed(client, headers, **params)["items"]}

    assert orgs(n.advisor_headers) == {n.org_id}
    assert orgs(n.api_key_headers) == {n.org_id}
    assert orgs(s.advisor_headers) == {s.org_id}
    assert orgs(world.admin_headers) == {n.org_id, s.org_id}
    assert orgs(world.admin_headers, organization_id=s.org_id) == {s.org_id}
    mine = feed(client, n.candidate_headers)["items"]
    assert mine and {e["candidate_id"] for e in mine} == {n.candidate_id}
    problem(client.get("/v1/events", params={"organization_id": s.org_id}, headers=n.advisor_headers), 403)
    south_event = feed(client, s.advisor_headers)["items"][0]["id"]
    problem(client.get(f"/v1/events/{south_event}", headers=n.advisor_headers), 404)
    problem(client.get(f"/v1/events/{uuid.uuid4()}", headers=n.advisor_headers), 404)


# ---- the hook itself ---------------------------------------------------------------------------------------------

def test_bulk_writes_on_described_tables_are_refused(world):
    import asyncio

    from app.core.db import db
    from app.milestones.models import Milestone

    async def bulk() -> None:
        async with db.session() as session:
            await session.execute(update(Milestone).values(notes="bulk"))

    with pytest.raises(RuntimeError, match="bypasses the write hook"):
        asyncio.run(bulk())


def test_a_bulk_insert_is_seen_as_a_flush_is_and_one_without_its_rows_is_refused(client, world):
    """An ORM bulk INSERT (what an import writes new candidates' rows with) makes the same event, facts bump and
    audit row as a milestone created through the ORM; an INSERT whose rows the hook cannot see is refused."""
    import asyncio

    from sqlalchemy import insert

    from app.core.db import db
    from app.core.models import new_row
    from app.milestones.models import Milestone

    h = world.north.advisor_headers
    start = position(client, h)
    cid = uuid.UUID(world.north.candidate_id)
    facts = "SELECT facts_version FROM candidate WHERE id = :id"
    with sync_engine().connect() as conn:
        before = conn.execute(text(facts), {"id": cid.hex if not PG_URL else cid}).scalar()
    row = new_row(Milestone, candidate_id=cid, type_code="mentor_contact", status="completed",
                  completed_on=date(2025, 3, 1))

    async def bulk(stmt: Any, rows: Any) -> None:
        async with db.session() as session:
            await session.execute(stmt, rows)
            await session.commit()

    asyncio.run(bulk(insert(Milestone), [row]))
    (ev,) = feed(client, h, start)["items"]
    assert ev["type"] == "milestone.created" and ev["candidate_id"] == world.north.candidate_id
    assert ev["subject"] == {"type": "milestone", "id": str(row["id"]), "external_id": None, "version": 1}
    got = client.get(f"{_base(world)}/milestones/{row['id']}", headers=h).json()
    assert ev["data"]["object"] == {k: got[k] for k in ev["data"]["object"]}, (ev["data"]["object"], got)
    with sync_engine().connect() as conn:
        assert conn.execute(text(facts), {"id": cid.hex if not PG_URL else cid}).scalar() == before + 1
    audit = client.get(f"/v1/organizations/{world.north.org_id}/audit", headers=h,
                       params={"limit": 100}).json()["items"]
    assert [a["action"] for a in audit if a["subject_id"] == str(row["id"])] == ["create"]

    other = new_row(Milestone, candidate_id=cid, type_code="mentor_contact", status="planned")
    with pytest.raises(RuntimeError, match="must pass its rows as parameters"):
        asyncio.run(bulk(insert(Milestone).values(**other), None))


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: SQLite has one writer at a time, so seq is commit order")
def test_an_open_older_transaction_holds_the_feed_back_until_it_commits(client, world):
    """A transaction that began writing before another, and commits after it, must not be skipped by a reader
    that polled in between: the feed stops short of it while it is open."""
    h = world.north.advisor_headers
    start = position(client, h)
    org = world.north.org_id
    with sync_engine().connect() as older:
        tx = older.begin()
        insert_event(older, org, world.north.candidate_id, "program_list.created", "program_list")
        create(client, f"{_base(world)}/milestones", milestone_body(), h)  # commits after the older one began
        assert feed(client, h, start)["items"] == []  # held back: nothing may appear behind a handed-out cursor
        tx.commit()
    types = [e["type"] for e in feed(client, h, start)["items"]]
    assert types == ["program_list.created", "milestone.created"]


def test_event_rows_go_with_the_write_when_the_transaction_fails(client, world):
    """No event without its change: a write whose commit fails leaves no event row."""
    h = world.north.advisor_headers
    base = _base(world)
    create(client, f"{base}/program-lists", {"name": "Taken"}, h)
    with sync_engine().connect() as conn:
        before = conn.execute(text("SELECT COUNT(*) FROM event")).scalar_one()
    problem(client.post(f"{base}/program-lists", json={"name": "Taken"}, headers=h), 409)
    with sync_engine().connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM event")).scalar_one() == before
