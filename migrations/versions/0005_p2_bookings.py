"""create the P2 booking register (商务接待活动登记表)

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-23 15:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "p2_booking",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("business_key", sa.String(length=64), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("booked_by", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=100), nullable=True),
        sa.Column("booker_name", sa.String(length=50), nullable=True),
        sa.Column("booker_phone", sa.String(length=30), nullable=True),
        sa.Column("headcount", sa.Integer(), nullable=True),
        sa.Column("convener", sa.String(length=50), nullable=True),
        sa.Column("convener_rank", sa.String(length=30), nullable=True),
        sa.Column("room", sa.String(length=30), nullable=True),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("av_voice", sa.Boolean(), nullable=True),
        sa.Column("av_projector", sa.Boolean(), nullable=True),
        sa.Column("other_needs", sa.Text(), nullable=True),
        sa.Column("lead_time_hours", sa.Float(), nullable=True),
        sa.Column("meeting_class", sa.String(length=20), nullable=True),
        sa.Column("leader_level", sa.Boolean(), nullable=True),
        sa.Column("av_technician", sa.String(length=64), nullable=True),
        sa.Column("av_sheet_issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("av_test_result", sa.String(length=20), nullable=True),
        sa.Column("av_tested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("av_recheck_result", sa.String(length=20), nullable=True),
        sa.Column("av_recheck_note", sa.Text(), nullable=True),
        sa.Column("av_rechecked_by", sa.String(length=64), nullable=True),
        sa.Column("av_rechecked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pre_check_result", sa.String(length=20), nullable=True),
        sa.Column("pre_checked_by", sa.String(length=64), nullable=True),
        sa.Column("pre_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fee_amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("booker_signed_name", sa.String(length=50), nullable=True),
        sa.Column("booker_signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("room_sealed", sa.Boolean(), nullable=True),
        sa.Column("customer_inspected", sa.Boolean(), nullable=True),
        sa.Column("material_requests", sa.Integer(), nullable=False),
        sa.Column("reset_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleaner_called", sa.Boolean(), nullable=True),
        sa.Column("invoice_no", sa.String(length=40), nullable=True),
        sa.Column("invoice_amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("invoice_signed_by", sa.String(length=50), nullable=True),
        sa.Column("invoice_signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payment_status", sa.String(length=20), nullable=True),
        sa.Column("payment_amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("payment_received_on", sa.Date(), nullable=True),
        sa.Column("payment_receipt_no", sa.String(length=40), nullable=True),
        sa.Column("payment_reminders", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance_id"),
    )
    with op.batch_alter_table("p2_booking", schema=None) as batch_op:
        batch_op.create_index(
            "ix_p2_booking_class_start", ["meeting_class", "start_at"], unique=False
        )
        batch_op.create_index("ix_p2_booking_start", ["start_at"], unique=False)
        batch_op.create_index("ix_p2_booking_status_start", ["status", "start_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("p2_booking", schema=None) as batch_op:
        batch_op.drop_index("ix_p2_booking_class_start")
        batch_op.drop_index("ix_p2_booking_start")
        batch_op.drop_index("ix_p2_booking_status_start")
    op.drop_table("p2_booking")
