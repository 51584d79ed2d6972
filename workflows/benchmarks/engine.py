"""`jiedai bench engine`: the P3 complaint path in memory vs through the persisted engine."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass

from SpiffWorkflow.task import TaskState

from engine import runtime
from engine.bundles import DEFAULT_BPMN_DIR, collect_bundle
from engine.db import make_engine, make_session_factory, perform
from engine.deploy import check_bundle, deploy_bundle
from engine.identity import get_user
from engine.schema import migrate
from engine.serialization import dump_state, load_state, new_workflow

from .. import scenarios
from ..demo import DemoResult, create_demo_users
from ..p3 import PROCESS_ID, samples
from .record import append_section

TARGET_RATIO = 0.5
P3_BPMN = DEFAULT_BPMN_DIR / "p3_owner_reception.bpmn"


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
class EngineReport:
    memory: Mode
    persisted: Mode

    @property
    def ratio(self) -> float:
        return self.persisted.instances_per_s / self.memory.instances_per_s

    def table(self) -> str:
        rows = [
            "| mode | instances | completions | seconds | instances/s | completions/s |",
            "|---|---|---|---|---|---|",
        ]
        for mode in (self.memory, self.persisted):
            rows.append(
                f"| {mode.name} | {mode.instances} | {mode.completions} | "
                f"{mode.seconds:.2f} | {mode.instances_per_s:.1f} | "
                f"{mode.completions_per_s:.1f} |"
            )
        verdict = "PASS" if self.ratio >= TARGET_RATIO else "FAIL"
        rows.append("")
        rows.append(
            f"persisted / in-memory = {self.ratio:.2f} (target ≥ {TARGET_RATIO}: {verdict})"
        )
        return "\n".join(rows)

    def record(self) -> None:
        append_section(
            "engine", "SQLite file (WAL)", "Path: P3 complaint, 7 user tasks each.", self.table()
        )


def run_engine_benchmark(iterations: int) -> EngineReport:
    steps = samples.complaint_path("front_clerk")
    return EngineReport(_in_memory(iterations, steps), _persisted(iterations, steps))


def _in_memory(iterations: int, steps) -> Mode:
    """Each completion is followed by a JSON round trip of the state, on cached specs."""
    parsed = check_bundle(collect_bundle(P3_BPMN))
    spec, subprocess_specs = parsed.spec, parsed.subprocess_specs
    completions = 0
    started = time.perf_counter()
    for _ in range(iterations):
        workflow = new_workflow(spec, subprocess_specs)
        workflow.do_engine_steps()
        for task_spec, data in steps:
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


def _persisted(iterations: int, steps) -> Mode:
    """Start and complete through the engine facade, one transaction per step, on SQLite.

    Who works on each step is worked out on a first instance, outside the timing, so the
    figure is the engine's (a web request gets its user from the login session)."""
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.sqlite3")
        migrate(engine)
        session = make_session_factory(engine)()
        perform(session, lambda s: deploy_bundle(s, collect_bundle(P3_BPMN), "system:bench"))
        perform(session, lambda s: create_demo_users(s, "bench-password", DemoResult()))
        workers = _workers_by_step(session, steps)
        completions = 0
        started = time.perf_counter()
        for _ in range(iterations):
            instance = perform(
                session, lambda s: runtime.start_instance(s, PROCESS_ID, workers["start"])
            )
            for task_spec, data in steps:
                task_id = scenarios.open_task(session, instance.id, task_spec).id
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
        engine.dispose()
    return Mode("persisted (SQLite)", iterations, completions, seconds)


def _workers_by_step(session, steps) -> dict:
    workers = {"start": get_user(session, "front_clerk")}
    instance = scenarios.start(session, PROCESS_ID, "front_clerk")
    for task_spec, data in steps:
        row = scenarios.open_task(session, instance.id, task_spec)
        workers[task_spec] = scenarios.worker_for(session, row)
        scenarios.complete_step(session, instance.id, task_spec, data, workers[task_spec].username)
    return workers
