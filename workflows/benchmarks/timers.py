"""`jiedai bench timers`: N timers falling due over a short window, fired by W real
`jiedai worker` processes on a PostgreSQL database of the benchmark's own.

Lateness is read from what each firing recorded: the `timer:fire` audit event's time minus
the `due_at` in its payload. A double is a timer with more than one `timer:fire` event, a lost
one a seeded timer with none. The database is dropped at the end, whatever happened.

Seeding: starting 2,000 instances through the engine takes long enough (≈12 ms each) that
the due times could not be fixed before seeding ends. So one instance is started through the
engine, with a marker due time, in a scratch SQLite file; every seeded instance is a copy of
the rows it wrote (instance row with its serialized workflow, timer row, audit events through
`audit_chain.record`) with fresh task ids and its own due time. Nothing else differs from what
`runtime.start_instance` would have written, so the workers fire them for real."""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from engine import audit_chain, pg_admin, runtime
from engine.bundles import collect_bundle
from engine.db import make_engine, make_session_factory, perform
from engine.deploy import deploy_bundle
from engine.identity import create_user
from engine.models import (
    AuditEvent,
    Base,
    InstanceStatus,
    ProcessInstance,
    Timer,
    User,
    utcnow,
)
from engine.schema import migrate

from .record import append_section

DIAGRAM = Path(__file__).resolve().parent / "diagrams" / "bench_timer.bpmn"
PROCESS_ID = "bench_timer"
BENCH_USER = "bench_timers"
TARGET_P99 = 2.0  # seconds
WORKER_POLL = 1.0  # `jiedai worker --poll`: the longest sleep of an idle worker
#: The first timer falls due this long after the seeding transaction starts, plus a little
#: per timer (the copies are written in one transaction).
LEAD_BASE = 4.0
LEAD_PER_TIMER = 0.002
WORKER_START_LIMIT = 90.0  # seconds for a worker to log that it started
#: A due time nobody would type, far off so the template waits: the copies get their own.
MARK = datetime(2099, 2, 3, 4, 5, 6, 789012, tzinfo=UTC).isoformat()
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: What one started instance writes; a table beyond these would have to be copied too.
_COPIED_TABLES = {"process_instance", "timer", "audit_event"}


class BenchmarkError(Exception):
    """The benchmark could not run; the message is one line."""


