"""The shipped P3 forms: each accepts a typical post and refuses bad ones with our messages."""

from __future__ import annotations

import pytest

from forms.labels import field_label, properties
from forms.schema import SCHEMAS_DIR, check_schema
from forms.validation import coerce_submission, validate

P3_FORMS = [
    "p3_contact_record",
    "p3_complaint_record",
    "p3_serious_acknowledgement",
    "p3_complaint_handling",
    "p3_overdue_escalation",
    "p3_result_report",
    "p3_owner_informed",
    "p3_return_visit_designation",
    "p3_return_visit",
    "p3_after_sales_slip",
    "p3_work_order",
    "p3_special_service",
    "p3_praise_verification",
    "p3_suggestion_review",
    "p3_other_matter",
    "p3_report_review",
    "p3_report_acknowledgement",
]

VISITORS = {"return_visitor": [("li.na", "李娜"), ("wang.qiang", "王强")]}

# One typical HTML post per form (as the browser sends it: strings, "on" for ticked boxes).
VALID_POSTS: dict[str, dict[str, str]] = {
    "p3_contact_record": {
        "owner_name": "王丽",
        "unit": "3栋2单元1201",
        "phone": "138 1234 5678",
        "channel": "phone",
        "content": "楼道灯不亮",
        "category": "repair",
    },
    "p3_complaint_record": {
        "complained_department": "cleaning",
        "complaint_class": "cleaning",
        "serious": "on",
        "complaint_details": "垃圾两天未清运",
        "apologised": "on",
    },
    "p3_serious_acknowledgement": {"acknowledgement_note": "已知悉，将出面解释"},
    "p3_complaint_handling": {
        "cause": "清运车故障",
        "action_taken": "已调车清运，并增加巡查",
        "complaint_valid": "true",
    },
    "p3_overdue_escalation": {"escalation_note": "已电话督促保洁部主管"},
    "p3_result_report": {"result_summary": "垃圾已清运"},
    "p3_report_review": {"review_note": "安保类投诉偏多，已要求加强夜间巡逻。"},
    "p3_report_acknowledgement": {"acknowledgement_note": "同意，下月复查。"},
    "p3_owner_informed": {"inform_method": "home_visit", "inform_note": "业主认可"},
    "p3_return_visit_designation": {"return_visitor": "li.na"},
    "p3_return_visit": {"visit_method": "phone", "satisfaction": "satisfied"},
    "p3_after_sales_slip": {
        "defect_location": "卫生间",
        "agreed_fix_date": "2024-05-10",
        "fixed": "on",
        "fixed_on": "2024-05-09",
    },
    "p3_work_order": {
        "work_done": "更换灯泡",
        "completed_on": "2024-05-02",
        "fee": "35.50",
        "satisfaction": "very_satisfied",
    },
    "p3_special_service": {
        "service_item": "家政清洁",
        "service_date": "2024-05-03",
        "assigned_department": "cleaning",
        "fee": "120",
        "fee_collected": "on",
        "receipt_no": "R-0001",
    },
    "p3_praise_verification": {
        "praised_staff": "张师傅",
        "praised_department": "engineering",
        "verified": "true",
    },
    "p3_suggestion_review": {"decision": "adopted", "review_note": "列入六月计划"},
    "p3_other_matter": {"matter_type": "lost_property", "handling_note": "钥匙一串，已登记"},
}

PHONE_ZH = "请填写有效的电话号码：11 位手机号（如 13812345678）或固定电话（如 010-12345678）"
PHONE_EN = (
    "Enter a valid phone number: an 11-digit mobile (e.g. 13812345678) "
    "or a landline (e.g. 010-12345678)"
)
FEE_ZH = "请填写金额（元），最多两位小数，如 50 或 35.50"
FEE_EN = "Enter an amount in yuan with at most two decimals, e.g. 50 or 35.50"
APOLOGY_ZH = "须代表被投诉部门向业主致歉"
APOLOGY_EN = "You must apologise to the owner on behalf of the department complained about"
DATE_ZH = "须为有效日期，格式为 年-月-日（如 2024-05-01）"
FEE_COLLECTED_ZH = "特约服务须在办理时收费"
FEE_COLLECTED_EN = "A special service is paid for when it is ordered"

