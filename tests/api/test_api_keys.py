"""API keys: created by admins for an organization's systems, shown once, revoked at once."""

from __future__ import annotations

from tests.api.helpers import check_list_contract, create, get_ok, page, problem, snapshot


def _url(org: str) -> str:
    return f"/v1/organizations/{org}/api-keys"


def test_admin_creates_a_key_shown_once(client, world):
    r = client.post(_url(world.north.org_id), json={"name": "SIS nightly sync"}, headers=world.admin_headers)
    assert r.status_code == 201, r.text
    key = r.json()
    assert r.headers["location"] == f"{_url(world.north.org_id)}/{key['id']}"
    assert r.headers["etag"] == '"v1"'
    assert r.headers["cache-control"] == "no-store"
    assert key["key"].startswith("mrk_") and len(key["key"]) >= 40
    assert key["prefix"] == key["key"][:10]
    assert key["organization_id"] == world.north.org_id and key["revoked_at"] is None
    shown, _ = get_ok(client, f"{_url(world.north.org_id)}/{key['id']}", world.admin_headers)
    assert "key" not in shown and key["key"] not in str(shown)
    listed = page(client, _url(world.north.org_id), world.admin_headers)
    assert key["key"] not in str(listed)
    me = client.get("/v1/auth/me", headers={"X-API-Key": key["key"]}).json()
    assert me["api_key_id"] == key["id"] and me["organization_id"] == world.north.org_id


def test_only_admins_create_and_revoke(client, world):
    org = world.north.org_id
    key, etag = create(client, _url(org), {"name": "k"}, world.admin_headers)
    before = snapshot()
    for h in (world.north.advisor_headers, world.north.api_key_headers, world.north.candidate_headers):
        problem(client.post(_url(org), json={"name": "mine"}, headers=h), 403, "forbidden")
        problem(client.delete(f"{_url(org)}/{key['id']}", headers={**h, "If-Match": etag}), 403, "forbidden")
    assert snapshot() == before


def test_advisors_read_their_organizations_keys_only(client, world):
    north = page(client, _url(world.north.org_id), world.north.advisor_headers)
    assert north["total"] == 1 and north["items"][0]["name"] == "sync"
    key_id = north["items"][0]["id"]
    assert get_ok(client, f"{_url(world.north.org_id)}/{key_id}", world.north.advisor_headers)[0]["id"] == key_id
    problem(client.get(_url(world.north.org_id), headers=world.south.advisor_headers), 404, "not-found")
    problem(client.get(f"{_url(world.north.org_id)}/{key_id}", headers=world.south.advisor_headers), 404)
    # a key is found only under its own organization
    problem(client.get(f"{_url(world.south.org_id)}/{key_id}", headers=world.admin_headers), 404, "not-found")
    for h in (world.north.api_key_headers, world.north.candidate_headers):
        problem(client.get(_url(world.north.org_id), headers=h), 403, "forbidden")


def test_list_contract(client, world):
    org = world.north.org_id
    ids = [page(client, _url(org), world.admin_headers)["items"][0]["id"]]
    for i in range(4):
        ids.append(create(client, _url(org), {"name": f"key {i}"}, world.admin_headers)[0]["id"])
    check_list_contract(client, _url(org), world.admin_headers, ids, page_size=2)
    # the other organization's list is unaffected
    assert page(client, _url(world.south.org_id), world.admin_headers)["total"] == 1


def test_revoke_needs_if_match_and_the_key_is_gone(client, world):
    org = world.north.org_id
    key, etag = create(client, _url(org), {"name": "k"}, world.admin_headers)
    url = f"{_url(org)}/{key['id']}"
    before = snapshot()
    problem(client.delete(url, headers=world.admin_headers), 428, "precondition-required")
    problem(client.delete(url, headers={**world.admin_headers, "If-Match": '"v7"'}), 412, "precondition-failed")
    assert snapshot() == before
    assert client.get("/v1/auth/me", headers={"X-API-Key": key["key"]}).status_code == 200
    r = client.delete(url, headers={**world.admin_headers, "If-Match": etag})
    assert r.status_code == 204 and r.content == b""
    problem(client.get(url, headers=world.admin_headers), 404, "not-found")
    assert key["id"] not in [k["id"] for k in page(client, _url(org), world.admin_headers)["items"]]
    problem(client.get("/v1/auth/me", headers={"X-API-Key": key["key"]}), 401, "unauthorized")
    problem(client.delete(url, headers={**world.admin_headers, "If-Match": etag}), 404, "not-found")
    # the row stays, revoked, for audit
    from sqlalchemy import text

    from tests.conftest import _uid, sync_engine

    with sync_engine().connect() as conn:
        revoked = conn.execute(text("SELECT revoked_at FROM api_key WHERE id = :id"),
                               {"id": _uid(__import__("uuid").UUID(key["id"]))}).scalar_one()
    assert revoked is not None


def test_name_is_required_and_bounded(client, world):
    before = snapshot()
    for body in ({}, {"name": ""}, {"name": "x" * 121}, {"name": "k", "scopes": ["all"]}):
        problem(client.post(_url(world.north.org_id), json=body, headers=world.admin_headers), 422,
                "validation-error")
    assert snapshot() == before
