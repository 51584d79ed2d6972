"""render_fields: accessible fields that keep what was typed and show errors where they belong."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from markupsafe import Markup

from forms.rendering import render_fields
from forms.validation import coerce_submission, validate


def blocks(html: str) -> dict[str, str]:
    """Each field's `<div class="field ...">` block, keyed by the field's name attribute."""
    found = {}
    for block in re.split(r'(?=<div class="field[ "])', str(html)):
        name = re.search(r'name="([^"]+)"', block)
        if name:
            found[name.group(1)] = block
    return found


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: list[str] = []
        self.described: list[str] = []
        self.label_for: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if "aria-describedby" in attrs:
            self.described += attrs["aria-describedby"].split()
        if tag == "label":
            self.label_for.append(attrs["for"])


def ids_of(html: str) -> _Ids:
    parser = _Ids()
    parser.feed(str(html))
    return parser


def test_returns_markup_with_every_field_in_schema_order(schema):
    html = render_fields(schema("p3_contact_record"), values={}, errors={})
    assert isinstance(html, Markup)
    assert list(blocks(html)) == ["owner_name", "unit", "phone", "channel", "content", "category"]


def test_labels_and_ids_are_linked(schema):
    html = render_fields(schema("p3_complaint_record"), values={}, errors={"cause": "x"})
    parsed = ids_of(html)
    assert len(parsed.ids) == len(set(parsed.ids))
    assert set(parsed.label_for) <= set(parsed.ids)
    assert set(parsed.described) <= set(parsed.ids)
    assert '<label for="field-complaint_details">投诉详情' in html


def test_submitted_values_are_kept(schema):
    contact = schema("p3_contact_record")
    post = {
        "owner_name": "王丽",
        "unit": "3栋",
        "phone": "12345",
        "channel": "letter",
        "content": "第一行\r\n第二行",
        "category": "praise",
    }
    data = coerce_submission(contact, post)
    html = blocks(render_fields(contact, values=data, errors=validate(contact, data)))
    assert 'value="王丽"' in html["owner_name"]
    assert 'value="12345"' in html["phone"]
    assert 'value="letter" checked' in html["channel"]
    assert html["channel"].count("checked") == 1
    assert ">第一行\n第二行</textarea>" in html["content"]
    assert 'value="praise" checked' in html["category"]


def test_select_checkbox_and_date_keep_values(schema):
    slip = schema("p3_after_sales_slip")
    values = {"agreed_fix_date": "2024-05-10", "fixed": True}
    html = blocks(render_fields(slip, values=values, errors={}))
    assert 'type="date"' in html["agreed_fix_date"]
    assert 'value="2024-05-10"' in html["agreed_fix_date"]
    assert 'type="checkbox" id="field-fixed" name="fixed" value="on" checked' in html["fixed"]
    complaint = schema("p3_complaint_record")
    html = blocks(render_fields(complaint, values={"complaint_class": "mail"}, errors={}))
    assert '<option value="">请选择</option>' in html["complaint_class"]
    assert '<option value="mail" selected>信件报刊</option>' in html["complaint_class"]
    assert "selected" not in html["complained_department"]


def test_error_is_shown_next_to_its_field_only(schema):
    contact = schema("p3_contact_record")
    data = coerce_submission(contact, {"owner_name": "王丽", "phone": "12345"})
    errors = validate(contact, data)
    html = blocks(render_fields(contact, values=data, errors=errors))
    phone = html["phone"]
    assert 'class="field field-text has-error"' in phone
    assert '<p class="field-error" id="field-phone-error">请填写有效的电话号码' in phone
    assert 'aria-describedby="field-phone-help field-phone-error"' in phone
    assert 'aria-invalid="true"' in phone
    assert "has-error" not in html["owner_name"]
    assert "field-error" not in html["owner_name"]
    assert '<p class="field-error" id="field-unit-error">请填写“房号”</p>' in html["unit"]


def test_everything_is_escaped(schema):
    contact = schema("p3_contact_record")
    nasty = '<script>alert("x")</script>'
    values = {"owner_name": nasty, "content": nasty, "channel": nasty}
    html = render_fields(contact, values=values, errors={"unit": nasty, "": nasty})
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    readonly = render_fields(contact, values=values, errors={}, readonly=True)
    assert "<script>" not in readonly


def test_schema_text_is_escaped_too():
    schema = {
        "type": "object",
        "properties": {
            "a": {
                "type": "string",
                "x-labels": {"zh_CN": "<b>甲</b>", "en": "A"},
                "x-help": {"zh_CN": "<i>帮助</i>"},
            }
        },
    }
    html = render_fields(schema, values={}, errors={})
    assert "&lt;b&gt;甲&lt;/b&gt;" in html
    assert "&lt;i&gt;帮助&lt;/i&gt;" in html


def test_required_marker_help_and_no_browser_validation(schema):
    contact = schema("p3_contact_record")
    html = blocks(render_fields(contact, values={}, errors={}))
    assert 'class="required-mark"' in html["owner_name"]
    assert 'aria-required="true"' in html["owner_name"]
    assert "required-mark" not in html["phone"]
    assert '<p class="field-help" id="field-unit-help">楼栋、单元和房号' in html["unit"]
    assert 'maxlength="50"' in html["owner_name"]
    # Our messages, not the browser's: no native required/pattern attributes.
    joined = "".join(html.values())
    assert not re.search(r"\s(required|pattern)[\s=>]", joined)


def test_checkbox_marked_required_only_when_it_must_be_ticked(schema):
    html = blocks(render_fields(schema("p3_complaint_record"), values={}, errors={}))
    assert "required-mark" not in html["serious"]
    assert "required-mark" in html["apologised"]


def test_radio_groups_are_fieldsets(schema):
    html = blocks(render_fields(schema("p3_complaint_handling"), values={}, errors={}))
    block = html["complaint_valid"]
    assert '<fieldset class="choices" role="radiogroup" aria-required="true">' in block
    assert "<legend>是否有效投诉" in block
    assert '<label for="field-complaint_valid-1">有效投诉</label>' in block
    assert 'value="true"' in block and 'value="false"' in block
    kept = blocks(
        render_fields(schema("p3_complaint_handling"), values={"complaint_valid": False}, errors={})
    )
    assert 'value="false" checked' in kept["complaint_valid"]


def test_english_labels(schema):
    html = render_fields(schema("p3_complaint_record"), values={}, errors={}, locale="en")
    assert "Department complained about" in html
    assert '<option value="">Choose…</option>' in html
    assert "被投诉部门" not in html


def test_user_field_lists_choices_and_keeps_an_outdated_one(schema):
    form = schema("p3_return_visit_designation")
    choices = {"return_visitor": [("li.na", "李娜"), ("wang.qiang", "王强")]}
    html = render_fields(form, values={"return_visitor": "li.na"}, errors={}, choices=choices)
    assert '<select id="field-return_visitor" name="return_visitor"' in html
    assert '<option value="li.na" selected>李娜</option>' in html
    gone = render_fields(form, values={"return_visitor": "old.user"}, errors={}, choices=choices)
    assert '<option value="old.user" selected>old.user</option>' in gone
    plain = render_fields(form, values={"return_visitor": "li.na"}, errors={})
    assert '<input type="text" id="field-return_visitor"' in plain


def test_number_and_datetime_widgets():
    schema = {
        "type": "object",
        "properties": {
            "count": {"type": "integer", "minimum": 1, "x-labels": {"zh_CN": "人数", "en": "N"}},
            "ratio": {"type": "number", "x-labels": {"zh_CN": "比例", "en": "R"}},
            "price": {"type": "number", "multipleOf": 0.01, "x-labels": {"zh_CN": "价", "en": "P"}},
            "at": {"type": "string", "format": "date-time", "x-labels": {"zh_CN": "时", "en": "T"}},
        },
    }
    values = {"count": 3, "at": "2024-05-01T01:30:00Z"}
    html = blocks(render_fields(schema, values=values, errors={}))
    assert 'type="number" id="field-count" name="count" value="3" step="1" min="1"' in html["count"]
    assert 'step="any"' in html["ratio"]
    assert 'step="0.01"' in html["price"]
    assert 'type="datetime-local"' in html["at"]
    assert 'value="2024-05-01T09:30"' in html["at"]


def test_form_level_error_and_id_prefix(schema):
    html = render_fields(
        schema("p3_result_report"),
        values={},
        errors={"": "表单包含未知字段：route"},
        id_prefix="t7-",
    )
    assert '<div class="form-errors" role="alert">' in html
    assert '<p class="form-error">表单包含未知字段：route</p>' in html
    assert 'id="t7-result_summary"' in html


def test_readonly_is_a_definition_list(schema):
    complaint = schema("p3_complaint_record")
    values = {"complained_department": "cleaning", "serious": False, "route": "complaint"}
    html = render_fields(complaint, values=values, errors={}, readonly=True)
    assert html.startswith('<dl class="field-values">')
    assert "<dt>被投诉部门</dt>\n  <dd>保洁部</dd>" in html
    assert "<dt>重大投诉</dt>\n  <dd>否</dd>" in html
    assert "route" not in html
    assert "<input" not in html
    english = render_fields(complaint, values=values, errors={}, readonly=True, locale="en")
    assert "<dt>Serious complaint</dt>\n  <dd>No</dd>" in english