# (form, changes to its valid post (None removes the key), field, zh_CN message, en message)
INVALID_POSTS = [
    # missing required
    (
        "p3_contact_record",
        {"owner_name": None},
        "owner_name",
        "请填写“业主姓名”",
        "Owner name is required",
    ),
    ("p3_contact_record", {"channel": ""}, "channel", "请选择“接待方式”", "Choose Channel"),
    (
        "p3_complaint_record",
        {"complaint_class": None},
        "complaint_class",
        "请选择“投诉类别”",
        "Choose Complaint class",
    ),
    (
        "p3_serious_acknowledgement",
        {"acknowledgement_note": "  "},
        "acknowledgement_note",
        "请填写“知悉意见”",
        "Acknowledgement note is required",
    ),
    (
        "p3_complaint_handling",
        {"complaint_valid": None},
        "complaint_valid",
        "请选择“是否有效投诉”",
        "Choose Valid complaint",
    ),
    (
        "p3_overdue_escalation",
        {"escalation_note": None},
        "escalation_note",
        "请填写“督办意见”",
        "Escalation note is required",
    ),
    (
        "p3_return_visit_designation",
        {"return_visitor": None},
        "return_visitor",
        "请选择“回访人”",
        "Choose Return visitor",
    ),
    (
        "p3_work_order",
        {"completed_on": None},
        "completed_on",
        "请填写“完工日期”",
        "Completion date is required",
    ),
    (
        "p3_praise_verification",
        {"verified": None},
        "verified",
        "请选择“是否查证属实”",
        "Choose Verified",
    ),
    (
        "p3_other_matter",
        {"matter_type": None},
        "matter_type",
        "请选择“事项类型”",
        "Choose Kind of matter",
    ),
    # required only in some cases (if/then)
    (
        "p3_return_visit",
        {"satisfaction": "dissatisfied"},
        "visit_note",
        "业主不满意时，请记录原因",
        "Record why the owner is dissatisfied",
    ),
    (
        "p3_after_sales_slip",
        {"fixed_on": None},
        "fixed_on",
        "已修复时请填写修复日期",
        "Enter the date it was repaired",
    ),
    # bad enum
    (
        "p3_contact_record",
        {"category": "complain"},
        "category",
        "“接待类别”的值无效，请从选项中选择",
        "Category: choose one of the options",
    ),
    (
        "p3_complaint_record",
        {"complained_department": "finance"},
        "complained_department",
        "“被投诉部门”的值无效，请从选项中选择",
        "Department complained about: choose one of the options",
    ),
    (
        "p3_owner_informed",
        {"inform_method": "email"},
        "inform_method",
        "“反馈方式”的值无效，请从选项中选择",
        "How the owner was told: choose one of the options",
    ),
    (
        "p3_return_visit",
        {"satisfaction": "happy"},
        "satisfaction",
        "“业主满意程度”的值无效，请从选项中选择",
        "Owner satisfaction: choose one of the options",
    ),
    (
        "p3_suggestion_review",
        {"decision": "rejected"},
        "decision",
        "“处理决定”的值无效，请从选项中选择",
        "Decision: choose one of the options",
    ),
    (
        "p3_praise_verification",
        {"praised_department": "hr"},
        "praised_department",
        "“所属部门”的值无效，请从选项中选择",
        "Department: choose one of the options",
    ),
    # user widget outside the offered people
    (
        "p3_return_visit_designation",
        {"return_visitor": "mallory"},
        "return_visitor",
        "“回访人”须从列表中选择",
        "Return visitor: choose someone from the list",
    ),
    # over-long
    (
        "p3_contact_record",
        {"owner_name": "王" * 51},
        "owner_name",
        "“业主姓名”不能超过 50 个字",
        "Owner name must be at most 50 characters",
    ),
    (
        "p3_result_report",
        {"result_summary": "好" * 2001},
        "result_summary",
        "“处理结果”不能超过 2000 个字",
        "Result must be at most 2000 characters",
    ),
    (
        "p3_serious_acknowledgement",
        {"acknowledgement_note": "x" * 1001},
        "acknowledgement_note",
        "“知悉意见”不能超过 1000 个字",
        "Acknowledgement note must be at most 1000 characters",
    ),
    # wrong type (a yes/no radio posted with something else)
    (
        "p3_complaint_handling",
        {"complaint_valid": "maybe"},
        "complaint_valid",
        "“是否有效投诉”须为“是”或“否”",
        "Valid complaint must be yes or no",
    ),
    # bad dates
    (
        "p3_after_sales_slip",
        {"agreed_fix_date": "2024-02-30"},
        "agreed_fix_date",
        "“约定修复日期”" + DATE_ZH,
        "Agreed repair date must be a valid date (YYYY-MM-DD)",
    ),
    (
        "p3_work_order",
        {"completed_on": "02/05/2024"},
        "completed_on",
        "“完工日期”" + DATE_ZH,
        "Completion date must be a valid date (YYYY-MM-DD)",
    ),
    (
        "p3_special_service",
        {"service_date": "2024-5-3"},
        "service_date",
        "“服务日期”" + DATE_ZH,
        "Service date must be a valid date (YYYY-MM-DD)",
    ),
    # must apologise / must collect the fee
    ("p3_complaint_record", {"apologised": None}, "apologised", APOLOGY_ZH, APOLOGY_EN),
    ("p3_complaint_record", {"apologised": "false"}, "apologised", APOLOGY_ZH, APOLOGY_EN),
    (
        "p3_special_service",
        {"fee_collected": None},
        "fee_collected",
        FEE_COLLECTED_ZH,
        FEE_COLLECTED_EN,
    ),
    # bad phone
    ("p3_contact_record", {"phone": "12345"}, "phone", PHONE_ZH, PHONE_EN),
    ("p3_contact_record", {"phone": "1381234567"}, "phone", PHONE_ZH, PHONE_EN),
    ("p3_contact_record", {"phone": "12345678"}, "phone", PHONE_ZH, PHONE_EN),
    ("p3_contact_record", {"phone": "１３８１２３４５６７８"}, "phone", PHONE_ZH, PHONE_EN),
    # bad fee
    ("p3_work_order", {"fee": "35.505"}, "fee", FEE_ZH, FEE_EN),
    ("p3_work_order", {"fee": "-5"}, "fee", FEE_ZH, FEE_EN),
    ("p3_special_service", {"fee": "１２０"}, "fee", FEE_ZH, FEE_EN),
    ("p3_special_service", {"fee": "1e3"}, "fee", FEE_ZH, FEE_EN),
]


