"""Remembered Idempotency-Key responses hold no personal data in plaintext and no secret at all; each names the
people whose data it carries, and loses it when they are deleted (a tombstone that refuses a retry) or goes when
they are erased; expired ones, tombstones too, are purged by the worker (app.core.idempotency, app.core.http)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app.core.db import db
from app.core.idempotency import Subjects, forget_idempotency_for, purge_expired_idempotency_records, unseal
from app.worker import jobs
from tests.api.helpers import CLOSED_URL, candidate_body, email, milestone_body, problem
from tests.conftest import bearer, count_rows, sync_engine

SEEDED = {"full_name": "Oriel Vantablack-Stromholt", "email": "oriel.stromholt.5521@example.org",
          "date_of_birth": "1988-11-23", "usmle_id": "71625348"}


def _rows() -> list[dict]:  # type: ignore[type-arg]
    with sync_engine().connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text("SELECT * FROM idempotency_record ORDER BY id"))]


def _row(key: str) -> dict:  # type: ignore[type-arg]
    [row] = [r for r in _rows() if r["key"] == key]
    return row


def _id(value: str | None) -> uuid.UUID | None:
    """A uuid column as read back (SQLite keeps 32 hex characters, PostgreSQL a uuid)."""
    return None if value is None else uuid.UUID(str(value))


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
    assert asyncio.run(forget(user_ids=[uuid.UUID(south_user)])) == 1  # the requests the user made
    assert [r["key"] for r in _rows()] == ["c-1"]
    assert asyncio.run(forget()) == 0


# ---- whose data a replay carries -------------------------------------------------------------------------------

def _account(cid: str) -> dict[str, str]:
    return {"email": email(), "full_name": "Oriel Account", "password": "a long passphrase 5521",
            "role": "candidate", "candidate_id": cid}


def test_a_record_names_the_candidate_and_the_user_whose_data_it_carries(client, world):
    n = world.north
    made = _post(client, "/v1/candidates", candidate_body(), n.advisor_headers, "cand")
    cid = made.json()["id"]
    account = _post(client, "/v1/users", _account(cid), n.advisor_headers, "account")
    assert account.status_code == 201, account.text
    invited = _post(client, "/v1/invitations", {"email": email(), "full_name": "Oriel Invited", "role": "candidate",
                                                "candidate_id": n.other_candidate_id}, world.admin_headers, "invite")
    assert invited.status_code == 201, invited.text
    assert _post(client, f"/v1/candidates/{cid}/milestones", milestone_body(), n.api_key_headers,
                 "milestone").status_code == 201
    assert _post(client, "/v1/organizations", {"name": f"Org {uuid.uuid4().hex[:8]}"}, world.admin_headers,
                 "org").status_code == 201
    named = {r["key"]: (_id(r["candidate_id"]), _id(r["user_id"])) for r in _rows()}
    assert named == {
        "cand": (uuid.UUID(cid), None),
        "account": (uuid.UUID(cid), uuid.UUID(account.json()["id"])),
        "invite": (uuid.UUID(n.other_candidate_id), None),
        "milestone": (uuid.UUID(cid), None),
        "org": (None, None),
    }


def test_a_response_that_wrote_several_peoples_rows_is_not_named_by_one_and_so_not_kept() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    assert Subjects().single() == (None, None)
    assert Subjects({a}, {b}).single() == (a, b)
    assert Subjects({a, b}).single() is None and Subjects(users={a, b}).single() is None


def _tombstone(row: dict) -> bool:  # type: ignore[type-arg]
    """A record whose answer is forgotten: its key, scope and fingerprint, nothing of the answer or of whom it named."""
    return (row["state"] == "forgotten" and row["fingerprint"] is not None
            and all(row[c] is None for c in ("response_status", "response_headers", "response_body", "candidate_id",
                                             "user_id")))


def _forgotten(r) -> None:  # type: ignore[no-untyped-def]
    problem(r, 409, "idempotency-replay-forgotten")
    assert "idempotent-replayed" not in r.headers


def test_deleting_a_candidate_forgets_every_replay_of_their_data(client, world):
    n = world.north
    body = candidate_body(**SEEDED)
    made = _post(client, "/v1/candidates", body, n.advisor_headers, "cand")
    cid = made.json()["id"]
    account = _account(cid)
    assert _post(client, "/v1/users", account, n.advisor_headers, "account").status_code == 201
    assert _post(client, f"/v1/candidates/{cid}/milestones", milestone_body(), n.api_key_headers,
                 "by-key").status_code == 201
    assert _post(client, f"/v1/candidates/{n.candidate_id}/milestones", milestone_body(), n.api_key_headers,
                 "someone-else").status_code == 201
    kept = _row("someone-else")
    r = client.delete(f"/v1/candidates/{cid}", headers={**n.advisor_headers, "If-Match": made.headers["etag"]})
    assert r.status_code == 204, r.text
    rows = {row["key"]: row for row in _rows()}
    assert sorted(rows) == ["account", "by-key", "cand", "someone-else"]  # the keys stay, as tombstones
    assert all(_tombstone(rows[k]) for k in ("account", "by-key", "cand")), rows
    assert rows["someone-else"] == kept  # someone else's replay is untouched
    raw = repr([rows[k] for k in ("account", "by-key", "cand")]).encode()
    for value in [*SEEDED.values(), cid, account["email"]]:
        assert value.encode() not in raw, value
    users, candidates = count_rows("user_account"), count_rows("candidate")
    _forgotten(_post(client, "/v1/users", account, n.advisor_headers, "account"))  # not run again, not replayed
    _forgotten(_post(client, "/v1/candidates", body, n.advisor_headers, "cand"))
    assert (count_rows("user_account"), count_rows("candidate")) == (users, candidates)
    again = _post(client, "/v1/candidates", body, n.advisor_headers, "cand-again")  # a new key creates it again
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    assert again.json()["id"] != cid


def test_deleting_a_user_forgets_the_replays_of_their_account_and_of_their_requests(client, world):
    n, admin = world.north, world.admin_headers
    advisor = {"email": email(), "full_name": "Oriel Advisor", "password": "a long passphrase 5521",
               "role": "advisor", "organization_id": n.org_id}
    made = _post(client, "/v1/users", advisor, admin, "advisor")
    assert made.status_code == 201, made.text
    user_id = made.json()["id"]
    theirs = bearer(uuid.UUID(user_id), "advisor", n.org_id)
    assert _post(client, "/v1/candidates", candidate_body(), theirs, "by-them").status_code == 201
    assert _post(client, "/v1/candidates", candidate_body(), n.advisor_headers, "someone-else").status_code == 201
    assert _row("advisor")["user_id"] is not None
    r = client.delete(f"/v1/users/{user_id}", headers={**admin, "If-Match": made.headers["etag"]})
    assert r.status_code == 204, r.text
    # Their account's replay is a tombstone; their own requests' go (no one can send them again).
    assert [r["key"] for r in _rows()] == ["advisor", "someone-else"]
    row = _row("advisor")
    assert _tombstone(row) and advisor["email"].encode() not in repr(row).encode()
    assert _row("someone-else")["state"] == "done"
    users = count_rows("user_account")
    _forgotten(_post(client, "/v1/users", advisor, admin, "advisor"))
    problem(_post(client, "/v1/users", {**advisor, "full_name": "Another"}, admin, "advisor"), 422,
            "idempotency-key-reused")
    assert count_rows("user_account") == users
    again = _post(client, "/v1/users", advisor, admin, "advisor-again")
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    assert again.json()["id"] != user_id


def test_forget_idempotency_for_leaves_tombstones_only_when_asked(client, world):
    n = world.north
    cid = n.other_candidate_id  # a candidate without an account yet
    assert _post(client, f"/v1/candidates/{cid}/milestones", milestone_body(), n.advisor_headers,
                 "m-1").status_code == 201
    made = _post(client, "/v1/users", _account(cid), n.advisor_headers, "account")
    assert made.status_code == 201, made.text
    theirs = bearer(uuid.UUID(made.json()["id"]), "candidate", n.org_id, cid)
    assert _post(client, f"/v1/candidates/{cid}/milestones", milestone_body(), theirs, "own").status_code == 201

    async def forget(**kw):  # type: ignore[no-untyped-def]
        async with db.session() as session:
            count = await forget_idempotency_for(session, **kw)
            await session.commit()
            return count

    user = uuid.UUID(made.json()["id"])
    assert asyncio.run(forget(candidate_id=uuid.UUID(cid), user_ids=[user], tombstones=True)) == 3
    assert [r["key"] for r in _rows()] == ["m-1", "account"]  # their own request ("own") is deleted
    assert all(_tombstone(r) for r in _rows())
    assert asyncio.run(forget(candidate_id=uuid.UUID(cid), user_ids=[user], tombstones=True)) == 0  # no one named
    assert asyncio.run(forget(candidate_id=uuid.UUID(cid), user_ids=[user])) == 0  # nor found again by erasure


def test_a_tombstone_expires_with_the_ttl(client, world):
    h = world.north.advisor_headers
    body = candidate_body()
    made = _post(client, "/v1/candidates", body, h, "gone")
    assert client.delete(f"/v1/candidates/{made.json()['id']}",
                         headers={**h, "If-Match": made.headers["etag"]}).status_code == 204
    assert _tombstone(_row("gone"))
    assert _post(client, "/v1/candidates", candidate_body(), h, "other").status_code == 201
    _age_all(25)
    again = _post(client, "/v1/candidates", body, h, "gone")  # its own expired record goes when the key comes back
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    made = _post(client, "/v1/candidates", candidate_body(), h, "gone-2")
    assert client.delete(f"/v1/candidates/{made.json()['id']}",
                         headers={**h, "If-Match": made.headers["etag"]}).status_code == 204
    _age_all(25)
    assert asyncio.run(purge_expired_idempotency_records()) == 3  # the worker purges tombstones like any record
    assert _rows() == []


# ---- secrets shown once ----------------------------------------------------------------------------------------

def _api_key(client, world):  # type: ignore[no-untyped-def]
    url = f"/v1/organizations/{world.north.org_id}/api-keys"
    return url, {"name": "retried"}, world.admin_headers, "key", "api_key"


def _webhook_endpoint(client, world):  # type: ignore[no-untyped-def]
    url = f"/v1/organizations/{world.north.org_id}/webhook-endpoints"
    return url, {"url": CLOSED_URL}, world.north.advisor_headers, "secret", "webhook_endpoint"


def _calendar_subscription(client, world):  # type: ignore[no-untyped-def]
    url = f"/v1/candidates/{world.north.candidate_id}/calendar-subscriptions"
    return url, {"name": "Phone"}, world.north.advisor_headers, "url", "calendar_subscription"


def _rotated_secret(client, world):  # type: ignore[no-untyped-def]
    h = world.north.advisor_headers
    ep = client.post(f"/v1/organizations/{world.north.org_id}/webhook-endpoints", json={"url": CLOSED_URL},
                     headers=h)
    assert ep.status_code == 201, ep.text
    url = f"/v1/organizations/{world.north.org_id}/webhook-endpoints/{ep.json()['id']}/rotate-secret"
    return url, None, h, "secret", "webhook_endpoint"


def _state(table: str) -> list[tuple]:  # type: ignore[type-arg]
    """The rows of the table that a second creation or rotation would change: how many, their secrets' hashes."""
    column = {"api_key": "key_hash", "webhook_endpoint": "secret_encrypted",
              "calendar_subscription": "token_hash"}[table]
    with sync_engine().connect() as conn:
        return sorted(tuple(r) for r in conn.execute(text(f"SELECT id, {column} FROM {table}")))


