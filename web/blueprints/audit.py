"""Auditors: search the approval history, follow an instance's timeline, export, print the
approval record (审批单) and check the chain. Read-only: every route is a GET; the only rows
written are audit events of the auditor's own reads (exports, reveals of personal data) and
the results of chain verifications."""

from __future__ import annotations

import dataclasses
from datetime import date

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from engine import audit_chain, runtime
from engine.audit_export import to_csv, to_xlsx
from engine.audit_search import (
    EVENT_KINDS,
    OUTCOMES,
    AuditFilter,
    SearchInvalid,
    comment_of,
    decision_of,
    iter_search,
    last_failure,
    last_verification,
    procedures,
    store_verification,
)
from engine.audit_search import search as search_events
from engine.db import perform
from engine.history import instance_history
from engine.identity import ROLE_LABELS
from engine.masking import mask_data, sensitive_fields
from engine.models import AuditEvent, ProcessInstance

from ..approval_pdf import approval_record_pdf
from ..database import get_session
from ..i18n import current_locale
from ..presentation import reveal_personal_data
from .auth import role_required, signed_in_user
from .instances import _path_taken

bp = Blueprint("audit", __name__, url_prefix="/audit")

AUDITOR = "auditor"
PER_PAGE = 50
#: Seconds the chain-status page may spend verifying on demand (the CLI has no limit).
VERIFY_BUDGET = 10.0
MAX_REASON = 200
FILTER_ARGS = ("procedure", "person", "role", "from", "to", "key", "outcome", "q", "kind")

OUTCOME_LABELS = {"approved": _l("Approved"), "rejected": _l("Rejected")}


