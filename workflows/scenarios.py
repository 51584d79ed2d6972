"""Driving instances step by step through the engine facade: demo data, benchmarks, tests.

Each step is one `perform` (one transaction), exactly as a person's click would be."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import runtime
from engine.db import perform
from engine.identity import get_user
from engine.inbox import can_work_on
from engine.models import HumanTask, ProcessInstance, TaskStatus, User


def open_task(session: Session, instance_id: int, task_spec: str) -> HumanTask:
    row = session.scalar(
        select(HumanTask)
        .where(
            HumanTask.instance_id == instance_id,
            HumanTask.task_spec == task_spec,
            HumanTask.status == TaskStatus.OPEN,
        )
        .execution_options(populate_existing=True)
    )
    if row is None:
        open_specs = session.scalars(
            select(HumanTask.task_spec).where(
                HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.OPEN
            )
        ).all()
        raise LookupError(
            f"instance {instance_id} has no open task '{task_spec}' (open: {open_specs})"
        )
    return row


def worker_for(session: Session, row: HumanTask) -> User:
    """Someone who may work on the task: its assignee, else the first eligible user."""
    if row.assignee is not None:
        return row.assignee
    users = session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)).all()
    for user in users:
        if can_work_on(user, row):
            return user
    raise LookupError(f"nobody may work on task '{row.task_spec}' (roles {row.candidate_roles})")


def complete_step(
    session: Session, instance_id: int, task_spec: str, data: dict, username: str | None = None
) -> ProcessInstance:
    row = open_task(session, instance_id, task_spec)
    user = get_user(session, username) if username else worker_for(session, row)
    task_id = row.id
    return perform(session, lambda s: runtime.complete_task(s, task_id, user, data))


def start(
    session: Session, process_id: str, username: str, data: dict | None = None
) -> ProcessInstance:
    user = get_user(session, username)
    return perform(session, lambda s: runtime.start_instance(s, process_id, user, data))


def run_steps(session: Session, instance_id: int, steps: list[tuple[str, dict]]) -> ProcessInstance:
    instance = None
    for task_spec, data in steps:
        instance = complete_step(session, instance_id, task_spec, data)
    return instance
