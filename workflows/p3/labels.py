"""Labels of the ledger's columns and values: from the P3 form schemas, plus the columns the
ledger adds itself."""

from __future__ import annotations

from ..register_labels import RegisterLabels

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


_LABELS = RegisterLabels(_SOURCE_FORMS, _LEDGER_COLUMNS, {"status": STATUS_LABELS})
field_label = _LABELS.field_label
value_label = _LABELS.value_label
