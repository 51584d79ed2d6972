"""Labels of the booking register's columns and values: from the P2 form schemas, plus the
columns the register adds itself."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from functools import cache

from engine.bundles import DEFAULT_FORMS_DIR
from forms import labels as form_labels

_SOURCE_FORMS = (
    "p2_booking.json",
    "p2_equipment_sheet.json",
    "p2_av_test.json",
    "p2_av_recheck.json",
    "p2_pre_meeting_check.json",
    "p2_class1_forms.json",
    "p2_room_checklist.json",
    "p2_room_reset.json",
    "p2_invoice.json",
    "p2_invoice_receipt.json",
    "p2_payment.json",
    "p2_material_delivery.json",
)

_REGISTER_COLUMNS = {
    "business_key": ("编号", "Reference"),
    "booked_at": ("登记时间", "Booked at"),
    "booked_by": ("登记人", "Booked by (hotline)"),
    "lead_time_hours": ("提前预订（小时）", "Lead time (hours)"),
    "meeting_class": ("会议类别", "Meeting class"),
    "leader_level": ("领导以上重要会议", "Leader-level meeting"),
    "av_sheet_issued_at": ("设备工作表发出时间", "Equipment sheet issued"),
    "av_tested_at": ("设备检测完成时间", "AV tested at"),
    "av_rechecked_by": ("复核人", "Re-checked by"),
    "av_rechecked_at": ("复核时间", "Re-checked at"),
    "pre_checked_by": ("会前检查人", "Pre-meeting check by"),
    "pre_checked_at": ("会前检查时间", "Pre-meeting check at"),
    "material_requests": ("会中临时物资需求次数", "Ad-hoc requests"),
    "reset_at": ("会后整理时间", "Room reset at"),
    "payment_status": ("收费状态", "Payment"),
    "payment_reminders": ("催款提醒次数", "Payment reminders"),
    "status": ("状态", "Status"),
    "closed_at": ("完成时间", "Completed at"),
    "av_needed": ("语音/投影", "AV"),
}

CLASS_LABELS = {
    "temporary": ("临时会议", "Temporary"),
    "class_1": ("一类会议", "Class 1"),
    "daily": ("日常会议", "Daily"),
}

STATUS_LABELS = {
    "preparing": ("会前准备", "Preparing"),
    "in_meeting": ("会议进行中", "In the meeting"),
    "awaiting_payment": ("待收款", "Awaiting payment"),
    "closed": ("已完成", "Completed"),
    "error": ("故障", "Incident"),
}

PAYMENT_LABELS = {
    "not_applicable": ("无需收费", "No fee"),
    "pending": ("待开票", "To invoice"),
    "invoiced": ("已开票待收款", "Invoiced, unpaid"),
    "paid": ("已收款", "Paid"),
}

_CODE_LABELS = {
    "meeting_class": CLASS_LABELS,
    "status": STATUS_LABELS,
    "payment_status": PAYMENT_LABELS,
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
    if field in _REGISTER_COLUMNS:
        return _pick(_REGISTER_COLUMNS[field], locale)
    schema = _schema_for(field)
    return form_labels.field_label(schema, field, locale) if schema else field


def value_label(field: str, value, locale: str = "zh_CN") -> str:
    """A stored value as people read it: codes as labels, booleans as 是/否, amounts as 0.00."""
    if value is None or value == "":
        return ""
    codes = _CODE_LABELS.get(field)
    if codes is not None and value in codes:
        return _pick(codes[value], locale)
    if isinstance(value, bool):
        schema = _schema_for(field)
        prop = (schema or {}).get("properties", {}).get(field, {})
        if "x-enum-labels" in prop:  # a yes/no question with its own answers
            return form_labels.value_label(schema, field, value, locale)
        return _pick(("是", "Yes") if value else ("否", "No"), locale)
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    schema = _schema_for(field)
    return form_labels.value_label(schema, field, value, locale) if schema else str(value)


def choices(field: str, locale: str = "zh_CN") -> list[tuple[str, str]]:
    """(code, label) of a coded column, for filters."""
    codes = _CODE_LABELS.get(field)
    if codes is not None:
        return [(code, _pick(pair, locale)) for code, pair in codes.items()]
    schema = _schema_for(field) or {}
    return [
        (code, value_label(field, code, locale)) for code in schema["properties"][field]["enum"]
    ]
