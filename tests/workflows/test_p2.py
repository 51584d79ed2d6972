"""P2 meeting reception through the engine facade: each meeting class, the AV path with the
re-check, the class-1 payment loop, ad-hoc requests (event sub-process), the reset checklist,
due times and timers, and the booking register filled from the process."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from engine import runtime
from engine.bundles import DEFAULT_BPMN_DIR, collect_bundle
from engine.db import make_engine, make_session_factory, perform
from engine.deploy import check_bundle
from engine.errors import DeployRefused, Forbidden, FormInvalid, InstanceNotRunning
from engine.events import NotWaitingForSignal, send_signal
from engine.identity import get_user
from engine.models import AuditEvent, HumanTask, ProcessInstance, TaskStatus, Timer
from workflows import scenarios
from workflows.p2 import MATERIAL_SIGNAL, PROCESS_ID, samples
from workflows.p2.demo import run_due_timers
from workflows.p2.models import MeetingBooking

SHANGHAI = ZoneInfo("Asia/Shanghai")
PASSWORD = "test-pass-2026"
#: Tuesday 24 Nov 2026, 10:00 in Shanghai: when the hotline takes the bookings.
BOOKED = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
MEETING = datetime(2026, 11, 27, 9, 0, tzinfo=SHANGHAI)  # Friday 09:00, 71 h ahead


@pytest.fixture
def session(procedure_url):
    engine = make_engine(procedure_url("p2_meeting_reception"))
    session = make_session_factory(engine)()
    yield session
    session.close()
    engine.dispose()


def _open(session, instance_id) -> list[str]:
    session.expire_all()
    return sorted(
        session.scalars(
            select(HumanTask.task_spec).where(
                HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.OPEN
            )
        )
    )


def _timers(session, instance_id) -> dict[str, datetime]:
    rows = session.scalars(select(Timer).where(Timer.instance_id == instance_id))
    return {row.task_spec: row.due_at.astimezone(SHANGHAI) for row in rows}


def _data(session, instance_id) -> dict:
    instance = session.get(ProcessInstance, instance_id)
    return runtime.instance_data(runtime.load_workflow(instance))


def _book(session, step, *, when=BOOKED) -> ProcessInstance:
    with time_machine.travel(when, tick=False):
        instance = scenarios.start(session, PROCESS_ID, "hotline")
        scenarios.complete_step(session, instance.id, *step)
    return instance


def _register(session, instance_id) -> MeetingBooking:
    session.expire_all()
    return session.scalar(select(MeetingBooking).where(MeetingBooking.instance_id == instance_id))


def _at(moment: datetime, session, instance_id, steps) -> None:
    """Run due timers at `moment`, then complete `steps` there."""
    with time_machine.travel(moment, tick=False):
        run_due_timers(session, instance_id)
        scenarios.run_steps(session, instance_id, steps)


# --- the deployed model -----------------------------------------------------------------


def test_the_bundle_passes_the_deploy_check_with_its_table_and_forms():
    parsed = check_bundle(collect_bundle(DEFAULT_BPMN_DIR / "p2_meeting_reception.bpmn"))
    assert parsed.process_id == PROCESS_ID
    assert "material_request" in parsed.subprocess_specs  # the event sub-process


@pytest.mark.parametrize(
    ("entry", "written"),
    [
        ('? in ("main_hall", "main_18f", "main_4f_video")', '"main_hall", "main_18f"'),  # FEEL
        ("<text>&gt;= 30</text>", "<text>in (30, 40)</text>"),  # glued: headcountin (30, 40)
    ],
)
def test_the_deploy_check_refuses_table_entries_that_never_match(entry, written):
    bundle = collect_bundle(DEFAULT_BPMN_DIR / "p2_meeting_reception.bpmn")
    files = dict(bundle.files)
    files["p2_meeting_class.dmn"] = files["p2_meeting_class.dmn"].replace(entry, written, 1)
    assert files["p2_meeting_class.dmn"] != bundle.files["p2_meeting_class.dmn"]
    with pytest.raises(DeployRefused) as refused:
        check_bundle(type(bundle)(files))
    assert any(p.file == "p2_meeting_class.dmn" for p in refused.value.problems)


# --- meeting class (DMN p2_meeting_class) -----------------------------------------------


@pytest.mark.parametrize(
    ("hours_ahead", "headcount", "rank", "room", "expected"),
    [
        (71, 80, "staff", "main_hall", "class_1"),  # large, main building
        (71, 30, "staff", "main_18f", "class_1"),  # 30 is medium: the boundary
        (71, 10, "company_leader", "main_4f_video", "class_1"),  # important: a leader calls it
        (71, 29, "department_head", "main_hall", "daily"),
        (71, 200, "government_leader", "annex_201", "daily"),  # class 1 is main building only
        (12, 80, "company_leader", "main_hall", "class_1"),  # 12 h is not short notice
        (11.5, 80, "company_leader", "main_hall", "temporary"),
        (1, 5, "staff", "annex_305", "temporary"),
    ],
)
def test_the_meeting_class_comes_from_the_table(
    session, hours_ahead, headcount, rank, room, expected
):
    start = BOOKED + timedelta(hours=hours_ahead)
    instance = _book(session, samples.booking(start, headcount=headcount, rank=rank, room=room))
    data = _data(session, instance.id)
    assert data["meeting_class"] == expected
    assert data["lead_time_hours"] == pytest.approx(hours_ahead)
    decision = session.scalar(
        select(AuditEvent).where(
            AuditEvent.instance_id == instance.id, AuditEvent.kind == "decision:evaluate"
        )
    )
    assert decision.payload["table"] == "p2_meeting_class"
    assert decision.payload["inputs"]["room"] == room
    assert _register(session, instance.id).meeting_class == expected


# --- AV path ------------------------------------------------------------------------------


def test_av_sheet_is_due_five_minutes_after_the_booking_and_escalates(session):
    instance = _book(session, samples.booking(MEETING, av=True))
    # The room check waits for the AV branch (parallel join): only the sheet is open.
    assert _open(session, instance.id) == ["issue_equipment_sheet"]
    row = scenarios.open_task(session, instance.id, "issue_equipment_sheet")
    assert row.candidate_roles == ["hotline"]
    assert row.due_at.astimezone(SHANGHAI) == BOOKED + timedelta(minutes=5)
    with time_machine.travel(BOOKED + timedelta(minutes=6), tick=False):
        run_due_timers(session, instance.id)
    assert "chase_equipment_sheet" in _open(session, instance.id)
    chase = scenarios.open_task(session, instance.id, "chase_equipment_sheet")
    assert chase.candidate_roles == ["meeting_lead"]
    assert "issue_equipment_sheet" in _open(session, instance.id)  # still the hotline's to do


def test_av_test_waits_for_thirty_minutes_before_and_is_due_fifteen_before(session):
    instance = _book(session, samples.booking(MEETING, av=True, rank="company_leader"))
    with time_machine.travel(BOOKED + timedelta(minutes=2), tick=False):
        scenarios.complete_step(session, instance.id, *samples.equipment_sheet())
    timers = _timers(session, instance.id)
    assert timers["wait_av_test"] == MEETING - timedelta(minutes=30)
    data = _data(session, instance.id)
    assert data["av_test_from"] == "2026-11-27T08:30:00+08:00"  # timers take ISO text
    assert data["leader_level"] is True
    with time_machine.travel(MEETING - timedelta(minutes=29), tick=False):
        run_due_timers(session, instance.id)
    test = scenarios.open_task(session, instance.id, "test_room_av")
    assert test.assignee.username == "av_tech"  # the technician named on the sheet
    assert test.due_at.astimezone(SHANGHAI) == MEETING - timedelta(minutes=15)
    assert "全程跟进" in test.instructions  # leader-level: the technician stays throughout


def test_the_attendants_recheck_is_recorded_in_the_register(session):
    instance = _book(session, samples.booking(MEETING, av=True))
    scenarios.complete_step(session, instance.id, *samples.equipment_sheet())
    _at(MEETING - timedelta(minutes=25), session, instance.id, [samples.AV_TEST])
    with time_machine.travel(MEETING - timedelta(minutes=20), tick=False):
        scenarios.complete_step(
            session, instance.id, *samples.av_recheck("failed"), username="meeting_attendant"
        )
    row = _register(session, instance.id)
    assert row.av_test_result == "ready"
    assert row.av_recheck_result == "failed" and "杂音" in row.av_recheck_note
    assert row.av_rechecked_by == "meeting_attendant"
    assert row.av_rechecked_at.astimezone(SHANGHAI) == MEETING - timedelta(minutes=20)
    assert row.av_technician == "av_tech"


def test_without_av_there_is_no_equipment_sheet(session):
    instance = _book(session, samples.booking(MEETING, av=False))
    assert _open(session, instance.id) == ["pre_meeting_check"]
    assert set(_timers(session, instance.id)) == {"pre_meeting_timer"}
    check = scenarios.open_task(session, instance.id, "pre_meeting_check")
    assert check.due_at.astimezone(SHANGHAI) == MEETING - timedelta(minutes=15)  # tea


# --- class 1 ------------------------------------------------------------------------------


def test_class_1_with_av_through_to_payment(session):
    instance = _book(session, samples.class_1_booking(MEETING))
    assert _open(session, instance.id) == ["confirm_class1_forms", "issue_equipment_sheet"]
    with time_machine.travel(BOOKED + timedelta(minutes=3), tick=False):
        scenarios.complete_step(session, instance.id, *samples.equipment_sheet())
        scenarios.complete_step(session, instance.id, *samples.class_1_forms(BOOKED))
    timers = _timers(session, instance.id)
    assert timers["wait_day_before"] == datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI)
    row = _register(session, instance.id)
    assert row.booker_signed_name == "李娜" and row.fee_amount == Decimal("3600.00")
    # The day before: the full room check, then the room is sealed.
    _at(datetime(2026, 11, 26, 9, 30, tzinfo=SHANGHAI), session, instance.id, [])
    assert _open(session, instance.id) == ["prepare_room_day_before"]
    scenarios.complete_step(session, instance.id, *samples.ROOM_CHECKLIST)
    assert _register(session, instance.id).room_sealed is True
    _at(MEETING - timedelta(minutes=28), session, instance.id, [samples.AV_TEST])
    with time_machine.travel(MEETING - timedelta(minutes=18), tick=False):
        scenarios.run_steps(session, instance.id, [samples.av_recheck(), samples.PRE_MEETING])
    assert _register(session, instance.id).status == "in_meeting"
    with time_machine.travel(MEETING + timedelta(hours=2), tick=False):
        steps = [samples.SERVE, samples.reset(), samples.invoice()]
        scenarios.run_steps(session, instance.id, steps)
        scenarios.complete_step(session, instance.id, *samples.invoice_receipt(MEETING))
    assert _open(session, instance.id) == ["record_payment"]
    assert scenarios.open_task(session, instance.id, "record_payment").candidate_roles == [
        "cashier"
    ]
    row = _register(session, instance.id)
    assert row.status == "awaiting_payment" and row.payment_status == "invoiced"
    # No payment: the meeting lead is reminded every 3 days until it is recorded.
    reminder_due = _timers(session, instance.id)["payment_reminder_timer"]
    assert reminder_due == MEETING + timedelta(hours=2, days=3)
    _at(reminder_due + timedelta(minutes=1), session, instance.id, [samples.FOLLOW_UP])
    second = _timers(session, instance.id)["payment_reminder_timer"]
    assert second == reminder_due + timedelta(days=3)
    _at(second + timedelta(minutes=1), session, instance.id, [])
    assert _open(session, instance.id) == ["payment_reminder", "record_payment"]
    assert scenarios.open_task(session, instance.id, "payment_reminder").candidate_roles == [
        "meeting_lead"
    ]
    with time_machine.travel(second + timedelta(hours=1), tick=False):
        scenarios.complete_step(session, instance.id, *samples.FOLLOW_UP)
        instance = scenarios.complete_step(session, instance.id, *samples.payment("2026-12-04"))
    assert instance.status == "completed"
    row = _register(session, instance.id)
    assert row.status == "closed" and row.payment_status == "paid"
    assert row.payment_amount == Decimal("3600.00") and row.payment_reminders == 2
    assert row.invoice_no == "FP-20261127-001" and row.invoice_signed_by == "李娜"
    assert row.av_recheck_result == "passed" and row.pre_check_result == "ok"


def test_class_1_forms_must_be_signed(session):
    instance = _book(session, samples.class_1_booking(MEETING, av=False))
    task, data = samples.class_1_forms(BOOKED)
    with pytest.raises(FormInvalid) as refused:
        scenarios.complete_step(session, instance.id, task, {**data, "forms_signed": False})
    assert "forms_signed" in refused.value.errors
    with pytest.raises(FormInvalid) as refused:
        scenarios.complete_step(session, instance.id, task, {**data, "fee_amount": "-5"})
    assert "fee_amount" in refused.value.errors


# --- temporary and daily meetings ----------------------------------------------------------


def test_temporary_meeting_needs_an_attendant_within_five_minutes(session):
    start = BOOKED + timedelta(hours=1)
    instance = _book(session, samples.booking(start, room="main_18f"))
    assert _data(session, instance.id)["meeting_class"] == "temporary"
    row = scenarios.open_task(session, instance.id, "attend_temporary")
    assert row.candidate_roles == ["meeting_attendant"]
    assert row.due_at.astimezone(SHANGHAI) == BOOKED + timedelta(minutes=5)
    _at(BOOKED + timedelta(minutes=6), session, instance.id, [])
    assert scenarios.open_task(session, instance.id, "attendant_late").candidate_roles == [
        "meeting_lead"
    ]
    scenarios.complete_step(session, instance.id, *samples.ARRIVAL)
    scenarios.complete_step(session, instance.id, *samples.escalation("attendant_late"))
    assert _open(session, instance.id) == ["pre_meeting_check"]


def test_daily_meeting_runs_to_the_end_without_fees(session):
    instance = _book(session, samples.booking(MEETING))
    with time_machine.travel(MEETING - timedelta(minutes=20), tick=False):
        scenarios.run_steps(session, instance.id, [samples.PRE_MEETING, samples.SERVE])
        instance = scenarios.complete_step(session, instance.id, *samples.reset(dirty=True))
    assert instance.status == "completed"
    row = _register(session, instance.id)
    assert row.status == "closed" and row.payment_status == "not_applicable"
    assert row.cleaner_called is True and row.reset_at is not None


def test_reset_checklist_refuses_a_dirty_room_without_the_cleaner(session):
    instance = _book(session, samples.booking(MEETING))
    scenarios.run_steps(session, instance.id, [samples.PRE_MEETING, samples.SERVE])
    task, data = samples.reset(dirty=True)
    with pytest.raises(FormInvalid) as refused:
        scenarios.complete_step(session, instance.id, task, {**data, "cleaner_called": False})
    assert "cleaner_called" in refused.value.errors
    with pytest.raises(FormInvalid) as refused:
        scenarios.complete_step(session, instance.id, task, {**data, "lights_off": False})
    assert "lights_off" in refused.value.errors
    assert _open(session, instance.id) == ["reset_room"]


# --- ad-hoc material requests (event sub-process) ------------------------------------------


def _in_meeting(session) -> ProcessInstance:
    instance = _book(session, samples.booking(MEETING))
    scenarios.complete_step(session, instance.id, *samples.PRE_MEETING)
    return instance


def _request(session, instance_id, item="插线板", username="meeting_attendant"):
    user = get_user(session, username)
    payload = samples.material_request(item)
    return perform(session, lambda s: send_signal(s, instance_id, MATERIAL_SIGNAL, payload, user))


def test_an_accepted_request_ends_with_the_attendant(session):
    instance = _in_meeting(session)
    with time_machine.travel(MEETING + timedelta(minutes=30), tick=False):
        _request(session, instance.id)
    row = scenarios.open_task(session, instance.id, "handle_material_request")
    assert row.candidate_roles == ["meeting_attendant"]
    assert row.due_at.astimezone(SHANGHAI) == MEETING + timedelta(minutes=35)
    assert _data(session, instance.id)["material_request"]["item"] == "插线板"  # instructions
    scenarios.complete_step(session, instance.id, *samples.material_handled(accepted=True))
    assert _open(session, instance.id) == ["serve_meeting"]  # the meeting goes on
    assert _register(session, instance.id).material_requests == 1
    signal = session.scalar(
        select(AuditEvent).where(
            AuditEvent.instance_id == instance.id, AuditEvent.kind == "instance:signal"
        )
    )
    assert signal.actor == "meeting_attendant" and signal.payload["data"]["item"] == "插线板"


def test_a_request_not_accepted_goes_to_the_meeting_lead(session):
    instance = _in_meeting(session)
    _request(session, instance.id, "投影仪")
    _request(session, instance.id, "白板笔")  # two at once: one sub-process each
    rows = session.scalars(
        select(HumanTask).where(
            HumanTask.instance_id == instance.id,
            HumanTask.task_spec == "handle_material_request",
        )
    ).all()
    assert len(rows) == 2
    attendant = get_user(session, "meeting_attendant")
    refused = samples.material_handled(accepted=False)[1]
    perform(session, lambda s: runtime.complete_task(s, rows[0].id, attendant, refused))
    resolve = scenarios.open_task(session, instance.id, "resolve_material_request")
    assert resolve.candidate_roles == ["meeting_lead"]
    scenarios.complete_step(session, instance.id, *samples.MATERIAL_RESOLVED)
    assert _open(session, instance.id) == ["handle_material_request", "serve_meeting"]


def test_a_late_request_escalates_to_the_meeting_lead(session):
    instance = _in_meeting(session)
    with time_machine.travel(MEETING + timedelta(minutes=10), tick=False):
        _request(session, instance.id)
    _at(MEETING + timedelta(minutes=16), session, instance.id, [])
    assert scenarios.open_task(session, instance.id, "material_late").candidate_roles == [
        "meeting_lead"
    ]


def test_signals_only_reach_running_instances_and_people_who_see_them(session):
    instance = _in_meeting(session)
    with pytest.raises(Forbidden):
        _request(session, instance.id, username="sales")
    with pytest.raises(NotWaitingForSignal):
        user = get_user(session, "meeting_attendant")
        perform(session, lambda s: send_signal(s, instance.id, "no_such_signal", {}, user))
    instance = scenarios.run_steps(session, instance.id, [samples.SERVE, samples.reset()])
    assert instance.status == "completed"
    with pytest.raises(InstanceNotRunning):
        _request(session, instance.id)


def test_a_loaded_instance_still_runs_in_the_sandbox(session):
    instance = _book(session, samples.booking(MEETING))
    workflow = runtime.load_workflow(session.get(ProcessInstance, instance.id))
    task = workflow.get_tasks()[0]
    with pytest.raises(Exception, match="(?i)import|not allowed|refused|禁止"):
        workflow.script_engine.evaluate(task, "__import__('os').system('true')")


def test_a_request_leaves_the_shared_specs_alone(session):
    """SpiffWorkflow links a started event sub-process into the process's start spec; done on
    the cached specs, every later booking would start a request at once and never end."""
    first = _in_meeting(session)
    _request(session, first.id)
    later = _in_meeting(session)
    assert _open(session, later.id) == ["serve_meeting"]
    instance = scenarios.run_steps(session, later.id, [samples.SERVE, samples.reset()])
    assert instance.status == "completed"
    scenarios.complete_step(session, first.id, *samples.material_handled(accepted=True))
    instance = scenarios.run_steps(session, first.id, [samples.SERVE, samples.reset()])
    assert instance.status == "completed"


def test_the_tables_own_test_cases_pass():
    from engine.dmn_tests import attach_test_files, bundle_problems

    bundle = collect_bundle(DEFAULT_BPMN_DIR / "p2_meeting_reception.bpmn")
    bundle = attach_test_files(bundle, DEFAULT_BPMN_DIR)
    assert "p2_meeting_class.dmn.tests.json" in bundle.files
    assert bundle_problems(bundle) == []
