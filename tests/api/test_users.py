"""Users: admins create admins and advisors; advisors create accounts for their own candidates."""

from __future__ import annotations

from tests.api.helpers import (
    check_list_contract,
    check_write_contract,
    create,
    email,
    field_names,
    get_ok,
    page,
    problem,
    snapshot,
)

URL = "/v1/users"
PW = "a long passphrase"


def _advisor(world, **over):  # type: ignore[no-untyped-def]
    return {"email": email(), "full_name": "Ada Advisor", "password": PW, "role": "advisor",
            "organization_id": world.north.org_id, **over}


def _me(client, headers):  # type: ignore[no-untyped-def]
    return client.get("/v1/auth/me", headers=headers).json()


def test_admin_creates_an_advisor(client, world):
    body = _advisor(world, email="  Ada.Advisor@North.Example ")
    user, etag = create(client, URL, body, world.admin_headers)
    assert user["email"] == "ada.advisor@north.example"
    assert user["role"] == "advisor" and user["organization_id"] == world.north.org_id
    assert user["is_active"] is True and user["candidate_id"] is None
    assert "password" not in user and "password_hash" not in user and PW not in str(user)
    assert get_ok(client, f"{URL}/{user['id']}", world.admin_headers) == (user, etag)


def test_admin_accounts_have_no_organization(client, world):
    user, _ = create(client, URL, {"email": email(), "full_name": "Root", "password": PW, "role": "admin"},
                     world.admin_headers)
    assert user["organization_id"] is None
    b = problem(client.post(URL, json={"email": email(), "full_name": "Root", "password": PW, "role": "admin",
                                       "organization_id": world.north.org_id}, headers=world.admin_headers), 422)
    assert "body.organization_id" in field_names(b)


def test_advisor_needs_an_existing_organization(client, world):
    before = snapshot()
    b = problem(client.post(URL, json=_advisor(world, organization_id=None), headers=world.admin_headers), 422)
    assert "body.organization_id" in field_names(b)
    b = problem(client.post(URL, json=_advisor(world, organization_id="6f1c1d8e-1b9a-4a53-9a0e-3b8c1d3e2f10"),
                            headers=world.admin_headers), 404)  # names no organization
    assert "body.organization_id" in field_names(b)
    assert snapshot() == before


def test_advisor_creates_an_account_for_their_candidate(client, world):
    body = {"email": email(), "full_name": "Cand Two", "password": PW, "role": "candidate",
            "candidate_id": world.north.other_candidate_id}
    user, _ = create(client, URL, body, world.north.advisor_headers)
    assert user["candidate_id"] == world.north.other_candidate_id
    assert user["organization_id"] == world.north.org_id
    # one account per candidate
    problem(client.post(URL, json={**body, "email": email()}, headers=world.north.advisor_headers), 409,
            "conflict", code="candidate_has_user")


def test_advisor_cannot_create_staff_or_reach_other_organizations(client, world):
    before = snapshot()
    problem(client.post(URL, json=_advisor(world), headers=world.north.advisor_headers), 403, "forbidden")
    b = problem(client.post(URL, json={"email": email(), "full_name": "X", "password": PW, "role": "candidate",
                                       "candidate_id": world.south.other_candidate_id},
                            headers=world.north.advisor_headers), 404)  # not theirs: as if it did not exist
    assert "body.candidate_id" in field_names(b)
    b = problem(client.post(URL, json={"email": email(), "full_name": "X", "password": PW, "role": "candidate",
                                       "candidate_id": world.north.other_candidate_id,
                                       "organization_id": world.south.org_id},
                            headers=world.north.advisor_headers), 422)
    assert "body.organization_id" in field_names(b)
    for h in (world.north.candidate_headers, world.north.api_key_headers):
        problem(client.post(URL, json={"email": email(), "full_name": "X", "password": PW, "role": "candidate",
                                       "candidate_id": world.north.other_candidate_id}, headers=h), 403, "forbidden")
    assert snapshot() == before


def test_email_is_unique_ignoring_case(client, world):
    problem(client.post(URL, json=_advisor(world, email="ADVISOR@north.test"), headers=world.admin_headers), 409,
            "conflict", code="email_taken")


