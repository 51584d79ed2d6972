"""Render a form schema as HTML fields, or its data as a read-only list.

The markup comes from `forms/templates/fields.html` in an autoescaping Jinja2 environment of
this package (not the Flask app's), so everything from the schema or the submission is escaped
and the result can be dropped into any page as `Markup`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from forms.labels import (
    Choices,
    business_timezone,
    field_format,
    field_label,
    field_type,
    help_text,
    options,
    properties,
    summarize,
    widget,
)
from forms.messages import ui_text

# Widget → <input type>; select, radio, checkbox, textarea and user have their own markup.
_INPUT_TYPES = {"text": "text", "date": "date", "datetime": "datetime-local", "number": "number"}
_TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_fields(
    schema: Mapping[str, Any],
    *,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    locale: str = "zh_CN",
    choices: Choices | None = None,
    readonly: bool = False,
    id_prefix: str = "field-",
    tz: tzinfo | None = None,
) -> Markup:
    """HTML for every field of `schema` in schema order, or (`readonly`) a `<dl>` of values.

    `values` are the data to show (typed, or as coerced from a failed post: raw strings are
    shown as typed); `errors` maps field → message, `""` for form-level messages; `choices`
    gives (username, display name) pairs for `x-widget: user` fields. `id_prefix` keeps
    element ids unique when a page shows more than one form; `tz` is the business time zone for
    datetime fields (Asia/Shanghai by default).
    """
    values = values or {}
    errors = errors or {}
    template = _env.get_template("fields.html")
    if readonly:
        rows = summarize(schema, values, locale, choices=choices, tz=tz)
        return Markup(template.render(mode="readonly", rows=rows))
    fields = [
        _field(schema, name, prop, values, errors, locale, choices, id_prefix, tz)
        for name, prop in properties(schema).items()
    ]
    return Markup(
        template.render(
            mode="fields",
            fields=fields,
            form_error=errors.get("", ""),
            required_text=ui_text("required", locale),
            choose_text=ui_text("choose", locale),
            input_types=_INPUT_TYPES,
        )
    )


def _field(
    schema: Mapping[str, Any],
    name: str,
    prop: Mapping[str, Any],
    values: Mapping[str, Any],
    errors: Mapping[str, str],
    locale: str,
    choices: Choices | None,
    id_prefix: str,
    tz: tzinfo | None,
) -> dict[str, Any]:
    kind = field_type(prop)
    shown = widget(prop)
    value = values.get(name)
    field_id = id_prefix + name
    help_ = help_text(schema, name, locale)
    error = errors.get(name, "")
    described = [
        i for i, text in ((field_id + "-help", help_), (field_id + "-error", error)) if text
    ]
    field = {
        "name": name,
        "id": field_id,
        "label": field_label(schema, name, locale),
        "widget": shown,
        "kind": kind,
        "required": _marked_required(schema, name, prop, kind, shown),
        "help": help_,
        "error": error,
        "describedby": " ".join(described),
        "value": _text_value(prop, value, tz),
        "selected": _selected(value),
        "checked": value is True,
        "options": [],
        "multiple": kind == "array",
        "attrs": _input_attrs(prop, kind, shown),
    }
    if shown == "user" and choices is not None and name in choices:
        field["options"] = options(schema, name, locale, choices)
    elif shown == "user":
        # No list supplied: a plain text box still lets the task be completed.
        field["widget"] = "text"
    elif shown in ("select", "radio") or (kind == "array" and shown == "checkbox"):
        field["options"] = options(schema, name, locale, choices)
    if field["widget"] == "user" and field["value"]:
        # A chosen person may since have lost the role: keep them visible and selected, so
        # the form does not silently switch to nobody (validate reports it with `choices`).
        if field["value"] not in {code for code, _label in field["options"]}:
            field["options"] = [*field["options"], (field["value"], field["value"])]
    return field


def _marked_required(
    schema: Mapping[str, Any], name: str, prop: Mapping[str, Any], kind: str, shown: str
) -> bool:
    # An unticked checkbox is an answer (False), so a required boolean checkbox is only
    # marked when it must be ticked (`const: true`, e.g. "apologised").
    if name not in schema.get("required", ()):
        return False
    if kind == "boolean" and shown == "checkbox":
        return prop.get("const") is True
    return True


def _text_value(prop: Mapping[str, Any], value: Any, tz: tzinfo | None) -> str:
    if value is None or isinstance(value, list):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if field_format(prop) == "date-time" and isinstance(value, str):
        return _datetime_local(value, tz)
    return str(value)


def _datetime_local(value: str, tz: tzinfo | None) -> str:
    # <input type="datetime-local"> shows local wall time without an offset.
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(business_timezone(tz))
    return moment.strftime("%Y-%m-%dT%H:%M")


def _selected(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [] if value is None else [str(value)]


def _input_attrs(prop: Mapping[str, Any], kind: str, shown: str) -> dict[str, str]:
    # No `required` or `pattern` attributes: the browser would block the post with its own
    # message in its own language; ours (zh_CN/en, next to the field) come from `validate`.
    attrs: dict[str, str] = {}
    if "maxLength" in prop and shown in ("text", "textarea"):
        attrs["maxlength"] = str(prop["maxLength"])
    if shown == "number":
        attrs["step"] = str(prop.get("multipleOf", 1 if kind == "integer" else "any"))
        for keyword, attr in (("minimum", "min"), ("maximum", "max")):
            if keyword in prop:
                attrs[attr] = str(prop[keyword])
    return attrs
