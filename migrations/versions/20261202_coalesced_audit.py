"""audit rows that are coalesced (reads, exports and disclosures of a candidate's record: one row per principal,
candidate and hour) carry the key they are coalesced by, unique, so several workers never write the same one twice

Revision ID: 3f6b8e2d9c14
Revises: 7c41d2e9a0b3
Create Date: 2026-12-02 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3f6b8e2d9c14"
down_revision: str | Sequence[str] | None = "7c41d2e9a0b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_record") as batch:
        batch.add_column(sa.Column("coalesce_key", sa.String(length=160), nullable=True))
        batch.create_index("ux_audit_record_coalesce_key", ["coalesce_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("audit_record") as batch:
        batch.drop_index("ux_audit_record_coalesce_key")
        batch.drop_column("coalesce_key")