def _post(form: str, changes: dict[str, str | None]) -> dict[str, str]:
    post = dict(VALID_POSTS[form])
    for key, value in changes.items():
        if value is None:
            post.pop(key, None)
        else:
            post[key] = value
    return post


def test_every_p3_form_is_shipped_and_tested():
    shipped = sorted(p.stem for p in SCHEMAS_DIR.glob("p3_*.json"))
    assert shipped == sorted(P3_FORMS)
    assert sorted(VALID_POSTS) == sorted(P3_FORMS)


@pytest.mark.parametrize("form", P3_FORMS)
def test_shipped_schema_passes_check(form, schema, reserved):
    assert check_schema(schema(form), reserved_names=reserved) == []


@pytest.mark.parametrize("form", P3_FORMS)
def test_typical_post_is_valid(form, schema):
    data = coerce_submission(schema(form), {**VALID_POSTS[form], "csrf_token": "x"})
    assert "csrf_token" not in data
    assert validate(schema(form), data, choices=VISITORS) == {}
    assert validate(schema(form), data, locale="en", choices=VISITORS) == {}


@pytest.mark.parametrize(
    ("form", "changes", "field", "zh", "en"),
    INVALID_POSTS,
    ids=[f"{case[0]}-{case[2]}-{i}" for i, case in enumerate(INVALID_POSTS)],
)
def test_bad_post_is_refused_with_our_message(form, changes, field, zh, en, schema):
    data = coerce_submission(schema(form), _post(form, changes))
    assert validate(schema(form), data, choices=VISITORS) == {field: zh}
    assert validate(schema(form), data, locale="en", choices=VISITORS) == {field: en}


