"""`jiedai bench engine`: in memory vs through the persisted engine, for the 5-user-task
approval and for the P3 complaint path, and the database bytes each completed instance takes."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from SpiffWorkflow.task import TaskState
from sqlalchemy import bindparam, select, text

from engine import runtime
from engine.bundles import DEFAULT_BPMN_DIR, Bundle, collect_bundle
from engine.db import make_engine, make_session_factory, perform
from engine.deploy import check_bundle, deploy_bundle
from engine.identity import get_user
from engine.models import HumanTask, TaskStatus
from engine.schema import migrate
from engine.serialization import dump_state, load_state, new_workflow

from .. import scenarios
from ..demo import DemoResult, create_demo_users
from ..p3 import PROCESS_ID as P3_PROCESS_ID
from ..p3 import samples
from . import approval5
from .record import append_section

TARGET_RATIO = 0.5
TARGET_BYTES = 10 * 1024  # per completed 5-user-task approval, its audit events included
P3_BPMN = DEFAULT_BPMN_DIR / "p3_owner_reception.bpmn"


@dataclass(frozen=True)
class Workload:
    """A process, its bundle, and the submissions that take one instance to its end."""

    name: str
    process_id: str
    bundle: Callable[[], Bundle]
    steps: list[tuple[str, dict]]
    bytes_target: int | None = None


def workloads() -> list[Workload]:
    return [
        Workload(
            "5-user-task approval",
            approval5.PROCESS_ID,
            approval5.bundle,
            [(spec, data) for spec, _role, data in approval5.STEPS],
            TARGET_BYTES,
        ),
        Workload(
            "P3 complaint, 7 user tasks",
            P3_PROCESS_ID,
            lambda: collect_bundle(P3_BPMN),
            samples.complaint_path("front_clerk"),
        ),
    ]


@dataclass
class Mode:
    name: str
    instances: int
    completions: int
    seconds: float

    @property
    def instances_per_s(self) -> float:
        return self.instances / self.seconds

    @property
    def completions_per_s(self) -> float:
        return self.completions / self.seconds


@dataclass
class WorkloadReport:
    workload: Workload
    memory: Mode
    persisted: Mode
    bytes_per_instance: float

    @property
    def ratio(self) -> float:
        return self.persisted.instances_per_s / self.memory.instances_per_s


@dataclass
class EngineReport:
    reports: list[WorkloadReport]

    @property
    def ratio(self) -> float:
        """The target's figure: the lowest ratio of the workloads."""
        return min(report.ratio for report in self.reports)

    def table(self) -> str:
        rows = [
            "| workload | mode | instances | completions | seconds | instances/s | completions/s |",
            "|---|---|---|---|---|---|---|",
        ]
        for report in self.reports:
            for mode in (report.memory, report.persisted):
                rows.append(
                    f"| {report.workload.name} | {mode.name} | {mode.instances} | "
                    f"{mode.completions} | {mode.seconds:.2f} | {mode.instances_per_s:.1f} | "
                    f"{mode.completions_per_s:.1f} |"
                )
        rows.append("")
        for report in self.reports:
            verdict = "PASS" if report.ratio >= TARGET_RATIO else "FAIL"
            size = f"{report.bytes_per_instance / 1024:.1f} KB per completed instance"
            target = report.workload.bytes_target
            if target is not None:
                passed = report.bytes_per_instance <= target
                size += f" (target ≤ {target / 1024:.0f} KB: {'PASS' if passed else 'FAIL'})"
            rows.append(
                f"- {report.workload.name}: persisted / in-memory = {report.ratio:.2f} "
                f"(target ≥ {TARGET_RATIO}: {verdict}); {size}"
            )
        return "\n".join(rows)

    def record(self) -> None:
        append_section(
            "engine",
            "SQLite file (WAL)",
            "Both modes in one process, one after the other; bytes: growth of the SQLite "
            "file (after a checkpoint and VACUUM) per completed instance, with its task rows "
            "and audit events.",
            self.table(),
        )


