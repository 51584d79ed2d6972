"""Keeping the visit register in step with P1 instances (listener, same transaction)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.listeners import on_instance_saved
from engine.models import HumanTask, InstanceStatus, ProcessInstance, TaskStatus

from . import PROCESS_ID
from .models import Visit

_FROM_DATA = (
    "request_channel",
    "visiting_organisation",
    "contact_person",
    "contact_phone",
    "visit_purpose",
    "headcount",
    "highest_rank",
    "delegation_leader",
    "requested_activities",
    "reception_level",
    "approval_tier",
    "supervising_leader",
    "leader_instructions",
    "receiving_leader",
    "plan_summary",
    "co_host_departments",
    "actual_headcount",
    "execution_summary",
    "archive_location",
)

#: Open task → stage of the visit; the furthest stage with an open task wins (the reminder
#: follow-up runs beside the preparation and says nothing about the stage).
STAGES = (
    ("register_visit", "registering"),
    ("report_to_leader", "reporting"),
    ("draft_plan", "planning"),
    ("approve_routine", "approving"),
    ("approve_by_director", "approving"),
    ("approve_by_leader", "approving"),
    ("coordination_meeting", "approving"),
    ("coordinate_departments", "preparing"),
    ("confirm_preparation", "preparing"),
    ("record_execution", "executing"),
    ("archive_materials", "archiving"),
)
_STAGE_OF = dict(STAGES)
_ORDER = {spec: i for i, (spec, _stage) in enumerate(STAGES)}

#: The steps whose approval lets the visit go ahead (the last one of each tier).
FINAL_APPROVALS = ("approve_routine", "approve_by_leader", "coordination_meeting")


@on_instance_saved(PROCESS_ID)
def project_visit(session: Session, instance: ProcessInstance, data: dict) -> None:
    row = session.scalar(select(Visit).where(Visit.instance_id == instance.id))
    if row is None:
        row = Visit(
            instance_id=instance.id,
            business_key=instance.business_key,
            registered_at=instance.started_at,
            registered_by=instance.started_by.username,
        )
        session.add(row)
    for name in _FROM_DATA:
        setattr(row, name, data.get(name))
    row.visit_from = _date(data.get("visit_from"))
    row.visit_to = _date(data.get("visit_to"))
    tasks = session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id).order_by(HumanTask.seq)
    ).all()
    _project_tasks(row, tasks)
    row.status = _status(instance, tasks)
    if row.status == "archived":
        row.archived_at = row.archived_at or instance.ended_at
    organisation = data.get("visiting_organisation")
    if organisation:
        # Inbox and instance lists show the title: name the visitor there.
        instance.title = f"{instance.version.model.name}：{organisation}"[:300]


def _date(value) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _project_tasks(row: Visit, tasks: list[HumanTask]) -> None:
    done = [t for t in tasks if t.status == TaskStatus.COMPLETED]
    row.departments_confirmed = sum(1 for t in done if t.task_spec == "confirm_preparation")
    past_approval = any(t.task_spec == "coordinate_departments" for t in tasks)
    finals = [t for t in done if t.task_spec in FINAL_APPROVALS]
    if past_approval and finals:
        last = finals[-1]
        row.approved_by = last.completed_by.username if last.completed_by else None
        row.approved_at = last.completed_at
    else:
        row.approved_by = row.approved_at = None


def _status(instance: ProcessInstance, tasks: list[HumanTask]) -> str:
    if instance.status == InstanceStatus.ERROR:
        return "error"
    if instance.status == InstanceStatus.COMPLETED:
        return "archived"
    if instance.status == InstanceStatus.CANCELLED:
        return "cancelled"
    open_specs = [t.task_spec for t in tasks if t.status == TaskStatus.OPEN]
    staged = [spec for spec in open_specs if spec in _ORDER]
    if not staged:
        return "registering"
    return _STAGE_OF[max(staged, key=_ORDER.__getitem__)]
