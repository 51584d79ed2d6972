"""An instance's history — who did what, when, with which data — read from the audit chain,
so the page a person sees and the record an auditor verifies are the same events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AuditEvent, HumanTask, ProcessInstance, User
from .runtime import form_schema

#: What auditors do with an instance (exports, reveals) is in the audit trail, not in the
#: history its staff read.
OVERSIGHT_KINDS = ("audit:export", "personal_data:reveal")


@dataclass
class HistoryEntry:
    seq: int
    at: datetime
    kind: str
    actor: str
    actor_name: str
    role: str | None
    task_name: str | None
    data: dict
    schema: dict | None
    payload: dict


def instance_history(session: Session, instance: ProcessInstance) -> list[HistoryEntry]:
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.instance_id == instance.id, AuditEvent.kind.not_in(OVERSIGHT_KINDS))
        .order_by(AuditEvent.seq)
    ).all()
    names = dict(
        session.execute(
            select(User.username, User.display_name).where(
                User.username.in_({event.actor for event in events})
            )
        ).all()
    )
    tasks = {
        row.id: row
        for row in session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id))
    }
    entries = []
    for event in events:
        task = tasks.get(event.payload.get("human_task"))
        entries.append(
            HistoryEntry(
                seq=event.seq,
                at=event.at,
                kind=event.kind,
                actor=event.actor,
                actor_name=names.get(event.actor, event.actor),
                role=event.role,
                task_name=task.name if task else event.task,
                data=event.payload.get("data") or {},
                schema=form_schema(instance, task.form_file) if task else None,
                payload=event.payload,
            )
        )
    return entries
