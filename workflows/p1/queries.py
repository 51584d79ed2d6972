"""Reading the visit register: filters and paging, and the detail page's approval history
(from the audit chain) and department confirmations (from the task projection)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from engine.models import AuditEvent, HumanTask, ProcessInstance, User
from engine.visibility import OVERSEER_ROLES

from ..register_filters import matches_text
from .models import Visit

#: Who may read the register: the office that runs visits, its approvers, auditors.
READER_ROLES = (
    "reception_officer",
    "deputy_director",
    "director",
    "univ_leader",
    "party_office",
    *OVERSEER_ROLES,
)

#: The approval steps whose decisions make up the approval history.
APPROVAL_STEPS = (
    "approve_routine",
    "approve_by_director",
    "approve_by_leader",
    "coordination_meeting",
)


@dataclass
class VisitFilter:
    reception_level: str | None = None
    status: str | None = None
    date_from: date | None = None  # visits starting on or after
    date_to: date | None = None  # visits starting on or before
    text: str | None = None

    def query(self) -> Select:
        query = select(Visit)
        if self.reception_level:
            query = query.where(Visit.reception_level == self.reception_level)
        if self.status:
            query = query.where(Visit.status == self.status)
        if self.date_from:
            query = query.where(Visit.visit_from >= self.date_from)
        if self.date_to:
            query = query.where(Visit.visit_from <= self.date_to)
        if self.text:
            query = query.where(
                matches_text(
                    self.text,
                    Visit.visiting_organisation,
                    Visit.contact_person,
                    Visit.visit_purpose,
                    Visit.business_key,
                )
            )
        return query


def ordered(query: Select) -> Select:
    """Newest visits first; undated registrations (still being filled in) last."""
    return query.order_by(Visit.visit_from.is_(None), Visit.visit_from.desc(), Visit.id.desc())


def visit_page(
    session: Session, filters: VisitFilter, *, page: int = 1, per_page: int = 25
) -> tuple[list[Visit], int]:
    query = filters.query()
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(
        ordered(query).limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).all()
    return list(rows), total


def visit_by_instance(session: Session, instance_id: int) -> Visit | None:
    return session.scalar(select(Visit).where(Visit.instance_id == instance_id))


@dataclass
class Approval:
    """One decision of the approval history: who, when, in which role, outcome, comment."""

    step: str
    step_name: str
    at: datetime
    actor: str
    actor_name: str
    role: str | None
    decision: str | None
    comment: str | None
    meeting: dict  # coordination meeting: date, attendees, decisions


@dataclass
class TierDecision:
    """Why these approvers: the rule of the tier table that matched, and its inputs."""

    at: datetime
    table: str
    rules: list[dict]
    inputs: dict


def approval_history(session: Session, instance: ProcessInstance) -> list[Approval]:
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.instance_id == instance.id,
            AuditEvent.kind == "task:complete",
            AuditEvent.task.in_(APPROVAL_STEPS),
        )
        .order_by(AuditEvent.seq)
    ).all()
    names = display_names(session, {e.actor for e in events})
    result = []
    for event in events:
        data = event.payload.get("data") or {}
        result.append(
            Approval(
                step=event.task,
                step_name=event.payload.get("name") or event.task,
                at=event.at,
                actor=event.actor,
                actor_name=names.get(event.actor, event.actor),
                role=event.role,
                decision=data.get("approval_decision"),
                comment=data.get("approval_comment"),
                meeting={
                    k: data[k]
                    for k in ("meeting_date", "meeting_attendees", "meeting_decisions")
                    if k in data
                },
            )
        )
    return result


def tier_decisions(session: Session, instance: ProcessInstance) -> list[TierDecision]:
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.instance_id == instance.id,
            AuditEvent.kind == "decision:evaluate",
            AuditEvent.task == "decide_approval_tier",
        )
        .order_by(AuditEvent.seq)
    ).all()
    return [
        TierDecision(
            at=e.at,
            table=e.payload.get("table", ""),
            rules=e.payload.get("rules", []),
            inputs=e.payload.get("inputs", {}),
        )
        for e in events
    ]


def confirmations(session: Session, instance: ProcessInstance) -> list[HumanTask]:
    """The departments' preparation tasks, latest round only (one per department)."""
    rows = session.scalars(
        select(HumanTask)
        .where(
            HumanTask.instance_id == instance.id,
            HumanTask.task_spec == "confirm_preparation",
        )
        .order_by(HumanTask.seq)
    ).all()
    return list(rows)


def display_names(session: Session, usernames: set[str | None]) -> dict[str, str]:
    """username → display name, for the register's "by" columns (they store usernames)."""
    usernames = {u for u in usernames if u}
    if not usernames:
        return {}
    return dict(
        session.execute(
            select(User.username, User.display_name).where(User.username.in_(usernames))
        ).all()
    )
