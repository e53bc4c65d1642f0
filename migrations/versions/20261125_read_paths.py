"""candidate read paths: facts_version for cached computed views, indexes for an organization's pages

Revision ID: 5e1f0c7a9b21
Revises: 23b880c28dcd
Create Date: 2026-11-25 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e1f0c7a9b21"
down_revision: str | Sequence[str] | None = "23b880c28dcd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("candidate", schema=None) as batch_op:
        batch_op.add_column(sa.Column("facts_version", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index("ix_candidate_org_created", ["organization_id", "created_at", "id"], unique=False)
        batch_op.create_index("ix_candidate_org_name", ["organization_id", "full_name", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("candidate", schema=None) as batch_op:
        batch_op.drop_index("ix_candidate_org_name")
        batch_op.drop_index("ix_candidate_org_created")
        batch_op.drop_column("facts_version")
