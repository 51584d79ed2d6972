"""Working days in the business time zone: Chinese public holidays and 调休 make-up days.

Calendars answer "is this day a working day?" or None when they do not know the day; a
`CalendarChain` asks each in turn and falls back to Monday–Friday. The `chinesecalendar`
package knows the State Council's holiday notices (2004–2026 in 1.11); the admins' calendar in
the database (`engine.holidays`) is put in front of it through `ActiveOverridesCalendar`, which
reads a plain in-memory snapshot: scripts never touch a database session."""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

import chinese_calendar

DEFAULT_TIMEZONE = "Asia/Shanghai"
MAX_WORKING_DAYS = 10_000


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def business_timezone() -> ZoneInfo:
    """The zone of business dates (setting `JIEDAI_TIMEZONE`, default Asia/Shanghai)."""
    return _zone(os.environ.get("JIEDAI_TIMEZONE") or DEFAULT_TIMEZONE)


class WorkdayCalendar(Protocol):
    """Anything that can tell working days: True, False, or None for "I don't know"."""

    def is_workday(self, day: date) -> bool | None: ...


class WeekdayCalendar:
    """Monday to Friday: the fallback for days no other calendar knows."""

    def is_workday(self, day: date) -> bool:
        return day.weekday() < 5


class ChineseHolidayCalendar:
    """Mainland China's public holidays and make-up working days (`chinesecalendar`)."""

    def is_workday(self, day: date) -> bool | None:
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            # The package only knows the years whose notices were published.
            return None


class CalendarChain:
    """Ask each calendar in turn; the first definite answer wins, else Monday–Friday."""

    def __init__(self, *calendars: WorkdayCalendar):
        self.calendars = calendars
        self._fallback = WeekdayCalendar()

    def is_workday(self, day: date) -> bool:
        for calendar in self.calendars:
            answer = calendar.is_workday(day)
            if answer is not None:
                return answer
        return self._fallback.is_workday(day)


#: The admins' days of the database the current transaction works on ({day: is_workday}), set
#: by `engine.holidays` when a session begins; None outside any transaction.
ACTIVE_OVERRIDES: ContextVar[Mapping[date, bool] | None] = ContextVar(
    "jiedai_calendar_overrides", default=None
)


class ActiveOverridesCalendar:
    """The database holiday calendar, as the snapshot `ACTIVE_OVERRIDES` holds (or no opinion)."""

    def is_workday(self, day: date) -> bool | None:
        overrides = ACTIVE_OVERRIDES.get()
        return None if overrides is None else overrides.get(day)


DEFAULT_CALENDAR = CalendarChain(ActiveOverridesCalendar(), ChineseHolidayCalendar())


def is_working_day(day: date, calendar: WorkdayCalendar | None = None) -> bool:
    """Whether `day` is a working day (default calendar: Chinese holidays, then Mon–Fri)."""
    return bool((calendar or DEFAULT_CALENDAR).is_workday(day))


def add_working_days(
    start: datetime, days: int, calendar: WorkdayCalendar | None = None
) -> datetime:
    """`start` moved by `days` working days, keeping its time of day in the business zone.

    Counting starts the day after `start` (Friday 10:00 + 2 → Tuesday 10:00); a start on a
    holiday counts from the next working day. Negative `days` count backwards. The result is
    aware, in the business time zone."""
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("add_working_days needs an aware datetime")
    if isinstance(days, bool) or not isinstance(days, int):
        raise TypeError(f"days must be an integer, not {type(days).__name__}")
    if abs(days) > MAX_WORKING_DAYS:
        raise ValueError(f"days must be within ±{MAX_WORKING_DAYS}")
    calendar = calendar or DEFAULT_CALENDAR
    local = start.astimezone(business_timezone())
    day = local.date()
    step = timedelta(days=1 if days > 0 else -1)
    remaining = abs(days)
    while remaining:
        day += step
        if is_working_day(day, calendar):
            remaining -= 1
    return datetime.combine(day, local.timetz())