@pytest.mark.parametrize("form", P3_FORMS)
def test_unknown_field_is_a_form_level_error(form, schema):
    data = {**coerce_submission(schema(form), VALID_POSTS[form]), "route": "complaint"}
    assert validate(schema(form), data, choices=VISITORS) == {"": "表单包含未知字段：route"}
    assert validate(schema(form), data, locale="en", choices=VISITORS) == {
        "": "The form contains unknown fields: route"
    }


@pytest.mark.parametrize("form", P3_FORMS)
def test_every_required_field_is_enforced(form, schema):
    loaded = schema(form)
    valid = coerce_submission(loaded, VALID_POSTS[form])
    for name in loaded["required"]:
        data = {k: v for k, v in valid.items() if k != name}
        errors = validate(loaded, data, choices=VISITORS)
        assert list(errors) == [name]
        assert field_label(loaded, name, "zh_CN") in errors[name] or name in (
            "apologised",
            "fee_collected",
        )


@pytest.mark.parametrize("form", P3_FORMS)
def test_every_string_has_a_max_length(form, schema):
    loaded = schema(form)
    valid = coerce_submission(loaded, VALID_POSTS[form])
    for name, prop in properties(loaded).items():
        if prop["type"] != "string" or "enum" in prop:
            continue
        if prop.get("format") == "date":
            continue
        assert isinstance(prop.get("maxLength"), int), name
        too_long = "1" * (prop["maxLength"] + 1)
        errors = validate(loaded, {**valid, name: too_long}, locale="en")
        label = field_label(loaded, name, "en")
        expected = {f"{label} must be at most {prop['maxLength']} characters"}
        if "pattern" in prop:  # a too-long fee or phone also fails its pattern message
            expected.add(validate(loaded, {**valid, name: "x"}, locale="en")[name])
        assert errors[name] in expected


def test_complaint_record_types(schema):
    data = coerce_submission(schema("p3_complaint_record"), VALID_POSTS["p3_complaint_record"])
    assert data == {
        "complained_department": "cleaning",
        "complaint_class": "cleaning",
        "serious": True,
        "complaint_details": "垃圾两天未清运",
        "apologised": True,
    }
    unticked = coerce_submission(
        schema("p3_complaint_record"), _post("p3_complaint_record", {"serious": None})
    )
    assert unticked["serious"] is False


def test_contact_categories_and_complaint_classes_match_design(schema):
    contact = schema("p3_contact_record")["properties"]
    assert contact["category"]["enum"] == [
        "after_sales",
        "repair",
        "complaint",
        "service",
        "praise",
        "suggestion",
        "other",
    ]
    assert contact["channel"]["enum"] == ["visit", "phone", "email", "letter"]
    complaint = schema("p3_complaint_record")["properties"]
    assert complaint["complaint_class"]["enum"] == [
        "security",
        "cleaning",
        "landscaping",
        "maintenance",
        "mail",
        "renovation",
        "staff_attitude",
        "other",
    ]
    assert complaint["apologised"]["const"] is True


def test_return_visitor_is_a_user_choice(schema):
    prop = schema("p3_return_visit_designation")["properties"]["return_visitor"]
    assert prop["x-widget"] == "user"
    assert prop["x-user-roles"] == [
        "front_clerk",
        "manager_assistant",
        "project_manager",
        "dept_supervisor",
    ]


@pytest.mark.parametrize(
    "phone",
    [
        "13812345678",
        "138-1234-5678",
        "+86 13812345678",
        "010-12345678",
        "0755 1234567",
        "(010)12345678",
        "87654321",
        "010-12345678-123",
        "010-12345678转123",
    ],
)
def test_phone_pattern_accepts_usual_spellings(phone, schema):
    post = _post("p3_contact_record", {"phone": phone})
    data = coerce_submission(schema("p3_contact_record"), post)
    assert validate(schema("p3_contact_record"), data) == {}


@pytest.mark.parametrize("fee", ["0", "5", "35.5", "35.50", "999999.99"])
def test_fee_pattern_accepts_amounts(fee, schema):
    data = coerce_submission(schema("p3_work_order"), _post("p3_work_order", {"fee": fee}))
    assert data["fee"] == fee  # kept as a string: money is never a float
    assert validate(schema("p3_work_order"), data) == {}
