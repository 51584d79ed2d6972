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
from engine import holidays as _holidays  # noqa: F401 — the DB calendar's session hooks
from engine.bundles import DEFAULT_BPMN_DIR, collect_bundles
from engine.db import database_url, make_engine, make_session_factory, perform
from engine.deploy import check_bundle, deploy_bundle
from engine.dmn_tests import attach_test_files
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
    except DeployRefused as exc:
        # Every problem on a line of its own (file [element name] line N: reason).
        for problem in exc.problems:
            click.echo(problem.describe(_locale()), err=True)
        sys.exit(2)
    except NotFound as exc:
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
    folder = path if path.is_dir() else path.parent
    for bundle in collect_bundles(path):
        # A table's test cases (`<name>.dmn.tests.json` beside it) run at deploy too.
        bundle = attach_test_files(bundle, folder)
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
@click.option("--no-worker", is_flag=True, help="Do not run the in-process timer worker.")
def serve(host: str, port: int, no_worker: bool) -> None:
    """Serve the web app (development server; with SQLite it also fires timers)."""
    from web.app import create_app

    # The development server: a missing JIEDAI_SECRET_KEY gets a generated per-checkout key.
    os.environ.setdefault("JIEDAI_DEVELOPMENT", "1")
    app = create_app()
    if not no_worker and app.config["DATABASE_URL"].startswith("sqlite"):
        from engine.timers import start_worker_thread

        start_worker_thread(app.extensions["jiedai"].session_factory)
    app.run(host=host, port=port, debug=False, use_reloader=False)


@main.command()
@click.option("--once", is_flag=True, help="Fire what is due now and exit (tests, cron).")
@click.option("--poll", default=5.0, show_default=True, help="Longest sleep, in seconds.")
@click.option("--batch", default=100, show_default=True, help="Firings per pass.")
@click.option("--max-attempts", default=5, show_default=True, help="Attempts before an incident.")
def worker(once: bool, poll: float, batch: int, max_attempts: int) -> None:
    """Fire due timers until SIGTERM/SIGINT (several may run against PostgreSQL)."""
    from engine.timers import run_worker

    sys.exit(run_worker(once=once, poll=poll, batch=batch, max_attempts=max_attempts))


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


@main.command("migrate")
@click.argument("instance_id", type=int)
@click.option("--to-version", "number", type=int, required=True, help="Target version number.")
@click.option("--user", "username", default="admin", show_default=True)
def migrate_command(instance_id: int, number: int, username: str) -> None:
    """Move running instance INSTANCE_ID to version N of its process, if that is safe."""
    from engine import migration

    session = _session()

    def action():
        user = get_user(session, username)
        instance = runtime.load_instance(session, instance_id)
        target = migration.version_by_number(session, instance.process_id, number)
        target_id = target.id
        session.rollback()
        moved = perform(
            session, lambda s: migration.migrate_instance(s, instance_id, target_id, user)
        )
        click.echo(f"migrated {moved.business_key} to v{number}")

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


@main.command()
@click.argument("instance_id", type=int)
@click.argument("name")
@click.option("--user", "username", required=True)
@click.option("--data", default=None, help="The signal's payload as a JSON object.")
def signal(instance_id: int, name: str, username: str, data: str | None) -> None:
    """Send the signal NAME to an instance (e.g. an ad-hoc material request in a meeting)."""
    from engine.events import send_signal

    payload = _json_option(data)
    session = _session()

    def action():
        user = get_user(session, username)
        instance = perform(session, lambda s: send_signal(s, instance_id, name, payload, user))
        click.echo(f"signal {name} sent to {instance.business_key}")

    _run(action)


@main.command("reports-due")
def reports_due() -> None:
    """Start the monthly complaint report's review if its day has come (idempotent: cron)."""
    from workflows.p3.monthly import start_due_report

    session = _session()
    instance = _run(lambda: perform(session, start_due_report))
    click.echo(f"started {instance.business_key}" if instance else "nothing due")


@main.group()
def audit() -> None:
    """The audit chain."""


