"""A candidate's program lists and their entries: one entry per program, rank positions unique within a list."""

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
    program_body,
    snapshot,
)
from tests.conftest import count_rows


def _lists(world, cand=None):  # type: ignore[no-untyped-def]
    return f"/v1/candidates/{cand or world.north.candidate_id}/program-lists"


@pytest.fixture
def setup(client, world):  # type: ignore[no-untyped-def]
    h = world.north.advisor_headers
    programs = [create(client, "/v1/programs", program_body(name=f"P{i}"), h)[0] for i in range(4)]
    plist, _ = create(client, _lists(world), {"name": "IM 2028", "cycle": 2028}, h)
    return programs, plist, f"{_lists(world)}/{plist['id']}/entries"


# ---- lists -----------------------------------------------------------------------------------------------------

def test_create_a_list(client, world):
    plist, etag = create(client, _lists(world), {"name": "  Prelim backups ", "cycle": 2028},
                         world.north.candidate_headers)
    assert plist == {**plist, "name": "Prelim backups", "cycle": 2028, "candidate_id": world.north.candidate_id}
    assert get_ok(client, f"{_lists(world)}/{plist['id']}", world.north.advisor_headers) == (plist, etag)


def test_list_names_are_unique_per_candidate(client, world):
    h = world.north.advisor_headers
    plist, _ = create(client, _lists(world), {"name": "Main"}, h)
    other, etag = create(client, _lists(world), {"name": "Second"}, h)
    before = snapshot()
    problem(client.post(_lists(world), json={"name": "Main"}, headers=h), 409, "conflict", code="list_name_taken")
    problem(client.patch(f"{_lists(world)}/{other['id']}", json={"name": "Main"}, headers={**h, "If-Match": etag}),
            409, "conflict", code="list_name_taken")
    assert snapshot() == before
    create(client, _lists(world, world.north.other_candidate_id), {"name": "Main"}, h)


@pytest.mark.parametrize("body,field", [({}, "body.name"), ({"name": ""}, "body.name"),
                                        ({"name": "x" * 121}, "body.name"), ({"name": "A", "cycle": 1999},
                                                                              "body.cycle"),
                                        ({"name": "A", "owner": "me"}, "body.owner")])
def test_invalid_lists_are_422(client, world, body, field):
    b = problem(client.post(_lists(world), json=body, headers=world.north.advisor_headers), 422, "validation-error")
    assert field in field_names(b)


def test_lists_list_contract(client, world):
    h = world.north.advisor_headers
    ids = [create(client, _lists(world), {"name": f"List {i}"}, h)[0]["id"] for i in range(7)]
    create(client, _lists(world, world.north.other_candidate_id), {"name": "Theirs"}, h)
    items = check_list_contract(client, _lists(world), h, ids, page_size=3)
    assert [i["id"] for i in items] == ids  # creation order


def test_lists_write_contract(client, world):
    plist, _ = create(client, _lists(world), {"name": "Main", "cycle": 2027}, world.north.advisor_headers)
    check_write_contract(client, f"{_lists(world)}/{plist['id']}", world.north.candidate_headers,
                         patch={"name": "Main 2028", "cycle": 2028}, nullable="cycle", required=["name"])


def test_deleting_a_list_deletes_its_entries_not_the_programs(client, world, setup):
    programs, plist, entries = setup
    h = world.north.advisor_headers
    for p in programs[:2]:
        create(client, entries, {"program_id": p["id"]}, h)
    r = client.delete(f"{_lists(world)}/{plist['id']}", headers={**h, "If-Match": '"v1"'})
    assert r.status_code == 204
    assert count_rows("program_list_entry") == 0 and count_rows("program") == 4
    problem(client.get(entries, headers=h), 404, "not-found")


def test_lists_of_others_are_404(client, world, setup):
    _, plist, entries = setup
    url = f"{_lists(world)}/{plist['id']}"
    before = snapshot()
    for h in (world.south.advisor_headers, world.south.api_key_headers, world.south.candidate_headers):
        problem(client.get(url, headers=h), 404, "not-found")
        problem(client.get(entries, headers=h), 404, "not-found")
        problem(client.patch(url, json={"name": "x"}, headers={**h, "If-Match": '"v1"'}), 404, "not-found")
    # the right list id under another candidate
    problem(client.get(f"{_lists(world, world.north.other_candidate_id)}/{plist['id']}",
                       headers=world.north.advisor_headers), 404, "not-found")
    assert snapshot() == before


# ---- entries ---------------------------------------------------------------------------------------------------

def test_add_a_program_to_a_list(client, world, setup):
    programs, plist, entries = setup
    entry, etag = create(client, entries, {"program_id": programs[0]["id"], "status": "applied",
                                           "signal": "gold", "rank_position": 1, "notes": "Strong IMG history."},
                         world.north.candidate_headers)
    assert entry["list_id"] == plist["id"] and entry["program_id"] == programs[0]["id"]
    assert (entry["status"], entry["signal"], entry["rank_position"]) == ("applied", "gold", 1)
    assert get_ok(client, f"{entries}/{entry['id']}", world.north.advisor_headers) == (entry, etag)
    bare, _ = create(client, entries, {"program_id": programs[1]["id"]}, world.north.candidate_headers)
    assert bare["status"] == "considering" and bare["rank_position"] is None and bare["signal"] is None


