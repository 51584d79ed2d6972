"""Labels of the visit register's columns and values: from the P1 form schemas, plus the
columns the register adds itself."""

from __future__ import annotations

import json
from functools import cache

from engine.bundles import DEFAULT_FORMS_DIR
from engine.identity import department_label
from forms import labels as form_labels

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


@cache
def _schema_for(field: str) -> dict | None:
    for name in _SOURCE_FORMS:
        schema = json.loads((DEFAULT_FORMS_DIR / name).read_text(encoding="utf-8"))
        if field in schema.get("properties", {}):
            return schema
    return None


def _pick(pair: tuple[str, str], locale: str) -> str:
    return pair[1] if locale.startswith("en") else pair[0]


def field_label(field: str, locale: str = "zh_CN") -> str:
    if field in _REGISTER_COLUMNS:
        return _pick(_REGISTER_COLUMNS[field], locale)
    schema = _schema_for(field)
    return form_labels.field_label(schema, field, locale) if schema else field


def value_label(field: str, value, locale: str = "zh_CN") -> str:
    """How a stored value reads: enum labels, department names, 是/否."""
    if value is None or value == "" or value == []:
        return ""
    if field in _OWN_LABELS and value in _OWN_LABELS[field]:
        return _pick(_OWN_LABELS[field][value], locale)
    if field == "co_host_departments":
        separator = ", " if locale.startswith("en") else "、"
        return separator.join(department_label(code, locale) for code in value)
    if isinstance(value, bool):
        return _pick(("是", "Yes") if value else ("否", "No"), locale)
    schema = _schema_for(field)
    return form_labels.value_label(schema, field, value, locale) if schema else str(value)


def options(field: str, locale: str = "zh_CN") -> list[tuple[str, str]]:
    """(code, label) pairs for a filter select."""
    if field in _OWN_LABELS:
        return [(code, _pick(pair, locale)) for code, pair in _OWN_LABELS[field].items()]
    schema = _schema_for(field)
    return form_labels.options(schema, field, locale) if schema else []
