"""The registers the seeds name: the owner contact record / complaint ledger (P3)."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from engine.db import perform
from engine.settings import set_setting
from workflows.p3.labels import STATUS_LABELS, field_label, value_label
from workflows.p3.ledger import READER_ROLES, LedgerFilter, ledger_csv, ledger_page
from workflows.p3.monthly import business_today, current_schedule
from workflows.p3.report import (
    REPORT_SCHEDULE_SETTING,
    SCHEDULES,
    compute_report,
    period_for,
    trend,
)
from workflows.p3.report_export import report_csv, report_xlsx

from ..charts import bar_chart, line_chart
from ..database import get_session
from ..i18n import current_locale
from .auth import role_required, signed_in_user

bp = Blueprint("registers", __name__, url_prefix="/registers")

PER_PAGE = 25
CATEGORIES = ("after_sales", "repair", "complaint", "service", "praise", "suggestion", "other")


def _date_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _filters() -> LedgerFilter:
    category = request.args.get("category")
    status = request.args.get("status")
    return LedgerFilter(
        category=category if category in CATEGORIES else None,
        status=status if status in STATUS_LABELS else None,
        date_from=_date_arg("from"),
        date_to=_date_arg("to"),
        text=(request.args.get("q") or "").strip()[:100] or None,
    )


@bp.get("/complaints")
@role_required(*READER_ROLES)
def complaint_ledger():
    filters = _filters()
    page = max(request.args.get("page", 1, type=int), 1)
    rows, total = ledger_page(get_session(), filters, page=page, per_page=PER_PAGE)
    return render_template(
        "registers/complaint_ledger.html",
        rows=rows,
        total=total,
        page=page,
        per_page=PER_PAGE,
        filters=filters,
        categories=CATEGORIES,
        statuses=STATUS_LABELS,
        locale=current_locale(),
        field_label=field_label,
        value_label=value_label,
        query_args={k: v for k, v in request.args.items() if k != "page"},
    )


@bp.get("/complaints.csv")
@role_required(*READER_ROLES)
def complaint_ledger_csv():
    locale = current_locale()
    body = "\ufeff" + ledger_csv(get_session(), _filters(), locale)  # BOM: Excel opens UTF-8
    return Response(
        body,
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=complaint-ledger.csv"},
    )


# --- the monthly complaint report (投诉情况月汇总表) ---------------------------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _report_month() -> date:
    """The month the report is made in: `?month=2026-11`, or the month after `?first=` (the
    first day of the period it covers); by default the report of the period running now."""
    try:
        if request.args.get("month"):
            return date.fromisoformat(request.args["month"] + "-01")
        if request.args.get("first"):
            first = date.fromisoformat(request.args["first"])
            return (first.replace(day=1) + timedelta(days=32)).replace(day=1)
    except ValueError:
        abort(400)
    return (business_today().replace(day=1) + timedelta(days=32)).replace(day=1)


def _report():
    session = get_session()
    month = _report_month()
    schedule = current_schedule(session)
    return month, schedule, compute_report(session, period_for(schedule, month))


#: Process owners see the figures (to manage the schedule), not the owners' names.
REPORT_ROLES = (*READER_ROLES, "process_owner")


@bp.get("/complaints/report")
@role_required(*REPORT_ROLES)
def complaint_report():
    month, schedule, report = _report()
    locale = current_locale()
    classes = [
        (value_label("complaint_class", code, locale), count)
        for code, count in report.by_class.items()
    ]
    points = trend(get_session(), schedule, month)
    return render_template(
        "registers/complaint_report.html",
        report=report,
        month=month,
        schedule=schedule,
        schedules=SCHEDULES,
        locale=locale,
        value_label=value_label,
        field_label=field_label,
        by_class_chart=bar_chart(classes, title=gettext("Complaints by class")),
        trend_chart=line_chart(points, title=gettext("Complaints in the last 12 months")),
        in_progress=report.period.last_day >= business_today(),
        show_rows=signed_in_user().has_role(*READER_ROLES),
        previous=(month.replace(day=1) - timedelta(days=1)).strftime("%Y-%m"),
        following=(month.replace(day=28) + timedelta(days=4)).strftime("%Y-%m"),
    )


@bp.get("/complaints/report.<any(csv, xlsx):kind>")
@role_required(*READER_ROLES)
def complaint_report_export(kind: str):
    month, _schedule, report = _report()
    name = f"complaint-report-{month:%Y-%m}.{kind}"
    disposition = {"Content-Disposition": f"attachment; filename={name}"}
    if kind == "csv":
        body = "\ufeff" + report_csv(report, current_locale())
        return Response(body, mimetype="text/csv; charset=utf-8", headers=disposition)
    return Response(report_xlsx(report, current_locale()), mimetype=XLSX, headers=disposition)


@bp.post("/complaints/report/schedule")
@role_required("process_owner")
def complaint_report_schedule():
    schedule = request.form.get("schedule")
    if schedule not in SCHEDULES:
        flash(gettext("Unknown schedule."), "error")
    else:
        user = signed_in_user()
        perform(
            get_session(),
            lambda s: set_setting(s, REPORT_SCHEDULE_SETTING, schedule, actor=user.username),
        )
        flash(gettext("The report schedule was changed."), "success")
    return redirect(url_for("registers.complaint_report"))