@audit.command("verify")
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="Processes hashing in parallel; pays off on an idle multi-core machine only.",
)
def audit_verify(workers: int) -> None:
    """Walk the chain and recompute every hash; exit 1 at the first broken event.

    The result is also stored for the auditors' chain-status panel."""
    from sqlalchemy.exc import SQLAlchemyError

    from engine.audit_search import store_verification

    session = _session()
    url = session.get_bind().url.render_as_string(hide_password=False)
    result = audit_chain.verify_parallel(session, url, workers)
    click.echo(f"{result.describe()} ({result.seconds:.1f} s)")
    try:
        perform(session, lambda s: store_verification(s, result, SYSTEM_ACTOR))
    except SQLAlchemyError as exc:  # e.g. a database not migrated to 0006 yet
        click.echo(f"(result not stored: {exc.__class__.__name__})", err=True)
    sys.exit(0 if result.ok else 1)


@audit.command("head")
def audit_head() -> None:
    """Print the head hash, to record it outside the system."""
    seq, digest = audit_chain.head(_session())
    click.echo(f"{seq} {digest}")


@main.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(path: Path) -> None:
    """Write a consistent backup of the database (DATABASE_URL) to PATH (mode 0600)."""
    from engine import backup

    _run(lambda: backup.backup(database_url(), path))
    engine = make_engine()
    try:
        with make_session_factory(engine)() as session:
            seq, digest = audit_chain.head(session)
    finally:
        engine.dispose()
    click.echo(f"backup written to {path}; audit head {seq} {digest}")


@main.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask before replacing the database.")
def restore_command(path: Path, yes: bool) -> None:
    """Replace the database (DATABASE_URL) with the backup at PATH, then verify the chain."""
    from sqlalchemy.engine import make_url

    from engine import backup

    if not yes:
        shown = make_url(database_url()).render_as_string(hide_password=True)
        click.confirm(f"Replace every row of {shown} with {path}?", abort=True)
    _run(lambda: backup.restore(database_url(), path))
    engine = make_engine()
    try:
        with make_session_factory(engine)() as session:
            result = audit_chain.verify(session)
            seq, digest = audit_chain.head(session)
    finally:
        engine.dispose()
    click.echo(f"restored from {path}; audit head {seq} {digest}; {result.describe()}")
    sys.exit(0 if result.ok else 1)


@main.command("archive")
@click.option("--before", "before_text", required=True, help="YYYY-MM-DD, a business date.")
@click.option("--dry-run", is_flag=True, help="Only report what would move.")
@click.option("--user", "username", default="admin", show_default=True)
@click.option("--batch", default=500, show_default=True, help="Instances per transaction.")
@click.option("--vacuum", is_flag=True, help="SQLite: VACUUM afterwards to shrink the file.")
def archive_command(
    before_text: str, dry_run: bool, username: str, batch: int, vacuum: bool
) -> None:
    """Move the state of instances that ended before a date out of the hot table."""
    import re
    from datetime import date

    from engine.archive import ArchiveRefused, archive_before

    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", before_text):
            raise ValueError
        before = date.fromisoformat(before_text)
    except ValueError:
        _fail(f"invalid date '{before_text}': --before takes YYYY-MM-DD / 日期无效", 2)
    session = _session()

    def action():
        user = get_user(session, username)
        try:
            return archive_before(
                session, before, actor=user.username, dry_run=dry_run, batch=batch
            )
        except ArchiveRefused as exc:  # a date after today, a batch of 0: bad input
            _fail(exc.message(_locale()), 2)

    result = _run(action)
    zone = business_timezone().key
    sizes = f"state {_size(result.state_bytes)} -> {_size(result.archived_bytes)} compressed"
    if dry_run:
        click.echo(
            f"dry run: would archive {result.count} instances ended before {before} ({zone}); "
            f"{sizes}; nothing changed"
        )
        return
    events = ", ".join(f"#{seq}" for seq in result.audit_seqs) or "none"
    click.echo(
        f"archived {result.count} instances ended before {before} ({zone}); {sizes} in "
        f"instance_archive; audit event {events}"
    )
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        click.echo("PostgreSQL reuses the freed space after (auto)vacuum.")
    elif not vacuum:
        click.echo("SQLite keeps the freed pages for reuse: the file shrinks with --vacuum.")
    else:
        session.close()
        # Rewrites the whole file under an exclusive lock (stop web and worker first), outside
        # any transaction: the driver connection is in autocommit mode (engine.db).
        raw = bind.raw_connection()
        try:
            raw.driver_connection.execute("VACUUM")
        finally:
            raw.close()
        click.echo("VACUUM done.")


def _size(count: int) -> str:
    return f"{count / 1_000_000:.1f} MB" if count >= 100_000 else f"{count / 1000:.1f} kB"


from .cli_bench import bench  # noqa: E402 — the sub-group lives in its own module

main.add_command(bench)
