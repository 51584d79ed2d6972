"""The booking register (商务接待活动登记表, P2): list with filters and paging, detail, print
view like the paper form, CSV and XLSX exports; and the attendant's ad-hoc material request
during a meeting (a signal to the instance's event sub-process)."""

from __future__ import annotations

import json
from datetime import date

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bundles import DEFAULT_FORMS_DIR
from engine.db import perform
from engine.errors import InstanceFailed, JiedaiError
from engine.events import send_signal
from engine.models import AuditEvent, HumanTask, ProcessInstance, TaskStatus, User
from forms.rendering import render_fields
from forms.validation import coerce_submission, validate
from workflows.p2 import MATERIAL_SIGNAL
from workflows.p2.labels import STATUS_LABELS, choices, field_label, value_label
from workflows.p2.models import MeetingBooking
from workflows.p2.register import (
    READER_ROLES,
    BookingFilter,
    booking_page,
    bookings_csv,
    bookings_xlsx,
    cell,
)

from ..database import get_session
from ..i18n import current_locale
from .auth import role_required, signed_in_user

bp = Blueprint("bookings", __name__, url_prefix="/registers/bookings")

PER_PAGE = 25
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Who may send an ad-hoc material request during a meeting (4.2.1 9): the attendants serve
#: the room; the lead may log one on their behalf.
REQUEST_ROLES = ("meeting_attendant", "meeting_lead")
REQUEST_FORM = "p2_material_request.json"
MATERIAL_TASKS = ("handle_material_request", "material_late", "resolve_material_request")


def _date_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _code_arg(name: str, allowed) -> str | None:
    value = request.args.get(name)
    return value if value in allowed else None


def _filters() -> BookingFilter:
    locale = current_locale()
    return BookingFilter(
        meeting_class=_code_arg("class", dict(choices("meeting_class", locale))),
        status=_code_arg("status", STATUS_LABELS),
        room=_code_arg("room", dict(choices("room", locale))),
        date_from=_date_arg("from"),
        date_to=_date_arg("to"),
        text=(request.args.get("q") or "").strip()[:100] or None,
    )


#: Register columns that hold a username; pages show the person's name instead.
PERSON_COLUMNS = ("booked_by", "av_technician", "av_rechecked_by", "pre_checked_by")


def _label_helpers(locale: str, session: Session | None = None) -> dict:
    names = dict(session.execute(select(User.username, User.display_name)).all()) if session else {}

    def show(row, name: str) -> str:
        value = getattr(row, name)
        if name in PERSON_COLUMNS and value:
            return names.get(value, value)
        return cell(row, name, locale)

    return {
        "locale": locale,
        "field_label": lambda name: field_label(name, locale),
        "value_label": lambda name, value: value_label(name, value, locale),
        "cell": show,
        "person": lambda username: names.get(username, username or ""),
    }


def _request_schema() -> dict:
    return json.loads((DEFAULT_FORMS_DIR / REQUEST_FORM).read_text(encoding="utf-8"))


@bp.get("/", endpoint="index")
@role_required(*READER_ROLES)
def index():
    locale = current_locale()
    filters = _filters()
    page = max(request.args.get("page", 1, type=int), 1)
    rows, total = booking_page(get_session(), filters, page=page, per_page=PER_PAGE)
    return render_template(
        "bookings/index.html",
        rows=rows,
        total=total,
        page=page,
        per_page=PER_PAGE,
        filters=filters,
        classes=choices("meeting_class", locale),
        statuses=choices("status", locale),
        rooms=choices("room", locale),
        query_args={k: v for k, v in request.args.items() if k != "page"},
        **_label_helpers(locale),
    )


def _booking(session: Session, booking_id: int) -> MeetingBooking:
    row = session.get(MeetingBooking, booking_id)
    if row is None:
        abort(404)
    return row


