"""Labels of the booking register's columns and values: from the P2 form schemas, plus the
columns the register adds itself."""

from __future__ import annotations

from ..register_labels import RegisterLabels

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


_LABELS = RegisterLabels(_SOURCE_FORMS, _REGISTER_COLUMNS, _CODE_LABELS)
field_label = _LABELS.field_label
value_label = _LABELS.value_label
choices = _LABELS.options
