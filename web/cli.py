"""The `jiedai` command line: one click group; the Flask app is built only by `serve`.

Every command is a thin shell over one engine function inside `perform` (one transaction).
Failures print one line and exit non-zero: 2 for bad input (unknown process, task or user,
invalid data), 1 otherwise."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from sqlalchemy.orm import Session

from engine import audit_chain, runtime
from engine.bundles import DEFAULT_BPMN_DIR, collect_bundles
from engine.db import make_engine, make_session_factory, perform
from engine.deploy import check_bundle, deploy_bundle
from engine.errors import DeployRefused, FormInvalid, JiedaiError, NotFound
from engine.identity import get_user
from engine.inbox import inbox
from engine.schema import migrate
from engine.working_days import business_timezone
from workflows.procedures import register_procedures

SYSTEM_ACTOR = "system:cli"


def _locale() -> str:
    return os.environ.get("JIEDAI_LANG", "zh_CN")


def _fail(message: str, code: int = 1) -> None:
    click.echo(message.replace("\n", " | "), err=True)
    sys.exit(code)


def _session() -> Session:
    return make_session_factory(make_engine())()


def _run(action):
    """Run a command body; named failures become one line on stderr and an exit code."""
    try:
        return action()
    except FormInvalid as exc:
        fields = "; ".join(f"{name or 'data'}: {msg}" for name, msg in exc.errors.items())
        _fail(f"{exc.message(_locale())}: {fields}", 2)
    except (NotFound, DeployRefused) as exc:
        _fail(exc.message(_locale()), 2)
    except JiedaiError as exc:
        _fail(exc.message(_locale()), 1)


def _json_option(text: str | None) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(
            f"--data 不是有效的 JSON / --data is not valid JSON: {exc.msg} (column {exc.colno})", 2
        )
    if not isinstance(value, dict):
        _fail("--data 必须是 JSON 对象 / --data must be a JSON object", 2)
    return value


def localtime(value) -> str:
    return value.astimezone(business_timezone()).strftime("%Y-%m-%d %H:%M")


@click.group()
def main() -> None:
    """jiedai 接待 — front-desk procedures on BPMN."""
    register_procedures()


@main.command()
def init() -> None:
    """Migrate the database and deploy every diagram in bpmn/."""
    engine = make_engine()
    migrate(engine)
    session = make_session_factory(engine)()
    _run(lambda: _deploy_path(session, DEFAULT_BPMN_DIR, check_only=False))


@main.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--check", "check_only", is_flag=True, help="Validate only; deploy nothing.")
def deploy(path: Path, check_only: bool) -> None:
    """Validate and deploy a .bpmn file (with its DMN tables and forms) or a folder of them."""
    _run(lambda: _deploy_path(_session(), path, check_only=check_only))


def _deploy_path(session: Session, path: Path, *, check_only: bool) -> None:
    for bundle in collect_bundles(path):
        if check_only:
            parsed = check_bundle(bundle)
            click.echo(f"OK {parsed.process_id}: {len(bundle.files)} files")
            continue
        result = perform(session, lambda s, b=bundle: deploy_bundle(s, b, SYSTEM_ACTOR))
        state = "deployed" if result.created else "unchanged"
        version = result.version
        click.echo(
            f"{state} {version.model.process_id} v{version.number} ({version.checksum[:12]})"
        )


@main.command()
@click.option("--password", default=None, help="One password for every demo user (tests).")
def demo(password: str | None) -> None:
    """Create one demo user per role and sample records (idempotent)."""
    from workflows.demo import load_demo

    session = _session()
    created = _run(lambda: load_demo(session, password))
    if created.passwords:
        click.echo("Demo users (passwords are shown only now):")
        for username, pw in created.passwords.items():
            click.echo(f"  {username:24} {pw}")
    else:
        click.echo("Demo users already exist; passwords are unchanged.")
    click.echo(f"Sample instances created: {created.instances}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the web app (development server)."""
    from web.app import create_app

    # The development server: a missing JIEDAI_SECRET_KEY gets a generated per-checkout key.
    os.environ.setdefault("JIEDAI_DEVELOPMENT", "1")
    create_app().run(host=host, port=port, debug=False, use_reloader=False)


@main.command()
@click.argument("process_id")
@click.option("--data", default=None, help="Start data as a JSON object.")
@click.option("--user", "username", default="admin", show_default=True)
def start(process_id: str, data: str | None, username: str) -> None:
    """Start PROCESS_ID (the BPMN process id) and run to the first wait state."""
    payload = _json_option(data)
    session = _session()

    def action():
        user = get_user(session, username)
        instance = perform(session, lambda s: runtime.start_instance(s, process_id, user, payload))
        click.echo(f"started {instance.business_key} (instance {instance.id}, {instance.status})")

    _run(action)


@main.command()
@click.option("--user", "username", required=True)
def tasks(username: str) -> None:
    """List the open tasks USER may work on."""
    session = _session()

    def action():
        user = get_user(session, username)
        rows = inbox(session, user, limit=500)
        for row in rows:
            due = localtime(row.due_at) if row.due_at else "-"
            mine = "*" if row.claimed_by_id == user.id else " "
            click.echo(f"{row.id:>6}{mine} {row.instance.business_key}  {row.name}  due {due}")
        if not rows:
            click.echo("no open tasks")

    _run(action)


@main.command()
@click.argument("task_id", type=int)
@click.option("--user", "username", required=True)
@click.option("--data", default=None, help="Form data as a JSON object.")
def complete(task_id: int, username: str, data: str | None) -> None:
    """Complete TASK_ID (a human_task id) as USER with the form data."""
    payload = _json_option(data)
    session = _session()

    def action():
        user = get_user(session, username)
        instance = perform(session, lambda s: runtime.complete_task(s, task_id, user, payload))
        click.echo(f"completed task {task_id}; {instance.business_key} is {instance.status}")

    _run(action)


@main.group()
def audit() -> None:
    """The audit chain."""


@audit.command("verify")
def audit_verify() -> None:
    """Walk the chain and recompute every hash; exit 1 at the first broken event."""
    result = audit_chain.verify(_session())
    click.echo(result.describe())
    sys.exit(0 if result.ok else 1)


@audit.command("head")
def audit_head() -> None:
    """Print the head hash, to record it outside the system."""
    seq, digest = audit_chain.head(_session())
    click.echo(f"{seq} {digest}")


@main.group()
def bench() -> None:
    """Benchmarks; each prints a table, --record appends it to docs/BENCHMARKS.md."""


@bench.command("engine")
@click.option("-n", "iterations", default=200, show_default=True, help="Instances per mode.")
@click.option("--record", is_flag=True, help="Append the table to docs/BENCHMARKS.md.")
def bench_engine(iterations: int, record: bool) -> None:
    """P3 complaint path: in memory (JSON round trip per completion) vs persisted on SQLite."""
    from workflows.bench import run_engine_benchmark

    report = run_engine_benchmark(iterations)
    click.echo(report.table())
    if record:
        report.append_to(Path("docs/BENCHMARKS.md"))
