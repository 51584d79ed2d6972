"""create the P1 visit register and the attachment table

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23 15:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "p1_visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("business_key", sa.String(length=64), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(length=64), nullable=False),
        sa.Column("request_channel", sa.String(length=20), nullable=True),
        sa.Column("visiting_organisation", sa.String(length=200), nullable=True),
        sa.Column("contact_person", sa.String(length=50), nullable=True),
        sa.Column("contact_phone", sa.String(length=30), nullable=True),
        sa.Column("visit_purpose", sa.Text(), nullable=True),
        sa.Column("visit_from", sa.Date(), nullable=True),
        sa.Column("visit_to", sa.Date(), nullable=True),
        sa.Column("headcount", sa.Integer(), nullable=True),
        sa.Column("highest_rank", sa.String(length=20), nullable=True),
        sa.Column("delegation_leader", sa.String(length=100), nullable=True),
        sa.Column("requested_activities", sa.JSON(), nullable=True),
        sa.Column("reception_level", sa.String(length=20), nullable=True),
        sa.Column("approval_tier", sa.String(length=30), nullable=True),
        sa.Column("supervising_leader", sa.String(length=50), nullable=True),
        sa.Column("leader_instructions", sa.Text(), nullable=True),
        sa.Column("receiving_leader", sa.String(length=100), nullable=True),
        sa.Column("plan_summary", sa.Text(), nullable=True),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("co_host_departments", sa.JSON(), nullable=True),
        sa.Column("departments_confirmed", sa.Integer(), nullable=False),
        sa.Column("actual_headcount", sa.Integer(), nullable=True),
        sa.Column("execution_summary", sa.Text(), nullable=True),
        sa.Column("archive_location", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance_id"),
    )
    with op.batch_alter_table("p1_visit", schema=None) as batch_op:
        batch_op.create_index("ix_p1_visit_level_from", ["reception_level", "visit_from"])
        batch_op.create_index("ix_p1_visit_status_from", ["status", "visit_from"])

    op.create_table(
        "attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("file_type", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attachment_instance_id"), ["instance_id"])


def downgrade() -> None:
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachment_instance_id"))
    op.drop_table("attachment")
    with op.batch_alter_table("p1_visit", schema=None) as batch_op:
        batch_op.drop_index("ix_p1_visit_status_from")
        batch_op.drop_index("ix_p1_visit_level_from")
    op.drop_table("p1_visit")
