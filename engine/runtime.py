"""The engine's facade: start instances, claim and complete tasks, retry incidents.

Every function takes the caller's Session and never commits: the caller wraps one call in
`engine.db.perform`, which makes it one transaction (load → act → engine steps → save state,
projections and audit events → commit)."""

from __future__ import annotations

from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.dmn.specs.business_rule_task_mixin import BusinessRuleTaskMixin
from SpiffWorkflow.task import Task, TaskState
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, undefer

from forms.validation import validate

from . import audit_chain, workflow_cache
from .catalog import may_start
from .db import prebuilt_update, write_through
from .errors import (
    EngineStepFailed,
    Forbidden,
    FormInvalid,
    InstanceInError,
    InstanceNotRunning,
    NotFound,
    TaskAlreadyDone,
    TaskClaimedByOther,
)
from .inbox import can_work_on, eligible_users
from .listeners import notify_instance_saved, notify_tasks_opened
from .models import (
    HumanTask,
    Incident,
    InstanceStatus,
    ProcessInstance,
    ProcessModel,
    ProcessVersion,
    TaskStatus,
    User,
    utcnow,
)
from .projection import clear_projections, sync_projections
from .serialization import SERIALIZER_VERSION, dump_state, load_state, new_workflow
from .service_tasks import service_session
from .specs_cache import form_schemas, specs_for

RETRY_ROLE = "process_owner"


# --- loading --------------------------------------------------------------------------------


def latest_version(session: Session, process_id: str) -> ProcessVersion:
    version = session.scalar(
        select(ProcessVersion)
        .join(ProcessModel)
        .where(ProcessModel.process_id == process_id)
        .order_by(ProcessVersion.number.desc())
        .limit(1)
    )
    if version is None:
        raise NotFound(f"没有已部署的流程“{process_id}”", f"No deployed process '{process_id}'")
    return version


def load_instance(
    session: Session, instance_id: int, *, for_update: bool = False
) -> ProcessInstance:
    query = select(ProcessInstance).where(ProcessInstance.id == instance_id)
    query = query.options(undefer(ProcessInstance.state_json))
    if for_update:
        # PostgreSQL: the row lock makes a second writer wait and then see the new state.
        # `of=`: PostgreSQL refuses FOR UPDATE on the outer-joined version and starter rows.
        query = query.with_for_update(of=ProcessInstance).execution_options(populate_existing=True)
    instance = session.scalar(query)
    if instance is None:
        raise NotFound(
            f"流程实例 {instance_id} 不存在", f"Process instance {instance_id} not found"
        )
    return instance


def load_workflow(instance: ProcessInstance) -> BpmnWorkflow:
    # An archived (ended) instance reads its state from the archive; every page works as before.
    from .archive import instance_state

    return load_state(instance_state(instance), *specs_for(instance.version))


def load_workflow_for_change(session: Session, instance: ProcessInstance) -> BpmnWorkflow:
    """The workflow to run a state change on: the one this process saved last as exactly
    this state when it still has it (`engine.workflow_cache`), else restored from the row."""
    return workflow_cache.take(session, instance) or load_workflow(instance)


def load_task(session: Session, human_task_id: int) -> HumanTask:
    row = session.get(HumanTask, human_task_id, populate_existing=True)
    if row is None:
        raise NotFound(f"任务 {human_task_id} 不存在", f"Task {human_task_id} not found")
    return row


def instance_data(workflow: BpmnWorkflow) -> dict:
    """The process data as it stands: the data of finished and current tasks, later wins."""
    tasks = workflow.get_tasks(state=TaskState.FINISHED_MASK | TaskState.READY | TaskState.WAITING)
    data: dict = {}
    for task in sorted(tasks, key=lambda t: t.last_state_change):
        data.update(task.data)
    return data


def form_schema(instance: ProcessInstance, form_file: str | None) -> dict | None:
    """The task form from the instance's own version (never the newest files)."""
    if not form_file:
        return None
    return form_schemas(instance.version).get(form_file)


# --- actions --------------------------------------------------------------------------------


