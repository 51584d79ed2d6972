"""The `cn-resident-id` format: mainland resident ID numbers (GB 11643-1999)."""

from __future__ import annotations

import pytest

from forms.validation import validate

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "测试表",
    "x-labels": {"zh_CN": "测试表", "en": "Test form"},
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "id_no": {
            "type": "string",
            "title": "身份证号码",
            "x-labels": {"zh_CN": "身份证号码", "en": "ID number"},
            "format": "cn-resident-id",
        }
    },
}


@pytest.mark.parametrize(
    "value", ["11010519491231002X", "11010519491231002x", "440304198503121235"]
)
def test_valid_numbers_pass(value):
    assert validate(SCHEMA, {"id_no": value}) == {}


@pytest.mark.parametrize(
    "value",
    [
        "110105194912310021",  # wrong check character
        "11010519491331002X",  # month 13
        "11010519490229002X",  # 29 Feb of a common year
        "1101051949123100",  # 16 characters
        "11010519491231002XX",  # 19 characters
        "1101051949123100AX",  # a letter inside
    ],
)
def test_invalid_numbers_get_a_clear_field_message(value):
    assert validate(SCHEMA, {"id_no": value}) == {
        "id_no": "“身份证号码”不是有效的身份证号码：须为 18 位，出生日期有效，末位校验码正确"
    }
    assert "resident ID number" in validate(SCHEMA, {"id_no": value}, locale="en")["id_no"]
