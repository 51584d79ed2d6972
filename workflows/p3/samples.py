"""Realistic P3 step data (valid against the P3 forms), for demo data, benchmarks and tests."""

from __future__ import annotations


def contact(
    category: str,
    *,
    owner: str = "王建国",
    unit: str = "3栋2单元1502",
    content: str = "地下车库B区照明损坏多日，夜间出入不安全。",
) -> tuple[str, dict]:
    return (
        "record_contact",
        {
            "owner_name": owner,
            "unit": unit,
            "phone": "13812345678",
            "channel": "visit",
            "content": content,
            "category": category,
        },
    )


def complaint_record(
    department: str = "security", *, serious: bool = False, complaint_class: str = "security"
) -> tuple[str, dict]:
    return (
        "record_complaint",
        {
            "complained_department": department,
            "complaint_class": complaint_class,
            "serious": serious,
            "complaint_details": "夜班保安巡逻不到位，未及时处理陌生人滞留。",
            "apologised": True,
        },
    )


ACKNOWLEDGE = ("acknowledge_serious", {"acknowledgement_note": "已知悉，请责任部门两日内处理。"})
HANDLE = (
    "handle_complaint",
    {
        "cause": "夜班人手不足，巡逻路线漏掉车库B区。",
        "action_taken": "调整排班并增加车库巡逻点。",
        "complaint_valid": True,
    },
)
REPORT = ("report_result", {"result_summary": "责任部门已调整排班并加强巡逻。"})
INFORM = ("inform_owner", {"inform_method": "phone", "inform_note": "电话告知业主处理结果。"})
RETURN_VISIT = (
    "return_visit",
    {
        "visit_method": "phone",
        "satisfaction": "satisfied",
        "visit_note": "业主表示满意。",
    },
)


def designate(username: str) -> tuple[str, dict]:
    return ("designate_return_visit", {"return_visitor": username})


def complaint_path(
    return_visitor: str, *, department: str = "security", serious: bool = False
) -> list[tuple[str, dict]]:
    """Every step of a complaint from the record to the closed ledger row."""
    steps = [contact("complaint"), complaint_record(department, serious=serious)]
    if serious:
        steps.append(ACKNOWLEDGE)
    return steps + [HANDLE, REPORT, INFORM, designate(return_visitor), RETURN_VISIT]


FIRST_STEPS = {
    "after_sales": (
        "after_sales_repair",
        {
            "defect_location": "主卧窗框",
            "agreed_fix_date": "2026-12-01",
            "fixed": False,
            "repair_note": "窗框渗水，已约定返修日期。",
        },
    ),
    "repair": (
        "repair_work_order",
        {
            "work_done": "更换厨房水龙头。",
            "completed_on": "2026-11-20",
            "fee": "35.00",
            "satisfaction": "satisfied",
        },
    ),
    "service": (
        "special_service",
        {
            "service_item": "家政清洁",
            "service_date": "2026-11-25",
            "assigned_department": "cleaning",
            "fee": "120.00",
            "fee_collected": True,
            "receipt_no": "SF-20261125-01",
        },
    ),
    "praise": (
        "praise_to_hr",
        {
            "praised_staff": "李师傅",
            "praised_department": "engineering",
            "verified": True,
            "verification_note": "经核实属实。",
        },
    ),
    "suggestion": (
        "review_suggestion",
        {"decision": "noted", "review_note": "已记录，下月例会讨论。"},
    ),
    "other": (
        "other_matter",
        {"matter_type": "lost_property", "handling_note": "拾到钥匙一串，已登记。"},
    ),
}
