"""The monthly report's review process: the service task that compiles it, its register row,
and starting it when the schedule says the period is over."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import runtime
from engine.duties import periodic_duty
from engine.inbox import eligible_users
from engine.listeners import on_instance_saved
from engine.models import InstanceStatus, ProcessInstance, ProcessModel
from engine.service_tasks import current_session, register_service
from engine.settings import get_setting
from engine.working_days import business_timezone

from .models import MonthlyReport
from .report import CALENDAR_MONTH, REPORT_SCHEDULE_SETTING, Period, compute_report, period_for

REPORT_PROCESS_ID = "p3_monthly_report"
STARTER_ROLE = "manager_assistant"


def business_today() -> date:
    return datetime.now(business_timezone()).date()


def current_schedule(session: Session) -> str:
    return get_setting(session, REPORT_SCHEDULE_SETTING, CALENDAR_MONTH)


def _due_at(period: Period) -> str:
    """The end of the due day, as the ISO string with offset a timer expression needs."""
    return datetime.combine(period.due_day, time(23, 59), tzinfo=business_timezone()).isoformat()


@register_service("p3.compile_monthly_report")
def compile_monthly_report(data: dict, params: dict) -> dict:
    """The figures of the period that ends before `report_month` (default: today)."""
    session = current_session()
    month = (
        date.fromisoformat(data["report_month"]) if data.get("report_month") else business_today()
    )
    schedule = current_schedule(session)
    period = period_for(schedule, month)
    return {
        **compute_report(session, period).figures(),
        "schedule": schedule,
        "due_at": _due_at(period),
    }


@on_instance_saved(REPORT_PROCESS_ID)
def project_report(session: Session, instance: ProcessInstance, data: dict) -> None:
    figures = data.get("report")
    if not isinstance(figures, dict):
        return  # not compiled yet (the instance is in error before its first step)
    row = session.scalar(select(MonthlyReport).where(MonthlyReport.instance_id == instance.id))
    if row is None:
        row = MonthlyReport(instance_id=instance.id)
        session.add(row)
    row.schedule = figures["schedule"]
    row.first_day = date.fromisoformat(figures["period_first_day"])
    row.last_day = date.fromisoformat(figures["period_last_day"])
    row.figures = figures
    if instance.status == InstanceStatus.COMPLETED:
        row.status = "sent"
    elif data.get("review_note"):
        row.status = "reviewed"
    else:
        row.status = "open"


@periodic_duty("p3.monthly_report", every_seconds=3600)
def start_due_report_duty(session: Session) -> str | None:
    instance = start_due_report(session)
    return f"started {instance.business_key}" if instance else None


def start_due_report(session: Session, today: date | None = None) -> ProcessInstance | None:
    """Start this period's review if its day has come and it was not started yet.

    Idempotent: the register row of a period is unique. The instance is started in the name
    of the first active manager's assistant, whose lane the review is in."""
    today = today or business_today()
    period = period_for(current_schedule(session), today)
    if today < period.task_day:
        return None
    if not session.scalar(
        select(ProcessModel.id).where(ProcessModel.process_id == REPORT_PROCESS_ID)
    ):
        return None  # not deployed here
    exists = session.scalar(
        select(MonthlyReport.id).where(
            MonthlyReport.first_day == period.first_day, MonthlyReport.last_day == period.last_day
        )
    )
    if exists is not None:
        return None
    starters = eligible_users(session, [STARTER_ROLE])
    if not starters:
        return None
    return runtime.start_instance(
        session, REPORT_PROCESS_ID, starters[0], {"report_month": today.isoformat()}
    )
