"""PostgreSQL: each part of the inbox's unclaimed open tasks in page order

PostgreSQL does not take `assignee_id IS NULL` or `candidate_department IS NULL` as fixing an
index column for the order (an `IS NULL` is not an equality), so it could not read a lane's
part of the inbox in page order off `ix_human_task_inbox`: it bitmap-scanned every open task of
the lane and sorted them; and a person's tasks assigned by name span lanes there. These partial
indexes hold only the unclaimed open rows, keyed by lane (and department) for the unassigned or
by assignee, and then the inbox order (`engine.inbox.ORDER`), so each part is one index range
already in page order. SQLite counts `IS NULL` as an equality and reads the lanes' parts off
`ix_human_task_inbox` (migration 0011) in order: nothing changes there.

Revision ID: 0013
Revises: 0011
Create Date: 2026-11-23 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None

ORDER = [sa.text("(due_at IS NULL)"), "due_at", "created_at", "id"]
UNCLAIMED = "status = 'open' AND claimed_by_id IS NULL"
UNASSIGNED = f"{UNCLAIMED} AND assignee_id IS NULL"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_index(
        "ix_human_task_inbox_pool",
        "human_task",
        ["lane", *ORDER],
        postgresql_where=sa.text(f"{UNASSIGNED} AND candidate_department IS NULL"),
    )
    op.create_index(
        "ix_human_task_inbox_department",
        "human_task",
        ["lane", "candidate_department", *ORDER],
        postgresql_where=sa.text(f"{UNASSIGNED} AND candidate_department IS NOT NULL"),
    )
    op.create_index(
        "ix_human_task_inbox_assigned",
        "human_task",
        ["assignee_id", *ORDER],
        postgresql_where=sa.text(f"{UNCLAIMED} AND assignee_id IS NOT NULL"),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_human_task_inbox_assigned", table_name="human_task")
    op.drop_index("ix_human_task_inbox_department", table_name="human_task")
    op.drop_index("ix_human_task_inbox_pool", table_name="human_task")
