"""sessions that end: user token versions, sign-in sessions and their rotating refresh tokens, password resets
and invitations

Revision ID: 7c41d2e9a0b3
Revises: 5e8d2c1b7a46
Create Date: 2026-12-02 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c41d2e9a0b3"
down_revision: str | Sequence[str] | None = "5e8d2c1b7a46"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table("auth_session",
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("user_id", sa.Uuid(), nullable=False),
    sa.Column("organization_id", sa.Uuid(), nullable=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_auth_session_user_id_user_account"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_session"))
    )
    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_session_user_id"), ["user_id"], unique=False)

    op.create_table("invitation",
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("email", sa.String(length=254), nullable=False),
    sa.Column("full_name", sa.String(length=200), nullable=False),
    sa.Column("role", sa.String(length=16), nullable=False),
    sa.Column("organization_id", sa.Uuid(), nullable=False),
    sa.Column("candidate_id", sa.Uuid(), nullable=True),
    sa.Column("invited_by_id", sa.Uuid(), nullable=True),
    sa.Column("token_hash", sa.String(length=64), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("user_id", sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(["candidate_id"], ["candidate.id"], name=op.f("fk_invitation_candidate_id_candidate"), ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["invited_by_id"], ["user_account.id"], name=op.f("fk_invitation_invited_by_id_user_account"), ondelete="SET NULL"),
    sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], name=op.f("fk_invitation_organization_id_organization"), ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_invitation_user_id_user_account"), ondelete="SET NULL"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation")),
    sa.UniqueConstraint("token_hash", name=op.f("uq_invitation_token_hash"))
    )
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invitation_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_invitation_organization_id"), ["organization_id"], unique=False)

    op.create_table("password_reset",
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("user_id", sa.Uuid(), nullable=False),
    sa.Column("organization_id", sa.Uuid(), nullable=True),
    sa.Column("token_hash", sa.String(length=64), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_password_reset_user_id_user_account"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset")),
    sa.UniqueConstraint("token_hash", name=op.f("uq_password_reset_token_hash"))
    )
    with op.batch_alter_table("password_reset", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_reset_user_id"), ["user_id"], unique=False)

    op.create_table("refresh_token",
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("session_id", sa.Uuid(), nullable=False),
    sa.Column("organization_id", sa.Uuid(), nullable=True),
    sa.Column("token_hash", sa.String(length=64), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("spent_at", sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["session_id"], ["auth_session.id"], name=op.f("fk_refresh_token_session_id_auth_session"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_token")),
    sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_token_token_hash"))
    )
    with op.batch_alter_table("refresh_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refresh_token_session_id"), ["session_id"], unique=False)

    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_version", sa.Integer(), server_default=sa.text("0"), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("token_version")

    with op.batch_alter_table("refresh_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_token_session_id"))

    op.drop_table("refresh_token")
    with op.batch_alter_table("password_reset", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_reset_user_id"))

    op.drop_table("password_reset")
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitation_organization_id"))
        batch_op.drop_index(batch_op.f("ix_invitation_email"))

    op.drop_table("invitation")
    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_session_user_id"))

    op.drop_table("auth_session")
