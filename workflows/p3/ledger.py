"""The complaint ledger: projected from P3 instances, listed, filtered and exported."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from engine.listeners import on_instance_saved
from engine.models import HumanTask, InstanceStatus, ProcessInstance, TaskStatus
from engine.working_days import business_timezone

from ..register_filters import matches_text, within_days
from . import PROCESS_ID
from .labels import field_label, value_label
from .models import OwnerContact

#: Roles that may read owners' records (seed 002, 4.12: owners' data is confidential).
READER_ROLES = ("front_clerk", "manager_assistant", "project_manager", "auditor")

_FROM_DATA = (
    "owner_name",
    "unit",
    "phone",
    "channel",
    "category",
    "content",
    "complaint_class",
    "complained_department",
    "serious",
    "complaint_valid",
    "action_taken",
    "inform_method",
    "satisfaction",
    "return_visitor",
)


@on_instance_saved(PROCESS_ID)
def project_contact(session: Session, instance: ProcessInstance, data: dict) -> None:
    row = session.scalar(select(OwnerContact).where(OwnerContact.instance_id == instance.id))
    if row is None:
        row = OwnerContact(
            instance_id=instance.id,
            business_key=instance.business_key,
            received_at=instance.started_at,
            receiver=instance.started_by.username,
        )
        session.add(row)
    for name in _FROM_DATA:
        setattr(row, name, data.get(name))
    handling = session.scalar(
        select(HumanTask)
        .where(HumanTask.instance_id == instance.id, HumanTask.task_spec == "handle_complaint")
        .order_by(HumanTask.id.desc())
        .limit(1)
    )
    if handling is not None:
        row.handling_due_at = handling.due_at
        if handling.status == TaskStatus.COMPLETED:
            row.handler = handling.completed_by.username if handling.completed_by else None
            row.handled_at = handling.completed_at
            row.handled_on_time = (
                handling.due_at is None or handling.completed_at <= handling.due_at
            )
    if data.get("record_status") == "closed":
        row.status = "closed"
        row.closed_at = row.closed_at or instance.ended_at or instance.updated_at
    elif instance.status == InstanceStatus.ERROR:
        row.status = "error"
    else:
        row.status = "open"


@dataclass
class LedgerFilter:
    category: str | None = None
    status: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    text: str | None = None

    def query(self) -> Select:
        query = select(OwnerContact)
        if self.category:
            query = query.where(OwnerContact.category == self.category)
        if self.status:
            query = query.where(OwnerContact.status == self.status)
        query = query.where(*within_days(OwnerContact.received_at, self.date_from, self.date_to))
        if self.text:
            query = query.where(
                matches_text(
                    self.text,
                    OwnerContact.owner_name,
                    OwnerContact.unit,
                    OwnerContact.content,
                    OwnerContact.business_key,
                )
            )
        return query


def ledger_page(
    session: Session, filters: LedgerFilter, *, page: int = 1, per_page: int = 25
) -> tuple[list[OwnerContact], int]:
    """A page of the ledger, newest first (read in the order of `ix_p3_contact_received`), and
    the number of rows the filters keep."""
    query = filters.query()
    total = session.scalar(query.with_only_columns(func.count(OwnerContact.id)))
    rows = session.scalars(
        query.order_by(OwnerContact.received_at.desc(), OwnerContact.id.desc())
        .limit(per_page)
        .offset((max(page, 1) - 1) * per_page)
    ).all()
    return list(rows), total


CSV_COLUMNS = (
    "business_key",
    "received_at",
    "receiver",
    "owner_name",
    "unit",
    "channel",
    "category",
    "complaint_class",
    "complained_department",
    "serious",
    "handler",
    "handled_at",
    "handled_on_time",
    "complaint_valid",
    "inform_method",
    "satisfaction",
    "status",
    "closed_at",
)


def ledger_csv(session: Session, filters: LedgerFilter, locale: str = "zh_CN") -> str:
    """The filtered ledger as CSV with a header in `locale`; codes are shown as labels."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([field_label(column, locale) for column in CSV_COLUMNS])
    query = filters.query().order_by(OwnerContact.received_at, OwnerContact.id)
    for row in session.scalars(query):
        writer.writerow([_cell(row, column, locale) for column in CSV_COLUMNS])
    return out.getvalue()


def _cell(row: OwnerContact, column: str, locale: str) -> str:
    value = getattr(row, column)
    if isinstance(value, datetime):
        return value.astimezone(business_timezone()).strftime("%Y-%m-%d %H:%M")
    return value_label(column, value, locale)
