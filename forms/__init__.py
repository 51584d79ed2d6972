"""Forms of user tasks: JSON Schemas with zh_CN/en labels, their checks, validation and HTML.

No Flask and no engine here: the engine validates submissions with `validate`, the deploy
check calls `check_schema`, and the web layer renders with `render_fields`.
"""

from forms.labels import field_label, form_title, summarize, value_label
from forms.rendering import render_fields
from forms.schema import (
    KNOWN_WIDGETS,
    SCHEMAS_DIR,
    SchemaLoadError,
    SchemaProblem,
    check_schema,
    load_schema,
)
from forms.validation import coerce_submission, validate

__all__ = [
    "KNOWN_WIDGETS",
    "SCHEMAS_DIR",
    "SchemaLoadError",
    "SchemaProblem",
    "check_schema",
    "coerce_submission",
    "field_label",
    "form_title",
    "load_schema",
    "render_fields",
    "summarize",
    "validate",
    "value_label",
]
