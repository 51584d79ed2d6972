"""create the engine tables and the P3 contact register

Revision ID: 0001
Revises:
Create Date: 2026-11-23 14:23:41.466517
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=True),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("task", sa.String(length=200), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_kind"), ["kind"], unique=False)
        batch_op.create_index("ix_audit_instance", ["instance_id", "seq"], unique=False)

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "process_model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("process_id"),
    )
    op.create_table(
        "role",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("label_zh", sa.String(length=100), nullable=False),
        sa.Column("label_en", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_department"), ["department"], unique=False)

    op.create_table(
        "process_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("spec_json", sa.Text(), nullable=False),
        sa.Column("serializer_version", sa.String(length=20), nullable=False),
        sa.Column("deployed_by", sa.String(length=64), nullable=False),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["process_model.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model_id", "number"),
    )
    with op.batch_alter_table("process_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_process_version_checksum"), ["checksum"], unique=False)

    op.create_table(
        "user_role",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role_code", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_code"],
            ["role.code"],
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "role_code"),
    )
    op.create_table(
        "process_instance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("business_key", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("state_json", sa.Text(), nullable=False),
        sa.Column("serializer_version", sa.String(length=20), nullable=False),
        sa.Column("lock_version", sa.Integer(), nullable=False),
        sa.Column("started_by_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["started_by_id"],
            ["user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["process_version.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.create_index("ix_instance_model_status", ["process_id", "status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_process_instance_business_key"), ["business_key"], unique=False
        )

    op.create_table(
        "human_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("task_guid", sa.String(length=36), nullable=False),
        sa.Column("task_spec", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("lane", sa.String(length=300), nullable=True),
        sa.Column("candidate_department", sa.String(length=64), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("claimed_by_id", sa.Integer(), nullable=True),
        sa.Column("form_file", sa.String(length=200), nullable=True),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_by_id", sa.Integer(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["claimed_by_id"],
            ["user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["completed_by_id"],
            ["user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instance.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_guid"),
    )
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.create_index("ix_human_task_assignee", ["assignee_id", "status"], unique=False)
        batch_op.create_index("ix_human_task_claimed", ["claimed_by_id", "status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_human_task_instance_id"), ["instance_id"], unique=False
        )
        batch_op.create_index("ix_human_task_status_due", ["status", "due_at"], unique=False)

    op.create_table(
        "incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("task_spec", sa.String(length=200), nullable=True),
        sa.Column("task_name", sa.String(length=300), nullable=True),
        sa.Column("line_number", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("replay", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instance.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_instance_id"), ["instance_id"], unique=False)

    op.create_table(
        "p3_owner_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("business_key", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("receiver", sa.String(length=64), nullable=False),
        sa.Column("owner_name", sa.String(length=100), nullable=True),
        sa.Column("unit", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=True),
        sa.Column("category", sa.String(length=20), nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("complaint_class", sa.String(length=30), nullable=True),
        sa.Column("complained_department", sa.String(length=64), nullable=True),
        sa.Column("serious", sa.Boolean(), nullable=True),
        sa.Column("complaint_valid", sa.Boolean(), nullable=True),
        sa.Column("handler", sa.String(length=64), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handling_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_on_time", sa.Boolean(), nullable=True),
        sa.Column("action_taken", sa.Text(), nullable=True),
        sa.Column("inform_method", sa.String(length=20), nullable=True),
        sa.Column("satisfaction", sa.String(length=20), nullable=True),
        sa.Column("return_visitor", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instance.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance_id"),
    )
    with op.batch_alter_table("p3_owner_contact", schema=None) as batch_op:
        batch_op.create_index(
            "ix_p3_contact_category_received", ["category", "received_at"], unique=False
        )
        batch_op.create_index(
            "ix_p3_contact_status_received", ["status", "received_at"], unique=False
        )

    op.create_table(
        "timer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("task_guid", sa.String(length=36), nullable=False),
        sa.Column("task_spec", sa.String(length=200), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instance.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_guid"),
    )
    with op.batch_alter_table("timer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_timer_due_at"), ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_timer_instance_id"), ["instance_id"], unique=False)

    op.create_table(
        "human_task_candidate",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("role_code", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["human_task.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task_id", "role_code"),
    )
    with op.batch_alter_table("human_task_candidate", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_human_task_candidate_role_code"), ["role_code"], unique=False
        )
    # The audit chain starts from a head row at the genesis hash; appenders lock this row.
    audit_head = sa.table("audit_head", sa.column("id"), sa.column("seq"), sa.column("hash"))
    op.bulk_insert(audit_head, [{"id": 1, "seq": 0, "hash": "0" * 64}])


def downgrade() -> None:
    with op.batch_alter_table("human_task_candidate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_human_task_candidate_role_code"))

    op.drop_table("human_task_candidate")
    with op.batch_alter_table("timer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timer_instance_id"))
        batch_op.drop_index(batch_op.f("ix_timer_due_at"))

    op.drop_table("timer")
    with op.batch_alter_table("p3_owner_contact", schema=None) as batch_op:
        batch_op.drop_index("ix_p3_contact_status_received")
        batch_op.drop_index("ix_p3_contact_category_received")

    op.drop_table("p3_owner_contact")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_instance_id"))

    op.drop_table("incident")
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_index("ix_human_task_status_due")
        batch_op.drop_index(batch_op.f("ix_human_task_instance_id"))
        batch_op.drop_index("ix_human_task_claimed")
        batch_op.drop_index("ix_human_task_assignee")

    op.drop_table("human_task")
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_process_instance_business_key"))
        batch_op.drop_index("ix_instance_model_status")

    op.drop_table("process_instance")
    op.drop_table("user_role")
    with op.batch_alter_table("process_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_process_version_checksum"))

    op.drop_table("process_version")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_department"))

    op.drop_table("user")
    op.drop_table("role")
    op.drop_table("process_model")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_instance")
        batch_op.drop_index(batch_op.f("ix_audit_event_kind"))
        batch_op.drop_index(batch_op.f("ix_audit_event_at"))
        batch_op.drop_index(batch_op.f("ix_audit_event_actor"))

    op.drop_table("audit_event")
