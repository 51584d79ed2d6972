"""`bench http` and `bench scale` at a tiny size: real gunicorn, real clients; the tests
check the bookkeeping (counts, nothing lost, nothing done twice), never the timings."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tests.pg import server_url
from web.cli import main
from workflows.benchmarks import serving
from workflows.benchmarks.http import (
    KINDS,
    check_bookkeeping,
    run_http_benchmark,
    run_scale_benchmark,
)


def _assert_every_step_done(run, instances: int) -> None:
    stats, books = run.load.stats, run.books
    assert stats.completions == instances * 5
    assert books.started == books.completed == instances and not books.unaccounted
    assert books.saved_completions == books.told_completed == instances * 5
    assert books.completed_twice == 0 and books.audit_ok and books.ok
    assert not stats.errors
    # Every completion came from a claimed task's form; a lost claim is counted, not hidden.
    assert len(stats.latencies["complete"]) == instances * 5
    assert len(stats.latencies["claim"]) == instances * 5 + stats.conflicts["claim"]
    assert all(stats.latencies[kind] for kind in KINDS)


def test_http_benchmark_completes_every_task_it_started_and_nothing_twice():
    report = run_http_benchmark(instances=2, clients=5, seconds=50, workers=2)
    (run,) = report.runs
    _assert_every_step_done(run, 2)
    assert "Nothing lost: 0 lost updates, 0 done twice" in report.table()


def test_bookkeeping_notices_completions_the_database_does_not_hold():
    users = serving.bench_users(1)
    with serving.sqlite_database() as url:
        serving.prepare_database(url, users)
        (started,) = serving.start_approvals(url, 1, users[0].username)
        books = check_bookkeeping(url, [started, started + 1000], told_completed=1)
    assert books.waiting["submit_request"] == 1
    assert books.unaccounted == [started + 1000]  # never started: not accounted for
    assert books.lost == 2 and not books.ok  # plus one completion told but not saved


def test_bench_http_cli_refuses_fewer_clients_than_roles_and_records_a_run(tmp_path, monkeypatch):
    runner = CliRunner()
    refused = runner.invoke(main, ["bench", "http", "--clients", "4"])
    assert refused.exit_code == 2 and "--clients" in refused.output
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "BENCHMARKS.md").write_text("# Benchmarks\n", encoding="utf-8")
    result = runner.invoke(
        main, ["bench", "http", "-n", "1", "--clients", "5", "--workers", "1", "--record"]
    )
    assert result.exit_code == 0, result.output
    text = (tmp_path / "docs" / "BENCHMARKS.md").read_text(encoding="utf-8")
    assert "### bench http" in text and "Completions saved 5, told 5" in text


@pytest.mark.postgres
def test_scale_benchmark_loses_nothing_and_fires_every_timer_once():
    report = run_scale_benchmark(
        instances=2, clients=5, seconds=50, timers=3, admin_url=server_url()
    )
    one, many = report.runs
    for run in (one, many):
        _assert_every_step_done(run, 2)
        assert run.books.timers_started == run.books.timers_fired == 3
        assert run.books.double_timers == 0
    assert one.name == "1 web + 1 timer" and many.name == "2 web + 2 timer"
    assert "throughput =" in report.table()
