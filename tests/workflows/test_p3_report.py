"""The monthly complaint report: periods of both schedules, figures computed from the ledger,
exports, the review process and its idempotent start."""

from __future__ import annotations

import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy import func, select

from engine.db import perform
from engine.errors import Forbidden
from engine.settings import get_setting, set_setting
from workflows import scenarios
from workflows.p3 import PROCESS_ID as P3
from workflows.p3 import samples
from workflows.p3.models import MonthlyReport
from workflows.p3.monthly import REPORT_PROCESS_ID, start_due_report
from workflows.p3.report import (
    CALENDAR_MONTH,
    COUNT_ON_27TH,
    REPORT_SCHEDULE_SETTING,
    compute_report,
    period_for,
)
from workflows.p3.report_export import report_csv, report_xlsx

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def session(p3_url):
    from engine.bundles import DEFAULT_BPMN_DIR, collect_bundle
    from engine.db import make_engine, make_session_factory
    from engine.deploy import deploy_bundle

    engine = make_engine(p3_url)
    session = make_session_factory(engine)()
    bundle = collect_bundle(DEFAULT_BPMN_DIR / "p3_monthly_report.bpmn")
    perform(session, lambda s: deploy_bundle(s, bundle, "system:test"))
    yield session
    session.close()
    engine.dispose()


def test_calendar_month_period_is_last_month_due_on_the_24th():
    period = period_for(CALENDAR_MONTH, date(2026, 11, 5))
    assert (period.first_day, period.last_day) == (date(2026, 10, 1), date(2026, 10, 31))
    assert (period.task_day, period.due_day) == (date(2026, 11, 1), date(2026, 11, 24))
    january = period_for(CALENDAR_MONTH, date(2027, 1, 1))
    assert (january.first_day, january.last_day) == (date(2026, 12, 1), date(2026, 12, 31))


def test_count_on_27th_period_runs_from_the_28th_of_last_month():
    period = period_for(COUNT_ON_27TH, date(2026, 3, 10))
    assert (period.first_day, period.last_day) == (date(2026, 2, 28), date(2026, 3, 27))
    assert (period.task_day, period.due_day) == (date(2026, 3, 27), date(2026, 3, 28))


def _complaint_at(session, when, *, complaint_class, handled=True, satisfaction=None, valid=True):
    with time_machine.travel(when, tick=False):
        instance = scenarios.start(session, P3, "front_clerk")
        scenarios.complete_step(session, instance.id, *samples.contact("complaint"))
        scenarios.complete_step(
            session,
            instance.id,
            *samples.complaint_record("security", complaint_class=complaint_class),
        )
        if handled:
            handle = dict(samples.HANDLE[1], complaint_valid=valid)
            scenarios.complete_step(session, instance.id, "handle_complaint", handle)
    if satisfaction:
        for step in samples.complaint_path("front_clerk")[3:-1]:
            scenarios.complete_step(session, instance.id, *step)
        scenarios.complete_step(
            session,
            instance.id,
            "return_visit",
            dict(samples.RETURN_VISIT[1], satisfaction=satisfaction),
        )
    return instance


def test_figures_are_computed_from_the_records_of_the_period(session):
    october = datetime(2026, 10, 12, 10, 0, tzinfo=SHANGHAI)
    _complaint_at(session, october, complaint_class="security", satisfaction="very_satisfied")
    _complaint_at(
        session, october, complaint_class="security", satisfaction="dissatisfied", valid=False
    )
    _complaint_at(session, october, complaint_class="cleaning", handled=False)
    _complaint_at(session, datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI), complaint_class="mail")
    praise = scenarios.start(session, P3, "front_clerk")
    scenarios.complete_step(session, praise.id, *samples.contact("praise"))

    report = compute_report(session, period_for(CALENDAR_MONTH, date(2026, 11, 1)))
    assert report.complaints == 3
    assert report.by_class["security"] == 2 and report.by_class["cleaning"] == 1
    assert report.by_class["mail"] == 0
    assert report.valid_rate == 50.0  # 1 valid of 2 judged
    assert report.on_time_rate == 100.0  # both handled at once
    assert report.satisfaction_rate == 50.0
    csv_text = report_csv(report)
    assert "有效投诉率,50.0%" in csv_text and "王建国" in csv_text
    workbook = load_workbook(__import__("io").BytesIO(report_xlsx(report)))
    values = [cell.value for row in workbook.active.iter_rows() for cell in row]
    assert "投诉总数" in values and 3 in values


