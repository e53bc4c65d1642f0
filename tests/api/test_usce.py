"""US clinical experience records: hands-on defaults, date order, derived weeks."""

from __future__ import annotations

import pytest

from tests.api.helpers import (
    check_list_contract,
    check_write_contract,
    create,
    field_names,
    get_ok,
    page,
    problem,
    snapshot,
    usce_body,
)


def _url(world, cand=None):  # type: ignore[no-untyped-def]
    return f"/v1/candidates/{cand or world.north.candidate_id}/usce-records"


@pytest.mark.parametrize("kind,hands_on", [("elective", True), ("sub_internship", True), ("externship", True),
                                           ("observership", False), ("research", False), ("volunteer", False)])
def test_hands_on_defaults_from_the_kind(client, world, kind, hands_on):
    rec, etag = create(client, _url(world), usce_body(kind=kind), world.north.advisor_headers)
    assert rec["hands_on"] is hands_on and rec["kind"] == kind and etag == '"v1"'
    # and can be overridden either way
    rec2, _ = create(client, _url(world), usce_body(kind=kind, hands_on=not hands_on), world.north.advisor_headers)
    assert rec2["hands_on"] is (not hands_on)


@pytest.mark.parametrize("start,end,weeks", [
    ("2026-06-01", "2026-06-01", 1),
    ("2026-06-01", "2026-06-07", 1),
    ("2026-06-01", "2026-06-08", 2),
    ("2026-06-01", "2026-06-26", 4),  # a Monday-to-Friday four-week rotation
    ("2026-06-01", "2026-06-28", 4),
    ("2026-06-01", "2026-06-29", 5),
    ("2024-01-01", "2024-12-31", 53),
])
def test_weeks_are_derived_from_the_dates(client, world, start, end, weeks):
    rec, _ = create(client, _url(world), usce_body(start_on=start, end_on=end), world.north.advisor_headers)
    assert rec["weeks"] == weeks


def test_end_must_not_precede_start(client, world):
    before = snapshot()
    b = problem(client.post(_url(world), json=usce_body(start_on="2026-06-10", end_on="2026-06-09"),
                            headers=world.north.advisor_headers), 422, "validation-error")
    assert "end_on" in b["detail"] or any("end_on" in e["message"] for e in b["errors"])
    problem(client.post(_url(world), json=usce_body(start_on="2020-01-01", end_on="2025-06-01"),
                        headers=world.north.advisor_headers), 422, "validation-error")
    assert snapshot() == before


@pytest.mark.parametrize("over,field", [
    ({"kind": "shadowing"}, "body.kind"), ({"institution": ""}, "body.institution"),
    ({"state": "Illinois"}, "body.state"), ({"specialty": "Internal Medicine"}, "body.specialty"),
    ({"start_on": "2026-13-01"}, "body.start_on"), ({"weeks": 4}, "body.weeks"),
    ({"end_on": None}, "body.end_on"), ({"hands_on": "yes please"}, "body.hands_on"),
])
def test_invalid_fields_are_422(client, world, over, field):
    before = snapshot()
    b = problem(client.post(_url(world), json=usce_body(**over), headers=world.north.advisor_headers), 422,
                "validation-error")
    assert field in field_names(b), b
    assert snapshot() == before


def test_patch_keeps_dates_in_order_and_recomputes_weeks(client, world):
    h = world.north.advisor_headers
    rec, etag = create(client, _url(world), usce_body(), h)
    url = f"{_url(world)}/{rec['id']}"
    before = snapshot()
    # one date against the other as stored: a conflict with the record, naming the date sent
    b = problem(client.patch(url, json={"start_on": "2026-07-01"}, headers={**h, "If-Match": etag}), 409,
                "conflict", code="date_order")
    assert field_names(b) == {"body.start_on"} and "as stored" in b["detail"]
    b = problem(client.patch(url, json={"end_on": "2026-05-01"}, headers={**h, "If-Match": etag}), 409,
                "conflict", code="date_order")
    assert field_names(b) == {"body.end_on"}
    # the precondition comes before the stored record's part
    problem(client.patch(url, json={"end_on": "2026-05-01"}, headers=h), 428)
    problem(client.patch(url, json={"end_on": "2026-05-01"}, headers={**h, "If-Match": '"v99"'}), 412)
    # both dates in the body, out of order: the body's own fault, whatever the If-Match
    for sent in ({**h, "If-Match": etag}, {**h, "If-Match": '"v99"'}):
        b = problem(client.patch(url, json={"start_on": "2026-07-01", "end_on": "2026-06-01"}, headers=sent), 422,
                    "validation-error")
        assert any("end_on must be on or after start_on" in e["message"] for e in b["errors"]), b
    assert snapshot() == before
    r = client.patch(url, json={"end_on": "2026-07-26"}, headers={**h, "If-Match": etag})
    assert r.status_code == 200 and r.json()["weeks"] == 8
    # changing the kind does not silently flip hands_on
    r = client.patch(url, json={"kind": "observership"}, headers={**h, "If-Match": r.headers["etag"]})
    assert r.status_code == 200 and r.json()["hands_on"] is True


def test_list_contract_and_filters(client, world):
    h = world.north.advisor_headers
    ids = []
    for day in range(1, 8):
        kind = "observership" if day % 2 else "elective"
        ids.append(create(client, _url(world), usce_body(kind=kind, start_on=f"2026-0{day}-01",
                                                         end_on=f"2026-0{day}-20"), h)[0]["id"])
    create(client, _url(world, world.north.other_candidate_id), usce_body(), h)
    items = check_list_contract(client, _url(world), h, ids, page_size=3)
    assert [i["id"] for i in items] == ids  # by start date
    assert [i["id"] for i in page(client, _url(world), h, sort="-start_on")["items"]] == ids[::-1]
    hands_on = page(client, _url(world), h, hands_on="true")
    assert hands_on["total"] == 3 and all(i["hands_on"] for i in hands_on["items"])
    assert page(client, _url(world), h, kind="observership")["total"] == 4
    for bad in ({"kind": "shadowing"}, {"hands_on": "maybe"}, {"sort": "institution"}):
        problem(client.get(_url(world), headers=h, params=bad), 422, "validation-error")


def test_write_contract(client, world):
    rec, _ = create(client, _url(world), usce_body(), world.north.advisor_headers)
    check_write_contract(client, f"{_url(world)}/{rec['id']}", world.north.advisor_headers,
                         patch={"supervisor": "Dr. New Attending", "us_letter": False, "hands_on": False},
                         nullable="city",
                         required=["kind", "hands_on", "institution", "start_on", "end_on", "us_letter"])


def test_candidate_keeps_their_own_records_only(client, world):
    rec, _ = create(client, _url(world), usce_body(), world.north.candidate_headers)
    assert get_ok(client, f"{_url(world)}/{rec['id']}", world.north.candidate_headers)[0] == rec
    before = snapshot()
    problem(client.post(_url(world, world.north.other_candidate_id), json=usce_body(),
                        headers=world.north.candidate_headers), 404, "not-found")
    for sh in (world.south.advisor_headers, world.south.api_key_headers):
        problem(client.get(f"{_url(world)}/{rec['id']}", headers=sh), 404, "not-found")
        problem(client.delete(f"{_url(world)}/{rec['id']}", headers={**sh, "If-Match": '"v1"'}), 404, "not-found")
    problem(client.get(f"{_url(world, world.north.other_candidate_id)}/{rec['id']}",
                       headers=world.north.advisor_headers), 404, "not-found")
    assert snapshot() == before
