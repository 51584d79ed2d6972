"""coerce_submission types an HTML post; validate answers in the clerk's language."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone

import pytest

from forms.validation import coerce_submission, validate


def labelled(zh: str, en: str, **spec) -> dict:
    return {"title": zh, "x-labels": {"zh_CN": zh, "en": en}, **spec}


SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "测试表",
    "x-labels": {"zh_CN": "测试表", "en": "Test form"},
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": labelled("姓名", "Name", type="string", maxLength=5, minLength=2),
        "count": labelled("人数", "Headcount", type="integer", minimum=1, maximum=99),
        "ratio": labelled("比例", "Ratio", type="number", exclusiveMinimum=0),
        "urgent": labelled("加急", "Urgent", type="boolean"),
        "agreed": labelled("是否同意", "Agreed", type="boolean", **{"x-widget": "radio"}),
        "rooms": labelled(
            "房间",
            "Rooms",
            type="array",
            items={
                "type": "string",
                "enum": ["a", "b", "c"],
                "x-enum-labels": {
                    k: {"zh_CN": k.upper(), "en": k.upper()} for k in ("a", "b", "c")
                },
            },
            maxItems=2,
        ),
        "on_day": labelled("日期", "Day", type="string", format="date"),
        "at": labelled("时间", "Time", type="string", format="date-time"),
        "email": labelled("邮箱", "E-mail", type="string", format="email", maxLength=100),
        "note": labelled(
            "备注",
            "Note",
            type="string",
            maxLength=10,
            **{"x-widget": "textarea", "x-messages": {"maxLength": {"zh_CN": "备注太长了"}}},
        ),
        "visitor": labelled(
            "回访人", "Visitor", type="string", **{"x-widget": "user", "x-user-roles": ["x"]}
        ),
        "helper": labelled("协助人", "Helper", type="string", maxLength=20),
    },
}


class MultiDictLike:
    """Just enough of werkzeug's MultiDict: mapping access gives the first value."""

    def __init__(self, pairs: list[tuple[str, str]]):
        self.pairs = pairs

    def __getitem__(self, key):
        return next(v for k, v in self.pairs if k == key)

    def __contains__(self, key):
        return any(k == key for k, _ in self.pairs)

    def __iter__(self):
        return iter(dict(self.pairs))

    def __len__(self):
        return len(dict(self.pairs))

    def getlist(self, key):
        return [v for k, v in self.pairs if k == key]


# --- coercion -------------------------------------------------------------------------------


def test_strings_are_stripped_empty_ones_omitted_unknown_keys_dropped():
    data = coerce_submission(
        SCHEMA, {"name": "  张三 ", "email": "", "helper": "   ", "csrf_token": "abc"}
    )
    assert data == {"name": "张三", "urgent": False}


def test_textarea_line_breaks_are_normalized():
    assert coerce_submission(SCHEMA, {"note": "a\r\nb\r\n"})["note"] == "a\nb"


@pytest.mark.parametrize(("posted", "expected"), [("on", True), ("true", True), ("1", True)])
def test_ticked_checkbox_is_true(posted, expected):
    assert coerce_submission(SCHEMA, {"urgent": posted})["urgent"] is expected


@pytest.mark.parametrize("post", [{}, {"urgent": ""}, {"urgent": "off"}, {"urgent": "false"}])
def test_unticked_checkbox_is_false(post):
    assert coerce_submission(SCHEMA, post)["urgent"] is False


def test_yes_no_radio_left_empty_is_omitted_so_required_catches_it():
    assert "agreed" not in coerce_submission(SCHEMA, {})
    assert coerce_submission(SCHEMA, {"agreed": "false"})["agreed"] is False
    assert coerce_submission(SCHEMA, {"agreed": "true"})["agreed"] is True


def test_unconvertible_values_stay_raw_for_validate():
    data = coerce_submission(SCHEMA, {"count": "abc", "ratio": "1,5", "agreed": "maybe"})
    assert data["count"] == "abc"
    assert data["ratio"] == "1,5"
    assert data["agreed"] == "maybe"
    errors = validate(SCHEMA, {"name": "张三", **data})
    assert errors == {
        "count": "“人数”须为整数",
        "ratio": "“比例”须为数字",
        "agreed": "“是否同意”须为“是”或“否”",
    }


def test_numbers_are_typed():
    data = coerce_submission(SCHEMA, {"count": " 12 ", "ratio": "0.5"})
    assert data["count"] == 12
    assert data["ratio"] == 0.5
    assert coerce_submission(SCHEMA, {"ratio": "3"})["ratio"] == 3
    assert coerce_submission(SCHEMA, {"count": "１２"})["count"] == "１２"  # full-width: refused


def test_arrays_from_multiple_values():
    post = MultiDictLike([("rooms", "a"), ("rooms", " "), ("rooms", "c"), ("name", "张三")])
    assert coerce_submission(SCHEMA, post) == {"name": "张三", "rooms": ["a", "c"], "urgent": False}
    assert coerce_submission(SCHEMA, {"rooms": ["b"]})["rooms"] == ["b"]
    assert "rooms" not in coerce_submission(SCHEMA, {"rooms": ["", " "]})


def test_scalar_field_posted_twice_takes_the_first():
    assert (
        coerce_submission(SCHEMA, MultiDictLike([("name", "甲"), ("name", "乙")]))["name"] == "甲"
    )
    assert coerce_submission(SCHEMA, {"name": ["甲", "乙"]})["name"] == "甲"


