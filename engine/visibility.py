"""Who may see an instance: the roles that oversee every instance, the person who started
it, and anyone its tasks were (or are) for."""

from __future__ import annotations

from sqlalchemy import Select, and_, exists, or_, select

from .models import HumanTask, HumanTaskCandidate, ProcessInstance, User

#: Roles that see every instance: process owners run them, auditors trace them.
OVERSEER_ROLES = ("process_owner", "auditor")


def _involved(user: User):
    roles = sorted(user.role_codes)
    task_for_me = exists().where(
        HumanTask.instance_id == ProcessInstance.id,
        or_(
            HumanTask.completed_by_id == user.id,
            HumanTask.claimed_by_id == user.id,
            HumanTask.assignee_id == user.id,
            and_(
                HumanTask.assignee_id.is_(None),
                exists().where(
                    HumanTaskCandidate.task_id == HumanTask.id,
                    HumanTaskCandidate.role_code.in_(roles),
                ),
                or_(
                    HumanTask.candidate_department.is_(None),
                    HumanTask.candidate_department == user.department,
                ),
            ),
        ),
    )
    return or_(ProcessInstance.started_by_id == user.id, task_for_me)


def visible_instances(user: User) -> Select:
    query = select(ProcessInstance)
    if user.has_role(*OVERSEER_ROLES):
        return query
    return query.where(_involved(user))


def can_view_instance(session, user: User, instance: ProcessInstance) -> bool:
    if user.has_role(*OVERSEER_ROLES):
        return True
    return session.scalar(
        select(exists().where(ProcessInstance.id == instance.id, _involved(user)))
    )
