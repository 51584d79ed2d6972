"""`bench memory` at a tiny size: a sample per batch, and every approval and timer done."""

from __future__ import annotations

from workflows.benchmarks.memory import run_memory_benchmark


def test_memory_benchmark_samples_both_processes_after_every_batch():
    report = run_memory_benchmark(instances=4, samples=2)
    assert [sample.instances for sample in report.samples] == [2, 4]
    assert all(s.web_kib > 10_000 and s.timer_kib > 10_000 for s in report.samples)
    books = report.books
    assert books.started == books.completed == 4 and books.ok
    assert books.saved_completions == books.told_completed == 20
    assert books.timers_started == books.timers_fired == 4 and books.double_timers == 0
    assert report.at(0.5) is report.samples[0] and report.at(1.0) is report.samples[1]
    assert "growth, 2nd half" in report.table()
