"""a remembered Idempotency-Key response names the people it carries (`candidate_id`, `user_id`), indexed, so that
erasing or deleting a candidate or a user forgets every replay of their data, whoever made the request

Existing rows are left as they are: they carry no subject, and expire within the TTL (24 h).

Revision ID: a1d3e5f70001
Revises: 3f6b8e2d9c14
Create Date: 2026-12-03 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a1d3e5f70001"
down_revision: str | Sequence[str] | None = "3f6b8e2d9c14"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_record") as batch:
        batch.add_column(sa.Column("candidate_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("user_id", sa.Uuid(), nullable=True))
        batch.create_index("ix_idempotency_record_candidate_id", ["candidate_id"], unique=False)
        batch.create_index("ix_idempotency_record_user_id", ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("idempotency_record") as batch:
        batch.drop_index("ix_idempotency_record_user_id")
        batch.drop_index("ix_idempotency_record_candidate_id")
        batch.drop_column("user_id")
        batch.drop_column("candidate_id")