def start_instance(
    session: Session, process_id: str, user: User, data: dict | None = None
) -> ProcessInstance:
    """Start the latest version of `process_id` with `data` and run to the first wait state."""
    if data is not None and not isinstance(data, dict):
        raise FormInvalid({"": "启动数据必须是 JSON 对象 / start data must be a JSON object"})
    version = latest_version(session, process_id)
    if not may_start(user, version):
        raise Forbidden(
            f"您的角色不能发起“{version.model.name}”",
            f"Your roles may not start '{version.model.name}'",
        )
    workflow = new_workflow(*specs_for(version))
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data or {})
    instance = ProcessInstance(
        version=version,
        process_id=process_id,
        status=InstanceStatus.RUNNING,
        business_key="",
        title=version.model.name,
        state_json=dump_state(workflow),
        serializer_version=SERIALIZER_VERSION,
        started_by_id=user.id,
    )
    session.add(instance)
    session.flush()  # why: the business key, projections and audit events need the id
    instance.assign_business_key()
    _audit(session, "instance:start", user, instance, payload={"data": data or {}})
    advance(
        session,
        instance,
        workflow,
        actor=user.username,
        replay={"action": "start", "data": data or {}},
    )
    return instance


def claim_task(session: Session, human_task_id: int, user: User) -> HumanTask:
    row = _workable_task(session, human_task_id, user)
    if row.claimed_by_id == user.id:
        return row
    claimed = session.execute(
        update(HumanTask)
        .where(
            HumanTask.id == row.id,
            HumanTask.claimed_by_id.is_(None),
            HumanTask.status == TaskStatus.OPEN,
        )
        .values(claimed_by_id=user.id)
    ).rowcount
    session.refresh(row)
    if claimed != 1:
        _raise_conflict(row)
    _audit(
        session,
        "task:claim",
        user,
        row.instance,
        task=row.task_spec,
        payload={"human_task": row.id, "name": row.name},
    )
    return row


def unclaim_task(session: Session, human_task_id: int, user: User) -> HumanTask:
    row = _workable_task(session, human_task_id, user)
    if row.claimed_by_id != user.id:
        raise Forbidden("只能放弃自己认领的任务", "You can only release a task you claimed")
    row.claimed_by_id = None
    _audit(
        session,
        "task:unclaim",
        user,
        row.instance,
        task=row.task_spec,
        payload={"human_task": row.id, "name": row.name},
    )
    return row


# Built once (the statement every completion starts with).
_TASK_AND_LOCKED_INSTANCE = (
    select(HumanTask, ProcessInstance)
    .join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id)
    .where(HumanTask.id == bindparam("task_id"))
    .options(undefer(ProcessInstance.state_json))
    .with_for_update(of=ProcessInstance)
    .execution_options(populate_existing=True)
)


def complete_task(session: Session, human_task_id: int, user: User, data: dict) -> ProcessInstance:
    """Validate `data` against the task's form, complete the task (claiming it if unclaimed)
    and run the engine to the next wait state."""
    # One statement finds the task and locks its instance. On PostgreSQL a completion that
    # waited for the lock may read the task row as it was before; the workflow, read fresh
    # with the lock, then tells that the task is done (`_ready_task`).
    found = session.execute(_TASK_AND_LOCKED_INSTANCE, {"task_id": human_task_id}).one_or_none()
    if found is None:
        raise NotFound(f"任务 {human_task_id} 不存在", f"Task {human_task_id} not found")
    row, instance = found
    _check_running(instance)
    return _complete(session, instance, row, user, data)


_COMPLETE_TASK = prebuilt_update(
    HumanTask.__table__,
    key=("id",),
    columns=("status", "claimed_by_id", "completed_by_id", "completed_at"),
)


def _complete(session, instance, row, user, data, *, retried_by: User | None = None):
    _check_workable(row, user)
    workflow = load_workflow_for_change(session, instance)
    task = _ready_task(workflow, row)
    clean = validate_task_data(session, instance, row, data)
    task.data.update(clean)
    task.run()
    write_through(
        session,
        row,
        _COMPLETE_TASK,
        {"id": row.id},
        {
            "status": TaskStatus.COMPLETED,
            "claimed_by_id": row.claimed_by_id or user.id,
            "completed_by_id": user.id,
            "completed_at": utcnow(),
        },
    )
    payload = {"human_task": row.id, "name": row.name, "data": clean}
    if retried_by is not None:
        payload["retried_by"] = retried_by.username
    _audit(
        session,
        "task:complete",
        user,
        instance,
        task=row.task_spec,
        payload=payload,
        role=_acting_role(row, user),
    )
    replay = {"action": "complete", "human_task_id": row.id, "user_id": user.id, "data": clean}
    advance(session, instance, workflow, actor=user.username, replay=replay)
    return instance


def validate_task_data(session: Session, instance: ProcessInstance, row: HumanTask, data) -> dict:
    """The submission checked against the task's form; raises `FormInvalid` with field errors."""
    if not isinstance(data, dict):
        raise FormInvalid({"": "提交的数据必须是 JSON 对象 / data must be a JSON object"})
    schema = form_schema(instance, row.form_file)
    if schema is None:
        return {}  # an instructions-only task takes no data
    choices = user_choices(session, schema)
    errors = validate(schema, data, choices=choices)
    if errors:
        raise FormInvalid(errors)
    return data


