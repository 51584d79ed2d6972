"""Labels of forms, fields and values in zh_CN or English, read from the schema itself.

A schema carries its own words (CONVENTIONS.md, "Codes and labels"): `x-labels` on the form and
on each property, `x-enum-labels` on each enum value, `x-help` for hints. English falls back to
zh_CN, and zh_CN falls back to the JSON Schema `title`, so a half-translated schema still shows
something readable instead of a code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from forms.messages import ui_text

DEFAULT_LOCALE = "zh_CN"
DEFAULT_TIMEZONE = "Asia/Shanghai"

Choices = Mapping[str, Sequence[tuple[str, str]]]


def normalize_locale(locale: str | None) -> str:
    """Map any locale spelling (`en`, `en_US`, `en-GB`, `zh`, `zh-Hans`) to `en` or `zh_CN`."""
    if locale and locale.lower().startswith("en"):
        return "en"
    return DEFAULT_LOCALE


def pick(texts: Any, locale: str, fallback: str = "") -> str:
    """The text for `locale` from a `{zh_CN: ..., en: ...}` mapping, falling back to zh_CN."""
    if isinstance(texts, str):
        return texts
    if not isinstance(texts, Mapping):
        return fallback
    for key in (locale, normalize_locale(locale), DEFAULT_LOCALE):
        text = texts.get(key)
        if isinstance(text, str) and text:
            return text
    return fallback


def properties(schema: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    """The form's fields in schema order (empty when the schema has none)."""
    props = schema.get("properties")
    return props if isinstance(props, Mapping) else {}


def form_title(schema: Mapping[str, Any], locale: str = DEFAULT_LOCALE) -> str:
    """The form's title: `x-labels` in the locale, else `title`."""
    return pick(schema.get("x-labels"), locale, str(schema.get("title", "")))


def field_label(schema: Mapping[str, Any], name: str, locale: str = DEFAULT_LOCALE) -> str:
    """A field's label; the field name itself when the schema has no such field."""
    prop = properties(schema).get(name)
    if prop is None:
        return name
    return pick(prop.get("x-labels"), locale, str(prop.get("title", name)))


def help_text(schema: Mapping[str, Any], name: str, locale: str = DEFAULT_LOCALE) -> str:
    """A field's `x-help` hint in the locale, or an empty string."""
    return pick(properties(schema).get(name, {}).get("x-help"), locale)


def field_type(prop: Mapping[str, Any]) -> str:
    """The field's JSON type; for `["string", "null"]` the non-null one."""
    declared = prop.get("type")
    if isinstance(declared, list):
        declared = next((t for t in declared if t != "null"), "null")
    if isinstance(declared, str):
        return declared
    if "enum" in prop or "const" in prop:
        sample = prop.get("enum", [prop.get("const")])
        if sample and all(isinstance(v, bool) for v in sample):
            return "boolean"
    return "string"


def field_format(prop: Mapping[str, Any]) -> str | None:
    """The `format` of the field (or of its items, for arrays)."""
    if field_type(prop) == "array":
        return _items(prop).get("format")
    return prop.get("format")


def enum_values(prop: Mapping[str, Any]) -> list[Any]:
    """The allowed values of an enum field or of an array's items, else an empty list."""
    if field_type(prop) == "array":
        return list(_items(prop).get("enum", []))
    return list(prop.get("enum", []))


def widget(prop: Mapping[str, Any]) -> str:
    """The widget named by `x-widget`, or the default for the field's type and format."""
    named = prop.get("x-widget")
    if isinstance(named, str):
        return named
    kind = field_type(prop)
    if kind == "boolean":
        return "checkbox"
    if kind in ("integer", "number"):
        return "number"
    if kind == "array":
        return "checkbox" if enum_values(prop) else "select"
    if "enum" in prop:
        return "select"
    fmt = prop.get("format")
    if fmt == "date":
        return "date"
    if fmt == "date-time":
        return "datetime"
    return "text"


def options(
    schema: Mapping[str, Any],
    name: str,
    locale: str = DEFAULT_LOCALE,
    choices: Choices | None = None,
) -> list[tuple[str, str]]:
    """(submitted value, label) pairs for a choice field: enum, boolean or user list."""
    prop = properties(schema).get(name, {})
    if widget(prop) == "user":
        return [(str(v), str(label)) for v, label in (choices or {}).get(name, ())]
    if field_type(prop) == "boolean":
        return [
            ("true", value_label(schema, name, True, locale)),
            ("false", value_label(schema, name, False, locale)),
        ]
    return [(str(v), value_label(schema, name, v, locale)) for v in enum_values(prop)]


def value_label(
    schema: Mapping[str, Any],
    name: str,
    value: Any,
    locale: str = DEFAULT_LOCALE,
    *,
    choices: Choices | None = None,
    tz: tzinfo | None = None,
) -> str:
    """How a stored value reads to a person: enum labels, 是/否 or Yes/No, local date-times.

    `choices` gives display names for `x-widget: user` fields (username → name); `tz` is the
    business time zone for date-times (Asia/Shanghai unless given).
    """
    if value is None:
        return ""
    prop = properties(schema).get(name, {})
    if isinstance(value, list):
        separator = ", " if normalize_locale(locale) == "en" else "、"
        return separator.join(
            _scalar_label(prop, item, locale, choices and choices.get(name), tz) for item in value
        )
    return _scalar_label(prop, value, locale, choices and choices.get(name), tz)


def summarize(
    schema: Mapping[str, Any],
    data: Mapping[str, Any],
    locale: str = DEFAULT_LOCALE,
    *,
    choices: Choices | None = None,
    tz: tzinfo | None = None,
) -> list[tuple[str, str]]:
    """(label, display value) for each field of the schema present in `data`, in schema order.

    Keys of `data` that are not fields of this form (other process data) are left out.
    """
    return [
        (
            field_label(schema, name, locale),
            value_label(schema, name, data[name], locale, choices=choices, tz=tz),
        )
        for name in properties(schema)
        if name in data
    ]


def business_timezone(tz: tzinfo | None) -> tzinfo:
    """The given zone, or the default business zone (JIEDAI_TIMEZONE's default)."""
    return tz if tz is not None else ZoneInfo(DEFAULT_TIMEZONE)


def _items(prop: Mapping[str, Any]) -> Mapping[str, Any]:
    items = prop.get("items")
    return items if isinstance(items, Mapping) else {}


def _scalar_label(
    prop: Mapping[str, Any],
    value: Any,
    locale: str,
    user_choices: Sequence[tuple[str, str]] | None,
    tz: tzinfo | None,
) -> str:
    # Enum labels are keyed by the value as a string: JSON object keys are always strings.
    labels = prop.get("x-enum-labels")
    if field_type(prop) == "array":
        labels = _items(prop).get("x-enum-labels", labels)
    if isinstance(value, bool):
        key = "true" if value else "false"
        fallback = ui_text("yes" if value else "no", locale)
        return pick((labels or {}).get(key), locale, fallback)
    if isinstance(labels, Mapping) and str(value) in labels:
        return pick(labels[str(value)], locale, str(value))
    if user_choices:
        for code, label in user_choices:
            if code == value:
                return label
    if field_format(prop) == "date-time" and isinstance(value, str):
        return _local_datetime(value, tz)
    return str(value)


def _local_datetime(value: str, tz: tzinfo | None) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(business_timezone(tz))
    return moment.strftime("%Y-%m-%d %H:%M")
