"""How a register's columns and stored values read, in zh_CN or English.

A register's columns come from its procedure's forms (their labels live in the JSON Schemas)
or are its own (a status, a handler); its coded columns have their own labels. One
`RegisterLabels` per procedure says which forms, columns and codes; the reading rules are the
same for every register."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

from engine.bundles import DEFAULT_FORMS_DIR
from forms import labels as form_labels

Pair = tuple[str, str]  # (zh_CN, en)


def pick(pair: Pair, locale: str) -> str:
    return pair[1] if locale.startswith("en") else pair[0]


class RegisterLabels:
    def __init__(
        self,
        source_forms: tuple[str, ...],
        columns: dict[str, Pair],
        codes: dict[str, dict[str, Pair]],
    ):
        self.source_forms = source_forms
        self.columns = columns
        self.codes = codes
        self._schemas: dict[str, dict | None] = {}

    def schema_for(self, field: str) -> dict | None:
        """The first source form that has `field`, read once per process."""
        if field not in self._schemas:
            self._schemas[field] = next(
                (
                    schema
                    for schema in map(_load, self.source_forms)
                    if field in schema.get("properties", {})
                ),
                None,
            )
        return self._schemas[field]

    def field_label(self, field: str, locale: str = "zh_CN") -> str:
        if field in self.columns:
            return pick(self.columns[field], locale)
        schema = self.schema_for(field)
        return form_labels.field_label(schema, field, locale) if schema else field

    def value_label(self, field: str, value, locale: str = "zh_CN") -> str:
        """A stored value as people read it: codes as labels, yes/no, amounts as 0.00."""
        if value is None or value == "" or value == []:
            return ""
        codes = self.codes.get(field)
        if codes is not None and value in codes:
            return pick(codes[value], locale)
        schema = self.schema_for(field)
        if isinstance(value, bool):
            prop = (schema or {}).get("properties", {}).get(field, {})
            if "x-enum-labels" in prop:  # a yes/no question with its own answers
                return form_labels.value_label(schema, field, value, locale)
            return pick(("是", "Yes") if value else ("否", "No"), locale)
        if isinstance(value, Decimal):
            return f"{value:.2f}"
        if isinstance(value, datetime | date):
            return value.isoformat()
        return form_labels.value_label(schema, field, value, locale) if schema else str(value)

    def options(self, field: str, locale: str = "zh_CN") -> list[tuple[str, str]]:
        """(code, label) pairs of a coded column or an enum field, for filter selects."""
        if field in self.codes:
            return [(code, pick(pair, locale)) for code, pair in self.codes[field].items()]
        schema = self.schema_for(field)
        return form_labels.options(schema, field, locale) if schema else []


def _load(name: str) -> dict:
    return json.loads((DEFAULT_FORMS_DIR / name).read_text(encoding="utf-8"))
