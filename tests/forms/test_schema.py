"""check_schema refuses what a deploy must not accept, pointing at the spot; load_schema parses."""

from __future__ import annotations

import copy
import json

import pytest

from forms.schema import SchemaLoadError, SchemaProblem, check_schema, load_schema

GOOD = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "测试表",
    "x-labels": {"zh_CN": "测试表", "en": "Test form"},
    "type": "object",
    "additionalProperties": False,
    "required": ["owner_name"],
    "properties": {
        "owner_name": {
            "type": "string",
            "title": "业主姓名",
            "x-labels": {"zh_CN": "业主姓名", "en": "Owner name"},
            "maxLength": 50,
        },
        "category": {
            "type": "string",
            "title": "类别",
            "x-labels": {"zh_CN": "类别", "en": "Category"},
            "enum": ["after_sales", "repair"],
            "x-enum-labels": {
                "after_sales": {"zh_CN": "售后", "en": "After-sales"},
                "repair": {"zh_CN": "报修", "en": "Repair"},
            },
            "x-widget": "radio",
        },
        "visitor": {
            "type": "string",
            "title": "回访人",
            "x-labels": {"zh_CN": "回访人", "en": "Visitor"},
            "x-widget": "user",
            "x-user-roles": ["front_clerk"],
        },
    },
}


def good() -> dict:
    return copy.deepcopy(GOOD)


def pointers(problems: list[SchemaProblem]) -> list[str]:
    return [p.pointer for p in problems]


def test_good_schema_has_no_problems(reserved):
    assert check_schema(good(), reserved_names=reserved) == []


def test_field_named_like_a_builtin_is_refused(reserved):
    schema = good()
    schema["properties"]["len"] = schema["properties"].pop("owner_name")
    schema["required"] = ["len"]
    problems = check_schema(schema, reserved_names=reserved)
    assert problems == [
        SchemaProblem(
            "/properties/len",
            "字段名“len”与脚本中的函数或内置名称重名",
            "Field name 'len' would shadow a script helper or builtin",
        )
    ]
    assert problems[0].message("en") == (
        "/properties/len: Field name 'len' would shadow a script helper or builtin"
    )


def test_reserved_names_come_from_the_caller():
    schema = good()
    schema["properties"]["working_days"] = schema["properties"].pop("owner_name")
    schema["required"] = []
    assert check_schema(schema) == []
    assert pointers(check_schema(schema, reserved_names=frozenset({"working_days"}))) == [
        "/properties/working_days"
    ]


@pytest.mark.parametrize("name", ["_secret", "业主", "owner-name", "1st", "class", "a b"])
def test_field_name_must_be_an_ascii_identifier(name):
    schema = good()
    schema["properties"][name] = schema["properties"].pop("owner_name")
    schema["required"] = []
    problems = check_schema(schema)
    assert len(problems) == 1
    assert problems[0].pointer == "/properties/" + name
    assert "ASCII" in problems[0].reason_en


def test_missing_label_is_refused_with_its_pointer():
    schema = good()
    del schema["properties"]["owner_name"]["x-labels"]["en"]
    problems = check_schema(schema)
    assert problems == [
        SchemaProblem(
            "/properties/owner_name/x-labels/en",
            "字段“owner_name”缺少 en 标签",
            "en label missing for owner_name",
        )
    ]


def test_missing_x_labels_and_form_labels_are_refused():
    schema = good()
    del schema["properties"]["owner_name"]["x-labels"]
    del schema["x-labels"]
    assert pointers(check_schema(schema)) == ["/x-labels", "/properties/owner_name/x-labels"]


def test_unlabelled_enum_value_is_refused():
    schema = good()
    del schema["properties"]["category"]["x-enum-labels"]["repair"]
    schema["properties"]["category"]["x-enum-labels"]["after_sales"]["en"] = ""
    assert pointers(check_schema(schema)) == [
        "/properties/category/x-enum-labels/after_sales/en",
        "/properties/category/x-enum-labels/repair",
    ]


def test_enum_values_are_ascii_codes():
    schema = good()
    schema["properties"]["category"]["enum"] = ["after_sales", "报修"]
    schema["properties"]["category"]["x-enum-labels"]["报修"] = {"zh_CN": "报修", "en": "Repair"}
    problems = check_schema(schema)
    assert pointers(problems) == ["/properties/category/enum"]
    assert "ASCII" in problems[0].reason_en