@dataclass
class TimerReport:
    timers: int
    workers: int
    window: float
    server_version: str
    seed_seconds: float
    lead_margin: float  # seconds between the end of seeding and the first due time
    lateness: list[float]  # seconds, one per `timer:fire` event, sorted
    doubles: int
    lost: int
    completed: int
    chain: str
    chain_ok: bool
    last_firing_after_due: float | None  # last firing minus last due time, seconds
    load: float = 0.0  # 1-minute load average when the first timer fell due
    notes: list[str] = field(default_factory=list)

    @property
    def fired(self) -> int:
        return len(self.lateness)

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of the lateness (`q` in 0..100); NaN when nothing fired."""
        if not self.lateness:
            return math.nan
        rank = max(math.ceil(q / 100 * len(self.lateness)), 1)
        return self.lateness[rank - 1]

    @property
    def targets(self) -> list[tuple[str, bool]]:
        return [
            (f"lateness p99 < {TARGET_P99:g} s", self.percentile(99) < TARGET_P99),
            ("0 doubles", self.doubles == 0),
            ("0 lost", self.lost == 0),
            ("audit chain verifies", self.chain_ok),
        ]

    @property
    def passed(self) -> bool:
        return all(ok for _, ok in self.targets)

    def table(self) -> str:
        late = " | ".join(f"{self.percentile(q):.2f}" for q in (50, 95, 99, 100))
        lines = [
            "| timers | workers | window s | fired | completed | lateness p50 s | p95 s | "
            "p99 s | max s | doubles | lost | audit chain |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
            f"| {self.timers} | {self.workers} | {self.window:g} | {self.fired} | "
            f"{self.completed} | {late} | {self.doubles} | {self.lost} | {self.chain} |",
            "",
            "; ".join(f"{name}: {'PASS' if ok else 'FAIL'}" for name, ok in self.targets),
            "",
            f"Seeded in {self.seed_seconds:.1f} s, {self.lead_margin:.1f} s before the first "
            f"due time; workers `jiedai worker --poll {WORKER_POLL:g}`; load average "
            f"{self.load:.1f} on {os.cpu_count()} cores when the first timer fell due"
            + (
                f"; the last firing came {self.last_firing_after_due:.2f} s after the last "
                "due time."
                if self.last_firing_after_due is not None
                else "."
            ),
        ]
        lines += [f"Note: {note}" for note in self.notes]
        return "\n".join(lines)

    def record(self) -> None:
        append_section(
            "timers",
            f"PostgreSQL {self.server_version}",
            f"{self.timers} instances of `{PROCESS_ID}` (start → script → intermediate timer "
            f"→ end) falling due evenly over {self.window:g} s, fired by {self.workers} "
            "`jiedai worker` processes; lateness = time of the `timer:fire` audit event − "
            "due time.",
            self.table(),
        )


def run_timer_benchmark(
    count: int = 2000,
    window: float = 60.0,
    workers: int = 2,
    server_url: str | None = None,
) -> TimerReport:
    """Create a database, seed `count` timers, let `workers` processes fire them, report."""
    if count < 1 or workers < 1 or window < 0:
        raise BenchmarkError("need at least 1 timer and 1 worker, and a window ≥ 0 s")
    server_url = server_url or pg_admin.DEFAULT_SERVER_URL
    command = _worker_command()
    name = f"jiedai_bench_timers_{os.getpid()}"
    try:
        version = pg_admin.server_version(server_url)
        pg_admin.drop_database(server_url, name)  # left by a run that was killed outright
        with pg_admin.temporary_database(server_url, name) as url:
            report = _run(url, command, count, window, workers)
    except pg_admin.ServerUnavailable as exc:
        raise BenchmarkError(str(exc)) from exc
    report.server_version = version
    return report


def _worker_command() -> list[str]:
    beside = Path(sys.executable).with_name("jiedai")
    found = str(beside) if beside.exists() else shutil.which("jiedai")
    if not found:
        raise BenchmarkError("the `jiedai` command is not installed (pip install -e .)")
    return [found, "worker", "--poll", f"{WORKER_POLL:g}"]


def _run(url: str, command: list[str], count: int, window: float, workers: int) -> TimerReport:
    template = _template()
    engine = make_engine(url)
    try:
        migrate(engine)
        factory = make_session_factory(engine)
        with factory() as session:
            version_id, user_id = _deploy(session)
        with tempfile.TemporaryDirectory() as logs:
            # The workers start first and wait idle, as in production: the time a Python
            # process takes to start is not a firing's lateness.
            processes: list[_Worker] = []
            try:
                for n in range(workers):
                    processes.append(_Worker(command, url, Path(logs) / f"worker{n}.log"))
                for worker in processes:
                    worker.wait_started()
                seeded = _seed(factory, template, version_id, user_id, count, window)
                load = _load_when_due(seeded)
                _wait_for_firings(factory, processes, seeded)
            finally:
                for worker in processes:
                    worker.stop()
            notes = [note for worker in processes for note in worker.problems()]
        with factory() as session:
            report = _measure(session, seeded, workers, window)
        report.notes += notes
        report.load = load
        return report
    finally:
        engine.dispose()


# --- the template instance ------------------------------------------------------------------


@dataclass
class _Template:
    instance: dict  # the process_instance row
    timers: list[dict]
    events: list[dict]


def _template() -> _Template:
    """Start one instance through the engine in a scratch SQLite file, read back its rows."""
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/template.sqlite3")
        try:
            migrate(engine)
            with make_session_factory(engine)() as session:
                _, user_id = _deploy(session)
                user = session.get(User, user_id)
                started = perform(
                    session,
                    lambda s: runtime.start_instance(s, PROCESS_ID, user, {"due": MARK}),
                )
                return _read_template(session, started.id)
        finally:
            engine.dispose()


def _read_template(session: Session, instance_id: int) -> _Template:
    for table in Base.metadata.sorted_tables:
        if "instance_id" in table.c and table.name not in _COPIED_TABLES:
            rows = session.scalar(
                select(func.count()).select_from(table).where(table.c.instance_id == instance_id)
            )
            if rows:
                raise BenchmarkError(
                    f"starting {PROCESS_ID} now writes rows to {table.name}, which the "
                    "benchmark's seeding does not copy yet"
                )
    table = ProcessInstance.__table__
    instance = dict(session.execute(select(table).where(table.c.id == instance_id)).one()._mapping)
    timers = [
        dict(row._mapping)
        for row in session.execute(
            select(Timer.__table__).where(Timer.__table__.c.instance_id == instance_id)
        )
    ]
    events = [
        {
            "kind": ev.kind,
            "actor": ev.actor,
            "role": ev.role,
            "task": ev.task,
            "payload": ev.payload,
        }
        for ev in session.scalars(
            select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.seq)
        )
    ]
    if instance["status"] != InstanceStatus.RUNNING or len(timers) != 1:
        raise BenchmarkError(f"{PROCESS_ID} did not stop at its timer: {instance['status']}")
    if timers[0]["due_at"] != datetime.fromisoformat(MARK):
        raise BenchmarkError(f"{PROCESS_ID}'s timer is not due at its start data's `due`")
    return _Template(instance, timers, events)


def _deploy(session: Session) -> tuple[int, int]:
    """Deploy the benchmark's diagram and add the user who starts it: (version id, user id)."""

    def action(s: Session) -> tuple[int, int]:
        result = deploy_bundle(s, collect_bundle(DIAGRAM), "system:bench")
        # Nobody signs in as this user: a random password, never shown.
        user = create_user(s, BENCH_USER, "基准测试 benchmark", secrets.token_urlsafe(24), [])
        s.flush()
        return result.version.id, user.id

    return perform(session, action)


