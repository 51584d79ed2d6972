"""Who has how much to do: open and overdue tasks per role and per person, from the task
projection (never from workflow state)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from .models import HumanTask, HumanTaskCandidate, TaskStatus, User, utcnow


@dataclass
class RoleLoad:
    role: str
    open: int
    overdue: int
    unclaimed: int


@dataclass
class PersonLoad:
    username: str
    display_name: str
    open: int
    overdue: int


def workload(
    session: Session, now: datetime | None = None
) -> tuple[list[RoleLoad], list[PersonLoad]]:
    """Open tasks by candidate role, and those held by a person (claimed, or assigned by name)."""
    now = now or utcnow()
    overdue = func.sum(case((HumanTask.due_at < now, 1), else_=0))
    by_role = session.execute(
        select(
            HumanTaskCandidate.role_code,
            func.count(),
            overdue,
            func.sum(case((HumanTask.claimed_by_id.is_(None), 1), else_=0)),
        )
        .join(HumanTask, HumanTask.id == HumanTaskCandidate.task_id)
        .where(HumanTask.status == TaskStatus.OPEN)
        .group_by(HumanTaskCandidate.role_code)
        .order_by(HumanTaskCandidate.role_code)
    ).all()
    holder = func.coalesce(HumanTask.claimed_by_id, HumanTask.assignee_id)
    by_person = session.execute(
        select(User.username, User.display_name, func.count(), overdue)
        .join(User, User.id == holder)
        .where(HumanTask.status == TaskStatus.OPEN)
        .group_by(User.username, User.display_name)
        .order_by(func.count().desc(), User.username)
    ).all()
    return (
        [RoleLoad(role, total, late or 0, free or 0) for role, total, late, free in by_role],
        [PersonLoad(name, shown, total, late or 0) for name, shown, total, late in by_person],
    )
