"""draft bundles that process owners edit before deploying

Revision ID: 0007
Revises: 0001
Create Date: 2026-11-23 15:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.String(length=100), nullable=False),
        sa.Column("base_version_id", sa.Integer(), nullable=True),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["base_version_id"], ["process_version.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("process_id"),
    )


def downgrade() -> None:
    op.drop_table("model_draft")
