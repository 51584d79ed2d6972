"""Reminders reach people: who is told when a timer fires, a task is assigned or falls overdue,
and the e-mail outbox delivered to a real SMTP server (aiosmtpd) after the commit."""

from __future__ import annotations

import email
import email.policy
import socket
import time
from datetime import datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest
import time_machine
from aiosmtpd.controller import Controller
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from engine import notifications, timers
from engine.db import make_engine, make_session_factory, perform
from engine.duties import _duties, run_due_duties
from engine.identity import get_user
from engine.models import User
from engine.notifications import EmailStatus, Kind, Notification
from workflows import scenarios
from workflows.demo import DEMO_MAIL_DOMAIN
from workflows.p3 import PROCESS_ID as P3
from workflows.p3 import samples

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Friday 20 Nov 2026 10:00: the complaint's two working days end Tuesday 24 Nov 10:00.
RECORDED = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
DUE = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
BASE_URL = "http://jiedai.test:8080"
# Far past any earlier run of the worker's duties in this process (their clock is monotonic).
_duty_clock = count(int(time.monotonic()) + 10**9, 10**6)


@pytest.fixture
def factory(p3_url):
    engine = make_engine(p3_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture(autouse=True)
def duty_clock_restored():
    """Running the worker's duties far in the future must not hold them back for later
    tests that run them at their own `now`."""
    before = {name: duty.last_run for name, duty in _duties.items()}
    yield
    for name, last_run in before.items():
        _duties[name].last_run = last_run


@pytest.fixture(autouse=True)
def no_smtp(monkeypatch):
    for name in ("SMTP_HOST", "SMTP_PORT", "SMTP_SSL", "SMTP_STARTTLS", "SMTP_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JIEDAI_BASE_URL", BASE_URL + "/")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Inbox:
    """An aiosmtpd handler keeping every message it is given."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        self.recipients += envelope.rcpt_tos
        return "250 Message accepted"


@pytest.fixture
def smtp_server(monkeypatch):
    """A local SMTP server on a free port, and the SMTP_* settings pointing at it."""
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(port))
    monkeypatch.setenv("SMTP_FROM", "reminders@jiedai.example")
    yield inbox
    controller.stop()


def _complaint(session):
    with time_machine.travel(RECORDED, tick=False):
        instance = scenarios.start(session, P3, "front_clerk")
        scenarios.complete_step(session, instance.id, *samples.contact("complaint"))
        scenarios.complete_step(session, instance.id, *samples.complaint_record("security"))
    return instance


def _escalated(session, factory):
    instance = _complaint(session)
    with time_machine.travel(DUE + timedelta(seconds=3), tick=False):
        assert [r.outcome for r in timers.fire_due_timers(factory)] == ["fired"]
    session.rollback()  # a fresh snapshot: the worker committed in its own sessions
    return instance, scenarios.open_task(session, instance.id, "escalate_overdue")


def _told(session, **where) -> list[tuple[str, str]]:
    query = select(User.username, Notification.kind).join(User, User.id == Notification.user_id)
    for name, value in where.items():
        query = query.where(getattr(Notification, name) == value)
    return sorted(session.execute(query).tuples())


def _project_managers(session) -> list[str]:
    return sorted(u.username for u in notifications.eligible_users(session, ["project_manager"]))


# --- who is told ----------------------------------------------------------------------------


def test_the_p3_escalation_timer_tells_every_project_manager(session, factory):
    perform(session, lambda s: _add_second_project_manager(s))
    instance, escalation = _escalated(session, factory)

    told = _told(session, human_task_id=escalation.id)
    assert (
        [name for name, _kind in told] == _project_managers(session) == ["pm2", "project_manager"]
    )
    assert {kind for _name, kind in told} == {Kind.TIMER}
    row = session.scalar(select(Notification).where(Notification.human_task_id == escalation.id))
    assert row.instance_id == instance.id and row.read_at is None
    assert row.params["key"] == instance.business_key and row.params["task"] == "督办逾期投诉"
    assert row.headline("zh_CN") == "到时提醒：督办逾期投诉"
    assert row.email_status == EmailStatus.OFF  # no SMTP_HOST: in-app only
    # Nobody else heard of it: the front clerk's own steps told no one.
    assert _told(session) == told


def _add_second_project_manager(session):
    from engine.identity import create_user

    create_user(session, "pm2", "Second PM", "pm2-pass-2026", ["project_manager"], "management")


def test_the_designated_return_visitor_is_told_but_not_who_designated_themselves(session):
    instance = _complaint(session)
    path = samples.complaint_path("front_clerk")
    scenarios.run_steps(session, instance.id, path[2:6])  # ...designate_return_visit
    visit = scenarios.open_task(session, instance.id, "return_visit")

    assert _told(session, human_task_id=visit.id) == [("front_clerk", Kind.ASSIGNED)]

    again = _complaint(session)
    scenarios.run_steps(session, again.id, path[2:5])
    scenarios.complete_step(session, again.id, *samples.designate("manager_assistant"))
    own = scenarios.open_task(session, again.id, "return_visit")
    assert own.assignee_id == get_user(session, "manager_assistant").id
    assert _told(session, human_task_id=own.id) == []  # they are looking at it already


def test_an_overdue_task_tells_its_department_supervisor_once(session, factory):
    instance = _complaint(session)
    handle = scenarios.open_task(session, instance.id, "handle_complaint")
    assert handle.due_at == DUE

    with time_machine.travel(DUE - timedelta(minutes=1), tick=False):
        assert perform(session, notifications.tell_overdue) == 0
    with time_machine.travel(DUE + timedelta(minutes=1), tick=False):
        assert perform(session, notifications.tell_overdue) == 1
        assert perform(session, notifications.tell_overdue) == 0  # once per task

    # Only the security supervisor may work on it: the other departments' are not told.
    assert _told(session, human_task_id=handle.id) == [("sup_security", Kind.OVERDUE)]


def test_an_overdue_claimed_task_tells_only_its_claimant(session, factory):
    perform(session, lambda s: _add_security_supervisor(s))
    instance = _complaint(session)
    handle = scenarios.open_task(session, instance.id, "handle_complaint")
    claimant = get_user(session, "sup_security2")
    perform(session, lambda s: _claim(s, handle.id, claimant))

    with time_machine.travel(DUE + timedelta(minutes=1), tick=False):
        assert run_due_duties(factory, now=next(_duty_clock)) == [
            "notifications.overdue: told 1 people about overdue tasks"
        ]
    assert _told(session, human_task_id=handle.id) == [("sup_security2", Kind.OVERDUE)]


def _add_security_supervisor(session):
    from engine.identity import create_user

    create_user(
        session, "sup_security2", "Deputy", "sup2-pass-2026", ["dept_supervisor"], "security"
    )


def _claim(session, task_id, user):
    from engine import runtime

    runtime.claim_task(session, task_id, user)


@pytest.fixture
def p1_reminder_fired(procedure_url):
    """A P1 visit on 10 Dec 2026 whose publicity department has not confirmed its preparation
    when the reminder timer fires (09:00 Beijing the day before), and the overdue duty run."""
    from datetime import UTC, date

    from workflows.p1 import PROCESS_ID as P1
    from workflows.p1 import samples as p1

    engine = make_engine(procedure_url("p1_official_visit"))
    factory = make_session_factory(engine)
    session = factory()
    instance = scenarios.start(session, P1, "reception_officer")
    steps = p1.path_to_preparation("routine", ["president_office", "publicity_dept"])
    steps[0] = p1.registration("routine", visit_from=date(2026, 12, 10))
    scenarios.run_steps(session, instance.id, steps)
    scenarios.complete_step(session, instance.id, *p1.CONFIRM, username="liaison_president_office")
    late = scenarios.open_task(session, instance.id, "confirm_preparation")
    assert late.candidate_department == "publicity_dept"
    reminder_at = datetime(2026, 12, 9, 1, 0, tzinfo=UTC)
    with time_machine.travel(reminder_at + timedelta(minutes=1), tick=False):
        assert [r.outcome for r in timers.fire_due_timers(factory)] == ["fired"]
        perform(session, notifications.tell_overdue)
    session.rollback()
    yield session, instance, late, reminder_at
    session.close()
    engine.dispose()


def test_p1_the_day_before_the_visit_the_party_office_is_told(p1_reminder_fired):
    """PROCEDURES.md P1: "remind the department and notify party_office". The diagram's timer
    opens 督促落实接待准备 in the party office's lane, so every party-office person is told by
    the timer rule; nothing P1-specific is needed for them."""
    session, instance, _late, _at = p1_reminder_fired
    follow_up = scenarios.open_task(session, instance.id, "follow_up_preparation")
    party_office = sorted(u.username for u in notifications.people_for(session, follow_up))
    assert party_office
    assert _told(session, human_task_id=follow_up.id) == [
        (name, Kind.TIMER) for name in party_office
    ]


def test_p1_the_department_that_has_not_confirmed_is_told_it_is_overdue(p1_reminder_fired):
    session, _instance, late, reminder_at = p1_reminder_fired
    assert late.due_at == reminder_at
    assert _told(session, human_task_id=late.id) == [("liaison_publicity_dept", Kind.OVERDUE)]


def test_no_person_is_told_twice_about_the_same_task(session, factory):
    _instance, escalation = _escalated(session, factory)
    manager = get_user(session, "project_manager")
    assert perform(session, lambda s: _notify(s, manager, escalation.id, Kind.TIMER)) is False
    # The database refuses a duplicate that slipped past the check.
    with pytest.raises(IntegrityError):
        perform(session, lambda s: _insert_duplicate(s, manager.id, escalation))
    session.rollback()
    told = session.scalar(
        select(func.count()).where(
            Notification.user_id == manager.id, Notification.human_task_id == escalation.id
        )
    )
    assert told == 1


def _notify(session, user, task_id, kind) -> bool:
    task = session.get(notifications.HumanTask, task_id)
    return notifications.notify(session, session.get(User, user.id), task, kind) is not None


def _insert_duplicate(session, user_id, task):
    session.add(
        Notification(
            user_id=user_id,
            kind=Kind.TIMER,
            human_task_id=task.id,
            instance_id=task.instance_id,
            params={},
            email_status=EmailStatus.OFF,
        )
    )
    session.flush()


# --- e-mail ---------------------------------------------------------------------------------


def test_the_escalation_is_emailed_after_the_commit_with_a_link_to_the_task(
    session, factory, smtp_server
):
    instance, escalation = _escalated(session, factory)
    row = session.scalar(select(Notification).where(Notification.human_task_id == escalation.id))
    assert row.email_status == EmailStatus.PENDING
    assert smtp_server.messages == []  # nothing is sent inside the firing's transaction

    with time_machine.travel(DUE + timedelta(minutes=1), tick=False):
        done = run_due_duties(factory, now=next(_duty_clock))
        # The overdue complaint itself was noticed by the other duty of the same pass.
        done += run_due_duties(factory, now=next(_duty_clock))

    assert any(line.startswith("notifications.email: ") for line in done)
    letters = dict(zip(smtp_server.recipients, smtp_server.messages, strict=True))
    assert sorted(letters) == [
        f"project_manager@{DEMO_MAIL_DOMAIN}",
        f"sup_security@{DEMO_MAIL_DOMAIN}",
    ]
    message = letters[f"project_manager@{DEMO_MAIL_DOMAIN}"]
    key = instance.business_key
    assert message["Subject"].startswith(f"【接待】到时提醒：督办逾期投诉（{key}）")
    assert f"Reminder: 督办逾期投诉 ({key})" in message["Subject"]
    assert "reminders@jiedai.example" in message["From"]
    body = message.get_content()
    link = f"{BASE_URL}/tasks/{escalation.id}"
    assert f"办理：{link}" in body and f"Open the task: {link}" in body
    assert body.index("您好") < body.index("Hello")  # zh_CN first
    overdue = letters[f"sup_security@{DEMO_MAIL_DOMAIN}"]
    handle = scenarios.open_task(session, instance.id, "handle_complaint")
    assert f"【接待】任务已逾期：处理投诉（{key}）" in overdue["Subject"]
    assert f"{BASE_URL}/tasks/{handle.id}" in overdue.get_content()
    session.rollback()  # a fresh snapshot: the worker committed in its own sessions
    row = session.get(Notification, row.id)
    assert row.email_status == EmailStatus.SENT and row.email_sent_at is not None
    assert row.email_attempts == 1 and row.email_error is None
    # Sent once: the outbox has nothing due any more.
    with time_machine.travel(DUE + timedelta(minutes=2), tick=False):
        assert run_due_duties(factory, now=next(_duty_clock)) == []
    assert len(smtp_server.messages) == 2


def test_a_person_without_an_address_gets_the_notification_only(session, factory, smtp_server):
    perform(
        session, lambda s: setattr(s.get(User, get_user(s, "project_manager").id), "email", None)
    )
    _instance, escalation = _escalated(session, factory)
    row = session.scalar(select(Notification).where(Notification.human_task_id == escalation.id))
    assert row.email_status == EmailStatus.NO_ADDRESS
    assert notifications.deliver_outbox(factory) == (0, 0)
    assert smtp_server.messages == []


def test_an_unreachable_server_is_retried_with_backoff_then_given_up(session, factory, monkeypatch):
    port = _free_port()  # nobody listens there
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(port))
    _instance, escalation = _escalated(session, factory)
    manager = get_user(session, "project_manager")
    start = DUE + timedelta(minutes=1)

    assert notifications.deliver_outbox(factory, now=start) == (0, 1)

    session.rollback()
    row = session.scalar(select(Notification).where(Notification.human_task_id == escalation.id))
    assert row.email_status == EmailStatus.PENDING and row.email_attempts == 1
    assert "ConnectionRefusedError" in row.email_error
    assert row.read_at is None and notifications.unread_count(session, manager.id) == 1
    # Not again before the backoff has passed (1 minute after the first failure).
    assert notifications.deliver_outbox(factory, now=start + timedelta(seconds=30)) == (0, 0)

    # The server comes up on that port: the next try after the backoff gets through.
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    later = start + timedelta(minutes=2)
    try:
        assert notifications.deliver_outbox(factory, now=later) == (1, 0)
    finally:
        controller.stop()
    session.rollback()  # a fresh snapshot: the worker committed in its own sessions
    assert session.get(Notification, row.id).email_status == EmailStatus.SENT
    assert len(inbox.messages) == 1

    # Another letter fails every time: after MAX_EMAIL_ATTEMPTS tries it is given up.
    with time_machine.travel(later, tick=False):
        other = perform(session, lambda s: _notify_overdue(s, manager.id, escalation.id))
    when = later
    for attempt in range(1, notifications.MAX_EMAIL_ATTEMPTS + 1):
        when += notifications.email_backoff(attempt) + timedelta(seconds=1)
        assert notifications.deliver_outbox(factory, now=when) == (0, 1)
    session.rollback()  # a fresh snapshot: the worker committed in its own sessions
    given_up = session.get(Notification, other)
    assert given_up.email_status == EmailStatus.FAILED
    assert given_up.email_attempts == notifications.MAX_EMAIL_ATTEMPTS
    assert notifications.deliver_outbox(factory, now=when + timedelta(days=1)) == (0, 0)


def _notify_overdue(session, user_id, task_id) -> int:
    task = session.get(notifications.HumanTask, task_id)
    return notifications.notify(session, session.get(User, user_id), task, Kind.OVERDUE).id


def test_email_backoff_doubles_up_to_an_hour():
    assert [notifications.email_backoff(n).total_seconds() for n in (1, 2, 3, 8)] == [
        60,
        120,
        240,
        3600,
    ]


def test_smtp_settings_are_read_from_the_environment():
    from engine.mail import smtp_settings

    assert smtp_settings({}) is None
    plain = smtp_settings({"SMTP_HOST": "mail.example"})
    assert (plain.port, plain.starttls, plain.use_ssl) == (25, False, False)
    tls = smtp_settings({"SMTP_HOST": "m", "SMTP_STARTTLS": "1", "SMTP_USERNAME": "u"})
    assert (tls.port, tls.starttls, tls.username) == (587, True, "u")
    assert smtp_settings({"SMTP_HOST": "m", "SMTP_SSL": "true"}).port == 465
    with pytest.raises(ValueError, match="SMTP_PORT"):
        smtp_settings({"SMTP_HOST": "m", "SMTP_PORT": "twenty-five"})
