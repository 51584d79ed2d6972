"""The deployed procedures a person may start: holders of the start event's lane roles."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .lanes import role_codes
from .models import ProcessModel, ProcessVersion, User
from .specs_cache import specs_for


@dataclass
class Startable:
    process_id: str
    name: str
    version: ProcessVersion
    roles: list[str]


def starter_roles(version: ProcessVersion) -> list[str]:
    """The roles of the lane holding the start event; empty means anyone may start it."""
    spec, _subprocesses = specs_for(version)
    for task_spec in spec.start.outputs:
        return role_codes(getattr(task_spec, "lane", None))
    return []


def may_start(user: User, version: ProcessVersion) -> bool:
    roles = starter_roles(version)
    return not roles or user.has_role(*roles)


def startable_processes(session: Session, user: User) -> list[Startable]:
    result = []
    for model in session.scalars(select(ProcessModel).order_by(ProcessModel.name)):
        if not model.versions:
            continue
        version = model.versions[-1]
        if may_start(user, version):
            result.append(Startable(model.process_id, model.name, version, starter_roles(version)))
    return result
