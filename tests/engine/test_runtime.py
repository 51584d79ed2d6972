"""The engine facade on P3 and on small test diagrams: transactions, locking, incidents."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from sqlalchemy import func, select, text

from engine import audit_chain, runtime
from engine.bundles import collect_bundle
from engine.db import make_engine, make_session_factory, perform
from engine.deploy import deploy_bundle
from engine.errors import (
    Forbidden,
    FormInvalid,
    InstanceFailed,
    InstanceInError,
    StaleInstance,
    TaskAlreadyDone,
    TaskClaimedByOther,
)
from engine.identity import get_user
from engine.inbox import inbox
from engine.models import AuditEvent, HumanTask, Incident, ProcessInstance, TaskStatus
from engine.serialization import dump_state
from engine.service_tasks import register_service
from workflows import scenarios
from workflows.p3 import PROCESS_ID as P3
from workflows.p3 import samples

DIAGRAMS = Path(__file__).with_name("diagrams")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _open_specs(session, instance_id) -> list[str]:
    return sorted(
        session.scalars(
            select(HumanTask.task_spec).where(
                HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.OPEN
            )
        )
    )


def _start_complaint(session, department="security", serious=False):
    instance = scenarios.start(session, P3, "front_clerk")
    scenarios.complete_step(session, instance.id, *samples.contact("complaint"))
    scenarios.complete_step(
        session, instance.id, *samples.complaint_record(department, serious=serious)
    )
    return instance


def test_start_runs_to_the_first_task_of_the_starters_lane(session):
    instance = scenarios.start(session, P3, "front_clerk")
    assert instance.status == "running"
    assert instance.business_key.startswith("JD")
    assert _open_specs(session, instance.id) == ["record_contact"]
    row = scenarios.open_task(session, instance.id, "record_contact")
    assert row.candidate_roles == ["front_clerk"]
    assert row.form_file == "p3_contact_record.json"


def test_only_the_lanes_roles_may_start(session):
    with pytest.raises(Forbidden):
        scenarios.start(session, P3, "hr")


def test_complaint_path_closes_only_after_the_return_visit(session):
    instance = _start_complaint(session)
    for step in samples.complaint_path("front_clerk")[2:-1]:
        scenarios.complete_step(session, instance.id, *step)
        assert session.get(ProcessInstance, instance.id).status == "running"
    assert _open_specs(session, instance.id) == ["return_visit"]
    instance = scenarios.complete_step(session, instance.id, *samples.RETURN_VISIT)
    assert instance.status == "completed"
    data = runtime.instance_data(runtime.load_workflow(instance))
    assert data["record_status"] == "closed"
    assert data["satisfaction"] == "satisfied"
    assert _open_specs(session, instance.id) == []


def test_serious_complaint_needs_the_managers_acknowledgement(session):
    instance = _start_complaint(session, serious=True)
    assert _open_specs(session, instance.id) == ["acknowledge_serious"]
    row = scenarios.open_task(session, instance.id, "acknowledge_serious")
    assert set(row.candidate_roles) == {"manager_assistant", "project_manager"}
    scenarios.complete_step(session, instance.id, *samples.ACKNOWLEDGE)
    assert _open_specs(session, instance.id) == ["handle_complaint"]


def test_not_serious_complaint_goes_straight_to_the_department(session):
    instance = _start_complaint(session, serious=False)
    assert _open_specs(session, instance.id) == ["handle_complaint"]


@pytest.mark.parametrize("category", sorted(samples.FIRST_STEPS))
def test_other_categories_reach_their_first_step_and_close(session, category):
    task_spec, data = samples.FIRST_STEPS[category]
    instance = scenarios.start(session, P3, "front_clerk")
    scenarios.complete_step(session, instance.id, *samples.contact(category))
    assert _open_specs(session, instance.id) == [task_spec]
    instance = scenarios.complete_step(session, instance.id, task_spec, data)
    assert instance.status == "completed"
    decision = session.scalar(
        select(AuditEvent).where(
            AuditEvent.instance_id == instance.id, AuditEvent.kind == "decision:evaluate"
        )
    )
    assert decision.payload["table"] == "p3_contact_routing"
    assert decision.payload["inputs"] == {"category": category}


def test_department_supervisor_of_the_complained_department_only(session):
    instance = _start_complaint(session, department="cleaning")
    row = scenarios.open_task(session, instance.id, "handle_complaint")
    assert row.candidate_department == "cleaning"
    cleaning, security = get_user(session, "sup_cleaning"), get_user(session, "sup_security")
    assert [t.id for t in inbox(session, cleaning)] == [row.id]
    assert inbox(session, security) == []
    with pytest.raises(Forbidden):
        perform(session, lambda s: runtime.complete_task(s, row.id, security, samples.HANDLE[1]))


def test_return_visit_goes_only_to_the_designated_person(session):
    instance = _start_complaint(session)
    for step in samples.complaint_path("manager_assistant")[2:-1]:
        scenarios.complete_step(session, instance.id, *step)
    row = scenarios.open_task(session, instance.id, "return_visit")
    assert row.assignee.username == "manager_assistant"
    clerk = get_user(session, "front_clerk")
    assert row.id not in [t.id for t in inbox(session, clerk)]
    with pytest.raises(Forbidden):
        perform(session, lambda s: runtime.complete_task(s, row.id, clerk, samples.RETURN_VISIT[1]))


def test_designating_someone_outside_the_roles_is_refused(session):
    instance = _start_complaint(session)
    for step in samples.complaint_path("front_clerk")[2:5]:
        scenarios.complete_step(session, instance.id, *step)
    with pytest.raises(FormInvalid) as refused:
        scenarios.complete_step(session, instance.id, *samples.designate("hr"))
    assert "return_visitor" in refused.value.errors


def test_handling_is_due_in_two_working_days(session):
    # Friday 20 Nov 2026, 10:00 in Shanghai → due Tuesday 24 Nov, 10:00.
    with time_machine.travel(datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI), tick=False):
        instance = _start_complaint(session)
    row = scenarios.open_task(session, instance.id, "handle_complaint")
    assert row.due_at.astimezone(SHANGHAI) == datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
    from engine.models import Timer

    timer = session.scalar(select(Timer).where(Timer.instance_id == instance.id))
    assert timer.due_at == row.due_at


def test_invalid_form_data_is_refused_and_nothing_saved(session):
    instance = scenarios.start(session, P3, "front_clerk")
    row = scenarios.open_task(session, instance.id, "record_contact")
    clerk = get_user(session, "front_clerk")
    before = session.get(ProcessInstance, instance.id).state_json
    events = session.scalar(select(func.count()).select_from(AuditEvent))
    bad = {"owner_name": "王", "unit": "1-101", "channel": "fax", "content": "x", "category": "?"}
    with pytest.raises(FormInvalid) as refused:
        perform(session, lambda s: runtime.complete_task(s, row.id, clerk, bad))
    assert set(refused.value.errors) >= {"channel", "category"}
    session.expire_all()
    assert session.get(ProcessInstance, instance.id).state_json == before
    assert session.get(HumanTask, row.id).status == TaskStatus.OPEN
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_completing_a_done_task_is_a_clear_conflict(session):
    instance = scenarios.start(session, P3, "front_clerk")
    row = scenarios.open_task(session, instance.id, "record_contact")
    scenarios.complete_step(session, instance.id, *samples.contact("praise"))
    clerk = get_user(session, "front_clerk")
    with pytest.raises(TaskAlreadyDone):
        perform(
            session, lambda s: runtime.complete_task(s, row.id, clerk, samples.contact("praise")[1])
        )


def test_a_task_claimed_by_someone_else_cannot_be_completed(session):
    from engine.identity import create_user

    perform(session, lambda s: create_user(s, "clerk2", "第二前台", "password-22", ["front_clerk"]))
    instance = scenarios.start(session, P3, "front_clerk")
    row = scenarios.open_task(session, instance.id, "record_contact")
    first, second = get_user(session, "front_clerk"), get_user(session, "clerk2")
    perform(session, lambda s: runtime.claim_task(s, row.id, first))
    with pytest.raises(TaskClaimedByOther):
        perform(session, lambda s: runtime.claim_task(s, row.id, second))
    with pytest.raises(TaskClaimedByOther):
        perform(
            session,
            lambda s: runtime.complete_task(s, row.id, second, samples.contact("praise")[1]),
        )
    perform(session, lambda s: runtime.unclaim_task(s, row.id, first))
    perform(
        session, lambda s: runtime.complete_task(s, row.id, second, samples.contact("praise")[1])
    )
    kinds = session.scalars(
        select(AuditEvent.kind)
        .where(AuditEvent.instance_id == instance.id)
        .order_by(AuditEvent.seq)
    ).all()
    assert kinds[:4] == ["instance:start", "task:claim", "task:unclaim", "task:complete"]


def test_a_stale_instance_version_rolls_back_with_a_conflict(session):
    """Another writer committing between our read and our write must not be overwritten."""
    instance = scenarios.start(session, P3, "front_clerk")
    row = scenarios.open_task(session, instance.id, "record_contact")
    clerk = get_user(session, "front_clerk")

    def complete_after_concurrent_write(s):
        loaded = runtime.load_instance(s, instance.id)
        s.execute(
            text("UPDATE process_instance SET lock_version = lock_version + 1 WHERE id = :id"),
            {"id": instance.id},
        )
        return runtime._complete(s, loaded, row, clerk, samples.contact("praise")[1])

    with pytest.raises(StaleInstance):
        perform(session, complete_after_concurrent_write)
    session.expire_all()
    assert session.get(HumanTask, row.id).status == TaskStatus.OPEN


def test_two_people_completing_at_once_exactly_one_wins(p3_url):
    engine = make_engine(p3_url)
    factory = make_session_factory(engine)
    setup = factory()
    from engine.identity import create_user

    perform(setup, lambda s: create_user(s, "clerk2", "第二前台", "password-22", ["front_clerk"]))
    instance = scenarios.start(setup, P3, "front_clerk")
    task_id = scenarios.open_task(setup, instance.id, "record_contact").id
    barrier, results = threading.Barrier(2), []

    def attempt(username):
        session = factory()
        user = get_user(session, username)
        barrier.wait()
        try:
            perform(
                session,
                lambda s: runtime.complete_task(s, task_id, user, samples.contact("praise")[1]),
            )
            results.append("ok")
        except (TaskAlreadyDone, TaskClaimedByOther) as conflict:
            results.append(conflict.message("en"))
        finally:
            session.close()

    threads = [threading.Thread(target=attempt, args=(name,)) for name in ("front_clerk", "clerk2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results)[-1] == "ok" and results.count("ok") == 1
    setup.rollback()  # end the read snapshot taken before the threads committed
    completions = setup.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.instance_id == instance.id, AuditEvent.kind == "task:complete")
    )
    assert completions == 1
    assert audit_chain.verify(setup).ok
    setup.close()
    engine.dispose()


def test_a_loaded_instance_runs_in_the_sandbox(session):
    instance = scenarios.start(session, P3, "front_clerk")
    workflow = runtime.load_workflow(session.get(ProcessInstance, instance.id))
    task = workflow.get_tasks()[0]
    with pytest.raises(Exception, match="(?i)import|not allowed|refused|禁止"):
        workflow.script_engine.evaluate(task, "__import__('os').system('true')")


def test_every_change_is_in_a_verifiable_audit_chain(session):
    instance = _start_complaint(session)
    for step in samples.complaint_path("front_clerk")[2:]:
        scenarios.complete_step(session, instance.id, *step)
    result = audit_chain.verify(session)
    assert result.ok and result.count > 10
    completes = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.instance_id == instance.id, AuditEvent.kind == "task:complete")
        .order_by(AuditEvent.seq)
    ).all()
    assert [e.payload["data"].get("category") for e in completes][:1] == ["complaint"]
    assert {e.actor for e in completes} >= {"front_clerk", "sup_security", "manager_assistant"}


# --- incidents --------------------------------------------------------------------------


class _FlakyCharge:
    def __init__(self):
        self.fail = True

    def __call__(self, data, params):
        if self.fail:
            raise ConnectionError("收费系统无法连接 payment system unreachable")
        return {"charged": data["amount"]}


@pytest.fixture
def flaky_charge():
    handler = _FlakyCharge()
    register_service("test.charge", replace=True)(handler)
    return handler


@pytest.fixture
def service_step(session, flaky_charge):
    bundle = collect_bundle(DIAGRAMS / "service_step.bpmn", forms_dir=DIAGRAMS / "forms")
    perform(session, lambda s: deploy_bundle(s, bundle, "system:test"))
    return scenarios.start(session, "service_step", "front_clerk")


def test_a_failing_handler_becomes_an_incident_and_nothing_half_saved(session, service_step):
    state_before = session.get(ProcessInstance, service_step.id).state_json
    with pytest.raises(InstanceFailed) as failed:
        scenarios.complete_step(
            session, service_step.id, "enter_amount", {"amount": 5, "divisor": 5}
        )
    assert "payment system unreachable" in failed.value.message("en")
    session.expire_all()
    instance = session.get(ProcessInstance, service_step.id)
    assert instance.status == "error"
    assert instance.state_json == state_before
    incident = session.scalar(select(Incident).where(Incident.instance_id == instance.id))
    assert incident.task_spec == "charge" and "NameError" not in incident.message
    assert incident.replay["data"] == {"amount": 5, "divisor": 5}
    assert _open_specs(session, instance.id) == ["enter_amount"]
    clerk = get_user(session, "front_clerk")
    row = scenarios.open_task(session, instance.id, "enter_amount")
    with pytest.raises(InstanceInError):
        perform(
            session, lambda s: runtime.complete_task(s, row.id, clerk, {"amount": 1, "divisor": 1})
        )


def test_a_process_owner_retries_after_the_cause_is_fixed(session, service_step, flaky_charge):
    with pytest.raises(InstanceFailed):
        scenarios.complete_step(
            session, service_step.id, "enter_amount", {"amount": 5, "divisor": 5}
        )
    clerk, owner = get_user(session, "front_clerk"), get_user(session, "process_owner")
    with pytest.raises(Forbidden):
        perform(session, lambda s: runtime.retry_instance(s, service_step.id, clerk))
    flaky_charge.fail = False
    instance = perform(session, lambda s: runtime.retry_instance(s, service_step.id, owner))
    assert instance.status == "running"
    assert _open_specs(session, instance.id) == ["confirm"]
    data = runtime.instance_data(runtime.load_workflow(instance))
    assert data["charge_result"] == {"charged": 5} and data["share"] == 20
    incident = session.scalar(select(Incident).where(Incident.instance_id == instance.id))
    assert incident.resolved_by == "process_owner"
    kinds = session.scalars(
        select(AuditEvent.kind)
        .where(AuditEvent.instance_id == instance.id)
        .order_by(AuditEvent.seq)
    ).all()
    assert kinds[-3:] == ["instance:incident", "instance:retry", "task:complete"]


def test_a_failing_script_reports_its_task_and_line(session, service_step, flaky_charge):
    flaky_charge.fail = False
    with pytest.raises(InstanceFailed):
        scenarios.complete_step(
            session, service_step.id, "enter_amount", {"amount": 5, "divisor": 0}
        )
    incident = session.scalar(select(Incident).where(Incident.instance_id == service_step.id))
    assert incident.task_spec == "compute"
    assert incident.line_number == 1
    assert "ZeroDivisionError" in incident.message


def test_saved_state_leaves_the_spec_to_the_version(session):
    instance = scenarios.start(session, P3, "front_clerk")
    state = session.get(ProcessInstance, instance.id).state_json
    workflow = runtime.load_workflow(instance)
    full = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG)).serialize_json(
        workflow
    )
    assert '"spec"' not in state and '"spec"' in full
    assert len(state) < len(full) / 2
    assert dump_state(workflow) == state
