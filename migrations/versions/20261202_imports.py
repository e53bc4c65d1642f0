"""imports: an import job per batch, one row per candidate in it; whether candidates may erase their record

Revision ID: 4c2a7e91d5b8
Revises: 9d3b6a41c2e7
Create Date: 2026-12-02 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4c2a7e91d5b8"
down_revision: str | Sequence[str] | None = "9d3b6a41c2e7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_job",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"],
                                name=op.f("fk_import_job_organization_id_organization"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_job")),
    )
    op.create_index("ix_import_job_org_created", "import_job", ["organization_id", "created_at"])
    op.create_index("ix_import_job_status", "import_job", ["status"])
    op.create_table(
        "import_item",
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("candidate_id", sa.Uuid(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("problem", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["import_id"], ["import_job.id"], name=op.f("fk_import_item_import_id_import_job"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("import_id", "position", name=op.f("pk_import_item")),
    )
    op.create_index("ix_import_item_status", "import_item", ["import_id", "status", "position"])
    with op.batch_alter_table("organization") as batch:
        batch.add_column(sa.Column("candidates_may_erase", sa.Boolean(), nullable=False,
                                   server_default=sa.text("false")))


def downgrade() -> None:
    with op.batch_alter_table("organization") as batch:
        batch.drop_column("candidates_may_erase")
    op.drop_index("ix_import_item_status", table_name="import_item")
    op.drop_table("import_item")
    op.drop_index("ix_import_job_status", table_name="import_job")
    op.drop_index("ix_import_job_org_created", table_name="import_job")
    op.drop_table("import_job")
