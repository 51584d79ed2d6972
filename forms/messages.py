"""Our own zh_CN/en words: validation messages per JSON Schema keyword, and widget texts.

jsonschema's English messages ("'x' is a required property") are for developers; a clerk sees
these instead (CONVENTIONS.md). Placeholders: `{label}` (the field's label in the locale),
`{limit}` (the keyword's number), `{names}` (unknown fields). A schema can override any of them
per field with `x-messages: {keyword: {zh_CN, en}}`.
"""

from __future__ import annotations

from typing import Any

# keyword → (zh_CN, en). `format` and `type` are refined by the format or type name below.
KEYWORD_MESSAGES: dict[str, tuple[str, str]] = {
    "required": ("请填写“{label}”", "{label} is required"),
    "required_choice": ("请选择“{label}”", "Choose {label}"),
    "enum": ("“{label}”的值无效，请从选项中选择", "{label}: choose one of the options"),
    "const": ("“{label}”的值无效", "{label} has a value that is not allowed"),
    "const_true": ("须勾选“{label}”", "{label} must be ticked"),
    "minLength": ("“{label}”至少需要 {limit} 个字", "{label} must be at least {limit} characters"),
    "maxLength": ("“{label}”不能超过 {limit} 个字", "{label} must be at most {limit} characters"),
    "pattern": ("“{label}”的格式不正确", "{label} is not in the expected format"),
    "minimum": ("“{label}”不能小于 {limit}", "{label} must be at least {limit}"),
    "maximum": ("“{label}”不能大于 {limit}", "{label} must be at most {limit}"),
    "exclusiveMinimum": ("“{label}”须大于 {limit}", "{label} must be greater than {limit}"),
    "exclusiveMaximum": ("“{label}”须小于 {limit}", "{label} must be less than {limit}"),
    "multipleOf": ("“{label}”须为 {limit} 的整数倍", "{label} must be a multiple of {limit}"),
    "minItems": ("“{label}”至少选择 {limit} 项", "{label}: choose at least {limit}"),
    "maxItems": ("“{label}”最多选择 {limit} 项", "{label}: choose at most {limit}"),
    "uniqueItems": ("“{label}”有重复的选项", "{label} has repeated entries"),
    "additionalProperties": (
        "表单包含未知字段：{names}",
        "The form contains unknown fields: {names}",
    ),
    "choices": ("“{label}”须从列表中选择", "{label}: choose someone from the list"),
    "invalid": ("“{label}”的值无效", "{label} is not valid"),
    "form_invalid": ("表单内容无效", "The form is not valid"),
}

FORMAT_MESSAGES: dict[str, tuple[str, str]] = {
    "date": (
        "“{label}”须为有效日期，格式为 年-月-日（如 2024-05-01）",
        "{label} must be a valid date (YYYY-MM-DD)",
    ),
    "date-time": ("“{label}”须为有效的日期和时间", "{label} must be a valid date and time"),
    "email": ("“{label}”须为有效的电子邮箱地址", "{label} must be a valid e-mail address"),
    "cn-resident-id": (
        "“{label}”不是有效的身份证号码：须为 18 位，出生日期有效，末位校验码正确",
        "{label} is not a valid resident ID number: 18 characters, a real birth date and "
        "the right check character",
    ),
}

TYPE_MESSAGES: dict[str, tuple[str, str]] = {
    "integer": ("“{label}”须为整数", "{label} must be a whole number"),
    "number": ("“{label}”须为数字", "{label} must be a number"),
    "boolean": ("“{label}”须为“是”或“否”", "{label} must be yes or no"),
    "string": ("“{label}”须为文字", "{label} must be text"),
    "array": ("“{label}”须为一组选项", "{label} must be a list"),
    "object": ("“{label}”的值无效", "{label} is not valid"),
}

UI_TEXTS: dict[str, tuple[str, str]] = {
    "choose": ("请选择", "Choose…"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    "required": ("必填", "required"),
}


def localized(pair: tuple[str, str], locale: str) -> str:
    """The zh_CN (first) or English (second) text of a pair."""
    return pair[1] if locale.lower().startswith("en") else pair[0]


def ui_text(key: str, locale: str) -> str:
    """A fixed widget text (`choose`, `yes`, `no`, `required`) in the locale."""
    return localized(UI_TEXTS[key], locale)


def fill(template: str, **values: Any) -> str:
    """Fill the placeholders we know; a stray brace in a schema's own message is kept as is."""
    try:
        return template.format_map(_Keep(values))
    except (ValueError, IndexError, AttributeError):
        return template


class _Keep(dict):
    """Leaves unknown `{placeholders}` in place instead of raising KeyError."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
