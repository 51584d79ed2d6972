"""The booking register (商务接待活动登记表): projected from P2 instances in the same
transaction as each state change; listed, filtered and exported (CSV, XLSX)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from engine.listeners import on_instance_saved
from engine.models import HumanTask, InstanceStatus, ProcessInstance, TaskStatus
from engine.working_days import business_timezone

from ..register_filters import matches_text, within_days
from . import PROCESS_ID
from .labels import field_label, value_label
from .models import MeetingBooking

#: Roles that keep or read the register: the hotline logs bookings, the meeting team works
#: from it, finance follows the class-1 fees, auditors trace.
READER_ROLES = ("hotline", "meeting_lead", "meeting_attendant", "av_tech", "cashier", "auditor")

_TEXT = (
    "unit", "booker_name", "booker_phone", "convener", "convener_rank", "room", "other_needs",
    "meeting_class", "av_technician", "av_test_result", "av_recheck_result", "av_recheck_note",
    "pre_check_result", "booker_signed_name", "invoice_no", "invoice_signed_by",
    "payment_receipt_no",
)  # fmt: skip
_FLAGS = ("av_voice", "av_projector", "leader_level", "room_sealed", "customer_inspected",
          "cleaner_called")  # fmt: skip
_TIMES = ("start_at", "end_at", "booker_signed_at", "invoice_signed_at")
_AMOUNTS = ("fee_amount", "invoice_amount", "payment_amount")


@on_instance_saved(PROCESS_ID)
def project_booking(session: Session, instance: ProcessInstance, data: dict) -> None:
    row = session.scalar(select(MeetingBooking).where(MeetingBooking.instance_id == instance.id))
    if row is None:
        row = MeetingBooking(
            instance_id=instance.id,
            business_key=instance.business_key,
            booked_at=instance.started_at,
            booked_by=instance.started_by.username,
            material_requests=0,
            payment_reminders=0,
        )
        session.add(row)
    for name in _TEXT:
        setattr(row, name, data.get(name))
    for name in _FLAGS:
        setattr(row, name, data.get(name) if isinstance(data.get(name), bool) else None)
    for name in _TIMES:
        setattr(row, name, _moment(data.get(name)))
    for name in _AMOUNTS:
        setattr(row, name, _amount(data.get(name)))
    row.headcount = data.get("headcount") if isinstance(data.get("headcount"), int) else None
    hours = data.get("lead_time_hours")
    row.lead_time_hours = float(hours) if isinstance(hours, int | float) else None
    row.payment_received_on = _day(data.get("payment_received_on"))
    in_meeting = _project_tasks(session, instance, row)
    row.payment_status = _payment_status(row)
    row.status = _status(instance, row, in_meeting)
    if row.status == "closed":
        row.closed_at = row.closed_at or instance.ended_at or instance.updated_at


def _project_tasks(session: Session, instance: ProcessInstance, row: MeetingBooking) -> bool:
    """Who did the checks and when: from the task rows, the same as the instance history.
    Returns whether the meeting is in progress (its service task is open)."""
    tasks = session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id).order_by(HumanTask.id)
    ).all()
    done = {t.task_spec: t for t in tasks if t.status == TaskStatus.COMPLETED}

    def finished(spec: str) -> datetime | None:
        return done[spec].completed_at if spec in done else None

    row.av_sheet_issued_at = finished("issue_equipment_sheet")
    row.av_tested_at = finished("test_room_av")
    row.av_rechecked_at = finished("recheck_av")
    row.av_rechecked_by = _username(done.get("recheck_av"))
    row.pre_checked_at = finished("pre_meeting_check")
    row.pre_checked_by = _username(done.get("pre_meeting_check"))
    row.reset_at = finished("reset_room")
    row.material_requests = sum(t.task_spec == "handle_material_request" for t in tasks)
    row.payment_reminders = sum(t.task_spec == "payment_reminder" for t in tasks)
    return any(t.task_spec == "serve_meeting" and t.status == TaskStatus.OPEN for t in tasks)


def _username(task: HumanTask | None) -> str | None:
    return task.completed_by.username if task is not None and task.completed_by else None


def _payment_status(row: MeetingBooking) -> str:
    if row.meeting_class != "class_1":
        return "not_applicable"
    if row.payment_received_on is not None:
        return "paid"
    return "invoiced" if row.invoice_no else "pending"


def _status(instance: ProcessInstance, row: MeetingBooking, in_meeting: bool) -> str:
    if instance.status == InstanceStatus.COMPLETED:
        return "closed"
    if instance.status == InstanceStatus.ERROR:
        return "error"
    if in_meeting:
        return "in_meeting"
    if row.reset_at is not None and row.meeting_class == "class_1":
        return "awaiting_payment"
    return "preparing"


def _moment(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=business_timezone())


def _day(value) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _amount(value) -> Decimal | None:
    """Amounts arrive as text ("1200.50"): Decimal, never float."""
    try:
        return Decimal(value).quantize(Decimal("0.01")) if isinstance(value, str) else None
    except InvalidOperation:
        return None


# --- listing and export -------------------------------------------------------------------


@dataclass
class BookingFilter:
    meeting_class: str | None = None
    status: str | None = None
    room: str | None = None
    date_from: date | None = None  # meeting start, business dates
    date_to: date | None = None
    text: str | None = None

    def query(self) -> Select:
        query = select(MeetingBooking)
        if self.meeting_class:
            query = query.where(MeetingBooking.meeting_class == self.meeting_class)
        if self.status:
            query = query.where(MeetingBooking.status == self.status)
        if self.room:
            query = query.where(MeetingBooking.room == self.room)
        query = query.where(*within_days(MeetingBooking.start_at, self.date_from, self.date_to))
        if self.text:
            query = query.where(
                matches_text(
                    self.text,
                    MeetingBooking.unit,
                    MeetingBooking.booker_name,
                    MeetingBooking.convener,
                    MeetingBooking.business_key,
                )
            )
        return query


def booking_page(
    session: Session, filters: BookingFilter, *, page: int = 1, per_page: int = 25
) -> tuple[list[MeetingBooking], int]:
    query = filters.query()
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(
        query.order_by(MeetingBooking.start_at.desc(), MeetingBooking.id.desc())
        .limit(per_page)
        .offset((max(page, 1) - 1) * per_page)
    ).all()
    return list(rows), total


def booking_for_instance(session: Session, instance_id: int) -> MeetingBooking | None:
    return session.scalar(select(MeetingBooking).where(MeetingBooking.instance_id == instance_id))


EXPORT_COLUMNS = (
    "business_key", "booked_at", "booked_by", "unit", "booker_name", "booker_phone",
    "headcount", "convener", "convener_rank", "room", "start_at", "end_at", "av_voice",
    "av_projector", "other_needs", "lead_time_hours", "meeting_class", "leader_level",
    "av_technician", "av_test_result", "av_recheck_result", "av_rechecked_by",
    "av_rechecked_at", "pre_check_result", "pre_checked_by", "pre_checked_at", "fee_amount",
    "booker_signed_name", "booker_signed_at", "room_sealed", "material_requests", "reset_at",
    "invoice_no", "invoice_amount", "invoice_signed_by", "invoice_signed_at", "payment_status",
    "payment_amount", "payment_received_on", "payment_reminders", "status", "closed_at",
)  # fmt: skip


def cell(row: MeetingBooking, column: str, locale: str = "zh_CN") -> str:
    """One register cell as text: local times, labels for codes, 0.00 for amounts."""
    value = getattr(row, column)
    if isinstance(value, datetime):
        return value.astimezone(business_timezone()).strftime("%Y-%m-%d %H:%M")
    if column in ("material_requests", "payment_reminders", "headcount"):
        return "" if value is None else str(value)
    if column == "lead_time_hours":
        return "" if value is None else f"{value:.1f}"
    return value_label(column, value, locale)


def _export_rows(session: Session, filters: BookingFilter):
    return session.scalars(filters.query().order_by(MeetingBooking.start_at, MeetingBooking.id))


def bookings_csv(session: Session, filters: BookingFilter, locale: str = "zh_CN") -> str:
    """The filtered register as CSV, header in `locale`, codes shown as labels."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([field_label(column, locale) for column in EXPORT_COLUMNS])
    for row in _export_rows(session, filters):
        writer.writerow([cell(row, column, locale) for column in EXPORT_COLUMNS])
    return out.getvalue()


def bookings_xlsx(session: Session, filters: BookingFilter, locale: str = "zh_CN") -> bytes:
    """The filtered register as an Excel workbook; numbers and amounts stay numbers."""
    book = Workbook()
    sheet = book.active
    sheet.title = "商务接待活动登记表" if not locale.startswith("en") else "Meeting bookings"
    sheet.append([field_label(column, locale) for column in EXPORT_COLUMNS])
    for header in sheet[1]:
        header.font = Font(bold=True)
    for row in _export_rows(session, filters):
        sheet.append([_xlsx_value(row, column, locale) for column in EXPORT_COLUMNS])
    sheet.freeze_panes = "A2"
    for index, column in enumerate(EXPORT_COLUMNS, start=1):
        letter = sheet.cell(row=1, column=index).column_letter
        sheet.column_dimensions[letter].width = max(10, len(field_label(column, locale)) * 2)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_value(row: MeetingBooking, column: str, locale: str):
    value = getattr(row, column)
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        return value
    return cell(row, column, locale)
