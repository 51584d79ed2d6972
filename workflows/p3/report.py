"""The monthly complaint report (投诉情况月汇总表), computed from the ledger, never typed.

Seed 002 gives two schedules: 第3、5篇 — the manager's assistant compiles it before the 25th
(here: the previous calendar month, task on the 1st, due the 24th); 第8篇 — the front desk
counts on the 27th and reports on the 28th (the 28th of last month to the 27th). Which one
applies is a setting a process owner switches (`REPORT_SCHEDULE_SETTING`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.working_days import business_timezone

from .models import OwnerContact

REPORT_SCHEDULE_SETTING = "p3.report_schedule"
CALENDAR_MONTH = "calendar_month"  # 第3、5篇: previous month, due before the 25th
COUNT_ON_27TH = "count_on_27th"  # 第8篇: 28th of last month to the 27th, reported on the 28th
SCHEDULES = (CALENDAR_MONTH, COUNT_ON_27TH)

COMPLAINT_CLASSES = (
    "security",
    "cleaning",
    "landscaping",
    "maintenance",
    "mail",
    "renovation",
    "staff_attitude",
    "other",
)
SATISFIED = ("very_satisfied", "satisfied")


@dataclass(frozen=True)
class Period:
    """The days a report covers (both inclusive), when its task starts and when it is due."""

    first_day: date
    last_day: date
    task_day: date
    due_day: date

    @property
    def label(self) -> str:
        return f"{self.first_day:%Y-%m-%d} — {self.last_day:%Y-%m-%d}"

    def bounds(self) -> tuple[datetime, datetime]:
        zone = business_timezone()
        start = datetime.combine(self.first_day, time.min, tzinfo=zone)
        end = datetime.combine(self.last_day + timedelta(days=1), time.min, tzinfo=zone)
        return start, end


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _previous_month_start(day: date) -> date:
    return _month_start(_month_start(day) - timedelta(days=1))


def period_for(schedule: str, month: date) -> Period:
    """The period reported in `month` (any day of it) under `schedule`."""
    if schedule == CALENDAR_MONTH:
        first = _previous_month_start(month)
        last = _month_start(month) - timedelta(days=1)
        return Period(first, last, _month_start(month), month.replace(day=24))
    if schedule == COUNT_ON_27TH:
        first = _previous_month_start(month).replace(day=28)
        last = month.replace(day=27)
        return Period(first, last, last, month.replace(day=28))
    raise ValueError(f"unknown report schedule {schedule!r}; one of {SCHEDULES}")


@dataclass
class ComplaintReport:
    period: Period
    rows: list[OwnerContact]
    by_class: dict[str, int] = field(default_factory=dict)
    complaints: int = 0
    valid: int = 0
    judged: int = 0
    handled: int = 0
    on_time: int = 0
    visited: int = 0
    satisfied: int = 0
    satisfaction: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def _rate(part: int, whole: int) -> float | None:
        return round(100 * part / whole, 1) if whole else None

    @property
    def valid_rate(self) -> float | None:
        """有效投诉率: valid complaints among those whose validity was judged."""
        return self._rate(self.valid, self.judged)

    @property
    def on_time_rate(self) -> float | None:
        """处理及时率: handled within the deadline among those handled."""
        return self._rate(self.on_time, self.handled)

    @property
    def satisfaction_rate(self) -> float | None:
        """Owners satisfied or very satisfied at the return visit, among those visited."""
        return self._rate(self.satisfied, self.visited)

    def figures(self) -> dict:
        """The numbers, as stored in the review task's data and exported."""
        return {
            "period_first_day": self.period.first_day.isoformat(),
            "period_last_day": self.period.last_day.isoformat(),
            "complaints": self.complaints,
            "by_class": self.by_class,
            "valid_rate": self.valid_rate,
            "on_time_rate": self.on_time_rate,
            "satisfaction_rate": self.satisfaction_rate,
            "satisfaction": self.satisfaction,
        }


def _complaints_in(period: Period):
    start, end = period.bounds()
    return (
        OwnerContact.category == "complaint",
        OwnerContact.received_at >= start,
        OwnerContact.received_at < end,
    )


def compute_report(session: Session, period: Period) -> ComplaintReport:
    """Every figure of the report from the complaints received in `period`."""
    rows = list(
        session.scalars(
            select(OwnerContact)
            .where(*_complaints_in(period))
            .order_by(OwnerContact.received_at, OwnerContact.id)
        )
    )
    classes = Counter(row.complaint_class for row in rows if row.complaint_class)
    satisfaction = Counter(row.satisfaction for row in rows if row.satisfaction)
    return ComplaintReport(
        period=period,
        rows=rows,
        by_class={code: classes.get(code, 0) for code in COMPLAINT_CLASSES},
        complaints=len(rows),
        valid=sum(1 for row in rows if row.complaint_valid),
        judged=sum(1 for row in rows if row.complaint_valid is not None),
        handled=sum(1 for row in rows if row.handled_at is not None),
        on_time=sum(1 for row in rows if row.handled_on_time),
        visited=sum(satisfaction.values()),
        satisfied=sum(satisfaction.get(code, 0) for code in SATISFIED),
        satisfaction=dict(satisfaction),
    )


def trend(session: Session, schedule: str, month: date, months: int = 12) -> list[tuple[str, int]]:
    """(month covered, complaints) for the `months` reports up to `month`, oldest first."""
    points = []
    day = _month_start(month)
    for _ in range(months):
        period = period_for(schedule, day)
        count = session.scalar(
            select(func.count()).select_from(OwnerContact).where(*_complaints_in(period))
        )
        points.append((f"{period.last_day:%Y-%m}", count))  # named by the month it covers
        day = _previous_month_start(day)
    return list(reversed(points))