#: Holders of only these roles may read but never change anything, anywhere in the app.
READ_ONLY_ROLES = frozenset({AUDITOR})
#: Writes a read-only person still makes: signing in and out.
ALWAYS_ALLOWED = frozenset({"auth.login", "auth.logout", "static"})
#: The one write an auditor makes: revealing masked personal data, which writes only the
#: audit event recording the reveal and its reason (CSRF-protected like every POST).
AUDITOR_WRITES = frozenset({"audit.reveal"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@bp.before_app_request
def _auditors_are_read_only():
    """Every write route of every blueprint answers 403 to a person holding only read-only
    roles, whatever the view itself checks (routes added later included)."""
    if request.method in SAFE_METHODS or request.endpoint in ALWAYS_ALLOWED | AUDITOR_WRITES:
        return
    if current_user.is_authenticated:
        roles = current_user.role_codes
        if roles and roles <= READ_ONLY_ROLES:
            abort(403)


@bp.app_context_processor
def _chain_alarm() -> dict:
    """A damaged chain is shown on every page to auditors and admins (base.html) until a
    clean verification."""
    if not (current_user.is_authenticated and current_user.has_role(AUDITOR, "admin")):
        return {"chain_failure": None}
    return {"chain_failure": last_failure(get_session())}


def _record(kind: str, payload: dict, instance: ProcessInstance | None = None) -> None:
    user = signed_in_user()
    perform(
        get_session(),
        lambda s: audit_chain.record(
            s,
            kind,
            actor=user.username,
            role=AUDITOR,
            instance_id=instance.id if instance else None,
            version_id=instance.version_id if instance else None,
            payload=payload,
        ),
    )


class BadFilter(ValueError):
    pass


def _date(name: str) -> date | None:
    value = (request.args.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadFilter(gettext("Not a date: %(value)s", value=value[:40])) from None


def _filters() -> AuditFilter:
    """The filters of the query string; raises `BadFilter` for one that cannot be read."""

    def text(name: str, limit: int = 100) -> str | None:
        return (request.args.get(name) or "").strip()[:limit] or None

    kind = text("kind")
    if kind and kind not in EVENT_KINDS:
        raise BadFilter(gettext("Unknown event type: %(value)s", value=kind))
    return AuditFilter(
        procedure=text("procedure"),
        person=text("person", 64),
        role=text("role", 64),
        date_from=_date("from"),
        date_to=_date("to"),
        business_key=text("key", 64),
        outcome=text("outcome", 20),
        text=text("q"),
        kind=kind,
    )


def _query_args() -> dict:
    return {k: v for k, v in request.args.items() if k in FILTER_ARGS and v}


@bp.get("/")
@role_required(AUDITOR)
def search():
    session = get_session()
    page = max(request.args.get("page", 1, type=int), 1)
    error, result = None, None
    try:
        filters = _filters()
        result = search_events(session, filters, page=page, per_page=PER_PAGE)
    except BadFilter as exc:
        error = str(exc)
    except SearchInvalid as exc:
        error = exc.message(current_locale())
    for row in result.rows if result else ():
        row.data = mask_data(row.data)
        row.comment = mask_data(row.comment)
    return render_template(
        "audit/search.html",
        result=result,
        error=error,
        args=request.args,
        query_args=_query_args(),
        procedures=procedures(session),
        roles=sorted(ROLE_LABELS),
        outcomes=OUTCOMES,
        outcome_labels=OUTCOME_LABELS,
        kinds=EVENT_KINDS,
        head=audit_chain.head(session),
        verification=last_verification(session),
    )


def _export_rows():
    try:
        filters = _filters()
        return filters, list(iter_search(get_session(), filters))
    except BadFilter as exc:
        abort(Response(str(exc), status=400, mimetype="text/plain"))
    except SearchInvalid as exc:
        abort(Response(exc.message(current_locale()), status=400, mimetype="text/plain"))


def _filters_payload(filters: AuditFilter) -> dict:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in vars(filters).items() if v}


@bp.get("/export.csv")
@role_required(AUDITOR)
def export_csv():
    filters, rows = _export_rows()
    body = to_csv(rows, current_locale())
    _record(
        "audit:export", {"format": "csv", "filters": _filters_payload(filters), "rows": len(rows)}
    )
    return Response(
        body,
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=audit-trail.csv"},
    )


@bp.get("/export.xlsx")
@role_required(AUDITOR)
def export_xlsx():
    filters, rows = _export_rows()
    body = to_xlsx(rows, current_locale())
    _record(
        "audit:export", {"format": "xlsx", "filters": _filters_payload(filters), "rows": len(rows)}
    )
    return Response(
        body,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": "attachment; filename=audit-trail.xlsx"},
    )


def _instance(instance_id: int) -> ProcessInstance:
    instance = get_session().get(ProcessInstance, instance_id)
    if instance is None:
        abort(404)
    return instance


@bp.get("/instances/<int:instance_id>")
@role_required(AUDITOR)
def timeline(instance_id: int):
    return _timeline(instance_id, reveal=False)


@bp.post("/instances/<int:instance_id>/reveal")
@role_required(AUDITOR)
def reveal(instance_id: int):
    """Show the timeline with personal data in full; the reason comes in the form body."""
    return _timeline(instance_id, reveal=True)


def _timeline(instance_id: int, reveal: bool):
    session = get_session()
    instance = _instance(instance_id)
    workflow = runtime.load_workflow(instance)
    data = runtime.instance_data(workflow)
    history = instance_history(session, instance)
    hidden = sorted(set(sensitive_fields(data)).union(*(sensitive_fields(e.data) for e in history)))
    reason = (request.form.get("reason") or "").strip()[:MAX_REASON] if reveal else ""
    revealed = reveal and bool(reason) and bool(hidden)
    reveal_error = reveal and not reason
    if revealed:
        reveal_personal_data()
        _record(
            "personal_data:reveal",
            {"fields": hidden, "reason": reason, "business_key": instance.business_key},
            instance,
        )
    else:
        data = mask_data(data)
        history = [
            dataclasses.replace(e, data=mask_data(e.data), payload=mask_data(e.payload))
            for e in history
        ]
    hashes = dict(
        session.execute(
            select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.instance_id == instance.id)
        ).all()
    )
    return render_template(
        "audit/timeline.html",
        instance=instance,
        data=data,
        history=history,
        hashes=hashes,
        hidden=hidden,
        revealed=revealed,
        reveal_error=reveal_error,
        reason=reason,
        path=_path_taken(workflow),
        locale=current_locale(),
        decision_of=decision_of,
        comment_of=comment_of,
    )


@bp.get("/instances/<int:instance_id>/record.pdf")
@role_required(AUDITOR)
def approval_record(instance_id: int):
    session = get_session()
    instance = _instance(instance_id)
    user = signed_in_user()
    body = approval_record_pdf(session, instance, user.display_name)
    _record(
        "audit:export",
        {"format": "pdf", "business_key": instance.business_key, "bytes": len(body)},
        instance,
    )
    return Response(
        body,
        mimetype="application/pdf",
        headers={"Content-Disposition": f"inline; filename=approval-{instance.business_key}.pdf"},
    )


@bp.get("/chain")
@role_required(AUDITOR)
def chain():
    session = get_session()
    result = None
    if request.args.get("verify"):
        result = audit_chain.verify(session, budget=VERIFY_BUDGET)
        user = signed_in_user()
        perform(session, lambda s: store_verification(s, result, user.username))
    return render_template(
        "audit/chain.html",
        result=result,
        head=audit_chain.head(session),
        verification=last_verification(session),
        chain_failure=last_failure(session),
        budget=VERIFY_BUDGET,
        search_url=url_for("audit.search"),
    )
