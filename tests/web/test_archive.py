"""An archived instance in the web app (detail page, auditors' timeline, registers) and the
`jiedai archive` command."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from click.testing import CliRunner
from sqlalchemy import select

from engine.archive import archive_before, business_today
from engine.db import make_engine, make_session_factory
from engine.models import ProcessInstance
from engine.working_days import business_timezone
from web.cli import main
from workflows import scenarios
from workflows.p3 import PROCESS_ID as P3
from workflows.p3 import samples


@pytest.fixture
def database_url(p3_url):
    return p3_url


def _closed_complaint(session, days_ago: int = 40) -> tuple[int, datetime]:
    when = datetime.now(business_timezone()).replace(hour=10) - timedelta(days=days_ago)
    with time_machine.travel(when, tick=False):
        instance = scenarios.start(session, P3, "front_clerk")
        scenarios.run_steps(session, instance.id, samples.complaint_path("front_clerk"))
    return instance.id, when


def _report_month(when: datetime) -> str:
    return (when.replace(day=1) + timedelta(days=32)).strftime("%Y-%m")


def test_an_archived_instance_shows_as_before(db_session, login_as, make_user):
    instance_id, when = _closed_complaint(db_session)
    clerk = login_as("front_clerk")
    page = f"/instances/{instance_id}"
    exports = [
        "/registers/complaints.csv",
        f"/registers/complaints/report.csv?month={_report_month(when)}",
    ]
    before = {url: clerk.get(url).get_data(as_text=True) for url in exports}
    assert "badge-archived" not in clerk.get(page).get_data(as_text=True)
    assert "王建国" in before[exports[0]]

    result = archive_before(db_session, business_today(), actor="admin")
    assert result.instance_ids == [instance_id]
    db_session.rollback()
    assert db_session.get(ProcessInstance, instance_id).state_json is None

    html = clerk.get(page).get_data(as_text=True)
    assert "badge-archived" in html
    # The data tab, the history and the path on the diagram come from the archived state.
    assert "夜班人手不足，巡逻路线漏掉车库B区。" in html and "业主表示满意。" in html
    assert "return_visit" in html.split('data-done="', 1)[1].split('"', 1)[0]
    assert {url: clerk.get(url).get_data(as_text=True) for url in exports} == before
    # Who may see it is unchanged: another clerk, whom the first task was for.
    make_user("clerk2", ["front_clerk"])
    assert login_as("clerk2").get(page).status_code == 200
    auditor = login_as("auditor")
    timeline = auditor.get(f"/audit/instances/{instance_id}")
    assert timeline.status_code == 200 and "业主表示满意。" in timeline.get_data(as_text=True)
    record = auditor.get(f"/audit/instances/{instance_id}/record.pdf")
    assert record.status_code == 200 and record.data.startswith(b"%PDF")


@pytest.fixture
def cli(p3_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", p3_url)
    monkeypatch.setenv("JIEDAI_LANG", "en")
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args))


@pytest.fixture
def committed(p3_url):
    """Two closed complaints, 40 and 20 days old, committed (the CLI opens its own engine)."""
    engine = make_engine(p3_url)
    session = make_session_factory(engine)()
    ids = [_closed_complaint(session, 40)[0], _closed_complaint(session, 20)[0]]
    yield session, ids
    session.close()
    engine.dispose()


def test_archive_command(cli, committed):
    session, (older, newer) = committed
    cut = (business_today() - timedelta(days=30)).isoformat()

    dry = cli("archive", "--before", cut, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would archive 1 instances" in dry.output and "nothing changed" in dry.output
    assert (
        session.scalar(select(ProcessInstance.archived_at).where(ProcessInstance.id == older))
        is None
    )

    done = cli("archive", "--before", cut, "--user", "process_owner")
    assert done.exit_code == 0, done.output
    assert "archived 1 instances" in done.output and "audit event #" in done.output
    assert "--vacuum" in done.output
    session.rollback()
    archived = dict(session.execute(select(ProcessInstance.id, ProcessInstance.archived_at)).all())
    assert archived[older] is not None and archived[newer] is None

    again = cli("archive", "--before", cut)
    assert "archived 0 instances" in again.output and "audit event none" in again.output
    rest = cli("archive", "--before", business_today().isoformat(), "--vacuum")
    assert rest.exit_code == 0 and "archived 1 instances" in rest.output
    assert "VACUUM done." in rest.output
    verified = cli("audit", "verify")
    assert verified.exit_code == 0 and "OK" in verified.output


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("2026-13-01", "invalid date '2026-13-01'"),
        ("20261101", "invalid date '20261101'"),
        ("yesterday", "invalid date 'yesterday'"),
        ((datetime.now() + timedelta(days=3)).strftime("%Y-%m-%d"), "after today"),
    ],
)
def test_a_bad_date_is_one_line_and_exit_2(cli, value, text):
    result = cli("archive", "--before", value)
    assert result.exit_code == 2, result.output
    assert text in result.output and len(result.output.strip().splitlines()) == 1
