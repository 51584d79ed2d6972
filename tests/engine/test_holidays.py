"""The admins' holiday calendar: precedence over the package, the per-process snapshot and its
refresh, imports from files, and the missing-year warning."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import insert, select

from engine import holidays
from engine.db import perform
from engine.models import AuditEvent, CalendarDay, Timer
from engine.sandbox import SandboxedEnvironment
from engine.working_days import ACTIVE_OVERRIDES, add_working_days
from workflows import scenarios
from workflows.p3 import PROCESS_ID as P3
from workflows.p3 import samples

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YEAR_2027 = [
    (date(2027, 1, 1), False, "元旦"),
    (date(2027, 1, 4), True, "调休上班"),
]


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def fresh_snapshots():
    holidays.invalidate()
    yield
    holidays.invalidate()


def _begin(session) -> None:
    """A transaction with its connection (the snapshot is taken when the connection joins)."""
    session.begin()
    session.connection()


def _enter(session, days=NEW_YEAR_2027) -> None:
    def action(s):
        for day, is_workday, name in days:
            holidays.set_day(s, day, is_workday, name, "admin")

    perform(session, action)


def test_a_deadline_across_new_year_uses_the_database_calendar(session):
    # The package ends at 2026: without the admins' entry 1 Jan 2027 (a Friday) would count.
    _enter(session)
    with time_machine.travel(at(2026, 12, 30, 10, 0), tick=False):
        instance = scenarios.start(session, P3, "front_clerk")
        scenarios.complete_step(session, instance.id, *samples.contact("complaint"))
        scenarios.complete_step(session, instance.id, *samples.complaint_record("security"))
    timer = session.scalar(select(Timer).where(Timer.instance_id == instance.id))
    assert timer.due_at == at(2027, 1, 4, 10, 0)


def test_without_the_entry_the_fallback_is_monday_to_friday(session):
    with time_machine.travel(at(2026, 12, 30, 10, 0), tick=False):
        instance = scenarios.start(session, P3, "front_clerk")
        scenarios.complete_step(session, instance.id, *samples.contact("complaint"))
        scenarios.complete_step(session, instance.id, *samples.complaint_record("security"))
    timer = session.scalar(select(Timer).where(Timer.instance_id == instance.id))
    assert timer.due_at == at(2027, 1, 1, 10, 0)


def test_the_database_takes_precedence_over_the_package(session):
    # 10 Oct 2026 is a make-up Saturday in the package; the admins say otherwise here.
    _enter(session, [(date(2026, 10, 10), False, "公司调整"), (date(2026, 10, 17), True, "")])
    env = SandboxedEnvironment()
    _begin(session)  # the snapshot is handed to scripts while a transaction runs
    with time_machine.travel(at(2026, 10, 9, 17, 0), tick=False):
        assert env.evaluate("working_days(1)", {}) == "2026-10-12T17:00:00+08:00"
    with time_machine.travel(at(2026, 10, 16, 17, 0), tick=False):
        assert env.evaluate("working_days(1)", {}) == "2026-10-17T17:00:00+08:00"
    session.rollback()


def test_the_snapshot_is_only_active_inside_a_transaction(session):
    _enter(session)
    assert ACTIVE_OVERRIDES.get() is None
    _begin(session)
    assert ACTIVE_OVERRIDES.get() == {day: kind for day, kind, _ in NEW_YEAR_2027}
    session.rollback()
    assert ACTIVE_OVERRIDES.get() is None
    assert add_working_days(at(2026, 12, 31, 10, 0), 1) == at(2027, 1, 1, 10, 0)


def test_a_change_is_seen_at_once_here_and_after_the_ttl_elsewhere(session, monkeypatch):
    _begin(session)
    assert ACTIVE_OVERRIDES.get() == {}
    session.rollback()
    # Another process writes a day: this process keeps its snapshot until the TTL passes...
    perform(
        session,
        lambda s: s.execute(
            insert(CalendarDay).values(
                day=date(2027, 2, 1),
                year=2027,
                is_workday=False,
                name="",
                updated_by="other",
                updated_at=at(2026, 11, 1),
            )
        ),
    )
    _begin(session)
    assert ACTIVE_OVERRIDES.get() == {}
    session.rollback()
    # ...which here is zero seconds.
    monkeypatch.setenv("JIEDAI_CALENDAR_TTL", "0")
    _begin(session)
    assert ACTIVE_OVERRIDES.get() == {date(2027, 2, 1): False}
    session.rollback()
    # A change made in this process is seen by the next transaction, whatever the TTL.
    monkeypatch.setenv("JIEDAI_CALENDAR_TTL", "3600")
    perform(session, lambda s: holidays.delete_day(s, date(2027, 2, 1), "admin"))
    _begin(session)
    assert ACTIVE_OVERRIDES.get() == {}
    session.rollback()


def test_changes_are_audited(session):
    _enter(session)
    perform(session, lambda s: holidays.delete_day(s, date(2027, 1, 4), "admin"))
    kinds = session.scalars(
        select(AuditEvent.kind).where(AuditEvent.kind.like("calendar:%")).order_by(AuditEvent.seq)
    ).all()
    assert kinds == ["calendar:day:set", "calendar:day:set", "calendar:day:delete"]
    assert [d.day for d in holidays.year_days(session, 2027)] == [date(2027, 1, 1)]


CSV = """date,type,name
2027-01-01,holiday,元旦
2027-02-06,休,春节
2027-02-14,班,春节调休
"""

JSON = """{"holidays": ["2027-10-01", {"date": "2027-10-02", "name": "国庆节"}],
 "workdays": [{"date": "2027-09-26", "name": "国庆调休"}]}"""


def test_import_from_csv_and_json(session):
    assert perform(session, lambda s: holidays.import_days(s, CSV, "2027.csv", "admin")) == 3
    assert perform(session, lambda s: holidays.import_days(s, JSON, "2027.json", "admin")) == 3
    days = {d.day: (d.is_workday, d.name) for d in holidays.year_days(session, 2027)}
    assert days[date(2027, 2, 14)] == (True, "春节调休")
    assert days[date(2027, 10, 2)] == (False, "国庆节")
    assert days[date(2027, 9, 26)] == (True, "国庆调休")
    assert len(days) == 6


@pytest.mark.parametrize(
    ("text", "name", "message"),
    [
        ("2027-01-01,holiday\n2027-13-01,holiday\n", "x.csv", "line 2"),
        ("2027-01-01,maybe\n", "x.csv", "type 'maybe'"),
        ("{not json", "x.json", "not valid JSON"),
        ("", "x.csv", "no dates"),
    ],
)
def test_a_bad_file_saves_nothing(session, text, name, message):
    with pytest.raises(holidays.CalendarImportError) as raised:
        perform(session, lambda s: holidays.import_days(s, text, name, "a"))
    assert message in raised.value.message("en")
    session.rollback()
    assert holidays.year_days(session, 2027) == []


def test_missing_years_names_the_years_nobody_knows(session):
    assert holidays.missing_years(session, date(2026, 11, 23)) == [2027]
    assert holidays.missing_years(session, date(2025, 6, 1)) == []
    _enter(session)
    assert holidays.missing_years(session, date(2026, 11, 23)) == []
    assert holidays.missing_years(session, date(2027, 3, 1)) == [2028]
