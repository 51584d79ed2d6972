"""Test runs: a draft run on given inputs in a throw-away, in-memory instance.

Nothing touches real data: no Session is used, the workflow is never saved, and service tasks
do not call their handlers (which may write registers or number passes): each returns the
stub the scenario gives for its operator (default `{}`). Scripts, conditions, DMN tables and
timers' expressions run in the same sandboxed script engine as a real instance.

A scenario is JSON:

    {"start": {...start data...},
     "steps": [{"task": "record_contact", "data": {...form data...}}, ...],
     "services": {"operator_id": {...result merged into the data...}}}

Each step completes the ready user task with that BPMN id. The run records the path (every
element completed, in order) and the variables after each element."""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.task import Task, TaskState

from forms.validation import validate

from .bundles import Bundle
from .deploy import check_bundle
from .errors import DeployRefused, JiedaiError
from .script_engine import JiedaiScriptEngine, describe_error
from .serialization import link_event_subprocesses
from .service_tasks import UnknownServiceOperator, registered_operators

MAX_STEPS = 200


class ScenarioInvalid(JiedaiError):
    """The scenario is not the JSON shape described in this module."""


@dataclass
class Step:
    element_id: str
    name: str
    type: str
    variables: dict
    note: str = ""


@dataclass
class TestRunResult:
    status: str  # completed / waiting / failed / refused
    steps: list[Step] = field(default_factory=list)
    waiting_at: list[str] = field(default_factory=list)
    message: str = ""
    problems: list[dict] = field(default_factory=list)
    variables: dict = field(default_factory=dict)

    @property
    def path(self) -> list[str]:
        return [step.element_id for step in self.steps]

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "steps": [asdict(step) for step in self.steps],
            "path": self.path,
            "waiting_at": self.waiting_at,
            "message": self.message,
            "problems": self.problems,
            "variables": self.variables,
        }


class _StubServiceEngine(JiedaiScriptEngine):
    """The sandboxed engine, with service handlers replaced by the scenario's stubs."""

    def __init__(self, stubs: dict[str, dict]):
        super().__init__()
        self.stubs = stubs

    def call_service(self, task, operation_name: str = "", operation_params=None, **kwargs):
        if operation_name not in registered_operators() and operation_name not in self.stubs:
            raise UnknownServiceOperator(operation_name)
        result = copy.deepcopy(self.stubs.get(operation_name) or {})
        task.data.update(result)
        return json.dumps(result, default=str, ensure_ascii=False)


def parse_scenario(text: str) -> dict:
    """The scenario in `text`, or `ScenarioInvalid` saying what is wrong."""
    try:
        scenario = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        raise ScenarioInvalid(
            f"场景不是有效的 JSON（第 {exc.lineno} 行）：{exc.msg}",
            f"The scenario is not valid JSON (line {exc.lineno}): {exc.msg}",
        ) from exc
    if not isinstance(scenario, dict):
        raise ScenarioInvalid("场景须为 JSON 对象", "The scenario must be a JSON object")
    steps = scenario.get("steps", [])
    if not isinstance(scenario.get("start", {}), dict) or not isinstance(steps, list):
        raise ScenarioInvalid(
            "start 须为对象，steps 须为列表", "start must be an object and steps a list"
        )
    for index, step in enumerate(steps):
        if not (isinstance(step, dict) and isinstance(step.get("task"), str)):
            raise ScenarioInvalid(
                f'steps[{index}] 须为 {{"task": 任务 id, "data": {{...}}}}',
                f'steps[{index}] must be {{"task": task id, "data": {{...}}}}',
            )
    if not isinstance(scenario.get("services", {}), dict):
        raise ScenarioInvalid("services 须为对象", "services must be an object")
    return scenario


def run_scenario(bundle: Bundle, scenario: dict, locale: str = "zh_CN") -> TestRunResult:
    """Run `bundle` on `scenario` in memory; never raises for the diagram's own failures."""
    try:
        parsed = check_bundle(bundle)
    except DeployRefused as refused:
        return TestRunResult(
            "refused",
            message=refused.message(locale).splitlines()[0],
            problems=[asdict(p) for p in refused.problems],
        )
    spec, subprocess_specs = parsed.spec, parsed.subprocess_specs  # parsed afresh: ours
    link_event_subprocesses(spec)
    workflow = BpmnWorkflow(
        spec, subprocess_specs, script_engine=_StubServiceEngine(scenario.get("services") or {})
    )
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(copy.deepcopy(scenario.get("start") or {}))
    result = TestRunResult("waiting")
    forms = {
        name.removeprefix("forms/"): json.loads(text)
        for name, text in bundle.files.items()
        if name.startswith("forms/")
    }

    def record(task: Task) -> None:
        spec = task.task_spec
        if not getattr(spec, "bpmn_id", None) or len(result.steps) >= MAX_STEPS:
            return
        result.steps.append(
            Step(spec.bpmn_id, spec.bpmn_name or "", type(spec).__name__, _plain(task.data))
        )

    try:
        _steps(workflow, record)
        for index, step in enumerate(scenario.get("steps") or []):
            task = _ready(workflow, step["task"])
            if task is None:
                result.message = (
                    f"steps[{index}]: {step['task']} is not ready "
                    f"(ready: {', '.join(_ready_ids(workflow)) or '-'})"
                )
                break
            data = step.get("data") or {}
            form = (
                (task.task_spec.extensions or {})
                .get("properties", {})
                .get("formJsonSchemaFilename")
            )
            errors = validate(forms[form], data, locale=locale) if form in forms else {}
            if errors:
                result.status = "failed"
                result.message = f"steps[{index}] {step['task']}: " + "; ".join(
                    f"{name or 'form'}: {message}" for name, message in errors.items()
                )
                return _finish(result, workflow)
            task.data.update(copy.deepcopy(data))
            task.run()
            record(task)
            _steps(workflow, record)
    except Exception as exc:  # noqa: BLE001 — a failing script or table is the result
        result.status = "failed"
        where = getattr(getattr(getattr(exc, "task", None), "task_spec", None), "bpmn_id", "")
        result.message = (f"{where}: " if where else "") + describe_error(exc)
        return _finish(result, workflow)
    result.status = "completed" if workflow.is_completed() else "waiting"
    return _finish(result, workflow)


def _steps(workflow: BpmnWorkflow, record) -> None:
    workflow.refresh_timers()
    workflow.do_engine_steps(did_complete_task=record)


def _ready(workflow: BpmnWorkflow, bpmn_id: str) -> Task | None:
    return next(
        (
            t
            for t in workflow.get_tasks(state=TaskState.READY, manual=True)
            if t.task_spec.bpmn_id == bpmn_id
        ),
        None,
    )


def _ready_ids(workflow: BpmnWorkflow) -> list[str]:
    return sorted(
        {
            t.task_spec.bpmn_id
            for t in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING)
            if t.task_spec.bpmn_id
        }
    )


def _finish(result: TestRunResult, workflow: BpmnWorkflow) -> TestRunResult:
    result.waiting_at = [] if workflow.is_completed() else _ready_ids(workflow)
    data: dict = {}
    tasks = workflow.get_tasks(state=TaskState.FINISHED_MASK | TaskState.READY | TaskState.WAITING)
    for task in sorted(tasks, key=lambda t: t.last_state_change):
        data.update(task.data)
    result.variables = _plain(data)
    return result


def _plain(data: Any) -> Any:
    return json.loads(json.dumps(data, default=str, ensure_ascii=False))
