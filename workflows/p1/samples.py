"""Realistic P1 step data (valid against the P1 forms), for demo data and tests."""

from __future__ import annotations

from datetime import date, timedelta


def registration(
    level: str = "routine",
    *,
    organisation: str = "南京大学党委办公室",
    visit_from: date | None = None,
    days: int = 1,
    headcount: int = 6,
    rank: str = "bureau",
) -> tuple[str, dict]:
    """The 接待工作登记表; the visit starts 10 days from today unless `visit_from` is given."""
    start = visit_from or date.today() + timedelta(days=10)
    return (
        "register_visit",
        {
            "request_channel": "letter",
            "visiting_organisation": organisation,
            "contact_person": "李明",
            "contact_phone": "025-83592114",
            "visit_purpose": "考察学习我校党建与思想政治工作经验。",
            "visit_from": start.isoformat(),
            "visit_to": (start + timedelta(days=days - 1)).isoformat(),
            "headcount": headcount,
            "highest_rank": rank,
            "delegation_leader": "王强 副书记",
            "requested_activities": ["meeting", "tour", "meal"],
            "reception_level": level,
        },
    )


LEADER = (
    "report_to_leader",
    {
        "supervising_leader": "张副校长",
        "reported_on": "2026-11-20",
        "leader_instructions": "按对等原则热情接待，安排座谈交流和校史馆参观。",
    },
)


def plan(agreed: bool = True, feedback: str | None = None) -> tuple[str, dict]:
    data = {
        "plan_summary": "上午9:00 座谈交流（行政楼第一会议室）；10:30 参观校史馆；12:00 工作午餐。",
        "receiving_leader": "张副校长",
        "plan_items": "校史馆讲解员一名",
        "contact_agreed": agreed,
    }
    if feedback:
        data["contact_feedback"] = feedback
    return ("draft_plan", data)


def approve(step: str, comment: str = "同意。") -> tuple[str, dict]:
    return (step, {"approval_decision": "approve", "approval_comment": comment})


def reject(step: str, comment: str = "请补充用餐安排和陪同人员名单。") -> tuple[str, dict]:
    return (step, {"approval_decision": "reject", "approval_comment": comment})


def meeting(decision: str = "approve", comment: str | None = None) -> tuple[str, dict]:
    data = {
        "meeting_date": "2026-11-21",
        "meeting_attendees": "张副校长、党委办公室主任、校长办公室主任、国际合作交流处处长",
        "meeting_decisions": "接待计划按草案执行；由校长办公室牵头，宣传部负责新闻报道。",
        "approval_decision": decision,
    }
    if comment:
        data["approval_comment"] = comment
    return ("coordination_meeting", data)


#: The approvals each tier needs, in order.
APPROVALS = {
    "routine": ["approve_routine"],
    "important": ["approve_by_director", "approve_by_leader"],
    "major": ["coordination_meeting"],
}


def approvals(level: str) -> list[tuple[str, dict]]:
    return [meeting() if s == "coordination_meeting" else approve(s) for s in APPROVALS[level]]


def coordination(departments: list[str]) -> tuple[str, dict]:
    return (
        "coordinate_departments",
        {
            "co_host_departments": departments,
            "preparation_items": ["av_slides", "speech_draft", "name_cards"],
            "coordination_note": "按对等原则由相关部门负责人陪同。",
        },
    )


CONFIRM = (
    "confirm_preparation",
    {
        "prepared_items": ["av_slides", "speech_draft", "name_cards", "plan_items"],
        "preparation_confirmed": True,
        "preparation_note": "已调试投影和话筒，席卡已打印。",
    },
)

FOLLOW_UP = ("follow_up_preparation", {"follow_up_note": "已电话督促各部门今天下班前落实。"})


def execution(visit_from: str, visit_to: str, headcount: int = 6) -> tuple[str, dict]:
    return (
        "record_execution",
        {
            "actual_from": visit_from,
            "actual_to": visit_to,
            "actual_headcount": headcount,
            "activities_done": ["meeting", "tour", "meal"],
            "execution_summary": "座谈交流顺利，来宾参观了校史馆，对接待工作表示满意。",
        },
    )


ARCHIVE = (
    "archive_materials",
    {
        "archived_materials": ["registration_form", "plan", "minutes", "photos"],
        "archive_location": "党办档案盒 2026-接待-12",
    },
)

DEPARTMENTS = ["president_office", "international_office", "publicity_dept"]


def path_to_preparation(level: str, departments: list[str] | None = None) -> list[tuple[str, dict]]:
    """From the registration to the departments' confirmations (not included)."""
    return [
        registration(level),
        LEADER,
        plan(),
        *approvals(level),
        coordination(departments or DEPARTMENTS),
    ]
