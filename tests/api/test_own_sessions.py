"""A person's own sign-in sessions: listed (the live ones, newest first, the current one marked), ended one by one
with If-Match, or all but the current one; no one sees or ends anyone else's."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import create, email, problem, snapshot

PASSWORD = "a long passphrase 42"
URL = "/v1/auth/sessions"


def _person(client: Any, world: Any) -> str:
    addr = email()
    create(client, "/v1/users", {"email": addr, "full_name": "Sam Sessions", "password": PASSWORD,
                                 "role": "advisor", "organization_id": world.north.org_id}, world.admin_headers)
    return addr


def _sign_in(client: Any, addr: str) -> dict[str, Any]:
    r = client.post("/v1/auth/token", data={"username": addr, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _h(tokens: dict[str, Any], **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}", **more}


def _works(client: Any, tokens: dict[str, Any]) -> bool:
    return client.get("/v1/auth/me", headers=_h(tokens)).status_code == 200


def _refreshes(client: Any, tokens: dict[str, Any]) -> bool:
    r = client.post("/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    return r.status_code == 200


def test_the_list_holds_my_live_sessions_newest_first_and_marks_this_one(client, world):
    addr = _person(client, world)
    first, second, third = (_sign_in(client, addr) for _ in range(3))
    _sign_in(client, _person(client, world))  # someone else's
    r = client.get(URL, headers=_h(second))
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == 3 and page["limit"] == 20 and page["offset"] == 0, page
    assert [s["current"] for s in page["items"]] == [False, True, False], page
    created = [s["created_at"] for s in page["items"]]
    assert created == sorted(created, reverse=True), created
    assert set(page["items"][0]) == {"id", "created_at", "expires_at", "current", "version"}
    one = client.get(f"{URL}/{page['items'][1]['id']}", headers=_h(second))
    assert one.status_code == 200 and one.json() == page["items"][1] and one.headers["etag"] == '"v1"'
    assert client.get(URL, params={"limit": 1, "offset": 2}, headers=_h(first)).json()["total"] == 3
    assert all(_works(client, t) for t in (first, second, third))


def test_ending_one_session_stops_its_tokens_and_no_other(client, world):
    addr = _person(client, world)
    mine, lost = _sign_in(client, addr), _sign_in(client, addr)
    items = client.get(URL, headers=_h(mine)).json()["items"]
    target = next(s for s in items if not s["current"])
    path = f"{URL}/{target['id']}"
    before = snapshot()
    problem(client.delete(path, headers=_h(mine)), 428)
    problem(client.delete(path, headers=_h(mine, **{"If-Match": '"v9"'})), 412)
    assert snapshot() == before
    r = client.delete(path, headers=_h(mine, **{"If-Match": f'"v{target["version"]}"'}))
    assert r.status_code == 204, r.text
    assert not _works(client, lost) and not _refreshes(client, lost)
    assert _works(client, mine)
    assert [s["current"] for s in client.get(URL, headers=_h(mine)).json()["items"]] == [True]
    problem(client.get(path, headers=_h(mine)), 404)  # ended: gone from the list and from its URL
    problem(client.delete(path, headers=_h(mine, **{"If-Match": "*"})), 404)


def test_ending_this_session_is_a_logout(client, world):
    tokens = _sign_in(client, _person(client, world))
    current = client.get(URL, headers=_h(tokens)).json()["items"][0]
    assert client.delete(f"{URL}/{current['id']}", headers=_h(tokens, **{"If-Match": "*"})).status_code == 204
    assert not _works(client, tokens) and not _refreshes(client, tokens)


def test_sign_out_everywhere_else_ends_every_other_session(client, world):
    addr = _person(client, world)
    here, there, elsewhere = (_sign_in(client, addr) for _ in range(3))
    r = client.post(f"{URL}/end-others", headers=_h(here))
    assert r.status_code == 200 and r.json() == {"ended": 2}, r.text
    assert _works(client, here) and _refreshes(client, here)
    assert not any(_works(client, t) or _refreshes(client, t) for t in (there, elsewhere))
    assert client.post(f"{URL}/end-others", headers=_h(here)).json() == {"ended": 0}


def test_no_one_sees_or_ends_anyone_elses_session(client, world):
    mine = _sign_in(client, _person(client, world))
    theirs = _sign_in(client, _person(client, world))
    their_id = client.get(URL, headers=_h(theirs)).json()["items"][0]["id"]
    before = snapshot()
    problem(client.get(f"{URL}/{their_id}", headers=_h(mine)), 404)
    problem(client.delete(f"{URL}/{their_id}", headers=_h(mine, **{"If-Match": "*"})), 404)
    # an admin neither: these are a person's own (an admin ends someone's sessions by deactivating the account)
    problem(client.get(f"{URL}/{their_id}", headers=world.admin_headers), 404)
    assert snapshot() == before
    assert _works(client, theirs)
    assert client.post(f"{URL}/end-others", headers=_h(mine)).json() == {"ended": 0}
    assert _works(client, theirs)


def test_an_api_key_has_no_sessions(client, world):
    for method, path in (("get", URL), ("post", f"{URL}/end-others")):
        problem(client.request(method, path, headers=world.north.api_key_headers), 403)
