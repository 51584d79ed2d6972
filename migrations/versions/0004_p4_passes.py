"""add the P4 pass register, its number counters and the deposit ledger

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-23 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "p4_pass",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pass_no", sa.String(length=20), nullable=False),
        sa.Column("pass_type", sa.String(length=20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("holder_name", sa.String(length=50), nullable=False),
        sa.Column("holder_id_no", sa.String(length=18), nullable=False),
        sa.Column("unit", sa.String(length=50), nullable=False),
        sa.Column("phone", sa.String(length=30), nullable=True),
        sa.Column("owner_name", sa.String(length=50), nullable=True),
        sa.Column("applicant_is_owner", sa.Boolean(), nullable=True),
        sa.Column("authorised_name", sa.String(length=50), nullable=True),
        sa.Column("lease_start", sa.Date(), nullable=True),
        sa.Column("lease_end", sa.Date(), nullable=True),
        sa.Column("renovation_application_no", sa.String(length=30), nullable=True),
        sa.Column("company", sa.String(length=100), nullable=True),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("deposit_held", sa.BigInteger(), nullable=False),
        sa.Column("receipt_no", sa.String(length=30), nullable=True),
        sa.Column("renewals", sa.Integer(), nullable=False),
        sa.Column("returned_on", sa.Date(), nullable=True),
        sa.Column("issue_instance_id", sa.Integer(), nullable=True),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["issue_instance_id"], ["process_instance.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pass_no"),
        sa.UniqueConstraint("pass_type", "year", "seq", name="uq_p4_pass_type_year_seq"),
    )
    with op.batch_alter_table("p4_pass", schema=None) as batch_op:
        batch_op.create_index("ix_p4_pass_type_status", ["pass_type", "status"], unique=False)
        batch_op.create_index("ix_p4_pass_unit", ["unit"], unique=False)

    op.create_table(
        "p4_pass_counter",
        sa.Column("pass_type", sa.String(length=20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("pass_type", "year"),
    )
    op.create_table(
        "p4_deposit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pass_id", sa.Integer(), nullable=False),
        sa.Column("pass_no", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("deposit", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("receipt_no", sa.String(length=30), nullable=True),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"]),
        sa.ForeignKeyConstraint(["pass_id"], ["p4_pass.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("p4_deposit_entry", schema=None) as batch_op:
        batch_op.create_index("ix_p4_deposit_entry_at", ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("p4_deposit_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_p4_deposit_entry_at")
    op.drop_table("p4_deposit_entry")
    op.drop_table("p4_pass_counter")
    with op.batch_alter_table("p4_pass", schema=None) as batch_op:
        batch_op.drop_index("ix_p4_pass_unit")
        batch_op.drop_index("ix_p4_pass_type_status")
    op.drop_table("p4_pass")
