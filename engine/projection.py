"""Keeping the `human_task` and `timer` tables in step with an instance's workflow state.

Lists (the inbox, the timer worker) query these tables and never deserialize workflows."""

from __future__ import annotations

from datetime import datetime

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.task import Task, TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

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


def sync_projections(
    session: Session, instance: ProcessInstance, workflow: BpmnWorkflow
) -> list[HumanTask]:
    """Bring both tables in step; returns the human tasks that opened."""
    timers = _waiting_timers(workflow)
    opened = _sync_human_tasks(session, instance, workflow, timers)
    _sync_timers(session, instance, timers)
    return opened


def _sync_human_tasks(session, instance, workflow, timers) -> list[HumanTask]:
    ready = {str(task.id): task for task in ready_user_tasks(workflow)}
    rows = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)).all()
    open_rows = [row for row in rows if row.status == TaskStatus.OPEN]
    for row in open_rows:
        if row.task_guid not in ready:
            # Gone without being completed here: cancelled by an interrupting event or the end.
            row.status = TaskStatus.CANCELLED
            row.completed_at = utcnow()
    known = {row.task_guid for row in open_rows}
    seq = max((row.seq for row in rows), default=0) + 1
    opened = []
    for guid, task in ready.items():
        if guid in known:
            continue
        opened.append(_new_row(session, instance, task, guid, seq, _due_at(task, timers)))
        seq += 1
    session.add_all(opened)
    return opened


def _new_row(session, instance, task: Task, guid: str, seq: int, due_at) -> HumanTask:
    spec = task.task_spec
    props = task_properties(task)
    roles = role_codes(spec.lane)
    row = HumanTask(
        instance_id=instance.id,
        task_guid=guid,
        task_spec=spec.bpmn_id,
        name=spec.bpmn_name or spec.bpmn_id,
        lane=spec.lane,
        form_file=props.get("formJsonSchemaFilename"),
        instructions=(spec.extensions or {}).get("instructionsForEndUser"),
        due_at=due_at,
        status=TaskStatus.OPEN,
        seq=seq,
        candidates=[HumanTaskCandidate(role_code=code) for code in roles],
    )
    department_field = props.get("candidateDepartmentField")
    if department_field:
        row.candidate_department = str(task.data.get(department_field) or "") or None
    assignee_field = props.get("assigneeField")
    if assignee_field:
        row.assignee_id = _user_id(session, task.data.get(assignee_field))
    elif not roles:
        # Outside any lane: the person who started the instance (as in SpiffArena).
        row.assignee_id = instance.started_by_id
    return row


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
    attached = [(t, due) for t, due in timers if t.parent is task.parent and t is not task]
    interrupting = [due for t, due in attached if getattr(t.task_spec, "cancel_activity", False)]
    others = [due for t, due in attached if not getattr(t.task_spec, "cancel_activity", False)]
    return min(interrupting or others, default=None)


def _sync_timers(session: Session, instance: ProcessInstance, timers) -> None:
    rows = {
        row.task_guid: row
        for row in session.scalars(select(Timer).where(Timer.instance_id == instance.id))
    }
    waiting = {str(task.id): (task, due) for task, due in timers}
    for guid, row in rows.items():
        if guid not in waiting:
            session.delete(row)
    for guid, (task, due) in waiting.items():
        row = rows.get(guid)
        if row is None:
            session.add(
                Timer(
                    instance_id=instance.id,
                    task_guid=guid,
                    task_spec=task.task_spec.bpmn_id or task.task_spec.name,
                    due_at=due,
                )
            )
        elif row.due_at != due:
            row.due_at = due


def clear_projections(session: Session, instance: ProcessInstance) -> None:
    """An ended instance has no open tasks and no waiting timers."""
    for row in session.scalars(
        select(HumanTask).where(
            HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.OPEN
        )
    ):
        row.status = TaskStatus.CANCELLED
        row.completed_at = utcnow()
    for row in session.scalars(select(Timer).where(Timer.instance_id == instance.id)):
        session.delete(row)
