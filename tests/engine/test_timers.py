"""Firing timers on SQLite: the P3 escalation, skipping, retries with backoff, the incident and
its retry by a process owner, the worker loop and its command."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from engine import audit_chain, runtime, timers
from engine.bundles import collect_bundle
from engine.db import make_engine, make_session_factory, perform
from engine.deploy import deploy_bundle
from engine.identity import get_user
from engine.models import (
    AuditEvent,
    HumanTask,
    Incident,
    InstanceStatus,
    ProcessInstance,
    TaskStatus,
    Timer,
)
from engine.service_tasks import register_service
from workflows import scenarios
from workflows.p3 import PROCESS_ID as P3
from workflows.p3 import samples

SHANGHAI = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parents[2]
# Friday 20 Nov 2026 10:00: two working days later is Tuesday 24 Nov 10:00.
RECORDED = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
DUE = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)


def _open_specs(session, instance_id) -> list[str]:
    return sorted(
        session.scalars(
            select(HumanTask.task_spec).where(
                HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.OPEN
            )
        )
    )


def _complaint(session, at: datetime = RECORDED) -> ProcessInstance:
    with time_machine.travel(at, tick=False):
        instance = scenarios.start(session, P3, "front_clerk")
        scenarios.complete_step(session, instance.id, *samples.contact("complaint"))
        scenarios.complete_step(session, instance.id, *samples.complaint_record("security"))
    return instance


def _fire_at(session_factory, at: datetime, **options):
    with time_machine.travel(at, tick=False):
        return timers.fire_due_timers(session_factory, **options)


@pytest.fixture
def factory(p3_url):
    engine = make_engine(p3_url)
    yield make_session_factory(engine)
    engine.dispose()


def test_the_complaint_timer_is_projected_with_its_working_day_due_time(session):
    instance = _complaint(session)
    timer = session.scalar(select(Timer).where(Timer.instance_id == instance.id))
    assert timer.task_spec == "handle_overdue_timer"
    assert timer.due_at == DUE
    assert scenarios.open_task(session, instance.id, "handle_complaint").due_at == DUE


def test_two_working_days_later_the_project_manager_gets_the_escalation(session, factory):
    instance = _complaint(session)
    assert _fire_at(factory, DUE - timedelta(minutes=1)) == []

    results = _fire_at(factory, DUE + timedelta(seconds=3))

    assert [r.outcome for r in results] == ["fired"]
    assert results[0].lateness == pytest.approx(3.0)
    assert _open_specs(session, instance.id) == ["escalate_overdue", "handle_complaint"]
    escalation = scenarios.open_task(session, instance.id, "escalate_overdue")
    assert escalation.candidate_roles == ["project_manager"]
    assert session.scalar(select(func.count()).select_from(Timer)) == 0
    fired = session.scalars(select(AuditEvent).where(AuditEvent.kind == "timer:fire")).all()
    assert len(fired) == 1 and fired[0].actor == "system:worker"
    assert fired[0].payload["task_guid"] and fired[0].task == "handle_overdue_timer"
    assert audit_chain.verify(session).ok
    # Firing again finds nothing: the timer was consumed in the same transaction.
    assert _fire_at(factory, DUE + timedelta(hours=1)) == []


def test_a_handled_complaint_has_no_timer_left(session, factory):
    instance = _complaint(session)
    with time_machine.travel(RECORDED + timedelta(hours=2), tick=False):
        scenarios.complete_step(session, instance.id, *samples.HANDLE)
    assert session.scalar(select(func.count()).select_from(Timer)) == 0
    assert _fire_at(factory, DUE + timedelta(days=1)) == []
    assert "escalate_overdue" not in _open_specs(session, instance.id)


def test_a_timer_of_an_instance_that_is_not_running_is_skipped(session, factory):
    instance = _complaint(session)
    perform(session, lambda s: _set_status(s, instance.id, InstanceStatus.CANCELLED))
    assert _fire_at(factory, DUE + timedelta(hours=1)) == []
    timer_id = session.scalar(select(Timer.id))
    with time_machine.travel(DUE + timedelta(hours=1), tick=False):
        result = timers.fire_timer(factory(), timer_id)
    assert result is None  # not claimable: its instance is not running


def _set_status(session, instance_id: int, status: str) -> None:
    session.get(ProcessInstance, instance_id).status = status


def test_a_timer_spiffworkflow_does_not_consider_due_is_undone_and_postponed(session, factory):
    instance = _complaint(session)
    # The projection claims it is due an hour earlier than the workflow says.
    perform(session, lambda s: _move_timer(s, instance.id, DUE - timedelta(hours=1)))
    state_before = session.get(ProcessInstance, instance.id).state_json
    results = _fire_at(factory, DUE - timedelta(minutes=30))
    assert [r.outcome for r in results] == ["not_due"]
    session.rollback()
    timer = session.scalar(select(Timer))
    assert timer.next_attempt_at == DUE - timedelta(minutes=30) + timedelta(seconds=10)
    assert session.get(ProcessInstance, instance.id).state_json == state_before
    assert session.scalar(select(func.count()).where(AuditEvent.kind == "timer:fire")) == 0
    assert _open_specs(session, instance.id) == ["handle_complaint"]


def _move_timer(session, instance_id: int, due_at: datetime) -> None:
    session.scalar(select(Timer).where(Timer.instance_id == instance_id)).due_at = due_at


def test_the_earliest_due_timer_fires_first(session, factory):
    later = _complaint(session, RECORDED + timedelta(hours=1))
    earlier = _complaint(session, RECORDED)
    results = _fire_at(factory, DUE + timedelta(hours=2))
    assert [r.instance_id for r in results] == [earlier.id, later.id]


# --- failures: retry with backoff, then an incident ------------------------------------------

FLAKY_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  id="defs" targetNamespace="http://jiedai.test">
  <bpmn:process id="timer_then_service" name="Timer then service" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_front" name="front_clerk">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>wait</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>notify</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>check</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>done</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait" name="One hour">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="wait_def">
        <bpmn:timeDuration>"PT1H"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:serviceTask id="notify" name="Notify">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="test_flaky_notify" resultVariable="notified"/>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:userTask id="check" name="Check">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="done"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="notify"/>
    <bpmn:sequenceFlow id="f3" sourceRef="notify" targetRef="check"/>
    <bpmn:sequenceFlow id="f4" sourceRef="check" targetRef="done"/>
  </bpmn:process>
</bpmn:definitions>
"""

