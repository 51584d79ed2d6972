"""The timer benchmark at a tiny size: its bookkeeping (every timer fired once, none lost, the
chain intact), never its timings; how it counts doubles and lost timers; and the CLI's answer
to a server it cannot use."""

from __future__ import annotations

import os
import sys
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from engine import audit_chain
from engine.db import make_engine, make_session_factory, perform
from engine.models import utcnow
from engine.schema import migrate
from web.cli import main
from workflows.benchmarks import timers as bench
from workflows.benchmarks.timers import _measure, _Seeded, run_timer_benchmark

from ..pg import server_url


@pytest.mark.postgres
def test_two_workers_fire_every_seeded_timer_exactly_once():
    server = server_url()
    report = run_timer_benchmark(20, 2.0, 2, server)
    assert report.timers == report.fired == report.completed == 20
    assert report.doubles == 0 and report.lost == 0
    assert report.chain_ok, report.chain
    # 20 starts (seeded), 20 firings, 20 completions and the deployment.
    assert report.chain.startswith("OK 61 events")
    assert all(late >= 0 for late in report.lateness)
    assert report.server_version and report.lead_margin > 0
    assert "| 20 | 2 | 2 | 20 | 20 |" in report.table()
    # Always dropped afterwards.
    assert f"jiedai_bench_timers_{os.getpid()}" not in _databases(server)


@pytest.mark.postgres
def test_the_database_is_dropped_when_a_worker_fails(monkeypatch):
    server = server_url()
    broken = [sys.executable, "-c", "print('no database for me'); raise SystemExit(3)"]
    monkeypatch.setattr(bench, "_worker_command", lambda: broken)
    with pytest.raises(bench.BenchmarkError, match="a worker exited at start: no database"):
        run_timer_benchmark(5, 1.0, 1, server)
    assert f"jiedai_bench_timers_{os.getpid()}" not in _databases(server)


def _databases(server: str) -> list[str]:
    engine = create_engine(server)
    try:
        with engine.connect() as connection:
            return connection.scalars(text("SELECT datname FROM pg_database")).all()
    finally:
        engine.dispose()


def test_doubles_and_lost_timers_are_counted_from_the_firing_events(tmp_path, monkeypatch):
    engine = make_engine(f"sqlite:///{tmp_path}/fired.sqlite3")
    migrate(engine)
    session = make_session_factory(engine)()
    due = utcnow() - timedelta(seconds=1)

    def fire(s, guid):
        payload = {"timer": 1, "task_guid": guid, "due_at": due.isoformat(), "attempt": 1}
        audit_chain.record(s, "timer:fire", actor="system:worker", instance_id=1, payload=payload)

    for guid in ("a", "a", "c"):  # a fired twice, b never
        perform(session, lambda s, g=guid: fire(s, g))
    seeded = _Seeded({"a", "b", "c"}, due, due, 0.1, 3.0)
    report = _measure(session, seeded, 2, 0.0)
    session.close()
    engine.dispose()
    assert (report.timers, report.fired, report.doubles, report.lost) == (3, 3, 1, 1)
    assert report.percentile(50) >= 1.0 and report.chain_ok
    assert not report.passed
    assert "0 doubles: FAIL; 0 lost: FAIL" in report.table()

    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "BENCHMARKS.md").write_text("# Benchmarks\n", encoding="utf-8")
    report.server_version = "15.2"
    report.record()
    text = (tmp_path / "docs" / "BENCHMARKS.md").read_text(encoding="utf-8")
    assert "### bench timers" in text and "PostgreSQL 15.2" in text


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql+psycopg://postgres@127.0.0.1:1/postgres", "cannot reach PostgreSQL at"),
        ("sqlite:///bench.sqlite3", "is not a PostgreSQL URL"),
        ("not a url", "not a database URL"),
    ],
)
def test_a_server_it_cannot_use_is_one_line_and_a_failure(url, reason):
    result = CliRunner().invoke(main, ["bench", "timers", "-n", "5", "--database-url", url])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and reason in lines[0], lines


def test_bad_sizes_are_refused_before_anything_runs():
    result = CliRunner().invoke(main, ["bench", "timers", "-n", "0"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    with pytest.raises(bench.BenchmarkError):
        run_timer_benchmark(10, -1.0, 2)
