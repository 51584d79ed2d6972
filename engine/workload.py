"""Who has how much to do: open and overdue tasks per role and per person, from the task
projection (never from workflow state)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from .lanes import role_codes
from .models import HumanTask, TaskStatus, User, utcnow


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
    open_task = HumanTask.status == TaskStatus.OPEN
    # By lane, then lanes into their roles: the open tasks are counted off ix_human_task_inbox
    # alone (it holds lane, due time and claimer), where joining the candidate rows visits
    # every task row too. A lane's roles are its candidate roles (engine.projection).
    by_lane = session.execute(
        select(
            HumanTask.lane,
            func.count(),
            overdue,
            func.sum(case((HumanTask.claimed_by_id.is_(None), 1), else_=0)),
        )
        .where(open_task)
        .group_by(HumanTask.lane)
    ).all()
    roles: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for lane, total, late, free in by_lane:
        for role in role_codes(lane):
            counts = roles[role]
            counts[0] += total
            counts[1] += late or 0
            counts[2] += free or 0
    holder = func.coalesce(HumanTask.claimed_by_id, HumanTask.assignee_id)
    held = (
        select(holder.label("holder"), func.count().label("total"), overdue.label("late"))
        .where(open_task, holder.is_not(None))
        .group_by(holder)
        .subquery()
    )
    by_person = session.execute(
        select(User.username, User.display_name, held.c.total, held.c.late)
        .join(held, User.id == held.c.holder)
        .order_by(held.c.total.desc(), User.username)
    ).all()
    return (
        [RoleLoad(role, *roles[role]) for role in sorted(roles)],
        [PersonLoad(name, shown, total, late or 0) for name, shown, total, late in by_person],
    )