def test_datetime_local_gets_the_business_offset():
    data = coerce_submission(SCHEMA, {"at": "2024-05-01T09:30"})
    assert data["at"] == "2024-05-01T09:30:00+08:00"
    utc = coerce_submission(SCHEMA, {"at": "2024-05-01T09:30"}, tz=UTC)
    assert utc["at"] == "2024-05-01T09:30:00+00:00"
    assert validate(SCHEMA, {"name": "张三", **data}) == {}
    # Already an RFC 3339 value (an API client): left alone.
    kept = coerce_submission(SCHEMA, {"at": "2024-05-01T01:30:00Z"})
    assert kept["at"] == "2024-05-01T01:30:00Z"


# --- validation -----------------------------------------------------------------------------


def test_valid_data_gives_no_messages():
    data = {
        "name": "张三",
        "count": 3,
        "ratio": 0.5,
        "urgent": True,
        "agreed": False,
        "rooms": ["a", "b"],
        "on_day": "2024-02-29",
        "at": "2024-05-01T09:30:00+08:00",
        "email": "owner@example.com",
    }
    assert validate(SCHEMA, data) == {}


@pytest.mark.parametrize(
    ("data", "field", "zh", "en"),
    [
        ({"name": "张"}, "name", "“姓名”至少需要 2 个字", "Name must be at least 2 characters"),
        ({"name": 5}, "name", "“姓名”须为文字", "Name must be text"),
        ({"count": 0}, "count", "“人数”不能小于 1", "Headcount must be at least 1"),
        ({"count": 100}, "count", "“人数”不能大于 99", "Headcount must be at most 99"),
        ({"count": 1.5}, "count", "“人数”须为整数", "Headcount must be a whole number"),
        ({"ratio": 0}, "ratio", "“比例”须大于 0", "Ratio must be greater than 0"),
        ({"urgent": "yes"}, "urgent", "“加急”须为“是”或“否”", "Urgent must be yes or no"),
        (
            {"rooms": ["a", "d"]},
            "rooms",
            "“房间”的值无效，请从选项中选择",
            "Rooms: choose one of the options",
        ),
        ({"rooms": ["a", "b", "c"]}, "rooms", "“房间”最多选择 2 项", "Rooms: choose at most 2"),
        (
            {"on_day": "2023-02-29"},
            "on_day",
            "“日期”须为有效日期，格式为 年-月-日（如 2024-05-01）",
            "Day must be a valid date (YYYY-MM-DD)",
        ),
        (
            {"on_day": "2024-5-1"},
            "on_day",
            "“日期”须为有效日期，格式为 年-月-日（如 2024-05-01）",
            "Day must be a valid date (YYYY-MM-DD)",
        ),
        (
            {"at": "2024-05-01T09:30"},
            "at",
            "“时间”须为有效的日期和时间",
            "Time must be a valid date and time",
        ),
        (
            {"at": "2024-05-01T25:30:00+08:00"},
            "at",
            "“时间”须为有效的日期和时间",
            "Time must be a valid date and time",
        ),
        (
            {"email": "owner@"},
            "email",
            "“邮箱”须为有效的电子邮箱地址",
            "E-mail must be a valid e-mail address",
        ),
        # The override has no English: English readers get our own message.
        ({"note": "x" * 11}, "note", "备注太长了", "Note must be at most 10 characters"),
    ],
)
def test_messages_per_keyword(data, field, zh, en):
    data = {"name": "张三", **data}
    assert validate(SCHEMA, data) == {field: zh}
    assert validate(SCHEMA, data, locale="en") == {field: en}
    assert validate(SCHEMA, data, locale="en_US") == {field: en}


def test_one_message_per_field_the_most_basic_first_in_form_order():
    # Several failures on one field: the clerk sees one message, the most basic.
    errors = validate(SCHEMA, {"rooms": ["d", "d", "d"], "count": "abc", "x": 1})
    assert list(errors) == ["", "name", "count", "rooms"]
    del errors[""]
    assert errors == {
        "name": "请填写“姓名”",
        "count": "“人数”须为整数",
        "rooms": "“房间”的值无效，请从选项中选择",
    }


def test_unknown_fields_are_a_form_level_message():
    errors = validate(SCHEMA, {"name": "张三", "zeta": 1, "alpha": 2})
    assert errors == {"": "表单包含未知字段：alpha、zeta"}
    assert validate(SCHEMA, {"name": "张三", "zeta": 1, "alpha": 2}, locale="en") == {
        "": "The form contains unknown fields: alpha, zeta"
    }


def test_choices_restrict_user_fields_only():
    choices = {"visitor": [("li.na", "李娜")], "helper": [("li.na", "李娜")]}
    assert validate(SCHEMA, {"name": "张三", "visitor": "li.na"}, choices=choices) == {}
    errors = validate(SCHEMA, {"name": "张三", "visitor": "x", "helper": "x"}, choices=choices)
    assert errors == {"visitor": "“回访人”须从列表中选择"}
    # Without a list from the caller there is nothing to restrict to.
    assert validate(SCHEMA, {"name": "张三", "visitor": "x"}) == {}


def test_date_time_accepts_rfc3339_spellings():
    for value in ("2024-05-01T09:30:00Z", "2024-05-01 09:30:00.5+08:00", "2024-05-01t01:30:00z"):
        assert validate(SCHEMA, {"name": "张三", "at": value}) == {}, value


def test_offset_datetime_survives_other_zones():
    tz = timezone(timedelta(hours=-5))
    data = coerce_submission(SCHEMA, {"name": "张三", "at": "2024-05-01T09:30"}, tz=tz)
    assert data["at"].endswith("-05:00")
    assert validate(SCHEMA, data) == {}
