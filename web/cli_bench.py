"""`jiedai bench …`: each sub-command prints a table; `--record` appends it to
docs/BENCHMARKS.md with the date and the machine (`workflows.benchmarks.record`)."""

from __future__ import annotations

import sys
import tempfile

import click


@click.group()
def bench() -> None:
    """Benchmarks; each prints a table, --record appends it to docs/BENCHMARKS.md."""


RECORD = click.option("--record", is_flag=True, help="Append the table to docs/BENCHMARKS.md.")
CLIENTS = click.option(
    "--clients",
    default=8,
    show_default=True,
    type=click.IntRange(5, 64),
    help="Concurrent clients, each a different user (at least one per role).",
)


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


@bench.command("timers")
@click.option(
    "-n",
    "count",
    default=2000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Timers to schedule.",
)
@click.option(
    "--window",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds over which they fall due.",
)
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(1, 16),
    help="`jiedai worker` processes.",
)
@click.option(
    "--database-url",
    default=None,
    help="PostgreSQL server to create the benchmark's database on "
    "[default: postgresql+psycopg://postgres@127.0.0.1:5432/postgres].",
)
@RECORD
def bench_timers(
    count: int, window: float, workers: int, database_url: str | None, record: bool
) -> None:
    """N timers due over a window, fired by W workers on PostgreSQL: lateness, doubles, lost."""
    from workflows.benchmarks.timers import BenchmarkError, run_timer_benchmark

    try:
        report = run_timer_benchmark(count, window, workers, database_url)
    except BenchmarkError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report.table())
    if record:
        report.record()
    if not report.passed:
        sys.exit(1)


@bench.command("inbox")
@click.option("-n", "count", default=100_000, show_default=True, help="Open instances.")
@click.option("--database-url", help="Run on this database (default: a temporary SQLite file).")
@click.option("--repetitions", default=100, show_default=True, help="Timed runs per query.")
@click.option("--explain", is_flag=True, help="Print the query plan of every timed query.")
@RECORD
def bench_inbox(
    count: int, database_url: str | None, repetitions: int, explain: bool, record: bool
) -> None:
    """Seed N open P3/P4 instances in bulk, then time the inbox and register list pages."""
    from workflows.benchmarks.inbox import run_inbox_benchmark

    with tempfile.TemporaryDirectory() as folder:
        url = database_url or f"sqlite:///{folder}/inbox.sqlite3"
        try:
            report = run_inbox_benchmark(count, url, repetitions=repetitions)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    if explain:
        click.echo(report.explain())
    click.echo(report.table())
    if record:
        report.record()


@bench.command("http")
@click.option(
    "-n",
    "instances",
    default=100,
    show_default=True,
    type=click.IntRange(min=1),
    help="Approvals to work (5 completions each).",
)
@CLIENTS
@click.option(
    "--seconds",
    default=120.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Time limit of the load.",
)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 64),
    help="gunicorn workers [default: 2 × cores].",
)
@RECORD
def bench_http(
    instances: int, clients: int, seconds: float, workers: int | None, record: bool
) -> None:
    """The 5-step approval over HTTP: clients claim and complete under gunicorn on SQLite."""
    from workflows.benchmarks.http import run_http_benchmark

    report = run_http_benchmark(instances, clients, seconds, workers)
    _finish_http(
        report,
        record,
        "Approval of 5 user tasks worked over HTTP by concurrent "
        "clients (threads of one process, `http.client`) on the same machine.",
    )


@bench.command("scale")
@click.option(
    "-n",
    "instances",
    default=400,
    show_default=True,
    type=click.IntRange(min=1),
    help="Approvals started in each set-up (more than the time allows: nobody runs dry).",
)
@CLIENTS
@click.option(
    "--seconds",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Length of each load.",
)
@click.option(
    "--timers",
    default=50,
    show_default=True,
    type=click.IntRange(min=0),
    help="Timer instances due during each load.",
)
@click.option(
    "--database-url",
    default=None,
    help="PostgreSQL server to create the benchmark's databases on "
    "[default: postgresql+psycopg://postgres@127.0.0.1:5432/postgres].",
)
@RECORD
def bench_scale(
    instances: int,
    clients: int,
    seconds: float,
    timers: int,
    database_url: str | None,
    record: bool,
) -> None:
    """The `http` load on PostgreSQL: 1 web + 1 timer worker vs 2 + 2; nothing lost."""
    from engine import pg_admin
    from workflows.benchmarks.http import run_scale_benchmark

    try:
        report = run_scale_benchmark(
            instances, clients, seconds, timers, database_url or pg_admin.DEFAULT_SERVER_URL
        )
    except pg_admin.ServerUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    _finish_http(
        report,
        record,
        "The `bench http` load; each set-up on a fresh database, "
        "with timer instances falling due while it runs.",
    )


def _finish_http(report, record: bool, description: str) -> None:
    click.echo(report.table())
    if record:
        report.record(description)
    if not all(run.books.ok for run in report.runs):
        sys.exit(1)  # something lost or done twice: never a matter of timing


@bench.command("memory")
@click.option(
    "-n",
    "instances",
    default=10_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Approvals to complete over HTTP.",
)
@click.option(
    "--samples",
    default=20,
    show_default=True,
    type=click.IntRange(min=2),
    help="Batches, with one RSS reading after each.",
)
@RECORD
def bench_memory(instances: int, samples: int, record: bool) -> None:
    """RSS of a web worker and a timer worker over N approvals and N timers: must level off."""
    from workflows.benchmarks.memory import run_memory_benchmark

    report = run_memory_benchmark(instances, samples)
    click.echo(report.table())
    if record:
        report.record("One gunicorn worker and one `jiedai worker`; five clients, one per role.")
    if not report.books.ok:
        sys.exit(1)
