"""indexes the inbox, the team workload and the register lists walk in page order

The inbox index holds the open tasks of each assignee (none, or a person), lane and
department in the inbox's order, its sort expression included (undated last), so a page is
read off it and the walk stops there instead of sorting every open task of a busy role; with
the claimer last it also serves the team workload's counts alone. The register indexes give
the complaint ledger and the pass register their page order and their date and validity
filters.

Revision ID: 0011
Revises: 0001
Create Date: 2026-11-23 18:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0001"
branch_labels = None
# why: p4_pass is created by the P4 branch.
depends_on = "0004"

INBOX_COLUMNS = [
    "status",
    "assignee_id",
    "lane",
    "candidate_department",
    sa.text("(due_at IS NULL)"),
    "due_at",
    "created_at",
    "id",
    "claimed_by_id",  # last: the team workload counts from the index alone
]


def upgrade() -> None:
    op.create_index("ix_human_task_inbox", "human_task", INBOX_COLUMNS)
    op.create_index("ix_p3_contact_received", "p3_owner_contact", ["received_at", "id"])
    op.create_index("ix_p4_pass_issued", "p4_pass", ["issued_on", "id"])
    op.create_index("ix_p4_pass_status_valid", "p4_pass", ["status", "valid_until"])


def downgrade() -> None:
    op.drop_index("ix_p4_pass_status_valid", table_name="p4_pass")
    op.drop_index("ix_p4_pass_issued", table_name="p4_pass")
    op.drop_index("ix_p3_contact_received", table_name="p3_owner_contact")
    op.drop_index("ix_human_task_inbox", table_name="human_task")
