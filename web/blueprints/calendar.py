"""Admins keep the holiday calendar: holidays and 调休 make-up workdays per year, entered from
the State Council's annual notice or imported from a CSV/JSON file (`engine.holidays`)."""

from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user

from engine import holidays
from engine.db import perform
from engine.working_days import business_timezone

from ..database import get_session
from ..i18n import current_locale
from .auth import role_required, signed_in_user

bp = Blueprint("calendar", __name__, url_prefix="/admin/calendar")

ADMIN_ROLES = ("admin",)
MAX_IMPORT_BYTES = 256 * 1024
_WARNED = "calendar_warned_on"


def _today() -> date:
    return datetime.now(business_timezone()).date()


def _year_arg() -> int:
    year = request.args.get("year", type=int) or _today().year
    return min(max(year, 2000), 2100)


@bp.get("/")
@role_required(*ADMIN_ROLES)
def index():
    year = _year_arg()
    db = get_session()
    return render_template(
        "calendar/index.html",
        year=year,
        days=holidays.year_days(db, year),
        missing=holidays.missing_years(db, _today()),
        package_knows=holidays.package_knows(year),
        years=sorted(holidays.known_years(db) | {_today().year, _today().year + 1, year}),
        locale=current_locale(),
        edit=request.args.get("edit", ""),
    )


@bp.post("/days")
@role_required(*ADMIN_ROLES)
def save_day():
    try:
        day = date.fromisoformat(request.form.get("day", ""))
    except ValueError:
        flash(gettext("Enter a date as YYYY-MM-DD."), "error")
        return redirect(url_for(".index", year=_year_arg()))
    kind = request.form.get("kind")
    if kind not in {"holiday", "workday"}:
        flash(gettext("Choose holiday or make-up workday."), "error")
        return redirect(url_for(".index", year=day.year))
    name = request.form.get("name", "")
    actor = signed_in_user().username
    perform(get_session(), lambda s: holidays.set_day(s, day, kind == "workday", name, actor))
    flash(gettext("Saved %(day)s.", day=day.isoformat()), "success")
    return redirect(url_for(".index", year=day.year))


@bp.post("/days/<day>/delete")
@role_required(*ADMIN_ROLES)
def delete_day(day: str):
    try:
        when = date.fromisoformat(day)
    except ValueError:
        return redirect(url_for(".index"))
    actor = signed_in_user().username
    if perform(get_session(), lambda s: holidays.delete_day(s, when, actor)):
        flash(gettext("Deleted %(day)s.", day=when.isoformat()), "success")
    return redirect(url_for(".index", year=when.year))


@bp.post("/import")
@role_required(*ADMIN_ROLES)
def import_file():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(gettext("Choose a CSV or JSON file to import."), "error")
        return redirect(url_for(".index", year=_year_arg()))
    raw = upload.read(MAX_IMPORT_BYTES + 1)
    if len(raw) > MAX_IMPORT_BYTES:
        flash(gettext("The file is too large."), "error")
        return redirect(url_for(".index", year=_year_arg()))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        flash(gettext("The file must be UTF-8 text."), "error")
        return redirect(url_for(".index", year=_year_arg()))
    actor = signed_in_user().username
    try:
        count = perform(
            get_session(), lambda s: holidays.import_days(s, text, upload.filename, actor)
        )
    except holidays.CalendarImportError as exc:
        flash(exc.message(current_locale()), "error")
        return redirect(url_for(".index", year=_year_arg()))
    flash(gettext("Imported %(count)s days.", count=count), "success")
    return redirect(url_for(".index", year=_year_arg()))


@bp.before_app_request
def _warn_admins_of_missing_years() -> None:
    """Once a day per sign-in, tell an admin which years fall back to Monday–Friday."""
    if request.method != "GET" or request.endpoint in (None, "static"):
        return
    if not current_user.is_authenticated or not current_user.has_role(*ADMIN_ROLES):
        return
    today = _today().isoformat()
    if session.get(_WARNED) == today:
        return
    session[_WARNED] = today
    missing = holidays.missing_years(get_session(), _today())
    if missing and request.endpoint != "calendar.index":
        flash(
            gettext(
                "The holiday calendar for %(years)s is missing: deadlines count Monday to "
                "Friday there. Enter the holidays on the Holiday calendar page.",
                years=", ".join(str(y) for y in missing),
            ),
            "warning",
        )