_mail_server = {"up": False}


@register_service("test_flaky_notify", replace=True)
def _flaky_notify(data: dict, params: dict) -> dict:
    if not _mail_server["up"]:
        raise ConnectionError("mail server unreachable")
    return {"sent": True}


@pytest.fixture
def flaky(session, tmp_path):
    path = tmp_path / "timer_then_service.bpmn"
    path.write_text(FLAKY_BPMN, encoding="utf-8")
    perform(session, lambda s: deploy_bundle(s, collect_bundle(path), "system:test"))
    _mail_server["up"] = False
    yield
    _mail_server["up"] = False


START = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)


def test_a_failing_firing_is_retried_with_backoff_then_becomes_an_incident(session, factory, flaky):
    with time_machine.travel(START, tick=False):
        instance = scenarios.start(session, "timer_then_service", "front_clerk")
    due = START + timedelta(hours=1)

    first = _fire_at(factory, due + timedelta(seconds=1), max_attempts=3)
    assert [r.outcome for r in first] == ["retry"]
    assert "mail server unreachable" in first[0].error
    timer = session.scalar(select(Timer).execution_options(populate_existing=True))
    assert timer.attempts == 1 and "mail server unreachable" in timer.last_error
    assert timer.next_attempt_at == due + timedelta(seconds=1) + timers.backoff(1)
    # Nothing of the failed firing was kept; it is not retried before its time.
    assert session.get(ProcessInstance, instance.id).status == "running"
    assert _fire_at(factory, due + timedelta(seconds=5), max_attempts=3) == []
    assert session.scalar(select(func.count()).where(AuditEvent.kind == "timer:fire")) == 0

    second = _fire_at(factory, due + timedelta(seconds=12), max_attempts=3)
    assert [r.outcome for r in second] == ["retry"]
    third = _fire_at(factory, due + timedelta(seconds=40), max_attempts=3)
    assert [r.outcome for r in third] == ["incident"]

    session.rollback()  # a fresh read transaction sees the worker's commits
    instance = session.get(ProcessInstance, instance.id)
    assert instance.status == InstanceStatus.ERROR
    incident = session.scalar(select(Incident).where(Incident.instance_id == instance.id))
    assert "mail server unreachable" in incident.message
    assert incident.task_spec == "notify" and incident.replay == {"action": "steps"}
    # An instance in error is left alone by the worker.
    assert _fire_at(factory, due + timedelta(hours=1), max_attempts=3) == []

    # The cause is fixed; a process owner retries from the instance page.
    _mail_server["up"] = True
    owner = get_user(session, "process_owner")
    with time_machine.travel(due + timedelta(hours=2), tick=False):
        perform(session, lambda s: runtime.retry_instance(s, instance.id, owner))
    session.rollback()  # a fresh read transaction sees the worker's commits
    assert session.get(ProcessInstance, instance.id).status == InstanceStatus.RUNNING
    assert _open_specs(session, instance.id) == ["check"]
    assert session.scalar(select(func.count()).select_from(Timer)) == 0
    assert audit_chain.verify(session).ok


