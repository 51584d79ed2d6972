"""Template helpers that show process data: form values with their labels, local times."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, g
from flask_login import current_user
from markupsafe import Markup

from engine.masking import field_kind, mask_value
from engine.models import ProcessInstance
from engine.specs_cache import form_schemas
from engine.working_days import business_timezone
from forms.labels import form_title, summarize
from forms.rendering import render_fields
from workflows import p3
from workflows.p3.ledger import READER_ROLES as P3_READER_ROLES

from .i18n import current_locale

#: Per process: fields shown on instance pages only to holders of the given roles.
CONFIDENTIAL = {p3.PROCESS_ID: (p3.CONFIDENTIAL_FIELDS, (*P3_READER_ROLES, "auditor"))}


def hide_confidential(instance: ProcessInstance) -> None:
    """This request shows `instance`: leave out its process's confidential fields unless the
    signed-in person holds a role that may read them."""
    fields, readers = CONFIDENTIAL.get(instance.process_id, ((), ()))
    if fields and not current_user.has_role(*readers):
        g.jiedai_hidden_fields = frozenset(fields)


def reveal_personal_data() -> None:
    """This request shows personal data in full: the view recorded why (`personal_data:reveal`)."""
    g.jiedai_personal_data_revealed = True


def shown_data(data: dict) -> dict:
    """`data` as the signed-in person may see it on instance pages: ID numbers are always
    masked (registers reveal them, audited, to the roles that need them); phone numbers too
    for someone who only audits — unless this request revealed them. Confidential fields
    (`hide_confidential`) are left out."""
    if g.get("jiedai_personal_data_revealed"):
        return data
    only_auditing = current_user.role_codes <= {"auditor"}
    hidden = g.get("jiedai_hidden_fields", frozenset())
    shown = {}
    for name, value in data.items():
        if name in hidden:
            continue
        kind = field_kind(name) if isinstance(value, str | int) else None
        masked = kind == "id" or (kind == "phone" and only_auditing)
        shown[name] = mask_value(name, value) if masked else value
    return shown


def form_values(schema: dict | None, data: dict) -> Markup:
    """Submitted data as a read-only list with the form's labels."""
    if not schema or not data:
        return Markup("")
    return render_fields(
        schema, values=shown_data(data), errors={}, locale=current_locale(), readonly=True
    )


def data_summary(instance: ProcessInstance, data: dict) -> list[tuple[str, str]]:
    """(label, value) of every field of the instance's forms that has a value."""
    locale, seen, rows = current_locale(), set(), []
    shown = shown_data(data)
    for _name, schema in sorted(form_schemas(instance.version).items()):
        fields = schema.get("properties", {})
        present = {k: v for k, v in shown.items() if k in fields and k not in seen}
        seen.update(present)
        rows += summarize(schema, present, locale)
    return rows


def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time in the business time zone (Asia/Shanghai)."""
    if value is None:
        return ""
    return value.astimezone(business_timezone()).strftime(fmt)


def is_overdue(value: datetime | None) -> bool:
    return value is not None and value < datetime.now(UTC)


def is_due_today(value: datetime | None) -> bool:
    """Due later today, as the front desk counts days (the business time zone)."""
    if value is None or is_overdue(value):
        return False
    zone = business_timezone()
    return value.astimezone(zone).date() == datetime.now(zone).date()


def init_app(app: Flask) -> None:
    app.add_template_global(form_values)
    app.add_template_global(form_title)
    app.add_template_global(data_summary)
    app.add_template_global(is_overdue)
    app.add_template_global(is_due_today)
    app.add_template_filter(localtime)