def test_broken_schema_reports_the_json_pointer():
    schema = good()
    schema["properties"]["owner_name"]["type"] = "strin"
    schema["properties"]["owner_name"]["maxLength"] = -1
    problems = check_schema(schema)
    assert pointers(problems) == [
        "/properties/owner_name/maxLength",
        "/properties/owner_name/type",
    ]
    assert problems[0].reason_zh.startswith("不符合 JSON Schema 2020-12：")
    assert problems[0].reason_en.startswith("Not valid JSON Schema 2020-12: ")


def test_invalid_regex_is_refused():
    schema = good()
    schema["properties"]["owner_name"]["pattern"] = "^[0-9"
    assert pointers(check_schema(schema)) == ["/properties/owner_name/pattern"]


def test_other_drafts_are_refused():
    schema = good()
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    assert pointers(check_schema(schema)) == ["/$schema"]


def test_form_must_be_a_closed_object():
    schema = good()
    del schema["additionalProperties"]
    schema["type"] = "array"
    assert pointers(check_schema(schema)) == ["/type", "/additionalProperties"]


def test_unknown_widget_is_refused():
    schema = good()
    schema["properties"]["owner_name"]["x-widget"] = "slider"
    problems = check_schema(schema)
    assert pointers(problems) == ["/properties/owner_name/x-widget"]
    assert "slider" in problems[0].reason_en


def test_widget_must_fit_the_type():
    schema = good()
    schema["properties"]["owner_name"]["x-widget"] = "checkbox"
    schema["properties"]["visitor"]["x-widget"] = "radio"  # radio needs enum options
    del schema["properties"]["visitor"]["x-user-roles"]
    assert pointers(check_schema(schema)) == [
        "/properties/owner_name/x-widget",
        "/properties/visitor/x-widget",
    ]


@pytest.mark.parametrize("roles", [None, [], [""], "front_clerk"])
def test_user_widget_needs_roles(roles):
    schema = good()
    if roles is None:
        del schema["properties"]["visitor"]["x-user-roles"]
    else:
        schema["properties"]["visitor"]["x-user-roles"] = roles
    problems = [p for p in check_schema(schema) if p.pointer.endswith("x-user-roles")]
    assert pointers(problems) == ["/properties/visitor/x-user-roles"]


def test_required_names_must_be_fields():
    schema = good()
    schema["required"] = ["owner_name", "owner"]
    assert pointers(check_schema(schema)) == ["/required/1"]


def test_nested_objects_and_free_arrays_are_refused():
    schema = good()
    schema["properties"]["owner_name"]["type"] = "object"
    del schema["properties"]["owner_name"]["maxLength"]
    schema["properties"]["tags"] = {
        "type": "array",
        "items": {"type": "string"},
        "x-labels": {"zh_CN": "标签", "en": "Tags"},
    }
    assert pointers(check_schema(schema)) == [
        "/properties/owner_name/type",
        "/properties/tags/items",
    ]


def test_help_and_messages_need_zh_text():
    schema = good()
    schema["properties"]["owner_name"]["x-help"] = {"en": "Name"}
    schema["properties"]["owner_name"]["x-messages"] = {"required": "请填写"}
    assert pointers(check_schema(schema)) == [
        "/properties/owner_name/x-help",
        "/properties/owner_name/x-messages/required",
    ]


def test_pointer_escapes_slash_and_tilde():
    schema = good()
    schema["properties"]["category"]["enum"] = ["a/b", "c~d"]
    problems = check_schema(schema)
    assert "/properties/category/x-enum-labels/a~1b" in pointers(problems)
    assert "/properties/category/x-enum-labels/c~0d" in pointers(problems)


def test_load_schema_from_path_text_and_bytes(tmp_path):
    path = tmp_path / "form.json"
    path.write_text(json.dumps(GOOD, ensure_ascii=False), encoding="utf-8")
    assert load_schema(path) == GOOD
    assert load_schema(str(path)) == GOOD
    text = json.dumps(GOOD, ensure_ascii=False)
    assert load_schema("  " + text) == GOOD
    assert load_schema(text.encode("utf-8")) == GOOD
    # Field order is the order the form shows.
    assert list(load_schema(text)["properties"]) == ["owner_name", "category", "visitor"]


def test_load_schema_reports_bad_json_with_line():
    with pytest.raises(SchemaLoadError) as caught:
        load_schema('{\n  "type": "object",\n  oops\n}')
    assert caught.value.line == 3
    assert "第 3 行" in caught.value.reason_zh


def test_load_schema_refuses_non_objects_and_missing_files(tmp_path):
    with pytest.raises(SchemaLoadError):
        load_schema(b"[1, 2]")
    with pytest.raises(SchemaLoadError) as caught:
        load_schema(tmp_path / "missing.json")
    assert "missing.json" in caught.value.reason_en
