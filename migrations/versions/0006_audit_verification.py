"""results of audit chain verifications

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-23 15:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_verification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_by", sa.String(length=64), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("event_count", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("broken_seq", sa.BigInteger(), nullable=True),
        sa.Column("damage", sa.String(length=20), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_verification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_verification_checked_at"), ["checked_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_verification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_verification_checked_at"))
    op.drop_table("audit_verification")
