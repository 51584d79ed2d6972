"""Keeping the `human_task` and `timer` tables in step with an instance's workflow state.

Lists (the inbox, the timer worker) query these tables and never deserialize workflows."""

from __future__ import annotations

from datetime import datetime

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.task import Task, TaskState
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from .lanes import role_codes
from .models import (
    HumanTask,
    HumanTaskCandidate,
    ProcessInstance,
    TaskStatus,
    Timer,
    User,
    utcnow,
)


def ready_user_tasks(workflow: BpmnWorkflow) -> list[Task]:
    return workflow.get_tasks(state=TaskState.READY, manual=True)


def task_properties(task: Task) -> dict[str, str]:
    return (task.task_spec.extensions or {}).get("properties", {}) or {}


_TASKS = HumanTask.__table__
_CANDIDATES = HumanTaskCandidate.__table__
_TIMERS = Timer.__table__

# Built once: these run on every state change of every instance (see `engine.db.write_through`).
_TASK_ROWS = select(_TASKS.c.id, _TASKS.c.task_guid, _TASKS.c.status, _TASKS.c.seq).where(
    _TASKS.c.instance_id == bindparam("instance_id")
)
_INSERT_TASK = insert(_TASKS).returning(_TASKS.c.id)
_INSERT_CANDIDATES = insert(_CANDIDATES)
_TIMER_ROWS = select(_TIMERS.c.id, _TIMERS.c.task_guid, _TIMERS.c.due_at).where(
    _TIMERS.c.instance_id == bindparam("instance_id")
)
_INSERT_TIMERS = insert(_TIMERS)


def sync_projections(
    session: Session, instance: ProcessInstance, workflow: BpmnWorkflow
) -> list[HumanTask]:
    """Bring both tables in step; returns the human tasks that opened. The caller has flushed
    the session (`runtime.save_instance`), so the light reads go straight to the connection."""
    timers = _waiting_timers(workflow)
    opened = _sync_human_tasks(session, instance, workflow, timers)
    _sync_timers(session, instance, timers)
    return opened


def _sync_human_tasks(session, instance, workflow, timers) -> list[HumanTask]:
    ready = {str(task.id): task for task in ready_user_tasks(workflow)}
    connection = session.connection()
    rows = connection.execute(_TASK_ROWS, {"instance_id": instance.id}).all()
    open_rows = [row for row in rows if row.status == TaskStatus.OPEN]
    gone = [row.id for row in open_rows if row.task_guid not in ready]
    if gone:
        # Gone without being completed here: cancelled by an interrupting event or the end.
        _cancel(session, HumanTask.id.in_(gone))
    known = {row.task_guid for row in open_rows}
    seq = max((row.seq for row in rows), default=0) + 1
    opened = []
    for guid, task in ready.items():
        if guid in known:
            continue
        opened.append(_open(session, instance, task, guid, seq, _due_at(task, timers)))
        seq += 1
    return opened


def _open(session, instance, task: Task, guid: str, seq: int, due_at) -> HumanTask:
    """Insert the task's row and its candidate roles; the returned object is the row as
    saved, part of the session (listeners read it) without the unit of work writing it."""
    roles = role_codes(task.task_spec.lane)
    values = _new_row_values(session, instance, task, guid, seq, due_at, roles)
    connection = session.connection()
    values["id"] = connection.execute(_INSERT_TASK, values).scalar_one()
    if roles:
        connection.execute(
            _INSERT_CANDIDATES, [{"task_id": values["id"], "role_code": code} for code in roles]
        )
    row = HumanTask(**values)
    make_transient_to_detached(row)
    session.add(row)
    return row


def _cancel(session: Session, which) -> None:
    # An ORM-enabled UPDATE: task rows already loaded in this session see the new status.
    session.execute(
        update(HumanTask)
        .where(which, HumanTask.status == TaskStatus.OPEN)
        .values(status=TaskStatus.CANCELLED, completed_at=utcnow())
    )


