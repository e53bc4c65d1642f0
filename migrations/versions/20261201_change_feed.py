"""change feed: external ids on milestones, USCE records and program lists; the event outbox

Revision ID: 7c4d2e9f1a30
Revises: 5e1f0c7a9b21
Create Date: 2026-12-01 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c4d2e9f1a30"
down_revision: str | Sequence[str] | None = "5e1f0c7a9b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHILDREN = ("milestone", "usce_record", "program_list")


def upgrade() -> None:
    # PostgreSQL numbers each event by its transaction (see app.events.models); SQLite has one writer at a time.
    txid_default = ("pg_current_xact_id()::text::bigint" if op.get_bind().dialect.name == "postgresql" else "0")
    for table in _CHILDREN:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("external_id", sa.String(length=64), nullable=True))
            batch_op.create_unique_constraint(f"uq_{table}_candidate_id_external_id", ["candidate_id", "external_id"])
    op.create_table(
        "event",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("txid", sa.BigInteger(), server_default=sa.text(txid_default), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("candidate_id", sa.Uuid(), nullable=True),
        sa.Column("subject_type", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("subject_external_id", sa.String(length=100), nullable=True),
        sa.Column("subject_version", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_event")),
        sa.UniqueConstraint("id", name=op.f("uq_event_id")),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index("ix_event_org_position", ["organization_id", "txid", "seq"], unique=False)
        batch_op.create_index("ix_event_position", ["txid", "seq"], unique=False)
        batch_op.create_index("ix_event_candidate", ["candidate_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_occurred_at"), ["occurred_at"], unique=False)


def downgrade() -> None:
    op.drop_table("event")
    for table in _CHILDREN:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"uq_{table}_candidate_id_external_id", type_="unique")
            batch_op.drop_column("external_id")
