"""Test database and app fixtures.

The suite runs against SQLite by default and against PostgreSQL when TEST_DATABASE_URL is set. Either way the schema
is built by the real Alembic migrations (never create_all), once per session, and every test starts from empty
tables (truncated after each test that touched the database).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("TEST_DATABASE_URL")
SQLITE_PATH = ROOT / "var" / f"test-{os.getpid()}.db"
DATABASE_URL = PG_URL or f"sqlite:///{SQLITE_PATH}"

os.environ["DATABASE_URL"] = DATABASE_URL
os.environ["ENVIRONMENT"] = "test"
os.environ["SECRET_KEY"] = "test-secret-key-that-is-long-enough-0123456789"
os.environ.pop("MATCHREADY_DEMO_PASSWORD", None)
os.environ["WEBHOOK_ALLOW_PRIVATE_URLS"] = "true"  # the tests' receivers listen on loopback
os.environ["WEBHOOK_TIMEOUT_SECONDS"] = "2"
os.environ["AUDIT_FLUSH_SECONDS"] = "0"  # reads reach the audit trail when a test reads it, never mid-test
os.environ["SMTP_HOST"] = ""  # mails go to files (tests that read them start an SMTP server of their own)
os.environ["MAIL_DIR"] = str(ROOT / "var" / f"test-mail-{os.getpid()}")

from hypothesis import settings as hypothesis_settings  # noqa: E402

# Under CI the property tests draw the same examples every run, so a landing never hangs on a lucky draw; run
# locally they explore afresh, which is how they find new counterexamples.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    hypothesis_settings.load_profile("ci")

from app.core.config import get_settings  # noqa: E402
from app.core.db import db, sync_url  # noqa: E402

get_settings.cache_clear()

TABLES = ["invitation", "password_reset", "refresh_token", "auth_session", "import_item", "import_job",
          "webhook_attempt", "webhook_delivery", "webhook_endpoint", "computed_state",
          "feed_consumer", "calendar_subscription", "audit_record", "event", "idempotency_record",
          "program_list_entry", "program_list", "program", "usce_record", "milestone", "user_account", "api_key",
          "candidate", "organization"]


def backend() -> str:
    return "postgresql" if PG_URL else "sqlite"


def _fresh_database() -> None:
    if PG_URL:
        eng = create_engine(sync_url(PG_URL), isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        eng.dispose()
    else:
        SQLITE_PATH.parent.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(SQLITE_PATH) + suffix).unlink(missing_ok=True)


@pytest.fixture(scope="session", autouse=True)
def migrated_database() -> Iterator[str]:
    from app.core.migrate import upgrade_head

    _fresh_database()
    upgrade_head(DATABASE_URL)
    yield DATABASE_URL
    import shutil

    shutil.rmtree(os.environ["MAIL_DIR"], ignore_errors=True)
    if not PG_URL:
        for suffix in ("", "-wal", "-shm"):
            Path(str(SQLITE_PATH) + suffix).unlink(missing_ok=True)


_sync_engine = None


def sync_engine():  # type: ignore[no-untyped-def]
    global _sync_engine
    if _sync_engine is None:
        _sync_engine = create_engine(sync_url(DATABASE_URL))
    return _sync_engine


def delete_all(conn: Connection) -> None:
    """Delete every row of every table, children first. The audit trail refuses DELETE (append-only: migration
    b2e4f6a80002), so it is emptied as only its owner can: TRUNCATE on PostgreSQL (row triggers do not see it); on
    SQLite with its triggers lifted for the statement and put back as they were."""
    for t in TABLES:
        if t != "audit_record":
            conn.execute(text(f"DELETE FROM {t}"))
        elif PG_URL:
            conn.execute(text("TRUNCATE audit_record"))
        else:
            triggers = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                         "AND tbl_name = 'audit_record'")).all()
            for name, _ in triggers:
                conn.execute(text(f'DROP TRIGGER "{name}"'))
            conn.execute(text("DELETE FROM audit_record"))
            for _, sql in triggers:
                conn.execute(text(sql))


def truncate_all() -> None:
    with sync_engine().begin() as conn:
        if PG_URL:
            conn.execute(text("TRUNCATE " + ", ".join(TABLES) + " CASCADE"))
        else:
            delete_all(conn)


def count_rows(table: str) -> int:
    with sync_engine().connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


@pytest.fixture
def clean_db() -> Iterator[None]:
    from app.core.coalesced import accesses

    accesses.clear()  # accesses noted by an earlier test are not this one's
    truncate_all()
    yield
    truncate_all()


@pytest.fixture(scope="session")
def app():  # type: ignore[no-untyped-def]
    from app.main import create_app

    get_settings.cache_clear()
    db.configure(get_settings())
    return create_app()


@pytest.fixture(scope="session")
def session_client(app):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def client(session_client, clean_db):  # type: ignore[no-untyped-def]
    session_client.headers.clear()
    session_client.portal.call(session_client.app.state.throttle.reset)  # every test starts with fresh budgets
    return session_client


# ---- a small world of principals -----------------------------------------------------------------------------

@dataclass
class Party:
    """One organization with its advisor, a candidate (with an account) and an API key."""

    org_id: str
    advisor_headers: dict[str, str]
    candidate_id: str
    candidate_headers: dict[str, str]
    api_key_headers: dict[str, str]
    other_candidate_id: str = ""


@dataclass
class World:
    admin_headers: dict[str, str]
    north: Party
    south: Party
    extra: dict[str, str] = field(default_factory=dict)


def bearer(user_id: uuid.UUID, role: str, org: str | None = None, cand: str | None = None) -> dict[str, str]:
    from app.core.security import Role, create_access_token

    token, _ = create_access_token(user_id=user_id, role=Role(role),
                                   organization_id=uuid.UUID(org) if org else None,
                                   candidate_id=uuid.UUID(cand) if cand else None)
    return {"Authorization": f"Bearer {token}"}


def insert_rows(conn: Connection, model: type, *rows: dict) -> None:  # type: ignore[type-arg]
    """Rows built by the model (`new_row`: its defaults, its field names; a field it lacks is an error), written
    with a plain INSERT on `conn`: no ORM session, so no write hook, no event and no audit row (what the tests of
    those build, they build through the API)."""
    from app.core.models import new_row, table_of

    table = table_of(model)
    # a column the database fills (a sequence, a server default such as the event's txid) is left to it when None
    filled = {c.name for c in table.columns if c.server_default is not None or c is table.autoincrement_column}
    built = [{k: v for k, v in new_row(model, **row).items() if v is not None or k not in filled} for row in rows]
    conn.execute(table.insert(), built)


def _insert_world() -> World:
    """Rows straight into the database (fast), tokens minted directly: what the tests under test don't cover."""
    from app.accounts.models import ApiKey, Organization, User
    from app.candidates.models import Candidate
    from app.core.security import hash_api_key

    pw_hash = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$ZbbKb0QOS9v8m9Ux0wCj5e9gTGU1Vw0B8Y7h3x0lQ0g"
    admin_id = uuid.uuid4()
    parties = {}
    with sync_engine().begin() as conn:
        insert_rows(conn, User, dict(id=admin_id, email="admin@test.test", full_name="Admin", password_hash=pw_hash,
                                     role="admin"))
        for name in ("north", "south"):
            org, adv, cand, cand2, cuser = (uuid.uuid4() for _ in range(5))
            insert_rows(conn, Organization, dict(id=org, name=name))
            insert_rows(conn, Candidate, *(dict(id=cid, organization_id=org, full_name=f"{name} candidate {label}",
                                                us_status="none", target_specialties=["internal_medicine"],
                                                visa_need="j1", target_match_year=2027,
                                                graduation_on=date(2024, 6, 30))
                                           for cid, label in ((cand, "one"), (cand2, "two"))))
            insert_rows(conn, User,
                        dict(id=adv, email=f"advisor@{name}.test", full_name="Advisor", password_hash=pw_hash,
                             role="advisor", organization_id=org),
                        dict(id=cuser, email=f"candidate@{name}.test", full_name="Cand", password_hash=pw_hash,
                             role="candidate", organization_id=org, candidate_id=cand))
            secret = f"mrk_test_{name}_{uuid.uuid4().hex}"
            insert_rows(conn, ApiKey, dict(organization_id=org, name="sync", prefix=secret[:10],
                                           key_hash=hash_api_key(secret)))
            parties[name] = Party(
                org_id=str(org),
                advisor_headers=bearer(adv, "advisor", str(org)),
                candidate_id=str(cand),
                candidate_headers=bearer(cuser, "candidate", str(org), str(cand)),
                api_key_headers={"X-API-Key": secret},
                other_candidate_id=str(cand2),
            )
    return World(admin_headers=bearer(admin_id, "admin"), north=parties["north"], south=parties["south"])


def _uid(u: uuid.UUID) -> str:
    # SQLite stores SQLAlchemy's Uuid as 32 hex characters; PostgreSQL takes the canonical form.
    return str(u) if PG_URL else u.hex


@pytest.fixture
def world(client) -> World:  # type: ignore[no-untyped-def]
    return _insert_world()


def assert_problem(resp, status: int, slug: str | None = None) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.headers
    body = resp.json()
    assert body["status"] == status
    if slug is not None:
        assert body["type"] == f"/problems/{slug}", body
    return body


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """`settings(NAME=value, ...)`: environment overrides, read afresh by the service and the jobs."""

    def apply(**env: str) -> None:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()
