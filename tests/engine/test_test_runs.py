"""Test runs: a bundle run on a scenario in memory, touching no real data."""

from __future__ import annotations

from sqlalchemy import func, select

from engine.bundles import DEFAULT_BPMN_DIR, Bundle, collect_bundle
from engine.models import AuditEvent, HumanTask, ProcessInstance
from engine.test_runs import ScenarioInvalid, parse_scenario, run_scenario
from workflows.p3 import samples
from workflows.procedures import register_procedures

register_procedures()  # the service handlers a bundle names must be registered

P3 = collect_bundle(DEFAULT_BPMN_DIR / "p3_owner_reception.bpmn")
P4 = collect_bundle(DEFAULT_BPMN_DIR / "p4_pass_issuance.bpmn")


def _steps(*steps):
    return {"steps": [{"task": task, "data": data} for task, data in steps]}


def test_complaint_path_is_recorded_with_variables_at_each_step():
    result = run_scenario(P3, _steps(*samples.complaint_path("front_clerk")))
    assert result.status == "completed", result.message
    path = result.path
    assert path.index("record_contact") < path.index("route_contact") < path.index("close_record")
    route = next(step for step in result.steps if step.element_id == "route_contact")
    assert route.variables["route"] == "complaint"
    assert result.variables["record_status"] == "closed"


def test_run_stops_where_the_scenario_ends():
    result = run_scenario(P3, _steps(samples.contact("repair")))
    assert result.status == "waiting"
    assert result.waiting_at == ["repair_work_order"]


def test_a_step_that_is_not_ready_is_reported():
    result = run_scenario(P3, _steps(("inform_owner", {})))
    assert result.status == "waiting"
    assert "inform_owner is not ready" in result.message and "record_contact" in result.message


def test_invalid_form_data_fails_the_run():
    result = run_scenario(P3, _steps(("record_contact", {"owner_name": "王"})))
    assert result.status == "failed" and "record_contact" in result.message


def test_a_broken_bundle_is_refused_with_its_problems():
    files = dict(P3.files)
    files["p3_owner_reception.bpmn"] = files["p3_owner_reception.bpmn"].replace(
        'record_status = "closed"', "import os", 1
    )
    result = run_scenario(Bundle(files), {})
    assert result.status == "refused" and result.problems


def test_service_tasks_use_stubs_not_their_handlers():
    # P4's pass number handler would write the pass registry; in a test run it is a stub.
    result = run_scenario(P4, {"services": {}})
    assert result.status == "waiting", result.message
    assert result.waiting_at == ["record_request"]


def test_scenario_shape_is_checked():
    for text in ("[", "[]", '{"steps": [1]}', '{"start": 1}'):
        try:
            parse_scenario(text)
        except ScenarioInvalid:
            continue
        raise AssertionError(text)


def test_a_test_run_writes_nothing(session):
    def counts():
        return [
            session.scalar(select(func.count()).select_from(model))
            for model in (ProcessInstance, HumanTask, AuditEvent)
        ]

    before = counts()
    run_scenario(P3, _steps(*samples.complaint_path("front_clerk")))
    assert counts() == before