def _material_requests(session: Session, instance_id: int) -> list[dict]:
    """Each ad-hoc request with what became of it, from the audit chain (who sent it, when,
    what was asked) and the tasks it started (who answered, outcome, whether accepted)."""
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.instance_id == instance_id,
            AuditEvent.kind.in_(("instance:signal", "task:complete")),
        )
        .order_by(AuditEvent.seq)
    ).all()
    requests = [
        {
            "at": e.at,
            "by": e.actor,
            "item": e.payload.get("data", {}).get("item", ""),
            "note": e.payload.get("data", {}).get("note", ""),
            "answers": [],
        }
        for e in events
        if e.kind == "instance:signal" and e.payload.get("signal") == MATERIAL_SIGNAL
    ]
    answers = [e for e in events if e.kind == "task:complete" and e.task in MATERIAL_TASKS]
    for event in answers:
        # An answer belongs to the latest request sent before it (requests rarely overlap).
        owner = next((r for r in reversed(requests) if r["at"] <= event.at), None)
        if owner is not None:
            owner["answers"].append(
                {
                    "task": event.task,
                    "by": event.actor,
                    "at": event.at,
                    "data": event.payload.get("data", {}),
                }
            )
    return requests


@bp.get("/<int:booking_id>")
@role_required(*READER_ROLES)
def detail(booking_id: int):
    session, user, locale = get_session(), signed_in_user(), current_locale()
    row = _booking(session, booking_id)
    instance = session.get(ProcessInstance, row.instance_id)
    open_tasks = session.scalars(
        select(HumanTask)
        .where(HumanTask.instance_id == row.instance_id, HumanTask.status == TaskStatus.OPEN)
        .order_by(HumanTask.seq)
    ).all()
    may_request = row.status == "in_meeting" and user.has_role(*REQUEST_ROLES)
    request_fields = (
        render_fields(_request_schema(), values={}, errors={}, locale=locale)
        if may_request
        else None
    )
    return render_template(
        "bookings/detail.html",
        row=row,
        instance=instance,
        open_tasks=open_tasks,
        material_requests=_material_requests(session, row.instance_id),
        may_request=may_request,
        request_fields=request_fields,
        **_label_helpers(locale, session),
    )


@bp.post("/<int:booking_id>/material-request")
@role_required(*REQUEST_ROLES)
def material_request(booking_id: int):
    session, user, locale = get_session(), signed_in_user(), current_locale()
    row = _booking(session, booking_id)
    back = redirect(url_for("bookings.detail", booking_id=booking_id))
    if row.status != "in_meeting":
        flash(
            gettext("Ad-hoc requests can only be made while the meeting is in progress."), "error"
        )
        return back
    schema = _request_schema()
    data = coerce_submission(schema, request.form)
    errors = validate(schema, data, locale=locale)
    if errors:
        flash("；".join(errors.values()), "error")
        return back
    instance_id = row.instance_id
    try:
        perform(session, lambda s: send_signal(s, instance_id, MATERIAL_SIGNAL, data, user))
    except (InstanceFailed, JiedaiError) as exc:
        flash(exc.message(locale), "error")
        return back
    flash(gettext("The request was sent: deliver it or explain within 5 minutes."), "success")
    return back


@bp.get("/<int:booking_id>/print")
@role_required(*READER_ROLES)
def print_view(booking_id: int):
    session, locale = get_session(), current_locale()
    row = _booking(session, booking_id)
    return render_template(
        "bookings/print.html",
        row=row,
        instance=session.get(ProcessInstance, row.instance_id),
        material_requests=_material_requests(session, row.instance_id),
        **_label_helpers(locale, session),
    )


@bp.get("/export.csv")
@role_required(*READER_ROLES)
def export_csv():
    body = "\ufeff" + bookings_csv(get_session(), _filters(), current_locale())  # BOM for Excel
    return Response(
        body,
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=meeting-bookings.csv"},
    )


@bp.get("/export.xlsx")
@role_required(*READER_ROLES)
def export_xlsx():
    return Response(
        bookings_xlsx(get_session(), _filters(), current_locale()),
        mimetype=XLSX_MIMETYPE,
        headers={"Content-Disposition": "attachment; filename=meeting-bookings.xlsx"},
    )
