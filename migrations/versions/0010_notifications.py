"""add in-app notifications with their e-mail outbox, and users' e-mail addresses

Revision ID: 0010
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("human_task_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("email_status", sa.String(length=20), nullable=False),
        sa.Column("email_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("email_next_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("email_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("email_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["human_task_id"], ["human_task.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("human_task_id", "kind", "user_id", name="uq_notification_once"),
    )
    op.create_index(
        "ix_notification_user_unread", "notification", ["user_id", "read_at"], unique=False
    )
    op.create_index(
        "ix_notification_user_created", "notification", ["user_id", "created_at"], unique=False
    )
    op.create_index(
        "ix_notification_outbox", "notification", ["email_status", "email_next_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_notification_outbox", table_name="notification")
    op.drop_index("ix_notification_user_created", table_name="notification")
    op.drop_index("ix_notification_user_unread", table_name="notification")
    op.drop_table("notification")
    with op.batch_alter_table("user") as batch:
        batch.drop_column("email")
