"""The P4 registers: the pass registry (住户联络资料表), the rented-units list (出租单元一览表)
and the deposit ledger (押金台帐) — list, filter, detail, print, CSV/XLSX export."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext

from engine import audit_chain
from engine.db import perform
from engine.masking import mask_id, mask_phone
from workflows.p4.exports import (
    LEDGER_COLUMNS,
    REGISTRY_COLUMNS,
    RENTED_COLUMNS,
    header,
    ledger_cells,
    pass_cells,
    to_csv,
    to_xlsx,
)
from workflows.p4.labels import PASS_TYPES, column_label, value_label
from workflows.p4.models import Pass
from workflows.p4.registry import (
    READER_ROLES,
    REVEAL_ROLES,
    STATES,
    PassFilter,
    deposit_ledger,
    deposits_held,
    pass_state,
    registry_page,
    registry_rows,
    rented_units,
)
from workflows.p4.rules import business_today

from ..database import get_session
from ..i18n import current_locale
from .auth import role_required, signed_in_user

bp = Blueprint("passes", __name__, url_prefix="/registers/passes")

PER_PAGE = 25
EXPORT_FORMATS = ("csv", "xlsx")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _date_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _filters() -> PassFilter:
    pass_type, state = request.args.get("type"), request.args.get("status")
    return PassFilter(
        pass_type=pass_type if pass_type in PASS_TYPES else None,
        state=state if state in STATES else None,
        issued_from=_date_arg("from"),
        issued_to=_date_arg("to"),
        text=(request.args.get("q") or "").strip()[:100] or None,
    )


def _helpers() -> dict:
    return {
        "locale": current_locale(),
        "column_label": column_label,
        "value_label": value_label,
        "mask_id": mask_id,
        "mask_phone": mask_phone,
        "pass_state": pass_state,
        "pass_types": PASS_TYPES,
        "states": STATES,
    }


@bp.get("/")
@role_required(*READER_ROLES)
def index():
    filters = _filters()
    page = max(request.args.get("page", 1, type=int), 1)
    rows, total = registry_page(get_session(), filters, page=page, per_page=PER_PAGE)
    return render_template(
        "passes/index.html",
        rows=rows,
        total=total,
        page=page,
        per_page=PER_PAGE,
        filters=filters,
        query_args={k: v for k, v in request.args.items() if k != "page"},
        **_helpers(),
    )


@bp.get("/print")
@role_required(*READER_ROLES)
def print_view():
    filters = _filters()
    return render_template(
        "passes/print.html",
        rows=registry_rows(get_session(), filters),
        filters=filters,
        printed_on=business_today().isoformat(),
        **_helpers(),
    )


@bp.get("/<int:pass_id>")
@role_required(*READER_ROLES)
def detail(pass_id: int):
    return _render_detail(_pass_or_404(pass_id), revealed=False)


@bp.post("/<int:pass_id>/reveal")
@role_required(*REVEAL_ROLES)
def reveal(pass_id: int):
    """The whole ID number, for those who handle the card; each look is an audit event."""
    row = _pass_or_404(pass_id)
    user = signed_in_user()
    held = [code for code in REVEAL_ROLES if user.has_role(code)]
    perform(
        get_session(),
        lambda s: audit_chain.record(
            s,
            "personal_data:reveal",
            actor=user.username,
            role=held[0] if held else None,
            instance_id=row.issue_instance_id,
            payload={"register": "p4_pass", "pass_no": row.pass_no, "field": "holder_id_no"},
        ),
    )
    return _render_detail(_pass_or_404(pass_id), revealed=True)


def _pass_or_404(pass_id: int) -> Pass:
    row = get_session().get(Pass, pass_id)
    if row is None:
        abort(404)
    return row


def _render_detail(row: Pass, *, revealed: bool):
    user = signed_in_user()
    return render_template(
        "passes/detail.html",
        row=row,
        revealed=revealed,
        may_reveal=user.has_role(*REVEAL_ROLES),
        ledger=[line for line in deposit_ledger(get_session()) if line.entry.pass_id == row.id],
        **_helpers(),
    )


@bp.get("/rented-units")
@role_required(*READER_ROLES)
def rented():
    return render_template("passes/rented.html", rows=rented_units(get_session()), **_helpers())


@bp.get("/deposits")
@role_required(*READER_ROLES)
def deposits():
    session = get_session()
    lines = deposit_ledger(session)
    return render_template(
        "passes/deposits.html",
        lines=list(reversed(lines)),
        held=deposits_held(session),
        columns=LEDGER_COLUMNS,
        **_helpers(),
    )


@bp.get("/export.<fmt>")
@role_required(*READER_ROLES)
def export_registry(fmt: str):
    locale = current_locale()
    rows = [
        pass_cells(r, REGISTRY_COLUMNS, locale) for r in registry_rows(get_session(), _filters())
    ]
    return _export(fmt, "pass-registry", gettext("Pass registry"), REGISTRY_COLUMNS, rows)


@bp.get("/rented-units.<fmt>")
@role_required(*READER_ROLES)
def export_rented(fmt: str):
    locale = current_locale()
    rows = [pass_cells(r, RENTED_COLUMNS, locale) for r in rented_units(get_session())]
    return _export(fmt, "rented-units", gettext("Rented units"), RENTED_COLUMNS, rows)


@bp.get("/deposits.<fmt>")
@role_required(*READER_ROLES)
def export_deposits(fmt: str):
    locale = current_locale()
    rows = [ledger_cells(line, locale) for line in deposit_ledger(get_session())]
    return _export(fmt, "deposit-ledger", gettext("Deposit ledger"), LEDGER_COLUMNS, rows)


def _export(fmt: str, filename: str, title: str, columns, rows) -> Response:
    if fmt not in EXPORT_FORMATS:
        abort(404)
    head = header(columns, current_locale())
    disposition = {"Content-Disposition": f"attachment; filename={filename}.{fmt}"}
    if fmt == "csv":
        return Response(to_csv(head, rows), mimetype="text/csv; charset=utf-8", headers=disposition)
    return Response(to_xlsx(title, head, rows), mimetype=XLSX_MIMETYPE, headers=disposition)