# --- seeding --------------------------------------------------------------------------------


@dataclass
class _Seeded:
    guids: set[str]
    first_due: datetime
    last_due: datetime
    seconds: float
    lead_margin: float


def _seed(
    factory: sessionmaker[Session],
    template: _Template,
    version_id: int,
    user_id: int,
    count: int,
    window: float,
) -> _Seeded:
    """Write `count` copies of the template, due evenly over `window` seconds, in one
    transaction that commits a few seconds before the first of them is due."""
    begun = time.perf_counter()
    source = template.instance["state_json"]
    task_ids = set(_UUID.findall(source)) | {t["task_guid"] for t in template.timers}
    copies = []
    for _ in range(count):
        fresh = {old: str(uuid4()) for old in task_ids}
        copies.append((_UUID.sub(lambda m, f=fresh: f.get(m[0], m[0]), source), fresh))
    guids: set[str] = set()

    def write(s: Session) -> datetime:
        ids = s.scalars(
            text(
                "SELECT nextval(pg_get_serial_sequence('process_instance', 'id'))"
                " FROM generate_series(1, :n)"
            ),
            {"n": count},
        ).all()
        first_due = utcnow() + timedelta(seconds=LEAD_BASE + LEAD_PER_TIMER * count)
        step = window / (count - 1) if count > 1 else 0.0
        now = utcnow()
        instances, timers = [], []
        for n, (instance_id, (state, fresh)) in enumerate(zip(ids, copies, strict=True)):
            due = first_due + timedelta(seconds=step * n)
            due_text = due.isoformat()
            key = ProcessInstance(id=instance_id, started_at=now)
            key.assign_business_key()
            instances.append(
                {
                    **template.instance,
                    "id": instance_id,
                    "version_id": version_id,
                    "started_by_id": user_id,
                    "business_key": key.business_key,
                    "state_json": state.replace(MARK, due_text),
                    "started_at": now,
                    "updated_at": now,
                }
            )
            for timer in template.timers:
                guids.add(fresh[timer["task_guid"]])
                timers.append(
                    {
                        **{k: v for k, v in timer.items() if k != "id"},
                        "instance_id": instance_id,
                        "task_guid": fresh[timer["task_guid"]],
                        "due_at": due,
                    }
                )
            for ev in template.events:
                audit_chain.record(
                    s,
                    ev["kind"],
                    actor=ev["actor"],
                    role=ev["role"],
                    instance_id=instance_id,
                    task=ev["task"],
                    version_id=version_id,
                    payload=json.loads(json.dumps(ev["payload"]).replace(MARK, due_text)),
                )
        s.execute(insert(ProcessInstance.__table__), instances)
        s.execute(insert(Timer.__table__), timers)
        return first_due

    with factory() as session:
        first_due = perform(session, write)
    margin = (first_due - utcnow()).total_seconds()
    if margin <= 0:
        raise BenchmarkError(
            f"seeding {count} timers ended {-margin:.1f} s after the first was due "
            "(the machine is too busy); try again or with fewer timers"
        )
    return _Seeded(
        guids,
        first_due,
        first_due + timedelta(seconds=window),
        time.perf_counter() - begun,
        margin,
    )


