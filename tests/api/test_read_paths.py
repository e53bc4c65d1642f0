"""The fast read paths (app.core.reads): a candidate and candidate pages written as JSON by the database itself, and
the candidate loaded outside SQLAlchemy's result machinery. Each must give exactly what the ORM gives, byte for
byte, on either database, including the awkward values: non-ASCII and escaped characters, nulls, empty lists,
timestamps on a whole second."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, Float, MetaData, Table, select, update

from app.candidates.models import Candidate
from app.candidates.schemas import CandidatePublic
from app.candidates.service import _BY_ID
from app.core.pagination import render_one
from app.core.reads import JsonProjection, read
from app.core.types import PublicModel
from tests.api.helpers import candidate_body
from tests.conftest import sync_engine

T = Candidate.__table__  # type: ignore[attr-defined]

AWKWARD = [
    {"full_name": 'Zoë "Zee" O\'Brien \\ tab\there / 漢字 😀'},
    {"full_name": "Plain Name", "email": None, "usmle_id": None, "graduation_on": None, "target_specialties": [],
     "target_match_year": None, "citizenship_country": None, "school_name": None, "school_country": None},
    {"full_name": "Many Specialties", "target_specialties": ["internal_medicine", "neurology", "pediatrics"],
     "date_of_birth": "1995-02-28", "external_id": "SIS:00.1-x", "us_status": "citizen", "visa_need": "none"},
]


def _orm_json(cid: str) -> bytes:
    """The candidate as the ORM reads it and the public model renders it."""
    with sync_engine().connect() as conn:
        row = conn.execute(select(T).where(T.c.id == uuid.UUID(cid))).one()
    return render_one(CandidatePublic, row)


def _make(client, headers) -> list[str]:  # type: ignore[no-untyped-def]
    ids = []
    for i, overrides in enumerate(AWKWARD):
        r = client.post("/v1/candidates", headers=headers, json={**candidate_body(), **overrides})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
        if i == 1:  # a timestamp on a whole second: rendered without fractional digits
            with sync_engine().begin() as conn:
                conn.execute(update(T).where(T.c.id == uuid.UUID(r.json()["id"]))
                             .values(created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                                     updated_at=datetime(2026, 1, 2, 3, 4, 5, 120, tzinfo=UTC)))
    return ids


def test_a_candidate_reads_byte_for_byte_as_the_model_renders_it(client, world):
    h = world.north.advisor_headers
    ids = _make(client, h)
    for cid in ids + [world.north.candidate_id]:
        r = client.get(f"/v1/candidates/{cid}", headers=h)
        assert r.status_code == 200
        assert r.content == _orm_json(cid)
        assert r.headers["etag"] == '"v1"'
        assert r.headers["content-type"] == "application/json"
    whole_second = client.get(f"/v1/candidates/{ids[1]}", headers=h).json()
    assert whole_second["created_at"] == "2026-01-02T03:04:05Z"
    assert whole_second["updated_at"] == "2026-01-02T03:04:05.000120Z"


def test_a_write_answers_what_a_later_read_answers(client, world):
    h = world.north.advisor_headers
    r = client.post("/v1/candidates", headers=h, json={**candidate_body(), **AWKWARD[0]})
    assert r.content == client.get(f"/v1/candidates/{r.json()['id']}", headers=h).content
    p = client.patch(f"/v1/candidates/{r.json()['id']}", headers={**h, "If-Match": r.headers["etag"]},
                     json={"target_specialties": ["neurology"], "email": None})
    assert p.status_code == 200, p.text
    assert p.content == client.get(f"/v1/candidates/{r.json()['id']}", headers=h).content


def test_a_page_holds_the_same_bytes_as_the_model(client, world):
    h = world.north.advisor_headers
    _make(client, h)
    body = client.get("/v1/candidates", params={"sort": "full_name", "limit": 3}, headers=h)
    listed = json.loads(body.content)
    assert listed["total"] == len(AWKWARD) + 2 and listed["limit"] == 3 and listed["offset"] == 0
    expected = b"[" + b",".join(_orm_json(i["id"]) for i in listed["items"]) + b"]"
    assert body.content.startswith(b'{"items":' + expected + b',"total":')
    names = [i["full_name"] for i in listed["items"]]
    assert names == sorted(names)


def test_the_candidate_row_decodes_as_the_orm_decodes_it(client, world):
    ids = _make(client, world.north.advisor_headers)
    for cid in ids + [world.north.candidate_id]:
        with sync_engine().connect() as conn:
            orm = dict(conn.execute(select(T).where(T.c.id == uuid.UUID(cid))).one()._mapping)
        fast = asyncio.run(read((_BY_ID, {"id": uuid.UUID(cid)})))[0][0]._asdict()
        assert fast == orm
        assert {k: type(v) for k, v in fast.items()} == {k: type(v) for k, v in orm.items()}
    assert asyncio.run(read((_BY_ID, {"id": uuid.uuid4()}))) == [[]]


@pytest.mark.parametrize("sort,expected", [("target_match_year", [2027, 2028, None]),
                                           ("-target_match_year", [2028, 2027, None])])
def test_candidates_without_a_value_sort_last_either_way(client, world, sort, expected):
    h = world.south.advisor_headers
    for year in (2028, None, 2027):
        client.post("/v1/candidates", headers=h, json=candidate_body(target_match_year=year))
    ours = {world.south.candidate_id, world.south.other_candidate_id}
    items = [c for c in client.get("/v1/candidates", params={"sort": sort}, headers=h).json()["items"]
             if c["id"] not in ours]
    assert [c["target_match_year"] for c in items] == expected


def test_a_column_without_a_json_form_is_refused():
    table = Table("t", MetaData(), Column("ratio", Float))

    class M(PublicModel):
        ratio: float

    with pytest.raises(TypeError, match="ratio"):
        JsonProjection.of(table, M)


def test_the_facts_decode_as_the_orm_decodes_them(client, world):
    from app.guidance.service import _ES_OF, _MS_OF, _US_OF
    from tests.api.test_pathway_api import _record_road

    _record_road(client, world)
    params = {"cid": uuid.UUID(world.north.candidate_id)}
    fast = asyncio.run(read((_MS_OF, params), (_US_OF, params), (_ES_OF, params)))
    with sync_engine().connect() as conn:
        for query, rows in zip((_MS_OF, _US_OF, _ES_OF), fast, strict=True):
            orm = [dict(r._mapping) for r in conn.execute(query.stmt, params)]
            assert orm, query.stmt
            assert [r._asdict() for r in rows] == orm
            assert [{k: type(v) for k, v in r._asdict().items()} for r in rows] == \
                [{k: type(v) for k, v in r.items()} for r in orm]


def test_postgresql_reads_use_an_autocommit_pool_opened_and_closed_with_the_app(migrated_database, monkeypatch):
    """Outside tests the app's lifespan opens a pool of autocommit connections for these reads (no BEGIN and
    ROLLBACK round trips); on SQLite there is nothing to open. A pooled connection the server has dropped costs
    the caller nothing: the read is tried again on a fresh one."""
    import psycopg

    from app.core import reads
    from app.core.config import get_settings
    from app.core.db import Database

    async def scenario() -> None:
        d = Database()
        d.configure(get_settings().model_copy(update={"environment": "development"}))
        await d.open_read_pool()
        try:
            if d.dialect_name == "sqlite":
                assert d._pg_reads is None and d.sqlite_reader() is not None
                return
            assert d._pg_reads is not None and d.sqlite_reader() is None
            pids = set()
            for _ in range(3):  # lent out, given back, lent out again
                async with d.pg_read() as conn:
                    assert conn.autocommit
                    assert (await (await conn.execute("SELECT count(*) FROM candidate")).fetchone()) is not None
                    pids.add(conn.info.backend_pid)
            assert len(pids) == 1
            async with await psycopg.AsyncConnection.connect(d._pg_conninfo, autocommit=True) as admin:
                await admin.execute("SELECT pg_terminate_backend(%s)", (pids.pop(),))
            monkeypatch.setattr(reads, "db", d)
            assert await reads.fetch_all("SELECT 41 + 1", {}) == [(42,)]
        finally:
            await d.dispose()
        assert d._pg_reads is None

    asyncio.run(scenario())
