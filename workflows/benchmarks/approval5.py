"""The benchmarks' 5-user-task approval: its bundle and the submissions of each step."""

from __future__ import annotations

from pathlib import Path

from engine.bundles import Bundle, collect_bundle

DIAGRAMS = Path(__file__).resolve().parent / "diagrams"
PROCESS_ID = "bench_approval5"

#: (task spec, role that works on it, submitted data) in the order the process asks for them.
STEPS: list[tuple[str, str, dict]] = [
    (
        "submit_request",
        "front_clerk",
        {"subject": "会议室设备采购", "amount": 12800, "reason": "大会议室投影仪老化，需更换。"},
    ),
    ("assistant_review", "manager_assistant", {"decision": "approve", "comment": "情况属实。"}),
    ("manager_approval", "project_manager", {"decision": "approve", "comment": "同意。"}),
    ("deputy_approval", "deputy_director", {"decision": "approve", "comment": "同意采购。"}),
    ("director_approval", "director", {"decision": "approve", "comment": "同意。"}),
]


def bundle() -> Bundle:
    return collect_bundle(DIAGRAMS / f"{PROCESS_ID}.bpmn", DIAGRAMS / "forms")
