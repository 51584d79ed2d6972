"""P4 passes through the engine facade: every path of the diagram, one transaction per step."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import func, select

from engine import runtime
from engine.db import make_engine, make_session_factory, perform
from engine.errors import FormInvalid
from engine.models import AuditEvent, HumanTask, ProcessInstance, TaskStatus, Timer
from workflows import scenarios
from workflows.p4 import PROCESS_ID as P4
from workflows.p4 import samples
from workflows.p4.models import DepositEntry, Pass
from workflows.p4.pass_numbers import next_pass_no
from workflows.p4.registry import deposit_ledger, deposits_held, pass_state
from workflows.p4.rules import add_months, business_today

PASSWORD = "test-pass-2026"


@pytest.fixture
def p4_url(procedure_url):
    return procedure_url("p4_pass_issuance")


@pytest.fixture
def session(p4_url):
    engine = make_engine(p4_url)
    session = make_session_factory(engine)()
    yield session
    session.close()
    engine.dispose()


def _open(session, instance_id) -> list[str]:
    return sorted(
        session.scalars(
            select(HumanTask.task_spec).where(
                HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.OPEN
            )
        )
    )


def _run(session, steps, starter="front_clerk"):
    instance = scenarios.start(session, P4, starter)
    for step in steps:
        instance = scenarios.complete_step(session, instance.id, *step)
    return instance


def _pass(session, pass_no=None) -> Pass:
    session.expire_all()
    query = select(Pass).order_by(Pass.id.desc())
    if pass_no:
        query = query.where(Pass.pass_no == pass_no)
    return session.scalars(query).first()


def _refused(session, instance_id, step) -> dict[str, str]:
    with pytest.raises(FormInvalid) as caught:
        scenarios.complete_step(session, instance_id, *step)
    return caught.value.errors


def _fire_timers(session, instance_id):
    """What the timer worker does: engine steps on the instance, now that time has come."""

    def step(s):
        instance = runtime.load_instance(s, instance_id, for_update=True)
        workflow = runtime.load_workflow(instance)
        runtime.advance(s, instance, workflow, actor="system:timer", replay={"action": "steps"})
        return instance

    return perform(session, step)


# --- each pass type -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pass_type", "prefix", "deposit", "fee", "months"),
    [("tenant", "ZU", "10.00", "5.00", 12), ("temporary", "LS", "10.00", "5.00", 3)],
)
def test_paid_pass_types_are_issued_after_the_cashier(
    session, pass_type, prefix, deposit, fee, months
):
    instance = _run(session, samples.issue_path(pass_type)[:2])
    assert _open(session, instance.id) == ["record_payment"]
    assert scenarios.open_task(session, instance.id, "record_payment").candidate_roles == [
        "cashier"
    ]
    assert _pass(session) is None  # no pass before payment
    data = runtime.instance_data(runtime.load_workflow(instance))
    assert data["amount_due"] == Decimal(deposit) + Decimal(fee)
    assert data["max_validity_months"] == months
    scenarios.complete_step(session, instance.id, *samples.payment("15.00"))
    row = _pass(session)
    assert row.pass_no == f"{prefix}-{business_today().year}-0001"
    assert row.deposit_held == Decimal(deposit) and row.status == "active"
    assert row.issued_by == "cashier" and row.receipt_no == "SJ-20261123-01"
    entry = session.scalar(select(DepositEntry))
    assert (entry.kind, entry.deposit, entry.fee) == ("issue", Decimal(deposit), Decimal(fee))
    assert _open(session, instance.id) == ["hand_over_pass"]


def test_resident_pass_is_free_and_needs_no_cashier(session):
    instance = _run(session, samples.issue_path("resident")[:2])
    assert _open(session, instance.id) == ["hand_over_pass"]
    row = _pass(session)
    assert row.pass_no.startswith("ZH-") and row.valid_until is None
    assert row.deposit_held == 0 and row.applicant_is_owner is True
    assert session.scalar(select(func.count()).select_from(DepositEntry)) == 0
    instance = scenarios.complete_step(session, instance.id, *samples.HANDOVER)
    assert instance.status == "completed"  # no expiry, no reminder


def test_start_and_request_are_for_front_desk_and_cashier(session):
    instance = scenarios.start(session, P4, "cashier")
    row = scenarios.open_task(session, instance.id, "record_request")
    assert set(row.candidate_roles) == {"front_clerk", "cashier"}


# --- payment, numbers -----------------------------------------------------------------------


def test_wrong_amount_is_refused_and_nothing_is_issued(session):
    instance = _run(session, samples.issue_path("tenant")[:2])
    errors = _refused(session, instance.id, samples.payment("10.00"))
    assert "15.00" in errors["amount_received"]
    assert _open(session, instance.id) == ["record_payment"]
    assert _pass(session) is None
    assert _refused(session, instance.id, samples.payment("-5"))["amount_received"]


def test_pass_numbers_are_sequential_per_type_and_year(session):
    year = business_today().year
    numbers = [
        _pass(session, None).pass_no
        for pass_type in ("tenant", "tenant", "temporary", "tenant")
        if _run(session, samples.issue_path(pass_type))
    ]
    assert numbers == [f"ZU-{year}-0001", f"ZU-{year}-0002", f"LS-{year}-0001", f"ZU-{year}-0003"]
    with time_machine.travel(
        datetime(year + 1, 1, 2, 3, 0, tzinfo=datetime.now().astimezone().tzinfo)
    ):
        _run(session, samples.issue_path("tenant"))
        assert _pass(session).pass_no == f"ZU-{year + 1}-0001"


def test_pass_numbers_stay_unique_under_concurrent_issuers(p4_url):
    engine = make_engine(p4_url)
    factory = make_session_factory(engine)
    got: list[str] = []

    def issue_many():
        session = factory()
        for _ in range(15):
            got.append(perform(session, lambda s: next_pass_no(s, "temporary", 2030))[1])
        session.close()

    threads = [threading.Thread(target=issue_many) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    assert sorted(got) == [f"LS-2030-{n:04d}" for n in range(1, 46)]


# --- bad input at the form step ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("pass_type", "months", "limit"), [("tenant", 13, "12 个月"), ("temporary", 4, "3 个月")]
)
def test_validity_beyond_the_limit_is_refused_with_the_limit(session, pass_type, months, limit):
    instance = _run(session, [samples.request("issue", pass_type)])
    documents = {"tenant": samples.tenant, "temporary": samples.temporary}[pass_type]
    errors = _refused(session, instance.id, documents(months=months))
    assert limit in errors["valid_until"] and "最迟至" in errors["valid_until"]
    assert _open(session, instance.id) == [documents()[0]]
    assert _pass(session) is None


def test_tenant_pass_may_not_outlast_the_lease(session):
    instance = _run(session, [samples.request("issue", "tenant")])
    errors = _refused(session, instance.id, samples.tenant(months=12, lease_months=6))
    assert "租赁期" in errors["valid_until"]


def test_invalid_id_numbers_are_refused(session):
    instance = _run(session, [samples.request("issue", "resident")])
    for bad in (samples.INVALID_ID, "44030419850312123", "440304198513121235"):
        errors = _refused(session, instance.id, samples.resident(id_no=bad))
        assert "身份证号码" in errors["holder_id_no"]
    assert _pass(session) is None


def test_proxy_without_authorisation_is_refused(session):
    instance = _run(session, [samples.request("issue", "resident")])
    step, data = samples.resident(holder="王小明", id_no=samples.IDS[3], proxy=True)
    missing = {k: v for k, v in data.items() if k not in ("authorisation_signed", "owner_id_copy")}
    errors = _refused(session, instance.id, (step, missing))
    assert set(errors) >= {"authorisation_signed", "owner_id_copy"}
    someone_else = samples.resident(
        holder="王小明", id_no=samples.IDS[3], proxy=True, authorised_name="王大明"
    )
    assert "不一致" in _refused(session, instance.id, someone_else)["authorised_name"]
    scenarios.complete_step(
        session, instance.id, *samples.resident(holder="王小明", id_no=samples.IDS[3], proxy=True)
    )
    assert _pass(session).applicant_is_owner is False


def test_request_needs_a_known_active_pass(session):
    instance = scenarios.start(session, P4, "front_clerk")
    errors = _refused(session, instance.id, samples.request("renew", pass_no="ZU-2026-9999"))
    assert "不存在" in errors["pass_no"]
    resident = _run(session, samples.issue_path("resident"))
    assert resident.status == "completed"
    errors = _refused(
        session, instance.id, samples.request("renew", pass_no=_pass(session).pass_no)
    )
    assert "无需续办" in errors["pass_no"]


# --- renewal ------------------------------------------------------------------------------


def test_tenant_renewal_within_the_lease_extends_the_pass(session):
    _run(session, samples.issue_path("tenant", months=6))
    issued = _pass(session)
    new_until = add_months(issued.valid_until, 6)
    instance = _run(session, [samples.request("renew", pass_no=issued.pass_no)])
    assert _open(session, instance.id) == ["check_renewal"]
    errors = _refused(session, instance.id, samples.renewal(add_months(issued.valid_until, 13)))
    assert "12 个月" in errors["valid_until"]
    scenarios.complete_step(session, instance.id, *samples.renewal(new_until))
    data = runtime.instance_data(runtime.load_workflow(instance))
    assert data["amount_due"] == Decimal("2.00")
    assert _open(session, instance.id) == ["record_payment"]
    assert _pass(session, issued.pass_no).valid_until == issued.valid_until  # not before paying
    scenarios.complete_step(session, instance.id, *samples.payment("2.00", "SJ-RENEW-1"))
    renewed = _pass(session, issued.pass_no)
    assert renewed.valid_until == new_until and renewed.renewals == 1
    entry = session.scalar(select(DepositEntry).where(DepositEntry.kind == "renewal"))
    assert (entry.deposit, entry.fee) == (Decimal("0.00"), Decimal("2.00"))


def test_tenant_renewal_outside_the_lease_is_refused(session):
    _run(session, samples.issue_path("tenant", months=11, lease_months=12))
    issued = _pass(session)
    after_lease = issued.lease_end + timedelta(days=10)
    with time_machine.travel(datetime.combine(after_lease, datetime.min.time()).astimezone()):
        instance = _run(session, [samples.request("renew", pass_no=issued.pass_no)])
        until = after_lease + timedelta(days=90)
        errors = _refused(session, instance.id, samples.renewal(until))
        assert "不在租赁期内" in errors["lease_end"]
        # A new lease, checked by the clerk, makes the renewal possible again.
        new_lease_end = add_months(after_lease, 12)
        scenarios.complete_step(session, instance.id, *samples.renewal(until, new_lease_end))
        assert _open(session, instance.id) == ["record_payment"]


def test_temporary_renewal_costs_five(session):
    _run(session, samples.issue_path("temporary", months=1))
    issued = _pass(session)
    instance = _run(session, [samples.request("renew", pass_no=issued.pass_no)])
    scenarios.complete_step(
        session, instance.id, *samples.renewal(add_months(issued.valid_until, 2))
    )
    data = runtime.instance_data(runtime.load_workflow(instance))
    assert data["amount_due"] == Decimal("5.00")


# --- return and refund ----------------------------------------------------------------------


def test_tenant_return_goes_to_the_front_desk_then_the_cashier(session):
    _run(session, samples.issue_path("tenant"))
    issued = _pass(session)
    instance = _run(session, [samples.request("return", pass_no=issued.pass_no)])
    assert _open(session, instance.id) == ["take_back_pass"]
    assert scenarios.open_task(session, instance.id, "take_back_pass").candidate_roles == [
        "front_clerk"
    ]
    errors = _refused(session, instance.id, samples.take_back(receipt_noted=False))
    assert "收据" in errors["receipt_noted"]
    scenarios.complete_step(session, instance.id, *samples.take_back())
    assert _pass(session).status == "returned" and _pass(session).deposit_held == Decimal("10")
    assert _open(session, instance.id) == ["refund_deposit"]
    assert "10.00" in _refused(session, instance.id, samples.refund("15.00"))["refund_amount"]
    instance = scenarios.complete_step(session, instance.id, *samples.refund("10.00"))
    assert instance.status == "completed"
    returned = _pass(session)
    assert returned.deposit_held == 0 and pass_state(returned) == "returned"
    refund = session.scalar(select(DepositEntry).where(DepositEntry.kind == "refund"))
    assert refund.deposit == Decimal("-10.00") and refund.recorded_by == "cashier"


def test_temporary_return_goes_straight_to_the_cashier(session):
    _run(session, samples.issue_path("temporary"))
    issued = _pass(session)
    instance = _run(session, [samples.request("return", pass_no=issued.pass_no)], "cashier")
    assert _open(session, instance.id) == ["refund_deposit"]
    instance = scenarios.complete_step(session, instance.id, *samples.refund("10.00"))
    assert instance.status == "completed" and _pass(session).status == "returned"
    again = scenarios.start(session, P4, "cashier")
    errors = _refused(session, again.id, samples.request("return", pass_no=issued.pass_no))
    assert "已于" in errors["pass_no"]


def test_resident_return_needs_no_refund(session):
    _run(session, samples.issue_path("resident"))
    instance = _run(session, [samples.request("return", pass_no=_pass(session).pass_no)])
    instance = scenarios.complete_step(session, instance.id, *samples.take_back())
    assert instance.status == "completed" and _pass(session).status == "returned"


def test_deposit_ledger_balance_equals_deposits_held(session):
    for pass_type in ("tenant", "tenant", "temporary", "resident", "temporary"):
        _run(session, samples.issue_path(pass_type))
    passes = session.scalars(select(Pass).order_by(Pass.id)).all()
    tenant, temporary = passes[0], passes[2]
    _run(session, [samples.request("return", pass_no=tenant.pass_no), samples.take_back()])
    _run(session, [samples.request("return", pass_no=temporary.pass_no), samples.refund()])
    instance = scenarios.open_task(session, _last_instance(session), "refund_deposit")
    assert instance is not None  # the tenant's refund is still pending at the cashier
    lines = deposit_ledger(session)
    assert lines[-1].balance == deposits_held(session) == Decimal("30.00")
    scenarios.complete_step(session, _last_instance(session), *samples.refund())
    assert deposit_ledger(session)[-1].balance == deposits_held(session) == Decimal("20.00")
    fees = sum((line.entry.fee for line in deposit_ledger(session)), Decimal(0))
    assert fees == Decimal("20.00")


def _last_instance(session) -> int:
    return session.scalar(
        select(HumanTask.instance_id)
        .where(HumanTask.task_spec == "refund_deposit", HumanTask.status == TaskStatus.OPEN)
        .limit(1)
    )


# --- expiry ---------------------------------------------------------------------------------


def test_expiry_reminder_timer_fires_before_valid_until(session):
    instance = _run(session, samples.issue_path("tenant"))
    issued = _pass(session)
    assert instance.status == "running" and _open(session, instance.id) == []
    timer = session.scalar(select(Timer).where(Timer.instance_id == instance.id))
    expected = datetime.fromisoformat(f"{issued.valid_until - timedelta(days=14)}T09:00:00+08:00")
    assert timer.due_at == expected
    with time_machine.travel(expected + timedelta(minutes=1)):
        _fire_timers(session, instance.id)
        assert _open(session, instance.id) == ["remind_holder"]
        instance = scenarios.complete_step(session, instance.id, *samples.REMINDER)
    assert instance.status == "completed"
    with time_machine.travel(issued.valid_until + timedelta(days=1)):
        assert pass_state(_pass(session)) == "expired"


def test_no_reminder_for_a_returned_pass(session):
    instance = _run(session, samples.issue_path("temporary"))
    issued = _pass(session)
    _run(session, [samples.request("return", pass_no=issued.pass_no), samples.refund()], "cashier")
    due = session.scalar(select(Timer.due_at).where(Timer.instance_id == instance.id))
    with time_machine.travel(due + timedelta(minutes=1)):
        instance = _fire_timers(session, instance.id)
    assert session.get(ProcessInstance, instance.id).status == "completed"
    assert _open(session, instance.id) == []


def test_every_row_of_the_fee_table_is_reached(session):
    for pass_type in ("resident", "tenant", "temporary"):
        _run(session, samples.issue_path(pass_type))
    for pass_type in ("tenant", "temporary"):
        issued = session.scalar(
            select(Pass).where(Pass.pass_type == pass_type).order_by(Pass.id.desc())
        )
        _run(
            session,
            [
                samples.request("renew", pass_no=issued.pass_no),
                samples.renewal(add_months(issued.valid_until, 1)),
            ],
        )
    rules = {
        event.payload["rules"][0]["id"]
        for event in session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "decision:evaluate")
        )
    }
    assert rules == {
        "Rule_resident_issue",
        "Rule_tenant_issue",
        "Rule_tenant_renew",
        "Rule_temporary_issue",
        "Rule_temporary_renew",
    }
