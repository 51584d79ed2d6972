"""The visit register (接待工作登记表, P1): list with filters and paging, detail with the
approval history, print view like the paper form, CSV and XLSX exports."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, render_template, request
from sqlalchemy.orm import Session

from engine.identity import department_label
from engine.models import ProcessInstance
from workflows.p1 import labels
from workflows.p1.exports import visits_csv, visits_xlsx
from workflows.p1.labels import STATUS_LABELS, field_label, value_label
from workflows.p1.models import Visit
from workflows.p1.queries import (
    READER_ROLES,
    VisitFilter,
    approval_history,
    confirmations,
    display_names,
    tier_decisions,
    visit_page,
)

from ..database import get_session
from ..i18n import current_locale
from .auth import role_required

bp = Blueprint("visits", __name__, url_prefix="/registers/visits")

PER_PAGE = 25
LEVELS = ("routine", "important", "major")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _date_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _filters() -> VisitFilter:
    level = request.args.get("level")
    status = request.args.get("status")
    return VisitFilter(
        reception_level=level if level in LEVELS else None,
        status=status if status in STATUS_LABELS else None,
        date_from=_date_arg("from"),
        date_to=_date_arg("to"),
        text=(request.args.get("q") or "").strip()[:100] or None,
    )


def _label_helpers(locale: str) -> dict:
    return {
        "locale": locale,
        "field_label": lambda name: field_label(name, locale),
        "value_label": lambda name, value: value_label(name, value, locale),
    }


@bp.get("/", endpoint="index")
@role_required(*READER_ROLES)
def index():
    filters = _filters()
    page = max(request.args.get("page", 1, type=int), 1)
    session = get_session()
    rows, total = visit_page(session, filters, page=page, per_page=PER_PAGE)
    return render_template(
        "visits/index.html",
        rows=rows,
        names=display_names(session, {r.approved_by for r in rows}),
        total=total,
        page=page,
        per_page=PER_PAGE,
        filters=filters,
        levels=LEVELS,
        statuses=STATUS_LABELS,
        query_args={k: v for k, v in request.args.items() if k != "page"},
        **_label_helpers(current_locale()),
    )


def _visit(session: Session, visit_id: int) -> tuple[Visit, ProcessInstance]:
    row = session.get(Visit, visit_id)
    if row is None:
        abort(404)
    return row, session.get(ProcessInstance, row.instance_id)


@bp.get("/<int:visit_id>")
@role_required(*READER_ROLES)
def detail(visit_id: int):
    session = get_session()
    row, instance = _visit(session, visit_id)
    return render_template(
        "visits/detail.html",
        row=row,
        instance=instance,
        names=display_names(session, {row.registered_by, row.approved_by}),
        approvals=approval_history(session, instance),
        tiers=tier_decisions(session, instance),
        confirmations=confirmations(session, instance),
        **_label_helpers(current_locale()),
    )


@bp.get("/<int:visit_id>/print")
@role_required(*READER_ROLES)
def print_view(visit_id: int):
    session = get_session()
    row, instance = _visit(session, visit_id)
    return render_template(
        "visits/print.html",
        row=row,
        instance=instance,
        approvals=approval_history(session, instance),
        **_label_helpers(current_locale()),
    )


@bp.get("/export.csv")
@role_required(*READER_ROLES)
def export_csv():
    body = "\ufeff" + visits_csv(get_session(), _filters(), current_locale())  # BOM: Excel
    return Response(
        body,
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=visit-register.csv"},
    )


@bp.get("/export.xlsx")
@role_required(*READER_ROLES)
def export_xlsx():
    return Response(
        visits_xlsx(get_session(), _filters(), current_locale()),
        mimetype=XLSX_MIMETYPE,
        headers={"Content-Disposition": "attachment; filename=visit-register.xlsx"},
    )


@bp.app_context_processor
def _rule_inputs() -> dict:
    def rule_input_label(name: str, value) -> str:
        """A decision input as a person reads it (`important` → 重要); unknown ones as is."""
        if name.endswith("department"):
            return department_label(value, current_locale())
        label = labels.value_label(name, value, current_locale())
        return label or ("" if value is None else str(value))

    return {"rule_input_label": rule_input_label}
