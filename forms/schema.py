"""Load a form schema and check it before it is deployed.

`check_schema` is what the deploy check calls for each form of a bundle: it lists every problem
(with a JSON pointer into the schema) instead of stopping at the first, so a process owner can
fix a schema in one pass.
"""

from __future__ import annotations

import json
import keyword
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMAS_DIR = Path(__file__).parent / "schemas"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

KNOWN_WIDGETS = frozenset(
    {"text", "textarea", "select", "radio", "checkbox", "date", "datetime", "number", "user"}
)
# The JSON types each widget can edit; anything else would render an input that cannot
# produce a valid value.
_WIDGET_TYPES: dict[str, frozenset[str]] = {
    "text": frozenset({"string"}),
    "textarea": frozenset({"string"}),
    "select": frozenset({"string", "integer", "number", "array"}),
    "radio": frozenset({"string", "integer", "number", "boolean"}),
    "checkbox": frozenset({"boolean", "array"}),
    "date": frozenset({"string"}),
    "datetime": frozenset({"string"}),
    "number": frozenset({"integer", "number"}),
    "user": frozenset({"string"}),
}
_SCALAR_TYPES = frozenset({"string", "integer", "number", "boolean"})
_LOCALES = ("zh_CN", "en")
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# Stored codes are ASCII (CONVENTIONS.md, "Codes and labels").
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


@dataclass(frozen=True)
class SchemaProblem:
    """One reason a schema is refused: where (JSON pointer) and why, in zh_CN and English."""

    pointer: str
    reason_zh: str
    reason_en: str

    def message(self, locale: str = "zh_CN") -> str:
        """The reason in `locale`, prefixed with the pointer."""
        reason = self.reason_en if locale.lower().startswith("en") else self.reason_zh
        return f"{self.pointer or '/'}: {reason}"


class SchemaLoadError(ValueError):
    """The text is not a JSON object; carries zh_CN/en reasons and the line and column."""

    def __init__(self, reason_zh: str, reason_en: str, line: int = 0, column: int = 0):
        super().__init__(reason_en)
        self.reason_zh = reason_zh
        self.reason_en = reason_en
        self.line = line
        self.column = column


def load_schema(path_or_text: str | bytes | Path) -> dict[str, Any]:
    """Parse a schema from a file path or from JSON text (text starting with `{`).

    Raises SchemaLoadError when the text is not JSON or not a JSON object. Property order is
    kept: it is the order in which the form shows its fields.
    """
    if isinstance(path_or_text, bytes):
        text = path_or_text.decode("utf-8")
    elif isinstance(path_or_text, Path) or not path_or_text.lstrip().startswith("{"):
        path = Path(path_or_text)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SchemaLoadError(
                f"无法读取表单文件 {path}：{exc.strerror}",
                f"Cannot read the form file {path}: {exc.strerror}",
            ) from exc
    else:
        text = path_or_text
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaLoadError(
            f"不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列）：{exc.msg}",
            f"Not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}",
            exc.lineno,
            exc.colno,
        ) from exc
    except (ValueError, RecursionError) as exc:
        # Hostile JSON: nested past the recursion limit, or an integer too long to convert.
        raise SchemaLoadError(
            "不是可接受的 JSON（嵌套过深或数字过长）",
            "Not acceptable JSON (nested too deeply or a number too long)",
        ) from exc
    if not isinstance(schema, dict):
        raise SchemaLoadError("表单定义须为 JSON 对象", "A form schema must be a JSON object")
    return schema


#: Deeper than any real form (a form nests objects two or three levels at most).
MAX_SCHEMA_DEPTH = 32