def run_engine_benchmark(iterations: int) -> EngineReport:
    reports = []
    for workload in workloads():
        memory = _in_memory(iterations, workload)
        persisted, size = _persisted(iterations, workload)
        reports.append(WorkloadReport(workload, memory, persisted, size))
    return EngineReport(reports)


def _in_memory(iterations: int, workload: Workload) -> Mode:
    """Each completion is followed by a JSON round trip of the state, on cached specs."""
    parsed = check_bundle(workload.bundle())
    spec, subprocess_specs = parsed.spec, parsed.subprocess_specs
    completions = 0
    started = time.perf_counter()
    for _ in range(iterations):
        workflow = new_workflow(spec, subprocess_specs)
        workflow.do_engine_steps()
        for task_spec, data in workload.steps:
            (task,) = [
                t
                for t in workflow.get_tasks(state=TaskState.READY, manual=True)
                if t.task_spec.bpmn_id == task_spec
            ]
            task.data.update(data)
            task.run()
            workflow.refresh_timers()
            workflow.do_engine_steps()
            workflow = load_state(dump_state(workflow), spec, subprocess_specs)
            completions += 1
        assert workflow.is_completed()
    return Mode(
        "in memory + JSON round trip", iterations, completions, time.perf_counter() - started
    )


# The id a person's click carries in its URL; looked up, as the inbox would, by a light query.
_OPEN_TASK_ID = select(HumanTask.id).where(
    HumanTask.instance_id == bindparam("instance_id"),
    HumanTask.task_spec == bindparam("task_spec"),
    HumanTask.status == TaskStatus.OPEN,
)


def _persisted(iterations: int, workload: Workload) -> tuple[Mode, float]:
    """Start and complete through the engine facade, one transaction per step, on SQLite;
    then the bytes the database grew by per completed instance.

    Who works on each step is worked out on a first instance, outside the timing, so the
    figure is the engine's (a web request gets its user from the login session)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite3"
        engine = make_engine(f"sqlite:///{path}")
        migrate(engine)
        session = make_session_factory(engine)()
        perform(session, lambda s: deploy_bundle(s, workload.bundle(), "system:bench"))
        perform(session, lambda s: create_demo_users(s, "bench-password", DemoResult()))
        workers = _workers_by_step(session, workload)
        session.close()
        size_before = _compacted_size(engine, path)
        session = make_session_factory(engine)()
        completions = 0
        started = time.perf_counter()
        for _ in range(iterations):
            instance = perform(
                session,
                lambda s: runtime.start_instance(s, workload.process_id, workers["start"]),
            )
            for task_spec, data in workload.steps:
                task_id = session.execute(
                    _OPEN_TASK_ID, {"instance_id": instance.id, "task_spec": task_spec}
                ).scalar_one()
                instance = perform(
                    session,
                    lambda s, t=task_id, spec=task_spec, d=data: runtime.complete_task(
                        s, t, workers[spec], d
                    ),
                )
                completions += 1
            assert instance.status == "completed"
        seconds = time.perf_counter() - started
        session.close()
        grown = _compacted_size(engine, path) - size_before
        engine.dispose()
    return Mode("persisted (SQLite)", iterations, completions, seconds), grown / iterations


def _compacted_size(engine, path: Path) -> int:
    """The file's size with the WAL folded in and free pages dropped."""
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = engine.raw_connection()
    try:
        raw.driver_connection.execute("VACUUM")
    finally:
        raw.close()
    with engine.connect() as connection:
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    return os.path.getsize(path)


def _workers_by_step(session, workload: Workload) -> dict:
    workers = {"start": get_user(session, "front_clerk")}
    instance = scenarios.start(session, workload.process_id, "front_clerk")
    for task_spec, data in workload.steps:
        row = scenarios.open_task(session, instance.id, task_spec)
        workers[task_spec] = scenarios.worker_for(session, row)
        scenarios.complete_step(session, instance.id, task_spec, data, workers[task_spec].username)
    return workers
