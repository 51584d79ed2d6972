"""Change summaries between two bundles: elements, DMN rows and form fields."""

from __future__ import annotations

import json

from engine.bundles import DEFAULT_BPMN_DIR, collect_bundle
from engine.version_diff import diff_bundles

P3 = collect_bundle(DEFAULT_BPMN_DIR / "p3_owner_reception.bpmn").files
BPMN, DMN = "p3_owner_reception.bpmn", "p3_contact_routing.dmn"


def _with(name: str, old: str, new: str) -> dict:
    files = dict(P3)
    assert old in files[name], old
    files[name] = files[name].replace(old, new, 1)
    return files


def test_identical_bundles_have_no_changes():
    assert diff_bundles(P3, dict(P3)).is_empty


def test_renamed_task_is_changed_with_its_name():
    summary = diff_bundles(P3, _with(BPMN, 'name="处理投诉"', 'name="处理业主投诉"'))
    (change,) = summary.elements
    assert (change.kind, change.id, change.what) == ("changed", "handle_complaint", ["name"])
    assert summary.element_ids("changed") == ["handle_complaint"]


def test_timer_expression_and_lane_changes_are_named():
    files = _with(BPMN, "working_days(2)", "working_days(3)")
    files[BPMN] = files[BPMN].replace('name="hr"', 'name="hr,project_manager"', 1)
    summary = diff_bundles(P3, files)
    by_id = {c.id: c for c in summary.elements}
    assert "timer" in by_id["handle_overdue_timer"].what
    assert by_id["Lane_hr"].what == ["name"]
    assert "lane" in by_id["praise_to_hr"].what


def test_removed_and_added_elements():
    text = P3[BPMN]
    files = dict(P3, **{BPMN: text.replace('id="close_record"', 'id="close_ledger"')})
    summary = diff_bundles(P3, files)
    assert "close_record" in summary.element_ids("removed")
    assert "close_ledger" in summary.element_ids("added")


def test_changed_dmn_row_and_added_form_field():
    files = _with(
        DMN,
        '<text>"praise"</text>\n        </outputEntry>',
        '<text>"other"</text>\n        </outputEntry>',
    )
    form = json.loads(files["forms/p3_result_report.json"])
    form["properties"]["extra_note"] = {"type": "string", "title": "备注"}
    files["forms/p3_result_report.json"] = json.dumps(form, ensure_ascii=False)
    summary = diff_bundles(P3, files)
    assert [(c.kind, c.id, c.where) for c in summary.dmn_rows] == [("changed", "Rule_praise", DMN)]
    assert [(c.kind, c.id) for c in summary.form_fields] == [("added", "extra_note")]
    assert {c.id for c in summary.files} == {DMN, "forms/p3_result_report.json"}


def test_first_version_lists_everything_as_added():
    summary = diff_bundles(None, P3)
    assert "record_contact" in summary.element_ids("added")
    assert summary.as_dict()["files"][0]["kind"] == "added"