def _depth(value: Any, limit: int = MAX_SCHEMA_DEPTH + 1) -> int:
    """How deeply `value` nests lists and objects, counted up to `limit` (no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, Mapping | list):
            deepest = max(deepest, level)
            if level >= limit:
                return level
            children = item.values() if isinstance(item, Mapping) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def check_schema(
    schema: Mapping[str, Any], *, reserved_names: frozenset[str] = frozenset()
) -> list[SchemaProblem]:
    """Every problem that keeps `schema` from being deployed as a form; empty when it is fine.

    `reserved_names` are the names a field may not take because scripts see form fields as
    variables: the sandbox's helpers and builtins (`len`, `working_days`...), passed by the
    caller so this package stays independent of the engine. When the schema is not valid
    JSON Schema 2020-12 only those problems are reported: the other checks assume its shape.
    """
    if not isinstance(schema, Mapping):
        return [SchemaProblem("", "表单定义须为 JSON 对象", "A form schema must be a JSON object")]
    if _depth(schema) > MAX_SCHEMA_DEPTH:
        # jsonschema checks recursively: a hostile, deeply nested schema would exhaust the
        # stack (RecursionError, a 500 on upload) before any problem is reported.
        return [
            SchemaProblem(
                "",
                f"表单定义嵌套超过 {MAX_SCHEMA_DEPTH} 层",
                f"The form schema is nested more than {MAX_SCHEMA_DEPTH} levels deep",
            )
        ]
    meta = list(_metaschema_problems(schema))
    if meta:
        return meta
    problems: list[SchemaProblem] = []
    problems += _form_problems(schema)
    props = schema.get("properties", {})
    for name, prop in props.items():
        problems += _field_problems(name, prop, reserved_names)
    for index, name in enumerate(schema.get("required", [])):
        if name not in props:
            problems.append(
                SchemaProblem(
                    f"/required/{index}",
                    f"必填字段“{name}”不在 properties 中",
                    f"Required field {name!r} is not among the properties",
                )
            )
    return problems


def pointer(parts: Iterable[Any]) -> str:
    """A JSON pointer (RFC 6901) from path parts: `~` and `/` escaped."""
    return "".join("/" + _escape(p) for p in parts)


def _escape(part: Any) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def _metaschema_problems(schema: Mapping[str, Any]) -> Iterable[SchemaProblem]:
    declared = schema.get("$schema")
    if declared is not None and (
        not isinstance(declared, str) or declared.rstrip("#") != DRAFT_2020_12
    ):
        yield SchemaProblem(
            "/$schema",
            f"须使用 JSON Schema 2020-12（{DRAFT_2020_12}）",
            f"Must use JSON Schema 2020-12 ({DRAFT_2020_12})",
        )
        return
    meta = Draft202012Validator(
        Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    for error in sorted(meta.iter_errors(schema), key=lambda e: list(map(str, e.path))):
        yield SchemaProblem(
            pointer(error.absolute_path),
            f"不符合 JSON Schema 2020-12：{error.message}",
            f"Not valid JSON Schema 2020-12: {error.message}",
        )


def _form_problems(schema: Mapping[str, Any]) -> Iterable[SchemaProblem]:
    if schema.get("type") != "object":
        yield SchemaProblem("/type", "表单的 type 须为 object", "A form's type must be object")
    if schema.get("additionalProperties") is not False:
        yield SchemaProblem(
            "/additionalProperties",
            "表单须设置 additionalProperties: false",
            "A form must set additionalProperties: false",
        )
    if not isinstance(schema.get("properties"), Mapping):
        yield SchemaProblem("/properties", "表单缺少 properties", "A form needs properties")
    yield from _label_problems(schema.get("x-labels"), "/x-labels", "表单", "the form")


def _field_problems(
    name: str, prop: Any, reserved_names: frozenset[str]
) -> Iterable[SchemaProblem]:
    at = pointer(["properties", name])
    if not _FIELD_NAME.fullmatch(name) or keyword.iskeyword(name):
        yield SchemaProblem(
            at,
            f"字段名“{name}”须为 ASCII 标识符"
            "（字母开头，仅含字母、数字和下划线，且非 Python 关键字）",
            f"Field name {name!r} must be an ASCII identifier (a letter first, then letters, "
            "digits or underscores; not a Python keyword)",
        )
    elif name in reserved_names:
        yield SchemaProblem(
            at,
            f"字段名“{name}”与脚本中的函数或内置名称重名",
            f"Field name {name!r} would shadow a script helper or builtin",
        )
    if not isinstance(prop, Mapping):
        yield SchemaProblem(at, "字段定义须为对象", "A field definition must be an object")
        return
    yield from _label_problems(prop.get("x-labels"), at + "/x-labels", f"字段“{name}”", name)
    kind = _declared_type(prop)
    if kind is None:
        yield SchemaProblem(at + "/type", "字段须声明 type", "A field must declare its type")
        return
    if kind not in _SCALAR_TYPES | {"array"}:
        yield SchemaProblem(
            at + "/type",
            f"不支持的字段类型“{kind}”",
            f"Field type {kind!r} is not supported",
        )
        return
    target = prop
    if kind == "array":
        items = prop.get("items")
        item_type = _declared_type(items) if isinstance(items, Mapping) else None
        if item_type not in _SCALAR_TYPES or "enum" not in items:
            yield SchemaProblem(
                at + "/items",
                "多选字段的 items 须为带 enum 选项的字符串或数字",
                "An array field's items must be strings or numbers with enum options",
            )
            return
        target, at_enum = items, at + "/items"
    else:
        at_enum = at
    yield from _enum_problems(target, at_enum)
    yield from _widget_problems(prop, kind, at)
    if "x-help" in prop:
        yield from _text_problems(prop["x-help"], at + "/x-help", "x-help")
    messages = prop.get("x-messages")
    if messages is not None:
        if not isinstance(messages, Mapping):
            yield SchemaProblem(
                at + "/x-messages",
                "x-messages 须为 {关键字: {zh_CN, en}} 对象",
                "x-messages must map keywords to {zh_CN, en}",
            )
        else:
            for word, texts in messages.items():
                yield from _text_problems(texts, f"{at}/x-messages/{_escape(word)}", "x-messages")


def _label_problems(labels: Any, at: str, what_zh: str, what_en: str) -> Iterable[SchemaProblem]:
    if not isinstance(labels, Mapping):
        yield SchemaProblem(
            at,
            f"{what_zh}缺少 x-labels（zh_CN 和 en）",
            f"x-labels (zh_CN and en) missing for {what_en}",
        )
        return
    for locale in _LOCALES:
        text = labels.get(locale)
        if not isinstance(text, str) or not text.strip():
            yield SchemaProblem(
                f"{at}/{locale}",
                f"{what_zh}缺少 {locale} 标签",
                f"{locale} label missing for {what_en}",
            )


def _text_problems(texts: Any, at: str, key: str) -> Iterable[SchemaProblem]:
    zh = texts.get("zh_CN") if isinstance(texts, Mapping) else None
    if not isinstance(zh, str) or not zh.strip():
        yield SchemaProblem(
            at, f"{key} 须为含 zh_CN 文字的对象", f"{key} must be an object with zh_CN text"
        )


def _enum_problems(prop: Mapping[str, Any], at: str) -> Iterable[SchemaProblem]:
    values = prop.get("enum")
    if values is None:
        return
    labels = prop.get("x-enum-labels")
    if not isinstance(labels, Mapping):
        yield SchemaProblem(
            at + "/x-enum-labels",
            "选项缺少 x-enum-labels",
            "x-enum-labels missing for the options",
        )
        labels = {}
    for value in values:
        if isinstance(value, str) and not _CODE.fullmatch(value):
            yield SchemaProblem(
                at + "/enum",
                f"选项值“{value}”须为 ASCII 代码（字母、数字、_ . -）",
                f"Option value {value!r} must be an ASCII code (letters, digits, _ . -)",
            )
        key = _json_key(value)
        yield from _label_problems(
            labels.get(key),
            f"{at}/x-enum-labels/{_escape(key)}",
            f"选项“{key}”",
            f"option {key!r}",
        )


def _widget_problems(prop: Mapping[str, Any], kind: str, at: str) -> Iterable[SchemaProblem]:
    named = prop.get("x-widget")
    if named is None:
        return
    if named not in KNOWN_WIDGETS:
        yield SchemaProblem(
            at + "/x-widget",
            f"未知的控件“{named}”，可用：{'、'.join(sorted(KNOWN_WIDGETS))}",
            f"Unknown widget {named!r}; known: {', '.join(sorted(KNOWN_WIDGETS))}",
        )
        return
    if kind not in _WIDGET_TYPES[named]:
        yield SchemaProblem(
            at + "/x-widget",
            f"控件“{named}”不能用于 {kind} 类型的字段",
            f"Widget {named!r} cannot edit a field of type {kind}",
        )
    if named in ("radio", "select") and kind != "boolean" and not _has_options(prop):
        yield SchemaProblem(
            at + "/x-widget",
            f"控件“{named}”需要 enum 选项",
            f"Widget {named!r} needs enum options",
        )
    if named == "user":
        roles = prop.get("x-user-roles")
        if (
            not isinstance(roles, list)
            or not roles
            or not all(isinstance(r, str) and r for r in roles)
        ):
            yield SchemaProblem(
                at + "/x-user-roles",
                "用户选择控件须以 x-user-roles 列出可选角色",
                "A user widget must list the selectable roles in x-user-roles",
            )


def _has_options(prop: Mapping[str, Any]) -> bool:
    if "enum" in prop:
        return True
    items = prop.get("items")
    return isinstance(items, Mapping) and "enum" in items


def _declared_type(prop: Mapping[str, Any]) -> str | None:
    declared = prop.get("type")
    if isinstance(declared, list):
        declared = next((t for t in declared if t != "null"), None)
    return declared if isinstance(declared, str) else None


def _json_key(value: Any) -> str:
    # x-enum-labels is a JSON object, so its keys are the values' string forms.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
