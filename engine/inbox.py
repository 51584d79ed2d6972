"""Who may work on a task, and the inbox: an indexed query on the task projection."""

from __future__ import annotations

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from .models import HumanTask, HumanTaskCandidate, Role, TaskStatus, User, UserRole


def can_work_on(user: User, task: HumanTask) -> bool:
    """A named assignee gets the task alone; otherwise a holder of one of the lane's roles,
    narrowed to the task's department where it names one."""
    if not user.active:
        return False
    if task.assignee_id is not None:
        return task.assignee_id == user.id
    if not user.role_codes.intersection(task.candidate_roles):
        return False
    return task.candidate_department is None or task.candidate_department == user.department


def _visible_to(user: User):
    roles = sorted(user.role_codes)
    by_role = and_(
        HumanTask.assignee_id.is_(None),
        exists().where(
            HumanTaskCandidate.task_id == HumanTask.id, HumanTaskCandidate.role_code.in_(roles)
        ),
        or_(
            HumanTask.candidate_department.is_(None),
            HumanTask.candidate_department == user.department,
        ),
    )
    return or_(HumanTask.assignee_id == user.id, by_role)


def inbox_query(user: User) -> Select:
    """Open tasks this user may work on and nobody else has claimed: mine first, then by due
    time (earliest first, undated last), then oldest."""
    return (
        select(HumanTask)
        .where(
            HumanTask.status == TaskStatus.OPEN,
            _visible_to(user),
            or_(HumanTask.claimed_by_id.is_(None), HumanTask.claimed_by_id == user.id),
        )
        .order_by(
            HumanTask.claimed_by_id.is_(None),
            HumanTask.due_at.is_(None),
            HumanTask.due_at,
            HumanTask.created_at,
            HumanTask.id,
        )
    )


def inbox(session: Session, user: User, *, limit: int = 50, offset: int = 0) -> list[HumanTask]:
    return list(session.scalars(inbox_query(user).limit(limit).offset(offset)))


def inbox_count(session: Session, user: User) -> int:
    return session.scalar(
        select(func.count()).select_from(inbox_query(user).order_by(None).subquery())
    )


def eligible_users(session: Session, role_codes: list[str]) -> list[User]:
    """Active users holding any of `role_codes`, by name."""
    return list(
        session.scalars(
            select(User)
            .join(UserRole)
            .join(Role)
            .where(User.active.is_(True), Role.code.in_(role_codes))
            .distinct()
            .order_by(User.display_name)
        )
    )
