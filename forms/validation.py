"""Turn an HTML form post into typed data, and validate data against a form schema.

`coerce_submission` only converts; `validate` judges. A value that cannot be converted (an
integer field holding "abc") is kept as the raw string, so `validate` reports it with the
field's label instead of the conversion silently dropping what the clerk typed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, tzinfo
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError

from forms.labels import (
    Choices,
    business_timezone,
    field_format,
    field_label,
    field_type,
    properties,
    widget,
)
from forms.messages import FORMAT_MESSAGES, KEYWORD_MESSAGES, TYPE_MESSAGES, fill, localized

Submission = Mapping[str, str | list[str]]

_TRUE = frozenset({"on", "true", "1", "yes"})
_FALSE = frozenset({"off", "false", "0", "no", ""})
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# What <input type="datetime-local"> posts: no seconds or offset.
_LOCAL_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2})?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

# When a field fails several keywords, the clerk sees the most basic problem first.
_PRIORITY = (
    "required",
    "type",
    "const",
    "enum",
    "format",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
)


def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_datetime(value: object) -> bool:
    # RFC 3339 (JSON Schema's date-time) needs an offset; stored times are always aware.
    if not isinstance(value, str):
        return True
    if not _DATETIME.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return False
    return True


def _is_email(value: object) -> bool:
    return not isinstance(value, str) or bool(_EMAIL.fullmatch(value))


_CN_RESIDENT_ID = re.compile(r"[0-9]{17}[0-9Xx]")
_CN_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _is_cn_resident_id(value: object) -> bool:
    """A mainland resident ID number (GB 11643-1999): 18 characters, a real birth date in
    characters 7–14, and the ISO 7064 MOD 11-2 check character (`X` for 10) last."""
    if not isinstance(value, str):
        return True
    if not _CN_RESIDENT_ID.fullmatch(value):
        return False
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    total = sum(int(digit) * weight for digit, weight in zip(value, _CN_ID_WEIGHTS, strict=False))
    return "10X98765432"[total % 11] == value[17].upper()


def _format_checker() -> FormatChecker:
    # Our own checker: jsonschema's `date-time` needs the optional rfc3339-validator package and
    # silently passes everything without it; we want the check without extra dependencies.
    checker = FormatChecker(formats=())
    checker.checks("date")(_is_date)
    checker.checks("date-time")(_is_datetime)
    checker.checks("email")(_is_email)
    checker.checks("cn-resident-id")(_is_cn_resident_id)
    return checker


FORMAT_CHECKER = _format_checker()


def coerce_submission(
    schema: Mapping[str, Any], form: Submission, *, tz: tzinfo | None = None
) -> dict[str, Any]:
    """Typed data from an HTML form post, per the schema's fields.

    `form` may be a plain mapping of str or list[str], or a werkzeug `MultiDict` (its
    `getlist` is used for arrays). Strings are stripped and empty ones omitted; keys that are no
    field of the schema (`csrf_token`) are dropped; a checkbox absent from the post is `False`
    (browsers send nothing for an unticked box) while a yes/no radio left empty is omitted so
    `required` catches it. A value from `<input type="datetime-local">` gets the offset of `tz`
    (Asia/Shanghai by default). Values that do not convert stay raw strings for `validate`.
    """
    data: dict[str, Any] = {}
    for name, prop in properties(schema).items():
        raw = _values(form, name)
        kind = field_type(prop)
        if kind == "array":
            items = prop.get("items") if isinstance(prop.get("items"), Mapping) else {}
            converted = [
                _scalar(items, text, tz) for text in (_clean(v) for v in raw) if text != ""
            ]
            if converted:
                data[name] = converted
            continue
        if kind == "boolean":
            value = _boolean(raw, radio=widget(prop) == "radio")
            if value is not None:
                data[name] = value
            continue
        text = _clean(raw[0]) if raw else ""
        if text != "":
            data[name] = _scalar(prop, text, tz)
    return data


def validate(
    schema: Mapping[str, Any],
    data: Mapping[str, Any],
    *,
    locale: str = "zh_CN",
    choices: Choices | None = None,
) -> dict[str, str]:
    """Field name → message in `locale` for each failing field; an empty dict means valid.

    One message per field (the most basic failure first); the key `""` holds form-level
    problems such as unknown fields. `choices` lists the allowed (value, label) pairs of
    `x-widget: user` fields; a value outside them is refused.
    """
    validator = Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(data), key=_rank)
    messages: dict[str, str] = {}
    for error in errors:
        for field, message in _describe(schema, error, locale):
            messages.setdefault(field, message)
    for name, allowed in (choices or {}).items():
        prop = properties(schema).get(name)
        if prop is None or widget(prop) != "user" or name in messages or name not in data:
            continue
        if data[name] not in {value for value, _label in allowed}:
            messages[name] = _message(schema, name, "choices", KEYWORD_MESSAGES["choices"], locale)
    # Form-level first, then the fields in the order the form shows them.
    order = {"": -1} | {name: i for i, name in enumerate(properties(schema))}
    return dict(sorted(messages.items(), key=lambda item: order.get(item[0], len(order))))


def _values(form: Submission, name: str) -> list[str]:
    getlist = getattr(form, "getlist", None)
    if callable(getlist):
        return [str(v) for v in getlist(name)]
    if name not in form:
        return []
    value = form[name]
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _clean(text: str) -> str:
    # Browsers post textarea line breaks as CRLF; store plain newlines so maxLength counts
    # what the clerk sees.
    return text.replace("\r\n", "\n").strip()


def _boolean(raw: list[str], *, radio: bool) -> bool | str | None:
    texts = [_clean(v).lower() for v in raw]
    if any(t in _TRUE for t in texts):
        return True
    if radio and not any(texts):
        return None
    if all(t in _FALSE for t in texts):
        return False
    return next(_clean(v) for v in raw if _clean(v).lower() not in _FALSE)


def _scalar(prop: Mapping[str, Any], text: str, tz: tzinfo | None) -> Any:
    kind = field_type(prop)
    if kind == "integer":
        return int(text) if _INTEGER.fullmatch(text) else text
    if kind == "number":
        if not _NUMBER.fullmatch(text):
            return text
        number = float(text)
        return int(number) if _INTEGER.fullmatch(text) else number
    if kind == "boolean":
        value = _boolean([text], radio=False)
        return text if value is None else value
    if field_format(prop) == "date-time" and _LOCAL_DATETIME.fullmatch(text):
        try:
            local = datetime.fromisoformat(text)
        except ValueError:
            return text
        return local.replace(tzinfo=business_timezone(tz)).isoformat()
    return text


def _rank(error: ValidationError) -> tuple[int, str]:
    keyword = str(error.validator)
    order = _PRIORITY.index(keyword) if keyword in _PRIORITY else len(_PRIORITY)
    return (order, "/".join(str(p) for p in error.absolute_path))


def _describe(
    schema: Mapping[str, Any], error: ValidationError, locale: str
) -> Iterable[tuple[str, str]]:
    keyword = str(error.validator)
    path = list(error.absolute_path)
    if keyword == "required" and isinstance(error.instance, Mapping):
        # jsonschema names the missing property only inside its English message.
        for name in error.validator_value:
            if name not in error.instance:
                pair = KEYWORD_MESSAGES["required"]
                if _is_choice(properties(schema).get(name, {})):
                    pair = KEYWORD_MESSAGES["required_choice"]
                yield name, _message(schema, name, "required", pair, locale)
        return
    if keyword == "additionalProperties" and not path and isinstance(error.instance, Mapping):
        known = properties(schema)
        separator = ", " if locale.lower().startswith("en") else "、"
        names = separator.join(sorted(str(k) for k in error.instance if k not in known))
        yield "", fill(localized(KEYWORD_MESSAGES[keyword], locale), names=names)
        return
    if not path:
        yield "", localized(KEYWORD_MESSAGES["form_invalid"], locale)
        return
    name = str(path[0])
    yield name, _message(schema, name, keyword, _default_pair(error), locale, error)


def _is_choice(prop: Mapping[str, Any]) -> bool:
    return widget(prop) in ("select", "radio", "user") or (
        field_type(prop) == "array" and widget(prop) == "checkbox"
    )


def _default_pair(error: ValidationError) -> tuple[str, str]:
    keyword = str(error.validator)
    if keyword == "format":
        return FORMAT_MESSAGES.get(str(error.validator_value), KEYWORD_MESSAGES["invalid"])
    if keyword == "type":
        declared = error.validator_value
        if isinstance(declared, list):
            declared = next((t for t in declared if t != "null"), "string")
        return TYPE_MESSAGES.get(str(declared), KEYWORD_MESSAGES["invalid"])
    if keyword == "const" and error.validator_value is True:
        return KEYWORD_MESSAGES["const_true"]
    return KEYWORD_MESSAGES.get(keyword, KEYWORD_MESSAGES["invalid"])


def _message(
    schema: Mapping[str, Any],
    name: str,
    keyword: str,
    pair: tuple[str, str],
    locale: str,
    error: ValidationError | None = None,
) -> str:
    override = properties(schema).get(name, {}).get("x-messages", {})
    custom = override.get(keyword) if isinstance(override, Mapping) else None
    # An override without English falls back to our English message, not to the Chinese
    # override: an English reader can act on the generic message, not on Chinese text.
    language = "en" if locale.lower().startswith("en") else "zh_CN"
    template = custom.get(language) if isinstance(custom, Mapping) else None
    if not isinstance(template, str) or not template:
        template = localized(pair, locale)
    limit = error.validator_value if error is not None else ""
    return fill(template, label=field_label(schema, name, locale), limit=limit)
