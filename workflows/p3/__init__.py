"""P3 — owner reception and complaint handling (业主接待与投诉处理)."""

PROCESS_ID = "p3_owner_reception"
#: Complaint contents: shown on instance pages only to the roles that read owners' records
#: (`ledger.READER_ROLES`, auditors included); the handling department sees them on its task.
CONFIDENTIAL_FIELDS = ("content", "complaint_details", "cause", "action_taken")
