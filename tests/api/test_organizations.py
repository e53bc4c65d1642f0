"""Organizations: platform admins manage them; advisors and API keys see their own."""

from __future__ import annotations

from tests.api.helpers import check_list_contract, check_write_contract, create, get_ok, problem, seq, snapshot

URL = "/v1/organizations"


def test_admin_creates_an_organization(client, world):
    body, etag = create(client, URL, {"name": "  West Advising Office  "}, world.admin_headers)
    assert body["name"] == "West Advising Office"  # surrounding spaces are trimmed
    assert etag == '"v1"'
    got, got_etag = get_ok(client, f"{URL}/{body['id']}", world.admin_headers)
    assert got == body and got_etag == etag


def test_only_admins_create_organizations(client, world):
    before = snapshot()
    for h in (world.north.advisor_headers, world.north.candidate_headers, world.north.api_key_headers):
        problem(client.post(URL, json={"name": "Rogue"}, headers=h), 403, "forbidden")
    assert snapshot() == before


def test_duplicate_name_is_409(client, world):
    b = problem(client.post(URL, json={"name": "north"}, headers=world.admin_headers), 409, "conflict",
                code="organization_name_taken")
    assert b["detail"]


def test_list_contract_for_admin(client, world):
    ids = []
    for _ in range(23):
        ids.append(create(client, URL, {"name": f"Office {seq()}"}, world.admin_headers)[0]["id"])
    items = check_list_contract(client, URL, world.admin_headers, [world.north.org_id, world.south.org_id, *ids])
    # documented order: creation
    assert [i["id"] for i in items][-23:] == ids


def test_advisors_and_keys_see_only_their_own(client, world):
    for h in (world.north.advisor_headers, world.north.api_key_headers):
        body = client.get(URL, headers=h).json()
        assert [o["id"] for o in body["items"]] == [world.north.org_id] and body["total"] == 1
        problem(client.get(f"{URL}/{world.south.org_id}", headers=h), 404, "not-found")
    problem(client.get(URL, headers=world.north.candidate_headers), 403, "forbidden")


def test_write_contract(client, world):
    org, _ = create(client, URL, {"name": f"Office {seq()}"}, world.admin_headers)
    check_write_contract(client, f"{URL}/{org['id']}", world.admin_headers,
                         patch={"name": f"Renamed {seq()}"}, nullable=None, required=["name"])


def test_only_admins_change_or_delete(client, world):
    url = f"{URL}/{world.north.org_id}"
    before = snapshot()
    for h in (world.north.advisor_headers, world.north.api_key_headers):
        problem(client.patch(url, json={"name": "Mine"}, headers={**h, "If-Match": '"v1"'}), 403, "forbidden")
        problem(client.delete(url, headers={**h, "If-Match": '"v1"'}), 403, "forbidden")
    assert snapshot() == before


def test_rename_to_a_taken_name_is_409(client, world):
    problem(client.patch(f"{URL}/{world.north.org_id}", json={"name": "south"},
                         headers={**world.admin_headers, "If-Match": '"v1"'}), 409, code="organization_name_taken")
    assert get_ok(client, f"{URL}/{world.north.org_id}", world.admin_headers)[0]["name"] == "north"


def test_an_organization_with_candidates_or_users_cannot_be_deleted(client, world):
    before = snapshot()
    problem(client.delete(f"{URL}/{world.north.org_id}", headers={**world.admin_headers, "If-Match": '"v1"'}),
            409, "conflict", code="organization_not_empty")
    assert snapshot() == before
