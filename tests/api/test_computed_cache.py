"""The computed views keep their rendered answers (app.guidance.service._answer). A kept answer must always be the one
a fresh computation gives: after every kind of write the engines read, each view answers exactly what it answers
once the cache is emptied, and at least one view's answer moved, so the write mattered."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from app.candidates.models import Candidate
from app.guidance import service
from tests.api.helpers import program_body
from tests.api.test_pathway_api import AS_OF, _post, _record_road
from tests.conftest import sync_engine


@pytest.fixture(autouse=True)
def empty_cache():  # type: ignore[no-untyped-def]
    service.answers().clear()
    yield
    service.answers().clear()


def _views(client, world, list_id: str) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    base = f"/v1/candidates/{world.north.candidate_id}"
    h = world.north.advisor_headers
    out = {}
    for name, path, params in (
        ("next-step", "/next-step", {}),
        ("readiness", "/readiness", {}),
        ("readiness what-if", "/readiness", {"what_if_step2ck": 262, "what_if_usce_weeks": 4}),
        ("screening", f"/program-lists/{list_id}/screening", {}),
        ("timeline", "/timeline", {}),
        ("timeline.ics", "/timeline.ics", {}),
    ):
        r = client.get(base + path, params={"as_of": AS_OF, **params}, headers=h)
        assert r.status_code in (200, 404), r.text
        out[name] = r.content
    return out


def _stamp(cid: str) -> tuple[int, int]:
    t = Candidate.__table__  # type: ignore[attr-defined]
    with sync_engine().connect() as conn:
        row = conn.execute(select(t.c.version, t.c.facts_version).where(t.c.id == uuid.UUID(cid))).one()
    return row.version, row.facts_version


def _etag_write(client, method: str, url: str, headers, body: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    etag = client.get(url, headers=headers).headers["etag"]
    r = client.request(method, url, headers={**headers, "If-Match": etag}, json=body)
    assert r.status_code in (200, 204), r.text


def _first(client, url: str, headers, **match: Any) -> str:  # type: ignore[no-untyped-def]
    items = client.get(url, params={"limit": 100}, headers=headers).json()["items"]
    return next(i["id"] for i in items if all(i.get(k) == v for k, v in match.items()))


def _milestone_create(client, world, ids) -> None:  # type: ignore[no-untyped-def]
    _post(client, f"{ids['base']}/milestones", world.north.advisor_headers,
          {"type_code": "usmle_step3", "status": "passed", "completed_on": "2026-10-01"})


def _milestone_update(client, world, ids) -> None:  # type: ignore[no-untyped-def]
    mid = _first(client, f"{ids['base']}/milestones", world.north.advisor_headers, type_code="usmle_step2ck")
    _etag_write(client, "PATCH", f"{ids['base']}/milestones/{mid}", world.north.advisor_headers,
                {"result": {"score": 255}})


def _milestone_delete(client, world, ids) -> None:  # type: ignore[no-untyped-def]
    mid = _first(client, f"{ids['base']}/milestones", world.north.advisor_headers, type_code="oet_medicine")
    _etag_write(client, "DELETE", f"{ids['base']}/milestones/{mid}", world.north.advisor_headers)


def _usce_create(client, world, ids) -> None:  # type: ignore[no-untyped-def]
    _post(client, f"{ids['base']}/usce-records", world.north.advisor_headers,
          {"kind": "sub_internship", "institution": "Hillside (fictional)", "specialty": "internal_medicine",
           "start_on": "2026-08-03", "end_on": "2026-09-25", "us_letter": True})


def _usce_update(client, world, ids) -> None:  # type: ignore[no-untyped-def]
    rid = _first(client, f"{ids['base']}/usce-records", world.north.advisor_headers)
    _etag_write(client, "PATCH", f"{ids['base']}/usce-records/{rid}", world.north.advisor_headers,
                {"start_on": "2026-05-25"})


def _usce_delete(client, world, ids) -> None:  # type: ignore[no-untyped-def]
    rid = _first(client, f"{ids['base']}/usce-records", world.north.advisor_headers)
    _etag_write(client, "DELETE", f"{ids['base']}/usce-records/{rid}", world.north.advisor_headers)


def _list_update(client, world, ids) -> None:  # type: ignore[no-untyped-def]
    _etag_write(client, "PATCH", f"{ids['base']}/program-lists/{ids['list']}", world.north.advisor_headers,
                {"cycle": 2028})


def _list_delete(client, world, ids) -> None:  # type: ignore[no-untyped-def]
    _etag_write(client, "DELETE", f"{ids['base']}/program-lists/{ids['list']}", world.north.advisor_headers)


def _list_create(client, world, ids) -> None:  # type: ignore[no-untyped-def]
    plist = _post(client, f"{ids['base']}/program-lists", world.north.advisor_headers,
                  {"name": "Second", "cycle": 2027})
    for rank in range(1, 4):
        p = _post(client, "/v1/programs", world.admin_headers, program_body())
        _post(client, f"{ids['base']}/program-lists/{plist['id']}/entries", world.north.advisor_headers,
              {"program_id": p["id"], "rank_position": rank})


def _entry_create(client, world, ids) -> None:  # type: ignore[no-untyped-def]
    p = _post(client, "/v1/programs", world.admin_headers, program_body(min_step2ck=260))
    _post(client, f"{ids['base']}/program-lists/{ids['list']}/entries", world.north.advisor_headers,
          {"program_id": p["id"], "rank_position": 3})


def _entry_update(client, world, ids) -> None:  # type: ignore[no-untyped-def]
    url = f"{ids['base']}/program-lists/{ids['list']}/entries"
    eid = _first(client, url, world.north.advisor_headers, rank_position=1)
    _etag_write(client, "PATCH", f"{url}/{eid}", world.north.advisor_headers, {"status": "withdrawn"})


def _entry_delete(client, world, ids) -> None:  # type: ignore[no-untyped-def]
    url = f"{ids['base']}/program-lists/{ids['list']}/entries"
    eid = _first(client, url, world.north.advisor_headers, rank_position=1)
    _etag_write(client, "DELETE", f"{url}/{eid}", world.north.advisor_headers)


def _program_update(client, world, ids) -> None:  # type: ignore[no-untyped-def]
    _etag_write(client, "PATCH", f"/v1/programs/{ids['strict']}", world.admin_headers, {"min_step2ck": 200})


def _candidate_update(client, world, ids) -> None:  # type: ignore[no-untyped-def]
    _etag_write(client, "PATCH", ids["base"], world.north.advisor_headers, {"graduation_on": "2019-06-30"})


WRITES = {f.__name__.lstrip("_"): f for f in (
    _milestone_create, _milestone_update, _milestone_delete, _usce_create, _usce_update, _usce_delete,
    _list_create, _list_update, _list_delete, _entry_create, _entry_update, _entry_delete, _program_update,
    _candidate_update)}


@pytest.mark.parametrize("write", list(WRITES))
def test_a_kept_answer_is_always_the_fresh_one(client, world, write):
    plist, strict, _ = _record_road(client, world)
    cid = world.north.candidate_id
    ids = {"base": f"/v1/candidates/{cid}", "list": plist["id"], "strict": strict["id"]}
    before = _views(client, world, plist["id"])
    assert _views(client, world, plist["id"]) == before  # served again, unchanged
    stamp = _stamp(cid)

    WRITES[write](client, world, ids)

    assert _stamp(cid) != stamp, "the write did not bump the candidate's version or facts_version"
    after = _views(client, world, plist["id"])
    service.answers().clear()
    fresh = _views(client, world, plist["id"])
    assert after == fresh
    assert any(after[v] != before[v] for v in before), "the write changed no view: the test proves nothing"


def test_repeated_reads_are_served_from_the_cache(client, world):
    plist, _, _ = _record_road(client, world)
    cache = service.answers()
    first = _views(client, world, plist["id"])
    hits = cache.hits
    assert _views(client, world, plist["id"]) == first
    assert cache.hits == hits + len(first)
    other_day = client.get(f"/v1/candidates/{world.north.candidate_id}/readiness",
                           params={"as_of": "2026-12-01"}, headers=world.north.advisor_headers)
    assert other_day.status_code == 200 and cache.hits == hits + len(first)  # a new day is a new answer


def test_another_callers_view_of_the_same_record_is_the_same_answer(client, world):
    plist, _, _ = _record_road(client, world)
    url = f"/v1/candidates/{world.north.candidate_id}/readiness"
    by_advisor = client.get(url, params={"as_of": AS_OF}, headers=world.north.advisor_headers)
    by_self = client.get(url, params={"as_of": AS_OF}, headers=world.north.candidate_headers)
    assert by_advisor.content == by_self.content
    assert client.get(url, params={"as_of": AS_OF}, headers=world.south.advisor_headers).status_code == 404


def test_the_cache_keeps_at_most_its_size():
    from app.core.cache import AnswerCache

    cache = AnswerCache(2)
    cache.put("a", b"1")
    cache.put("b", b"2")
    assert cache.get("a") == b"1"  # now the most recently used
    cache.put("c", b"3")
    assert cache.get("b") is None and cache.get("a") == b"1" and cache.get("c") == b"3"
    assert len(cache) == 2
    off = AnswerCache(0)
    off.put("a", b"1")
    assert off.get("a") is None and len(off) == 0
