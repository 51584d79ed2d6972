"""Realistic P2 step data (valid against the P2 forms), for demo data and tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from engine.working_days import business_timezone


def at(moment: datetime) -> str:
    """A meeting time as the booking form stores it: ISO 8601 with the +08:00 offset."""
    return moment.astimezone(business_timezone()).replace(microsecond=0).isoformat()


def booking(
    start: datetime,
    *,
    hours: float = 2,
    headcount: int = 12,
    rank: str = "department_head",
    room: str = "annex_201",
    av: bool = False,
    unit: str = "物业客服部",
    convener: str = "王经理",
) -> tuple[str, dict]:
    """The hotline's booking (商务接待活动登记表) for a meeting starting at `start`."""
    return (
        "log_booking",
        {
            "unit": unit,
            "booker_name": "李娜",
            "booker_phone": "13800138000",
            "headcount": headcount,
            "convener": convener,
            "convener_rank": rank,
            "room": room,
            "start_at": at(start),
            "end_at": at(start + timedelta(hours=hours)),
            "av_voice": av,
            "av_projector": av,
            "other_needs": "会场摆放鲜花，需要白板一块。",
        },
    )


def class_1_booking(start: datetime, **kwargs) -> tuple[str, dict]:
    """A large meeting in the main hall, with voice and projector, called by a company leader."""
    options = {"headcount": 80, "rank": "company_leader", "room": "main_hall", "av": True}
    return booking(start, **(options | kwargs), unit="集团发展规划部", convener="张总经理")


def equipment_sheet(technician: str = "av_tech") -> tuple[str, dict]:
    return (
        "issue_equipment_sheet",
        {
            "av_technician": technician,
            "equipment_items": "无线话筒2支、投影仪及幕布、笔记本电脑接口。",
        },
    )


AV_TEST = (
    "test_room_av",
    {
        "voice_ok": True,
        "projector_ok": True,
        "av_test_result": "ready",
        "av_attending": True,
        "av_test_note": "话筒电池已更换，投影已对焦。",
    },
)


def av_recheck(result: str = "passed") -> tuple[str, dict]:
    note = "复核正常。" if result == "passed" else "2号话筒有杂音，已通知技术员。"
    return ("recheck_av", {"av_recheck_result": result, "av_recheck_note": note})


def class_1_forms(signed_at: datetime, fee: str = "3600.00") -> tuple[str, dict]:
    return (
        "confirm_class1_forms",
        {
            "materials_list": "横幅1条、鲜花4盆、名位牌20个、矿泉水80瓶。",
            "fee_amount": fee,
            "booker_signed_name": "李娜",
            "booker_signed_at": at(signed_at),
            "forms_signed": True,
            "materials_requisitioned": True,
        },
    )


ROOM_CHECKLIST = (
    "prepare_room_day_before",
    {
        "banner_ready": True,
        "flowers_placed": True,
        "seats_checked": True,
        "name_plates_checked": True,
        "av_checked": True,
        "lights_checked": True,
        "tea_cups_ready": True,
        "hygiene_checked": True,
        "passages_clear": True,
        "room_sealed": True,
        "customer_inspected": True,
        "checklist_note": "客户已到现场查看，表示满意。",
    },
)
ARRIVAL = ("attend_temporary", {"arrived_in_room": True, "arrival_note": "3分钟到场。"})
PRE_MEETING = (
    "pre_meeting_check",
    {
        "lights_on": True,
        "ac_comfortable": True,
        "devices_ready": True,
        "materials_ready": True,
        "ashtrays_clean": True,
        "tea_ready": True,
        "pre_check_result": "ok",
    },
)
SERVE = ("serve_meeting", {"meeting_ended": True, "service_note": "每20分钟添茶一次。"})


def material_request(item: str = "插线板", note: str = "投影仪旁需要2个插位") -> dict:
    """The payload of the ad-hoc request signal (form p2_material_request.json)."""
    return {"item": item, "note": note}


def material_handled(accepted: bool = True) -> tuple[str, dict]:
    outcome = "delivered" if accepted else "explained"
    return (
        "handle_material_request",
        {"material_outcome": outcome, "customer_accepted": accepted},
    )


MATERIAL_RESOLVED = (
    "resolve_material_request",
    {"resolution_note": "负责人到场，从相邻会议室调来投影仪。"},
)


def reset(dirty: bool = False) -> tuple[str, dict]:
    return (
        "reset_room",
        {
            "tables_tidied": True,
            "ashtrays_stored": True,
            "devices_restored": True,
            "borrowed_items_returned": True,
            "room_dirty": dirty,
            "cleaner_called": dirty,
            "lights_off": True,
            "ac_off": True,
            "windows_closed": True,
        },
    )


def invoice(amount: str = "3600.00") -> tuple[str, dict]:
    return ("issue_invoice", {"invoice_no": "FP-20261127-001", "invoice_amount": amount})


def invoice_receipt(signed_at: datetime) -> tuple[str, dict]:
    return ("invoice_signed", {"invoice_signed_by": "李娜", "invoice_signed_at": at(signed_at)})


FOLLOW_UP = (
    "payment_reminder",
    {"follow_up_note": "已电话联系预订人，财务流程中。", "expected_payment_date": "2026-12-05"},
)


def payment(received_on: str = "2026-12-04", amount: str = "3600.00") -> tuple[str, dict]:
    return (
        "record_payment",
        {
            "payment_amount": amount,
            "payment_received_on": received_on,
            "payment_receipt_no": "SJ-0001",
        },
    )


def escalation(task_spec: str) -> tuple[str, dict]:
    return (task_spec, {"escalation_note": "已电话联系当事人，立即处理。"})
