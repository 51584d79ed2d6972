"""`jiedai bench …`: each sub-command prints a table; `--record` appends it to
docs/BENCHMARKS.md with the date and the machine (`workflows.benchmarks.record`)."""

from __future__ import annotations

import tempfile

import click


@click.group()
def bench() -> None:
    """Benchmarks; each prints a table, --record appends it to docs/BENCHMARKS.md."""


RECORD = click.option("--record", is_flag=True, help="Append the table to docs/BENCHMARKS.md.")


@bench.command("engine")
@click.option("-n", "iterations", default=200, show_default=True, help="Instances per mode.")
@RECORD
def bench_engine(iterations: int, record: bool) -> None:
    """P3 complaint path: in memory (JSON round trip per completion) vs persisted on SQLite."""
    from workflows.benchmarks.engine import run_engine_benchmark

    report = run_engine_benchmark(iterations)
    click.echo(report.table())
    if record:
        report.record()


@bench.command("audit")
@click.option("-n", "events", default=1_000_000, show_default=True, help="Events in the chain.")
@RECORD
def bench_audit(events: int, record: bool) -> None:
    """Append N chained events to a temporary SQLite file in bulk, then time `audit verify`."""
    from workflows.benchmarks.audit import run_audit_benchmark
    from workflows.benchmarks.record import append_section

    with tempfile.TemporaryDirectory() as folder:
        table = run_audit_benchmark(events, f"sqlite:///{folder}/audit.sqlite3")
    click.echo(table)
    if record:
        append_section(
            "audit",
            "SQLite file (WAL)",
            "Events shaped like task completions with Chinese form data.",
            table,
        )


# bench timers


# bench inbox


# bench http and scale


# bench memory
