"""The registers the seeds name: the owner contact record / complaint ledger (P3)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, render_template, request

from workflows.p3.labels import STATUS_LABELS, field_label, value_label
from workflows.p3.ledger import READER_ROLES, LedgerFilter, ledger_csv, ledger_page

from ..database import get_session
from ..i18n import current_locale
from .auth import role_required

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