def test_the_review_starts_once_per_period_and_reaches_the_project_manager(session):
    today = date(2026, 11, 2)
    with time_machine.travel(datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI), tick=False):
        instance = perform(session, lambda s: start_due_report(s, today))
        assert perform(session, lambda s: start_due_report(s, today)) is None
    assert instance.process_id == REPORT_PROCESS_ID
    row = scenarios.open_task(session, instance.id, "review_report")
    due = row.due_at.astimezone(SHANGHAI)
    assert (due.month, due.day) == (11, 24)
    register = session.scalar(select(MonthlyReport))
    assert (register.first_day, register.last_day) == (date(2026, 10, 1), date(2026, 10, 31))
    assert register.status == "open"
    scenarios.complete_step(
        session,
        instance.id,
        "review_report",
        {"review_note": "安保类投诉偏多，已要求加强夜间巡逻。"},
    )
    assert scenarios.open_task(session, instance.id, "acknowledge_report").candidate_roles == [
        "project_manager"
    ]
    instance = scenarios.complete_step(session, instance.id, "acknowledge_report", {})
    assert instance.status == "completed"
    session.expire_all()
    assert session.scalar(select(MonthlyReport.status)) == "sent"
    assert session.scalar(select(func.count()).select_from(MonthlyReport)) == 1


def test_not_started_before_its_day_and_the_schedule_is_a_setting(session):
    perform(
        session,
        lambda s: set_setting(s, REPORT_SCHEDULE_SETTING, COUNT_ON_27TH, actor="process_owner"),
    )
    assert get_setting(session, REPORT_SCHEDULE_SETTING) == COUNT_ON_27TH
    assert perform(session, lambda s: start_due_report(s, date(2026, 11, 26))) is None
    instance = perform(session, lambda s: start_due_report(s, date(2026, 11, 27)))
    register = session.scalar(select(MonthlyReport).where(MonthlyReport.instance_id == instance.id))
    assert (register.first_day, register.last_day) == (date(2026, 10, 28), date(2026, 11, 27))


def test_only_the_lane_may_start_the_review_by_hand(session):
    with pytest.raises(Forbidden):
        scenarios.start(session, REPORT_PROCESS_ID, "front_clerk")


def test_the_worker_starts_the_review_once(session, p3_url):
    from engine.db import make_engine, make_session_factory
    from engine.duties import run_due_duties

    factory = make_session_factory(make_engine(p3_url))
    # Far past any run of the duty by earlier tests in this process (the clock is per worker).
    later = time.monotonic() + 10**7
    with time_machine.travel(datetime(2026, 12, 1, 8, 0, tzinfo=SHANGHAI), tick=False):
        done = run_due_duties(factory, now=later)
        assert any(line.startswith("p3.monthly_report: started JD") for line in done)
        assert run_due_duties(factory, now=later + 1) == []  # not again within the hour
        assert run_due_duties(factory, now=later + 10**4) == []  # due, but already started
    session.expire_all()
    register = session.scalar(select(MonthlyReport))
    assert (register.first_day, register.last_day) == (date(2026, 11, 1), date(2026, 11, 30))


def test_a_failing_duty_does_not_stop_the_others(p3_url, caplog):
    from engine.db import make_engine, make_session_factory
    from engine.duties import _duties, periodic_duty, run_due_duties

    @periodic_duty("test.broken", every_seconds=1)
    def broken(_session):
        raise RuntimeError("duty exploded")

    try:
        factory = make_session_factory(make_engine(p3_url))  # no monthly report deployed
        assert run_due_duties(factory, now=time.monotonic() + 2 * 10**7) == []
        assert "duty exploded" in caplog.text
    finally:
        _duties.pop("test.broken")