@pytest.mark.parametrize("made", [_api_key, _webhook_endpoint, _calendar_subscription, _rotated_secret],
                         ids=["api-key", "webhook-endpoint", "calendar-subscription", "rotated-webhook-secret"])
def test_a_retry_replays_a_secret_shown_once_without_it_and_makes_nothing_new(client, world, made):
    url, body, h, field, table = made(client, world)
    headers = {**h, "Idempotency-Key": f"secret-{field}"}
    first = client.post(url, json=body, headers=headers)
    assert first.status_code in (200, 201), first.text
    secret = first.json()[field]
    assert secret and first.headers["cache-control"] == "no-store" and "secret-withheld" not in first.headers
    state = _state(table)
    row = _row(f"secret-{field}")
    kept = unseal(bytes(row["response_body"]))
    assert row["state"] == "done" and secret.encode() not in kept and secret.encode() not in repr(row).encode()

    replay = client.post(url, json=body, headers=headers)
    assert replay.status_code == first.status_code and replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["secret-withheld"] == field and replay.json()[field] is None
    assert {**replay.json(), field: secret} == first.json()  # the rest as it was first sent
    assert replay.headers["location" if first.status_code == 201 else "etag"] == \
        first.headers["location" if first.status_code == 201 else "etag"]
    assert _state(table) == state  # nothing made (or rotated) again
    if table == "api_key":
        assert client.get("/v1/auth/me", headers={"X-API-Key": secret}).status_code == 200  # the first still works
    if body is not None:
        other = client.post(url, json={**body, "name" if "name" in body else "url": "http://127.0.0.1:9/other"},
                            headers=headers)
        problem(other, 422, "idempotency-key-reused")


