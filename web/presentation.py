"""Template helpers that show process data: form values with their labels, local times."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import Flask
from markupsafe import Markup

from engine.models import ProcessInstance
from engine.working_days import business_timezone
from forms.labels import form_title, summarize
from forms.rendering import render_fields

from .i18n import current_locale


def form_values(schema: dict | None, data: dict) -> Markup:
    """Submitted data as a read-only list with the form's labels."""
    if not schema or not data:
        return Markup("")
    return render_fields(schema, values=data, errors={}, locale=current_locale(), readonly=True)


def data_summary(instance: ProcessInstance, data: dict) -> list[tuple[str, str]]:
    """(label, value) of every field of the instance's forms that has a value."""
    locale, seen, rows = current_locale(), set(), []
    for name in sorted(instance.version.files):
        if not name.startswith("forms/"):
            continue
        schema = json.loads(instance.version.files[name])
        present = {
            k: v for k, v in data.items() if k in schema.get("properties", {}) and k not in seen
        }
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


def init_app(app: Flask) -> None:
    app.add_template_global(form_values)
    app.add_template_global(form_title)
    app.add_template_global(data_summary)
    app.add_template_global(is_overdue)
    app.add_template_filter(localtime)
