"""Labels of the visit register's columns and values: from the P1 form schemas, plus the
columns the register adds itself."""

from __future__ import annotations

from engine.identity import department_label

from ..register_labels import RegisterLabels

_SOURCE_FORMS = (
    "p1_visit_registration.json",
    "p1_leader_instructions.json",
    "p1_reception_plan.json",
    "p1_department_coordination.json",
    "p1_execution_record.json",
    "p1_archive.json",
    "p1_plan_approval.json",
    "p1_coordination_meeting.json",
)

_REGISTER_COLUMNS = {
    "business_key": ("编号", "Reference"),
    "registered_at": ("登记时间", "Registered"),
    "registered_by": ("登记人", "Registered by"),
    "approval_tier": ("审定层级", "Approval tier"),
    "approved_by": ("审定人", "Approved by"),
    "approved_at": ("审定时间", "Approved at"),
    "departments_confirmed": ("已确认准备的部门数", "Departments ready"),
    "status": ("状态", "Status"),
    "archived_at": ("存档时间", "Archived at"),
}

STATUS_LABELS = {
    "registering": ("登记中", "Registering"),
    "reporting": ("待领导指示", "Awaiting instructions"),
    "planning": ("制订计划", "Planning"),
    "approving": ("审定中", "Approval"),
    "preparing": ("准备中", "Preparing"),
    "executing": ("接待中", "Reception"),
    "archiving": ("待存档", "Archiving"),
    "archived": ("已存档", "Archived"),
    "cancelled": ("已取消", "Cancelled"),
    "error": ("故障", "Incident"),
}

TIER_LABELS = {
    "deputy_director": ("分管主任审定", "Deputy director approves"),
    "director_then_leader": ("主任、校领导依次审定", "Director, then university leader"),
    "coordination_meeting": ("校领导主持协调会", "Coordination meeting chaired by a leader"),
}

_OWN_LABELS = {"status": STATUS_LABELS, "approval_tier": TIER_LABELS}


_LABELS = RegisterLabels(_SOURCE_FORMS, _REGISTER_COLUMNS, _OWN_LABELS)
field_label = _LABELS.field_label
options = _LABELS.options


def value_label(field: str, value, locale: str = "zh_CN") -> str:
    """How a stored value reads; the co-hosting departments as their names."""
    if field == "co_host_departments" and value:
        separator = ", " if locale.startswith("en") else "、"
        return separator.join(department_label(code, locale) for code in value)
    return _LABELS.value_label(field, value, locale)