def _new_row_values(session, instance, task: Task, guid: str, seq: int, due_at, roles) -> dict:
    spec = task.task_spec
    props = task_properties(task)
    values = {
        "instance_id": instance.id,
        "task_guid": guid,
        "task_spec": spec.bpmn_id,
        "name": spec.bpmn_name or spec.bpmn_id,
        "lane": spec.lane,
        "candidate_department": None,
        "assignee_id": None,
        "claimed_by_id": None,
        "form_file": props.get("formJsonSchemaFilename"),
        "instructions": (spec.extensions or {}).get("instructionsForEndUser"),
        "due_at": due_at,
        "status": TaskStatus.OPEN,
        "created_at": utcnow(),
        "completed_at": None,
        "completed_by_id": None,
        "seq": seq,
    }
    department_field = props.get("candidateDepartmentField")
    if department_field:
        values["candidate_department"] = str(task.data.get(department_field) or "") or None
    assignee_field = props.get("assigneeField")
    if assignee_field:
        values["assignee_id"] = _user_id(session, task.data.get(assignee_field))
    elif not roles:
        # Outside any lane: the person who started the instance (as in SpiffArena).
        values["assignee_id"] = instance.started_by_id
    return values


def _user_id(session: Session, username) -> int | None:
    if not username:
        return None
    return session.scalar(select(User.id).where(User.username == str(username)))


def _waiting_timers(workflow: BpmnWorkflow) -> list[tuple[Task, datetime]]:
    timers = []
    for task in workflow.event_manager.tasks.values():
        definition = getattr(task.task_spec, "event_definition", None)
        if not isinstance(definition, TimerEventDefinition):
            continue
        due = _timer_due(task._get_internal_data("event_value"))
        if due is not None:
            timers.append((task, due))
    return timers


def _timer_due(event_value) -> datetime | None:
    if isinstance(event_value, dict):  # a cycle timer: its next firing
        event_value = event_value.get("next") if event_value.get("cycles") != 0 else None
    if not event_value:
        return None
    return TimerEventDefinition.get_datetime(event_value)


def _due_at(task: Task, timers) -> datetime | None:
    """The due time of the task's earliest interrupting boundary timer, or of its earliest
    non-interrupting one when it has only those (an escalation that leaves it open)."""
    # Boundary events are siblings of the task they are attached to; for one instance of a
    # multi-instance task they hang on the multi-instance task, its parent.
    holders = [task.parent]
    if task.parent is not None and isinstance(task.parent.task_spec, LoopTask):
        holders.append(task.parent.parent)
    attached = [(t, due) for t, due in timers if t.parent in holders and t is not task]
    interrupting = [due for t, due in attached if getattr(t.task_spec, "cancel_activity", False)]
    others = [due for t, due in attached if not getattr(t.task_spec, "cancel_activity", False)]
    return min(interrupting or others, default=None)


#: Set in `session.info` when a state change wrote a timer row: an in-process worker that
#: sleeps is woken after the commit (`engine.timers.worker`).
TIMERS_CHANGED = "jiedai_timers_changed"


def _sync_timers(session: Session, instance: ProcessInstance, timers) -> None:
    connection = session.connection()
    rows = {
        row.task_guid: row for row in connection.execute(_TIMER_ROWS, {"instance_id": instance.id})
    }
    waiting = {str(task.id): (task, due) for task, due in timers}
    stale = [row.id for guid, row in rows.items() if guid not in waiting]
    if stale:
        session.execute(delete(Timer).where(Timer.id.in_(stale)))
    new = []
    for guid, (task, due) in waiting.items():
        row = rows.get(guid)
        if row is None:
            new.append(
                {
                    "instance_id": instance.id,
                    "task_guid": guid,
                    "task_spec": task.task_spec.bpmn_id or task.task_spec.name,
                    "due_at": due,
                    "attempts": 0,
                }
            )
        elif row.due_at != due:
            session.execute(update(Timer).where(Timer.id == row.id).values(due_at=due))
            session.info[TIMERS_CHANGED] = True
    if new:
        connection.execute(_INSERT_TIMERS, new)
        session.info[TIMERS_CHANGED] = True


def clear_projections(session: Session, instance: ProcessInstance) -> None:
    """An ended instance has no open tasks and no waiting timers."""
    _cancel(session, HumanTask.instance_id == instance.id)
    session.execute(delete(Timer).where(Timer.instance_id == instance.id))
