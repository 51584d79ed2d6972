"""add the instance archive: ended instances' workflow state out of the hot table

Revision ID: 0012
Revises: 0001
Create Date: 2026-11-24
"""

import re
import zlib

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0001"
branch_labels = None
depends_on = None

_STATE_COLUMN = re.compile(r"(\bstate_json\s+TEXT)(\s+NOT\s+NULL)?", re.IGNORECASE)


def upgrade() -> None:
    op.create_table(
        "instance_archive",
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("state_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("archived_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"]),
        sa.PrimaryKeyConstraint("instance_id"),
    )
    op.add_column("process_instance", sa.Column("archived_at", sa.DateTime(timezone=True)))
    # An archived instance's `state_json` is NULL.
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_state_json_not_null(False)
    else:
        op.alter_column("process_instance", "state_json", existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    # Archived states go back into the hot table first, so NOT NULL holds again.
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT instance_id, state FROM instance_archive"))
    for instance_id, state in rows.all():
        connection.execute(
            sa.text("UPDATE process_instance SET state_json = :state WHERE id = :id"),
            {"state": zlib.decompress(state).decode("utf-8"), "id": instance_id},
        )
    if connection.dialect.name == "sqlite":
        _sqlite_state_json_not_null(True)
    else:
        op.alter_column("process_instance", "state_json", existing_type=sa.Text(), nullable=False)
    op.drop_column("process_instance", "archived_at")
    op.drop_table("instance_archive")


def _sqlite_state_json_not_null(not_null: bool) -> None:
    """Change the constraint in the stored table definition.

    Batch mode would copy `process_instance` and drop the old table, which SQLite refuses
    while its rows are referenced and foreign keys are on (the connection turns them on, and
    the pragma cannot change inside the migration's transaction). Removing a NOT NULL
    constraint this way is SQLite's own documented procedure (sqlite.org/lang_altertable.html,
    "making other kinds of table schema changes"): the stored rows do not change. Adding it
    back is safe here because the downgrade has refilled every row first."""
    connection = op.get_bind()
    sql = connection.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'process_instance'"
    ).scalar_one()
    changed = _STATE_COLUMN.sub(lambda m: m.group(1) + (" NOT NULL" if not_null else ""), sql, 1)
    version = connection.exec_driver_sql("PRAGMA schema_version").scalar_one()
    connection.exec_driver_sql("PRAGMA writable_schema = ON")
    connection.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'process_instance'",
        (changed,),
    )
    connection.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    connection.exec_driver_sql("PRAGMA writable_schema = OFF")
    columns = connection.exec_driver_sql("PRAGMA table_info(process_instance)").all()
    (state,) = [column for column in columns if column[1] == "state_json"]
    if bool(state[3]) != not_null:
        raise RuntimeError("could not change process_instance.state_json's NOT NULL constraint")
    if connection.exec_driver_sql("PRAGMA quick_check").scalar_one() != "ok":
        raise RuntimeError("process_instance failed SQLite's quick_check after the change")