def test_backoff_doubles_and_is_capped():
    assert [timers.backoff(n).total_seconds() for n in (1, 2, 3)] == [10, 20, 40]
    assert timers.backoff(30).total_seconds() == 600


# --- the worker loop and the command ---------------------------------------------------------


def test_the_worker_loop_fires_and_stops_when_asked(session, factory):
    instance = _complaint(session, datetime.now(SHANGHAI) - timedelta(days=10))
    fired = []
    worker = timers.TimerWorker(factory, poll=0.05, report=fired.append)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        for _ in range(200):
            if fired:
                break
            threading.Event().wait(0.05)
    finally:
        worker.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert [r.instance_id for r in fired] == [instance.id]
    assert "escalate_overdue" in _open_specs(session, instance.id)


def test_a_timer_committed_in_this_process_wakes_the_local_worker(session, factory):
    from engine.timers import worker as worker_module

    worker = timers.TimerWorker(factory, poll=60)
    worker_module._local_workers.add(worker)  # what run() does while it loops
    try:
        _complaint(session)  # commits a new timer row
        assert worker._wake.is_set()
    finally:
        worker_module._local_workers.discard(worker)


def _cli(url: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run(
        [_jiedai(), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


def _jiedai() -> str:
    return str(Path(sys.executable).with_name("jiedai"))


def test_worker_once_fires_what_is_due_and_logs_a_line_per_firing(session, p3_url):
    instance = _complaint(session, datetime.now(SHANGHAI) - timedelta(days=10))
    session.close()
    done = _cli(p3_url, "worker", "--once")
    assert done.returncode == 0, done.stderr
    assert f"of instance {instance.id}: fired" in done.stderr
    assert "fired 1 timer(s)" in done.stderr
    assert "escalate_overdue" in _open_specs(session, instance.id)


def test_worker_stops_cleanly_on_sigterm(p3_url):
    env = {**os.environ, "DATABASE_URL": p3_url}
    with subprocess.Popen(
        [_jiedai(), "worker", "--poll", "0.2"],
        env=env,
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            line = process.stderr.readline()
            assert "timer worker started" in line
            process.terminate()
            assert process.wait(timeout=20) == 0
            assert "timer worker stopped" in process.stderr.read()
        finally:
            if process.poll() is None:
                process.kill()


def test_an_unreachable_database_is_one_clear_line(tmp_path):
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    done = _cli(url, "worker", "--once")
    assert done.returncode == 1
    assert "cannot reach the database" in done.stderr
    assert "Traceback" not in done.stderr