def user_choices(session: Session, schema: dict) -> dict[str, list[tuple[str, str]]]:
    """Options of `x-widget: user` fields: the active holders of the roles it names."""
    return {
        name: [
            (u.username, u.display_name)
            for u in eligible_users(session, prop.get("x-user-roles", []))
        ]
        for name, prop in (schema.get("properties") or {}).items()
        if prop.get("x-widget") == "user"
    }


def retry_instance(session: Session, instance_id: int, user: User) -> ProcessInstance:
    """Replay what failed on the last saved state, after a process owner fixed the cause."""
    if not user.has_role(RETRY_ROLE):
        raise Forbidden(
            "只有流程管理员可以重试故障流程", "Only a process owner can retry an incident"
        )
    instance = load_instance(session, instance_id, for_update=True)
    if instance.status != InstanceStatus.ERROR:
        raise InstanceNotRunning("该流程没有待处理的故障", "This process has no open incident")
    incident = session.scalar(
        select(Incident)
        .where(Incident.instance_id == instance.id, Incident.resolved_at.is_(None))
        .order_by(Incident.id.desc())
        .limit(1)
    )
    if incident is not None:
        incident.resolved_at = utcnow()
        incident.resolved_by = user.username
    instance.status = InstanceStatus.RUNNING
    _audit(
        session,
        "instance:retry",
        user,
        instance,
        payload={"incident": incident.id if incident else None},
    )
    replay = incident.replay if incident else {"action": "steps"}
    if replay.get("action") == "complete":
        row = load_task(session, replay["human_task_id"])
        submitter = session.get(User, replay["user_id"])
        return _complete(session, instance, row, submitter, replay["data"], retried_by=user)
    advance(
        session,
        instance,
        load_workflow_for_change(session, instance),
        actor=user.username,
        replay=replay,
    )
    return instance


# --- engine steps and saving ----------------------------------------------------------------


def advance(session, instance, workflow: BpmnWorkflow, *, actor: str, replay: dict) -> None:
    """Run engine steps, then save state, projections, register rows and audit events.

    A script, condition, table or handler that raises becomes `EngineStepFailed`; the caller's
    transaction is then rolled back whole and the incident recorded (`engine.db.perform`)."""
    decisions: list[dict] = []
    try:
        with service_session(session, instance.id, actor):
            workflow.refresh_timers()
            workflow.do_engine_steps(
                will_complete_task=lambda task: _before_automatic_task(task, decisions)
            )
    except EngineStepFailed:
        raise
    except Exception as exc:  # noqa: BLE001 — any failure of diagram code is an incident
        refused = _form_refusal(exc)
        if refused is not None:
            raise refused from exc  # a checking service task refused the form: nothing saved
        raise _step_failure(instance, exc, replay) from exc
    for decision in decisions:
        audit_chain.record(
            session,
            "decision:evaluate",
            actor=actor,
            instance_id=instance.id,
            task=decision.pop("task"),
            version_id=instance.version_id,
            payload=decision,
        )
    save_instance(session, instance, workflow, actor=actor)


