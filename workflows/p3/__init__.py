"""P3 — owner reception and complaint handling (业主接待与投诉处理)."""

PROCESS_ID = "p3_owner_reception"