def test_bad_inputs_are_422_by_field(client, world):
    before = snapshot()
    for over, field in (({"email": "not-an-email"}, "body.email"), ({"password": "short"}, "body.password"),
                        ({"role": "superuser"}, "body.role"), ({"full_name": ""}, "body.full_name"),
                        ({"full_name": "x" * 201}, "body.full_name"), ({"password": "p" * 129}, "body.password")):
        b = problem(client.post(URL, json=_advisor(world, **over), headers=world.admin_headers), 422,
                    "validation-error")
        assert field in field_names(b), (over, b)
    assert snapshot() == before


def test_lists_are_scoped_and_filterable(client, world):
    everyone = page(client, URL, world.admin_headers, limit=100)
    assert everyone["total"] == 5  # admin, two advisors, two candidate accounts
    north = page(client, URL, world.admin_headers, organization_id=world.north.org_id)
    assert north["total"] == 2 and {u["organization_id"] for u in north["items"]} == {world.north.org_id}
    admins = page(client, URL, world.admin_headers, role="admin")
    assert [u["email"] for u in admins["items"]] == ["admin@test.test"]
    mine = page(client, URL, world.north.advisor_headers)
    assert {u["email"] for u in mine["items"]} == {"advisor@north.test", "candidate@north.test"}
    # an advisor's organization_id filter cannot widen the view
    widened = page(client, URL, world.north.advisor_headers, organization_id=world.south.org_id)
    assert {u["organization_id"] for u in widened["items"]} <= {world.north.org_id}
    problem(client.get(URL, headers=world.north.candidate_headers), 403, "forbidden")
    problem(client.get(URL, headers=world.north.api_key_headers), 403, "forbidden")
    problem(client.get(URL, headers=world.admin_headers, params={"role": "system"}), 422, "validation-error")


def test_list_contract(client, world):
    ids = [u["id"] for u in page(client, URL, world.admin_headers, limit=100)["items"]]
    for _ in range(2):
        ids.append(create(client, URL, _advisor(world), world.admin_headers)[0]["id"])
    check_list_contract(client, URL, world.admin_headers, ids, page_size=3)


def test_write_contract(client, world):
    user, _ = create(client, URL, _advisor(world), world.admin_headers)
    check_write_contract(client, f"{URL}/{user['id']}", world.north.advisor_headers,
                         patch={"full_name": "Ada Renamed", "is_active": False}, nullable=None,
                         required=["full_name", "is_active", "password"])


def test_other_organizations_users_are_404(client, world):
    south_advisor = _me(client, world.south.advisor_headers)["user_id"]
    problem(client.get(f"{URL}/{south_advisor}", headers=world.north.advisor_headers), 404, "not-found")
    before = snapshot()
    problem(client.patch(f"{URL}/{south_advisor}", json={"full_name": "X"},
                         headers={**world.north.advisor_headers, "If-Match": '"v1"'}), 404, "not-found")
    problem(client.delete(f"{URL}/{south_advisor}", headers={**world.north.advisor_headers, "If-Match": '"v1"'}),
            404, "not-found")
    assert snapshot() == before


def test_candidate_manages_only_their_own_name_and_password(client, world):
    me = _me(client, world.north.candidate_headers)["user_id"]
    url = f"{URL}/{me}"
    user, etag = get_ok(client, url, world.north.candidate_headers)
    assert user["role"] == "candidate"
    before = snapshot()
    problem(client.patch(url, json={"is_active": False}, headers={**world.north.candidate_headers,
                                                                   "If-Match": etag}), 403, "forbidden")
    problem(client.delete(url, headers={**world.north.candidate_headers, "If-Match": etag}), 403, "forbidden")
    assert snapshot() == before
    r = client.patch(url, json={"full_name": "My Real Name"}, headers={**world.north.candidate_headers,
                                                                       "If-Match": etag})
    assert r.status_code == 200 and r.json()["full_name"] == "My Real Name"
    advisor = _me(client, world.north.advisor_headers)["user_id"]
    problem(client.get(f"{URL}/{advisor}", headers=world.north.candidate_headers), 404, "not-found")


def test_nobody_deactivates_or_deletes_themselves(client, world):
    me = _me(client, world.north.advisor_headers)["user_id"]
    url = f"{URL}/{me}"
    before = snapshot()
    problem(client.patch(url, json={"is_active": False}, headers={**world.north.advisor_headers,
                                                                   "If-Match": '"v1"'}), 403, "forbidden")
    problem(client.delete(url, headers={**world.north.advisor_headers, "If-Match": '"v1"'}), 403, "forbidden")
    assert snapshot() == before