def _form_refusal(exc: BaseException) -> FormInvalid | None:
    """The `FormInvalid` a service handler raised (wrapped by SpiffWorkflow), if any: a
    checking step after a form refuses the submission with field errors, not an incident."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, FormInvalid):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _before_automatic_task(task: Task, decisions: list[dict]) -> None:
    """A DMN table with no matching row gives `{}` silently: make it an incident instead,
    and keep the matched rule so auditors can see why a route or approver was chosen."""
    spec = task.task_spec
    if not isinstance(spec, BusinessRuleTaskMixin):
        return
    rules = spec.dmnEngine.decide(task)
    table = spec.dmnEngine.decision_table
    decision_id = (spec.extensions or {}).get("calledDecisionId") or table.id
    if not rules:
        inputs = {i.expression: _safe_eval(task, i.expression) for i in table.inputs}
        raise _NoRuleMatched(
            task,
            f"决策表“{decision_id}”没有匹配的规则 "
            f"(no rule of table '{decision_id}' matched {inputs})",
        )
    decisions.append(
        {
            "task": spec.bpmn_id,
            "table": decision_id,
            "rules": [{"id": rule.id, "description": rule.description} for rule in rules],
            "inputs": {i.expression: _safe_eval(task, i.expression) for i in table.inputs},
        }
    )


def _safe_eval(task: Task, expression: str):
    try:
        value = task.workflow.script_engine.evaluate(task, expression)
    except Exception:  # noqa: BLE001 — only for the message of an incident
        return None
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


class _NoRuleMatched(Exception):
    def __init__(self, task: Task, message: str):
        super().__init__(message)
        self.task = task


def _step_failure(instance: ProcessInstance, exc: Exception, replay: dict) -> EngineStepFailed:
    task = getattr(exc, "task", None)
    spec = task.task_spec if task is not None else None
    notes = getattr(exc, "__notes__", [])
    message = " ".join([str(exc), *notes]).strip() or type(exc).__name__
    return EngineStepFailed(
        instance_id=instance.id,
        message=message[:2000],
        task_spec=getattr(spec, "bpmn_id", None),
        task_name=getattr(spec, "bpmn_name", None),
        line_number=getattr(exc, "line_number", None) or None,
        replay=replay,
        # A failed start leaves no row behind after the rollback: keep what re-creates it.
        started=_start_snapshot(instance) if replay.get("action") == "start" else None,
    )


def _start_snapshot(instance: ProcessInstance) -> dict:
    return {
        "version_id": instance.version_id,
        "process_id": instance.process_id,
        "title": instance.title,
        "state_json": instance.state_json,
        "started_by_id": instance.started_by_id,
        "started_by": instance.started_by.username,
    }


_SAVE_STATE = prebuilt_update(
    ProcessInstance.__table__,
    key=("id", "lock_version"),
    columns=(
        "state_json",
        "serializer_version",
        "updated_at",
        "status",
        "ended_at",
        "lock_version",
    ),
)


def save_instance(
    session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, *, actor: str
) -> None:
    session.flush()  # why: a new instance row first, and whatever else is pending on it
    completed = workflow.is_completed()
    now = utcnow()
    state = dump_state(workflow)
    write_through(
        session,
        instance,
        _SAVE_STATE,
        # The optimistic lock: the row must still hold the state this change started from.
        {"id": instance.id, "lock_version": instance.lock_version},
        {
            "state_json": state,
            "serializer_version": SERIALIZER_VERSION,
            "updated_at": now,
            "status": InstanceStatus.COMPLETED if completed else instance.status,
            "ended_at": now if completed else instance.ended_at,
            "lock_version": instance.lock_version + 1,
        },
    )
    if completed:
        clear_projections(session, instance)
        audit_chain.record(
            session,
            "instance:complete",
            actor=actor,
            instance_id=instance.id,
            version_id=instance.version_id,
            payload={},
        )
    else:
        workflow_cache.keep_when_committed(session, instance, workflow, state)
        opened = sync_projections(session, instance, workflow)
        notify_tasks_opened(session, instance, opened, actor)
    notify_instance_saved(session, instance, lambda: instance_data(workflow))


# --- checks ---------------------------------------------------------------------------------


def _check_running(instance: ProcessInstance) -> None:
    if instance.status == InstanceStatus.ERROR:
        raise InstanceInError()
    if instance.status != InstanceStatus.RUNNING:
        raise InstanceNotRunning()


def _workable_task(session: Session, human_task_id: int, user: User) -> HumanTask:
    row = load_task(session, human_task_id)
    _check_workable(row, user)
    return row


def _check_workable(row: HumanTask, user: User) -> None:
    if row.status != TaskStatus.OPEN:
        raise TaskAlreadyDone()
    if not can_work_on(user, row):
        raise Forbidden("这项任务不属于您的角色", "This task is not for your roles")
    if row.claimed_by_id not in (None, user.id):
        raise TaskClaimedByOther(row.claimed_by.display_name)


def _raise_conflict(row: HumanTask) -> None:
    if row.status != TaskStatus.OPEN:
        raise TaskAlreadyDone()
    raise TaskClaimedByOther(row.claimed_by.display_name if row.claimed_by else "?")


def _ready_task(workflow: BpmnWorkflow, row: HumanTask) -> Task:
    task = workflow.get_task_from_id(UUID(row.task_guid))
    if task is None or task.state != TaskState.READY:
        raise TaskAlreadyDone()
    return task


def _acting_role(row: HumanTask, user: User) -> str | None:
    held = [code for code in row.candidate_roles if user.has_role(code)]
    return held[0] if held else None


def _audit(
    session, kind, user: User, instance: ProcessInstance, *, task=None, payload=None, role=None
) -> None:
    audit_chain.record(
        session,
        kind,
        actor=user.username,
        role=role,
        instance_id=instance.id,
        task=task,
        version_id=instance.version_id,
        payload=payload or {},
    )
