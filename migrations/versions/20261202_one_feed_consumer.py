"""one table of change-feed readers' positions: the webhook fan-out's moves into feed_consumer

Revision ID: 5e8d2c1b7a46
Revises: 4c2a7e91d5b8
Create Date: 2026-12-02 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e8d2c1b7a46"
down_revision: str | Sequence[str] | None = "4c2a7e91d5b8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("INSERT INTO feed_consumer (name, txid, seq, updated_at) "
               "SELECT name, txid, seq, updated_at FROM event_consumer "
               "WHERE name NOT IN (SELECT name FROM feed_consumer)")
    op.drop_table("event_consumer")


def downgrade() -> None:
    op.create_table(
        "event_consumer",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_event_consumer")),
    )
    op.execute("INSERT INTO event_consumer (name, txid, seq, updated_at) "
               "SELECT name, txid, seq, updated_at FROM feed_consumer WHERE name = 'webhooks'")
    op.execute("DELETE FROM feed_consumer WHERE name = 'webhooks'")
