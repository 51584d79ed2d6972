"""Labels of forms, fields and values, and summaries of stored data."""

from __future__ import annotations

import pytest

from forms.labels import field_label, form_title, normalize_locale, summarize, value_label


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "en"),
        ("en_US", "en"),
        ("en-GB", "en"),
        ("zh_CN", "zh_CN"),
        ("zh", "zh_CN"),
        ("", "zh_CN"),
    ],
)
def test_normalize_locale(locale, expected):
    assert normalize_locale(locale) == expected


def test_form_title_and_field_labels(schema):
    contact = schema("p3_contact_record")
    assert form_title(contact) == "业主接待记录表"
    assert form_title(contact, "en") == "Owner contact record"
    assert field_label(contact, "owner_name") == "业主姓名"
    assert field_label(contact, "owner_name", "en_US") == "Owner name"
    assert field_label(contact, "no_such_field", "en") == "no_such_field"


def test_english_falls_back_to_chinese_then_title():
    schema = {
        "title": "表",
        "properties": {
            "a": {"type": "string", "title": "甲", "x-labels": {"zh_CN": "甲字段"}},
            "b": {"type": "string", "title": "乙"},
        },
    }
    assert form_title(schema, "en") == "表"
    assert field_label(schema, "a", "en") == "甲字段"
    assert field_label(schema, "b", "en") == "乙"


def test_value_labels(schema):
    contact = schema("p3_contact_record")
    assert value_label(contact, "category", "complaint") == "投诉"
    assert value_label(contact, "category", "complaint", "en") == "Complaint"
    assert value_label(contact, "category", "unknown_code") == "unknown_code"
    assert value_label(contact, "owner_name", "王丽") == "王丽"
    assert value_label(contact, "owner_name", None) == ""
    complaint = schema("p3_complaint_record")
    assert value_label(complaint, "serious", True) == "是"
    assert value_label(complaint, "serious", False, "en") == "No"
    # A boolean may name its own yes/no words.
    handling = schema("p3_complaint_handling")
    assert value_label(handling, "complaint_valid", True) == "有效投诉"
    assert value_label(handling, "complaint_valid", False, "en") == "Not valid"


def test_user_and_datetime_values():
    schema = {
        "properties": {
            "visitor": {"type": "string", "x-widget": "user"},
            "at": {"type": "string", "format": "date-time"},
            "rooms": {
                "type": "array",
                "items": {
                    "type": "string",
                    "enum": ["a", "b"],
                    "x-enum-labels": {
                        "a": {"zh_CN": "甲", "en": "A"},
                        "b": {"zh_CN": "乙", "en": "B"},
                    },
                },
            },
        }
    }
    choices = {"visitor": [("li.na", "李娜")]}
    assert value_label(schema, "visitor", "li.na", choices=choices) == "李娜"
    assert value_label(schema, "visitor", "li.na") == "li.na"
    assert value_label(schema, "at", "2024-05-01T01:30:00Z") == "2024-05-01 09:30"
    assert value_label(schema, "rooms", ["a", "b"]) == "甲、乙"
    assert value_label(schema, "rooms", ["a", "b"], "en") == "A, B"


def test_summarize_in_schema_order_skipping_other_data(schema):
    complaint = schema("p3_complaint_record")
    data = {
        "apologised": True,
        "route": "complaint",
        "complaint_class": "staff_attitude",
        "complained_department": "security",
    }
    assert summarize(complaint, data) == [
        ("被投诉部门", "安保部"),
        ("投诉类别", "员工服务态度"),
        ("已代表被投诉部门致歉", "是"),
    ]
    assert summarize(complaint, data, "en")[1] == ("Complaint class", "Staff attitude")
