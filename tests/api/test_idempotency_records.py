"""Remembered Idempotency-Key responses hold no personal data in plaintext; expired ones are purged by the worker;
`forget_idempotency_for` erases a person's (app.core.idempotency)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from app.core.db import db
from app.core.idempotency import forget_idempotency_for, purge_expired_idempotency_records
from app.worker import jobs
from tests.api.helpers import candidate_body, milestone_body
from tests.conftest import count_rows, sync_engine

SEEDED = {"full_name": "Oriel Vantablack-Stromholt", "email": "oriel.stromholt.5521@example.org",
          "date_of_birth": "1988-11-23", "usmle_id": "71625348"}


def _rows() -> list[dict]:  # type: ignore[type-arg]
    with sync_engine().connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text("SELECT * FROM idempotency_record ORDER BY id"))]


def _post(client, url, body, headers, key):  # type: ignore[no-untyped-def]
    return client.post(url, json=body, headers={**headers, "Idempotency-Key": key})


def test_a_remembered_response_is_encrypted_and_replays_as_sent(client, world):
    h = world.north.advisor_headers
    body = candidate_body(**SEEDED)
    first = _post(client, "/v1/candidates", body, h, "enc-1")
    assert first.status_code == 201, first.text
    [row] = _rows()
    stored = bytes(row["response_body"])
    assert row["state"] == "done" and stored.startswith(b"f1:")
    raw = repr(row).encode()
    for value in SEEDED.values():
        assert value.encode() not in stored and value.encode() not in raw, value
    assert first.json()["id"].encode() not in stored  # nothing of the body in clear
    plain = hashlib.sha256(b"\0".join([b"POST", b"/v1/candidates", b"", first.request.content])).hexdigest()
    assert row["fingerprint"] != plain  # keyed: a guessed body cannot be confirmed by hashing it
    replay = _post(client, "/v1/candidates", body, h, "enc-1")
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.content == first.content and replay.headers["location"] == first.headers["location"]
    assert _post(client, "/v1/candidates", {**body, "full_name": "Other"}, h, "enc-1").status_code == 422


def test_a_record_written_before_encryption_still_replays(client, world):
    """Rows from before the upgrade hold the plain body and a plain SHA-256 fingerprint until they expire."""
    h = world.north.advisor_headers
    body = candidate_body()
    first = _post(client, "/v1/candidates", body, h, "legacy-1")
    plain = hashlib.sha256(b"\0".join([b"POST", b"/v1/candidates", b"", first.request.content])).hexdigest()
    with sync_engine().begin() as conn:
        conn.execute(text("UPDATE idempotency_record SET response_body = :b, fingerprint = :f"),
                     {"b": first.content, "f": plain})
    replay = _post(client, "/v1/candidates", body, h, "legacy-1")
    assert replay.status_code == 201 and replay.content == first.content


def test_a_body_that_no_longer_decrypts_is_refused_not_run_again(client, world):
    h = world.north.advisor_headers
    body = candidate_body()
    assert _post(client, "/v1/candidates", body, h, "rotated-1").status_code == 201
    with sync_engine().begin() as conn:
        conn.execute(text("UPDATE idempotency_record SET response_body = :b"), {"b": b"f1:not-a-fernet-token"})
    before = count_rows("candidate")
    r = _post(client, "/v1/candidates", body, h, "rotated-1")
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
    assert count_rows("candidate") == before  # not run again


def _age_all(hours: float) -> None:
    with sync_engine().begin() as conn:
        conn.execute(text("UPDATE idempotency_record SET created_at = :t"),
                     {"t": datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=hours)})


def test_the_worker_purges_expired_records(client, world):
    assert "idempotency.purge" in jobs()
    h = world.north.advisor_headers
    assert _post(client, "/v1/candidates", candidate_body(), h, "old-1").status_code == 201
    assert _post(client, "/v1/candidates", candidate_body(), h, "old-2").status_code == 201
    _age_all(25)
    assert _post(client, "/v1/candidates", candidate_body(), h, "new-1").status_code == 201
    assert asyncio.run(purge_expired_idempotency_records()) == 2
    assert [r["key"] for r in _rows()] == ["new-1"]
    assert asyncio.run(purge_expired_idempotency_records()) == 0
    _age_all(23)
    assert asyncio.run(purge_expired_idempotency_records()) == 0  # within the 24 h: kept


def test_forget_idempotency_for_a_candidate_and_a_user(client, world):
    north, south = world.north, world.south
    cid = north.candidate_id
    assert _post(client, f"/v1/candidates/{cid}/milestones", milestone_body(), north.advisor_headers,
                 "m-1").status_code == 201
    assert _post(client, "/v1/candidates", candidate_body(), north.advisor_headers, "c-1").status_code == 201
    assert _post(client, "/v1/candidates", candidate_body(), south.advisor_headers, "c-2").status_code == 201
    made = _post(client, "/v1/candidates", candidate_body(), north.api_key_headers, "c-3")
    assert made.status_code == 201

    async def forget(**kw):  # type: ignore[no-untyped-def]
        async with db.session() as session:
            n = await forget_idempotency_for(session, **kw)
            await session.commit()
            return n

    assert asyncio.run(forget(candidate_id=uuid.UUID(cid))) == 1
    assert sorted(r["key"] for r in _rows()) == ["c-1", "c-2", "c-3"]
    assert asyncio.run(forget(candidate_id=uuid.UUID(made.json()["id"]))) == 1  # the candidate it created
    assert sorted(r["key"] for r in _rows()) == ["c-1", "c-2"]
    south_user = next(r["scope_key"] for r in _rows() if r["key"] == "c-2").removeprefix("user:")
    assert asyncio.run(forget(user_id=uuid.UUID(south_user))) == 1
    assert [r["key"] for r in _rows()] == ["c-1"]
    assert asyncio.run(forget()) == 0
