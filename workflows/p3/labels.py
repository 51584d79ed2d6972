"""Labels of the ledger's columns and values: from the P3 form schemas, plus the columns the
ledger adds itself."""

from __future__ import annotations

import json
from functools import cache

from engine.bundles import DEFAULT_FORMS_DIR
from forms import labels as form_labels

_SOURCE_FORMS = (
    "p3_contact_record.json",
    "p3_complaint_record.json",
    "p3_complaint_handling.json",
    "p3_owner_informed.json",
    "p3_return_visit_designation.json",
    "p3_return_visit.json",
)

_LEDGER_COLUMNS = {
    "business_key": ("编号", "Reference"),
    "received_at": ("受理时间", "Received"),
    "receiver": ("受理人", "Received by"),
    "handler": ("投诉处理人", "Handled by"),
    "handled_at": ("处理时间", "Handled at"),
    "handling_due_at": ("处理期限", "Due"),
    "handled_on_time": ("是否按时处理", "Handled on time"),
    "status": ("台帐状态", "Status"),
    "closed_at": ("注销时间", "Closed at"),
}

STATUS_LABELS = {
    "open": ("处理中", "Open"),
    "closed": ("已注销", "Closed"),
    "error": ("故障", "Incident"),
}


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
    if field in _LEDGER_COLUMNS:
        return _pick(_LEDGER_COLUMNS[field], locale)
    schema = _schema_for(field)
    return form_labels.field_label(schema, field, locale) if schema else field


def value_label(field: str, value, locale: str = "zh_CN") -> str:
    if value is None or value == "":
        return ""
    if field == "status" and value in STATUS_LABELS:
        return _pick(STATUS_LABELS[value], locale)
    if isinstance(value, bool):
        return _pick(("是", "Yes") if value else ("否", "No"), locale)
    schema = _schema_for(field)
    return form_labels.value_label(schema, field, value, locale) if schema else str(value)
