"""The engine and audit benchmarks at a tiny size: their bookkeeping, never their timings."""

from click.testing import CliRunner

from web.cli import main
from workflows.benchmarks.audit import run_audit_benchmark
from workflows.benchmarks.engine import run_engine_benchmark


def test_engine_benchmark_runs_every_step_in_both_modes_of_both_workloads():
    report = run_engine_benchmark(2)
    approval, p3 = report.reports
    assert approval.workload.process_id == "bench_approval5"
    for each, steps in ((approval, 5), (p3, 7)):
        assert each.memory.instances == each.persisted.instances == 2
        assert each.memory.completions == each.persisted.completions == 2 * steps
        assert each.bytes_per_instance > 0  # the database grew: something was measured
    assert report.ratio == min(approval.ratio, p3.ratio)
    assert "persisted / in-memory" in report.table() and "KB per completed" in report.table()


def test_audit_benchmark_verifies_the_chain_it_appended(tmp_path):
    table = run_audit_benchmark(500, f"sqlite:///{tmp_path}/audit.sqlite3")
    assert table.count("OK 500 events") == 2


def test_bench_engine_record_appends_a_dated_section(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "BENCHMARKS.md").write_text("# Benchmarks\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["bench", "engine", "-n", "1", "--record"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "docs" / "BENCHMARKS.md").read_text(encoding="utf-8")
    assert "### bench engine" in text and "cores" in text
    assert "| P3 complaint, 7 user tasks | persisted (SQLite) | 1 | 7 |" in text
    assert "| 5-user-task approval | persisted (SQLite) | 1 | 5 |" in text
