"""Masking of personal data (PROCEDURES.md: ID numbers and owners' phone numbers are personal
data): `138****5678`, `1101**********1234`.

Fields are recognised by name (`SENSITIVE_FIELDS`, or a name containing one of the markers),
and phone and ID numbers typed into free text are masked too, so a comment that quotes a
number does not leak it."""

from __future__ import annotations

import re
from typing import Any

#: Field names whose values are phone numbers.
PHONE_FIELDS = frozenset({"phone", "mobile", "telephone", "tel", "contact_phone"})
#: Field names whose values are identity document numbers.
ID_FIELDS = frozenset({"id_number", "id_no", "id_card", "identity_number", "passport_number"})
#: Every field masked by name.
SENSITIVE_FIELDS = PHONE_FIELDS | ID_FIELDS

# Names made of such words: `owner_phone`, `visitor_id_number`, `proxy_id_card`.
_PHONE_NAME = re.compile(r"(^|_)(phone|mobile|telephone|tel)(_|$)")
_ID_NAME = re.compile(
    r"(^|_)(id_(number|no|card)|identity_(number|no)|passport(_(number|no))?)(_|$)"
)

# An 18-character resident identity number, or a 15-digit old one.
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
# A mainland mobile number (11 digits starting 1[3-9]), optionally +86.
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)((?:\+?86[- ]?)?)(1[3-9]\d{9})(?!\d)")


def mask_phone(value: Any) -> str:
    """Keep the first three and last four characters: `13812345678` → `138****5678`."""
    text = "" if value is None else str(value)
    if len(text) <= 7:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 7) + text[-4:]


def mask_id(value: Any) -> str:
    """Keep the first four and last four characters: `110101199001011234` →
    `1101**********1234`."""
    text = "" if value is None else str(value)
    if len(text) <= 8:
        return "*" * len(text)
    return text[:4] + "*" * (len(text) - 8) + text[-4:]


def mask_text(text: str) -> str:
    """Free text with any identity or mobile number in it masked."""
    text = _ID_IN_TEXT.sub(lambda m: mask_id(m.group(1)), text)
    return _MOBILE_IN_TEXT.sub(lambda m: m.group(1) + mask_phone(m.group(2)), text)


def field_kind(name: str) -> str | None:
    """`phone`, `id` or None for a field name."""
    lowered = name.lower()
    if lowered in PHONE_FIELDS or _PHONE_NAME.search(lowered):
        return "phone"
    if lowered in ID_FIELDS or _ID_NAME.search(lowered):
        return "id"
    return None


def is_sensitive(name: str) -> bool:
    return field_kind(name) is not None


def mask_value(name: str, value: Any) -> Any:
    """`value` of field `name` as a person without the need to know may see it."""
    if value is None or value == "" or isinstance(value, bool):
        return value
    kind = field_kind(name) if isinstance(value, str | int) else None
    if kind == "phone":
        return mask_phone(value)
    if kind == "id":
        return mask_id(value)
    return mask_data(value)


def mask_data(value: Any) -> Any:
    """A copy of `value` (dicts, lists, strings) with personal data masked."""
    if isinstance(value, dict):
        return {key: mask_value(str(key), item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_data(item) for item in value]
    if isinstance(value, str):
        return mask_text(value)
    return value


def sensitive_fields(data: dict) -> list[str]:
    """Names of the fields of `data` that masking changes (for the reveal button)."""
    return [name for name, value in data.items() if mask_value(name, value) != value]