def test_a_program_is_listed_once(client, world, setup):
    programs, _, entries = setup
    h = world.north.advisor_headers
    create(client, entries, {"program_id": programs[0]["id"]}, h)
    before = snapshot()
    problem(client.post(entries, json={"program_id": programs[0]["id"], "rank_position": 3}, headers=h), 409,
            "conflict", code="program_already_listed")
    assert snapshot() == before


def test_rank_positions_are_unique_within_a_list(client, world, setup):
    programs, _, entries = setup
    h = world.north.advisor_headers
    create(client, entries, {"program_id": programs[0]["id"], "rank_position": 1}, h)
    second, etag = create(client, entries, {"program_id": programs[1]["id"], "rank_position": 2}, h)
    # any number of entries without a rank
    create(client, entries, {"program_id": programs[2]["id"]}, h)
    create(client, entries, {"program_id": programs[3]["id"]}, h)
    before = snapshot()
    problem(client.patch(f"{entries}/{second['id']}", json={"rank_position": 1}, headers={**h, "If-Match": etag}),
            409, "conflict", code="rank_position_taken")
    assert snapshot() == before
    other, _ = create(client, _lists(world), {"name": "Other"}, h)
    create(client, f"{_lists(world)}/{other['id']}/entries", {"program_id": programs[0]["id"], "rank_position": 1},
           h)  # the same rank in another list is fine
    # swapping ranks: clear one, then move
    r = client.patch(f"{entries}/{second['id']}", json={"rank_position": None}, headers={**h, "If-Match": etag})
    assert r.status_code == 200 and r.json()["rank_position"] is None


def test_rank_position_taken_on_create(client, world, setup):
    programs, _, entries = setup
    h = world.north.advisor_headers
    create(client, entries, {"program_id": programs[0]["id"], "rank_position": 5}, h)
    before = snapshot()
    problem(client.post(entries, json={"program_id": programs[1]["id"], "rank_position": 5}, headers=h), 409,
            code="rank_position_taken")
    assert snapshot() == before


def test_an_entry_for_a_program_that_does_not_exist_is_404(client, world, setup):
    """The body names a program that is not there: the conventions' 404, with the field that names it."""
    _, _, entries = setup
    before = snapshot()
    b = problem(client.post(entries, json={"program_id": "6f1c1d8e-1b9a-4a53-9a0e-3b8c1d3e2f10"},
                            headers=world.north.advisor_headers), 404, "not-found")
    assert "body.program_id" in field_names(b), b
    assert snapshot() == before


@pytest.mark.parametrize("over,field", [
    ({"program_id": "nope"}, "body.program_id"), ({"rank_position": 0}, "body.rank_position"),
    ({"rank_position": 301}, "body.rank_position"), ({"signal": "bronze"}, "body.signal"),
    ({"status": "matched"}, "body.status"),
])
def test_invalid_entries_are_422(client, world, setup, over, field):
    programs, _, entries = setup
    before = snapshot()
    b = problem(client.post(entries, json={"program_id": programs[0]["id"], **over},
                            headers=world.north.advisor_headers), 422)
    assert field in field_names(b), b
    assert snapshot() == before


def test_entries_list_contract_filter_and_sort(client, world, setup):
    programs, _, entries = setup
    h = world.north.advisor_headers
    ids = []
    for i, p in enumerate(programs):
        ids.append(create(client, entries, {"program_id": p["id"], "rank_position": 4 - i,
                                            "status": "ranked" if i % 2 else "applied"}, h)[0]["id"])
    check_list_contract(client, entries, h, ids, page_size=3)
    assert [e["id"] for e in page(client, entries, h, sort="rank_position")["items"]] == ids[::-1]
    assert [e["id"] for e in page(client, entries, h, status="ranked")["items"]] == [ids[1], ids[3]]
    for bad in ({"status": "x"}, {"sort": "program_id"}):
        problem(client.get(entries, headers=h, params=bad), 422, "validation-error")


def test_entries_write_contract(client, world, setup):
    programs, _, entries = setup
    entry, _ = create(client, entries, {"program_id": programs[0]["id"], "notes": "n", "signal": "silver"},
                      world.north.advisor_headers)
    check_write_contract(client, f"{entries}/{entry['id']}", world.north.candidate_headers,
                         patch={"status": "interviewed", "rank_position": 7}, nullable="notes",
                         required=["status"])


def test_an_entry_is_found_only_under_its_list(client, world, setup):
    programs, _, entries = setup
    h = world.north.advisor_headers
    entry, _ = create(client, entries, {"program_id": programs[0]["id"]}, h)
    other, _ = create(client, _lists(world), {"name": "Other"}, h)
    problem(client.get(f"{_lists(world)}/{other['id']}/entries/{entry['id']}", headers=h), 404, "not-found")
    problem(client.get(f"{entries}/{entry['id']}", headers=world.south.advisor_headers), 404, "not-found")