# --- the workers ----------------------------------------------------------------------------


class _Worker:
    """One `jiedai worker` process writing its log to a file."""

    def __init__(self, command: list[str], url: str, log: Path):
        self.log = log
        self._out = log.open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            command,
            env={**os.environ, "DATABASE_URL": url},
            stdout=self._out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def last_line(self) -> str:
        lines = self.text().strip().splitlines()
        return lines[-1] if lines else "(no output)"

    def wait_started(self) -> None:
        deadline = time.monotonic() + WORKER_START_LIMIT
        while "timer worker started" not in self.text():
            if self.process.poll() is not None:
                raise BenchmarkError(f"a worker exited at start: {self.last_line()}")
            if time.monotonic() > deadline:
                raise BenchmarkError(f"a worker did not start in {WORKER_START_LIMIT:.0f} s")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM (the worker finishes its firing and exits 0), then SIGKILL if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self._out.close()

    def problems(self) -> list[str]:
        """What a reader of the results should know about this worker's run."""
        found = []
        if self.process.returncode != 0:
            found.append(f"a worker exited with {self.process.returncode}: {self.last_line()}")
        log = self.text()
        for word in (": retry", ": incident", ": not_due", "pass failed"):
            if word in log:
                found.append(f"a worker logged {log.count(word)} × `{word.strip(': ')}`")
        return found


def _load_when_due(seeded: _Seeded) -> float:
    """The load average as the first timer falls due: other work on the machine makes firings
    late, and the record says how much there was."""
    time.sleep(max((seeded.first_due - utcnow()).total_seconds(), 0.0))
    return os.getloadavg()[0]


def _wait_for_firings(
    factory: sessionmaker[Session], workers: list[_Worker], seeded: _Seeded
) -> None:
    """Until no timer is left, every worker has died, or long after the last due time."""
    grace = max(30.0, (seeded.last_due - seeded.first_due).total_seconds())
    deadline = seeded.last_due + timedelta(seconds=grace)
    with factory() as session:
        while utcnow() < deadline:
            left = session.scalar(select(func.count()).select_from(Timer))
            session.rollback()
            if not left:
                return
            if all(worker.process.poll() is not None for worker in workers):
                return
            time.sleep(0.5)


# --- the figures ----------------------------------------------------------------------------


def _measure(session: Session, seeded: _Seeded, workers: int, window: float) -> TimerReport:
    fired = session.execute(
        select(AuditEvent.at, AuditEvent.payload).where(AuditEvent.kind == "timer:fire")
    ).all()
    lateness = sorted(
        (at - datetime.fromisoformat(payload["due_at"])).total_seconds() for at, payload in fired
    )
    per_timer = Counter(payload["task_guid"] for _, payload in fired)
    completed = session.scalar(
        select(func.count())
        .select_from(ProcessInstance)
        .where(ProcessInstance.status == InstanceStatus.COMPLETED)
    )
    last_firing = max((at for at, _ in fired), default=None)
    chain = audit_chain.verify(session)
    session.rollback()
    return TimerReport(
        timers=len(seeded.guids),
        workers=workers,
        window=window,
        server_version="",
        seed_seconds=seeded.seconds,
        lead_margin=seeded.lead_margin,
        lateness=lateness,
        doubles=sum(1 for n in per_timer.values() if n > 1),
        lost=len(seeded.guids - per_timer.keys()),
        completed=completed,
        chain=chain.describe()[:40],
        chain_ok=chain.ok,
        last_firing_after_due=(
            (last_firing - seeded.last_due).total_seconds() if last_firing else None
        ),
    )
