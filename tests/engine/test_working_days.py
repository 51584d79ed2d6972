"""Working days: Chinese holidays and 调休 make-up days, fallback, the script helper."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from engine.sandbox import SandboxedEnvironment
from engine.working_days import (
    CalendarChain,
    ChineseHolidayCalendar,
    WeekdayCalendar,
    add_working_days,
    business_timezone,
    is_working_day,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def test_friday_plus_two_working_days_is_tuesday_same_time():
    assert add_working_days(at(2026, 11, 20, 10, 0), 2) == at(2026, 11, 24, 10, 0)


def test_the_start_is_read_in_business_time():
    # 02:00 UTC is 10:00 in Shanghai; the result carries the +08:00 offset.
    result = add_working_days(datetime(2026, 11, 20, 2, 0, tzinfo=UTC), 2)
    assert result.isoformat() == "2026-11-24T10:00:00+08:00"


def test_national_day_2026_is_skipped():
    # 1–7 Oct 2026 are holidays: Wednesday 30 Sep + 1 working day is Thursday 8 Oct.
    assert add_working_days(at(2026, 9, 30, 9, 30), 1) == at(2026, 10, 8, 9, 30)


def test_a_make_up_saturday_counts():
    # Saturday 10 Oct 2026 is a 调休 working day (and Sunday 20 Sep before it).
    assert is_working_day(date(2026, 10, 10)) and is_working_day(date(2026, 9, 20))
    assert add_working_days(at(2026, 10, 9, 17, 0), 1) == at(2026, 10, 10, 17, 0)
    assert add_working_days(at(2026, 10, 9, 17, 0), 2) == at(2026, 10, 12, 17, 0)


def test_a_start_on_a_holiday_counts_from_the_next_working_day():
    assert add_working_days(at(2026, 10, 3, 11, 0), 1) == at(2026, 10, 8, 11, 0)


def test_negative_days_count_backwards():
    assert add_working_days(at(2026, 10, 8, 9, 0), -1) == at(2026, 9, 30, 9, 0)
    assert add_working_days(at(2026, 10, 8, 9, 0), 0) == at(2026, 10, 8, 9, 0)


def test_unknown_years_fall_back_to_monday_to_friday():
    # chinesecalendar 1.11 knows 2004–2026; 1 Jan 2027 (a Friday) counts as a working day.
    assert ChineseHolidayCalendar().is_workday(date(2027, 1, 1)) is None
    assert add_working_days(at(2026, 12, 31, 10, 0), 1) == at(2027, 1, 1, 10, 0)
    assert add_working_days(at(2027, 3, 5, 10, 0), 1) == at(2027, 3, 8, 10, 0)


def test_a_calendar_can_be_put_in_front():
    class CompanyCalendar:
        """Knows one extra day off; for everything else it has no opinion."""

        def is_workday(self, day: date) -> bool | None:
            return False if day == date(2026, 11, 23) else None

    chain = CalendarChain(CompanyCalendar(), ChineseHolidayCalendar())
    assert add_working_days(at(2026, 11, 20, 10, 0), 2, chain) == at(2026, 11, 25, 10, 0)
    weekdays_only = add_working_days(at(2026, 11, 20, 10, 0), 2, WeekdayCalendar())
    assert weekdays_only == at(2026, 11, 24, 10, 0)


def test_naive_starts_and_runaway_counts_are_refused():
    with pytest.raises(ValueError, match="aware"):
        add_working_days(datetime(2026, 11, 20, 10, 0), 2)
    with pytest.raises(ValueError):
        add_working_days(at(2026, 11, 20, 10, 0), 10**6)
    with pytest.raises(TypeError):
        add_working_days(at(2026, 11, 20, 10, 0), 1.5)


def test_business_timezone_follows_the_setting(monkeypatch):
    assert business_timezone() == SHANGHAI
    monkeypatch.setenv("JIEDAI_TIMEZONE", "Asia/Urumqi")
    assert business_timezone() == ZoneInfo("Asia/Urumqi")


def test_the_script_helper_reads_the_controlled_clock():
    env = SandboxedEnvironment()
    with time_machine.travel(at(2026, 9, 30, 16, 45), tick=False):
        assert env.evaluate("working_days(1)", {}) == "2026-10-08T16:45:00+08:00"
        assert env.evaluate("today_iso()", {}) == "2026-09-30"
    with time_machine.travel(at(2027, 1, 1, 8, 0), tick=False):
        assert env.evaluate("working_days(1)", {}) == "2027-01-04T08:00:00+08:00"


def test_the_helper_uses_the_environment_calendar():
    env = SandboxedEnvironment(calendar=WeekdayCalendar())
    with time_machine.travel(at(2026, 9, 30, 16, 45), tick=False):
        assert env.evaluate("working_days(1)", {}) == "2026-10-01T16:45:00+08:00"
