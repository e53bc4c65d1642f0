"""POST /v1/match-simulations over HTTP: the contract advising tools rely on."""

from __future__ import annotations

from tests.conftest import assert_problem, count_rows

URL = "/v1/match-simulations"

SMALL = {
    "programs": [{"id": "city", "positions": 2, "rank_order_list": ["eastman", "anderson", "chen"]},
                 {"id": "mercy", "positions": 1, "rank_order_list": ["chen", "davis"]}],
    "applicants": [{"id": "anderson", "rank_order_list": ["city"]},
                   {"id": "chen", "rank_order_list": ["city", "mercy"]},
                   {"id": "davis", "rank_order_list": []},
                   {"id": "eastman", "rank_order_list": []}],
    "couples": [{"members": ["davis", "eastman"], "rank_order_list": [["mercy", "city"], [None, "city"]]}],
}


def test_small_match_with_a_couple(client, world):
    r = client.post(URL, json=SMALL, headers=world.north.candidate_headers)
    assert r.status_code == 200, r.text
    body = r.json()
    # Worked by hand: anderson and chen apply to city (2 places) and are held. The couple's first pair is
    # (davis@mercy, eastman@city): mercy has room for davis; city prefers eastman to chen, so chen is displaced.
    # chen applies to mercy (1 place), which prefers chen to davis: davis is displaced, so the couple withdraws
    # from both and applies to (no match, city); eastman is still held at city, which ranks eastman first and
    # anderson second. Result: anderson and eastman at city, chen at mercy, davis unmatched.
    assert body["assignments"] == {"anderson": "city", "chen": "mercy", "davis": None, "eastman": "city"}
    programs = {p["id"]: p for p in body["programs"]}
    assert programs["city"]["matched"] == ["eastman", "anderson"] and programs["city"]["unfilled"] == 0
    assert programs["mercy"]["matched"] == ["chen"]
    assert body["counts"]["matched"] == 3 and body["counts"]["unmatched"] == 1
    assert body["stability"]["stable"] is True


def test_trace_for_teaching(client, world):
    r = client.post(URL, json={**SMALL, "trace": True}, headers=world.north.advisor_headers)
    assert r.status_code == 200
    events = [(e["event"], e.get("applicant") or tuple(e.get("couple") or ()), e.get("program"), e.get("displaced"))
              for e in r.json()["trace"]]
    # The displacement chain a teacher would walk through, in order (see test_small_match_with_a_couple).
    chain = [("displace", "eastman", "city", "chen"), ("displace", "chen", "mercy", "davis"),
             ("couple_withdraw", ("davis", "eastman"), None, "davis")]
    positions = [events.index(step) for step in chain]
    assert positions == sorted(positions)
    assert events[-1][0] == "couple_hold"


def test_bad_input_is_a_precise_422(client, world):
    bad = {"programs": [{"id": "city", "positions": 1, "rank_order_list": ["ghost"]}],
           "applicants": [{"id": "anderson", "rank_order_list": ["city", "city"]}]}
    body = assert_problem(client.post(URL, json=bad, headers=world.north.advisor_headers), 422, "validation-error")
    codes = {e["code"] for e in body["errors"]}
    assert {"unknown_id", "duplicate_rank"} <= codes
    assert all(e["field"].startswith("body.") for e in body["errors"])


def test_more_than_300_ranks_is_refused(client, world):
    progs = [{"id": f"p{i}", "positions": 1, "rank_order_list": ["a"]} for i in range(301)]
    body = {"programs": progs, "applicants": [{"id": "a", "rank_order_list": [p["id"] for p in progs]}]}
    problem = assert_problem(client.post(URL, json=body, headers=world.north.advisor_headers), 422)
    assert any(e["code"] == "too_many_ranks" for e in problem["errors"])


def test_malformed_json_and_wrong_type(client, world):
    h = {**world.north.advisor_headers, "Content-Type": "application/json"}
    assert_problem(client.post(URL, content=b'{"programs": [', headers=h), 400, "bad-request")
    assert_problem(client.post(URL, content=b"programs=1", headers={**world.north.advisor_headers,
                                                                     "Content-Type": "text/plain"}), 415)


def test_needs_sign_in_and_stores_nothing(client, world):
    assert_problem(client.post(URL, json=SMALL), 401, "unauthorized")
    before = {t: count_rows(t) for t in ("candidate", "program", "program_list_entry")}
    assert client.post(URL, json=SMALL, headers=world.south.api_key_headers).status_code == 200
    assert {t: count_rows(t) for t in before} == before
