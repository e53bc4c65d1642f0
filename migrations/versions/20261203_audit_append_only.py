"""the audit trail is append-only in the database: no row is ever deleted, and the one change made to a row is
erasure clearing its client address

What the service does to `audit_record` rows once written, and so what the triggers allow:
- the write hook and `app.audit.writer.record` insert rows; coalesced reads, exports and disclosures are inserted
  with `ON CONFLICT DO NOTHING` on their key (app.audit.writer), which never updates the row already there;
- erasure pseudonymises the erased candidate's rows by setting `client_address` to NULL (app.privacy.erasure);
- nothing deletes a row: the rows of a deleted or erased candidate stay (they hold ids, never values).

So every DELETE is refused, and an UPDATE is refused unless it leaves every column but `client_address` as it was
and `client_address` NULL. A column added to the table later is covered on PostgreSQL by itself (the rows are
compared whole) and must be added to the SQLite trigger's list (tests/api/test_audit_append_only.py tries every
column). Both raise an integrity error (SQLSTATE 23001 restrict_violation; SQLite's constraint error), so a bug
that tries shows as a 500, never as a silent change.

What the triggers do not see: on PostgreSQL, TRUNCATE (a statement, not a row: only the table's owner or a role
granted TRUNCATE can do it; the tests empty the tables so); on SQLite, a schema change, and SQLite drops a table's
triggers with it, so a later batch migration that rebuilds `audit_record` must create them again.

Revision ID: b2e4f6a80002
Revises: a1d3e5f70001
Create Date: 2026-12-03 06:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "b2e4f6a80002"
down_revision: str | Sequence[str] | None = "a1d3e5f70001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every column but client_address: an UPDATE that changes one of them is refused on SQLite.
FROZEN = ("id", "occurred_at", "organization_id", "candidate_id", "actor_type", "actor_id", "actor_role", "action",
          "subject_type", "subject_id", "changed_fields", "request_id", "coalesce_key")

PG_FUNCTION = """
CREATE FUNCTION audit_record_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.client_address IS NULL
       AND to_jsonb(NEW) - 'client_address' = to_jsonb(OLD) - 'client_address' THEN
        RETURN NEW;  -- erasure clearing the client address: the one change allowed
    END IF;
    RAISE EXCEPTION 'audit_record is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation', HINT = 'Only erasure may change a row, by clearing client_address.';
END
$$
"""
PG_TRIGGER = ("CREATE TRIGGER audit_record_append_only BEFORE UPDATE OR DELETE ON audit_record "
              "FOR EACH ROW EXECUTE FUNCTION audit_record_append_only()")

SQLITE_NO_DELETE = """
CREATE TRIGGER audit_record_no_delete BEFORE DELETE ON audit_record
BEGIN
    SELECT RAISE(ABORT, 'audit_record is append-only: DELETE refused');
END
"""
SQLITE_NO_UPDATE = f"""
CREATE TRIGGER audit_record_no_update BEFORE UPDATE ON audit_record
WHEN NEW.client_address IS NOT NULL OR {" OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)}
BEGIN
    SELECT RAISE(ABORT, 'audit_record is append-only: UPDATE refused (only erasure may clear client_address)');
END
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        op.execute(SQLITE_NO_DELETE)
        op.execute(SQLITE_NO_UPDATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_record_append_only ON audit_record")
        op.execute("DROP FUNCTION audit_record_append_only()")
    else:
        op.execute("DROP TRIGGER audit_record_no_update")
        op.execute("DROP TRIGGER audit_record_no_delete")
