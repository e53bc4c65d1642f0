"""computed events: organizations' deadline lead days, the feed consumers' cursors, each candidate's last computed
state, and calendar subscriptions

Revision ID: 9b3e6a1d4c75
Revises: 9a1b3c5d7e20
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9b3e6a1d4c75"
down_revision: str | Sequence[str] | None = "9a1b3c5d7e20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deadline_lead_days", sa.JSON(), server_default=sa.text("'[30, 14, 3]'"),
                                      nullable=False))
    op.create_table(
        "feed_consumer",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("txid", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("swept_on", sa.Date(), nullable=True),
        sa.Column("swept_after", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_feed_consumer")),
    )
    op.create_table(
        "computed_state",
        sa.Column("candidate_id", sa.Uuid(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("next_step", sa.String(length=64), nullable=True),
        sa.Column("earliest_feasible_cycle", sa.Integer(), nullable=True),
        sa.Column("deadline_notices", sa.JSON(), nullable=False),
        sa.Column("computed_on", sa.Date(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["candidate_id"], ["candidate.id"],
                                name=op.f("fk_computed_state_candidate_id_candidate"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("candidate_id", name=op.f("pk_computed_state")),
    )
    op.create_table(
        "calendar_subscription",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["candidate_id"], ["candidate.id"],
                                name=op.f("fk_calendar_subscription_candidate_id_candidate"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_subscription")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_subscription_token_hash")),
    )
    with op.batch_alter_table("calendar_subscription", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calendar_subscription_candidate_id"), ["candidate_id"], unique=False)


def downgrade() -> None:
    op.drop_table("calendar_subscription")
    op.drop_table("computed_state")
    op.drop_table("feed_consumer")
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.drop_column("deadline_lead_days")