def test_an_answer_marked_no_store_by_a_route_that_names_no_secret_is_not_kept(client, world):
    n = world.north
    r = client.post(f"/v1/candidates/{n.other_candidate_id}/erasure",
                    headers={**n.advisor_headers, "Idempotency-Key": "erase-once"})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert _rows() == []


def test_the_contract_says_what_a_retry_of_a_secret_bearing_post_gets(app):  # type: ignore[no-untyped-def]
    doc = app.openapi()
    operations = {
        ("/v1/organizations/{organization_id}/api-keys", "201"): "key",
        ("/v1/organizations/{organization_id}/webhook-endpoints", "201"): "secret",
        ("/v1/organizations/{organization_id}/webhook-endpoints/{endpoint_id}/rotate-secret", "200"): "secret",
        ("/v1/candidates/{candidate_id}/calendar-subscriptions", "201"): "url",
    }
    for (path, status), field in operations.items():
        op = doc["paths"][path]["post"]
        [key] = [p for p in op["parameters"] if p["name"] == "Idempotency-Key"]
        assert "without its secret" in key["description"] and "Secret-Withheld" in key["description"], path
        headers = op["responses"][status]["headers"]
        assert headers["Secret-Withheld"]["schema"]["enum"] == [field], path
        assert "Idempotent-Replayed" in headers, path
        schema = doc["components"]["schemas"][op["responses"][status]["content"]["application/json"]["schema"]
                                              ["$ref"].rsplit("/", 1)[1]]
        assert {"type": "null"} in schema["properties"][field]["anyOf"], path
    plain = doc["paths"]["/v1/candidates"]["post"]["parameters"]
    assert all("Secret-Withheld" not in p["description"] for p in plain if p["name"] == "Idempotency-Key")
