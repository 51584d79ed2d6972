"""P1 — university official-visit reception (高校公务来访接待)."""

PROCESS_ID = "p1_official_visit"
