"""Demo bookings of every meeting class in several states (`jiedai demo`).

Meetings are booked relative to now, so the register and the inboxes look current. Timers
that are already due (the day-before preparation of a meeting booked 13 hours ahead) are run
the way the timer worker would: a refresh of the instance in its own transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import runtime
from engine.db import perform
from engine.events import send_signal
from engine.identity import get_user
from engine.models import ProcessInstance, ProcessModel

from .. import scenarios
from . import MATERIAL_SIGNAL, PROCESS_ID, samples


def run_due_timers(session: Session, instance_id: int) -> ProcessInstance:
    """Fire what is due now on one instance (what the timer worker does), one transaction."""

    def refresh(s: Session) -> ProcessInstance:
        instance = runtime.load_instance(s, instance_id, for_update=True)
        workflow = runtime.load_workflow(instance)
        runtime.advance(s, instance, workflow, actor="system:timers", replay={"action": "steps"})
        return instance

    return perform(session, refresh)


def load_p2_demo(session: Session) -> int:
    """Create the demo bookings once (none if any P2 instance exists); returns how many."""
    exists = session.scalar(
        select(func.count())
        .select_from(ProcessInstance)
        .where(ProcessInstance.process_id == PROCESS_ID)
    )
    deployed = session.scalar(select(ProcessModel.id).where(ProcessModel.process_id == PROCESS_ID))
    if exists or deployed is None:
        return 0
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    later = now + timedelta(hours=13)  # ≥ 12 h ahead: not a temporary meeting

    def book(step) -> ProcessInstance:
        instance = scenarios.start(session, PROCESS_ID, "hotline")
        scenarios.complete_step(session, instance.id, *step)
        return instance

    # 1. A daily meeting two days ahead, waiting for the attendant's pre-meeting check.
    book(samples.booking(now + timedelta(days=2), unit="物业工程部", convener="赵主管"))
    # 2. A class-1 meeting with AV in three days: sheet issued, forms signed, waiting for the
    #    day before and the AV test.
    big = book(samples.class_1_booking(now + timedelta(days=3)))
    scenarios.complete_step(session, big.id, *samples.equipment_sheet())
    scenarios.complete_step(session, big.id, *samples.class_1_forms(now))
    # 3. A temporary meeting in an hour: the attendant must be in the room within 5 minutes.
    book(
        samples.booking(now + timedelta(hours=1), unit="销售部", convener="刘经理", room="main_18f")
    )
    # 4. A daily meeting in progress with an ad-hoc request delivered.
    meeting = book(samples.booking(later, room="annex_305", unit="人力资源部", headcount=8))
    scenarios.run_steps(session, meeting.id, [samples.PRE_MEETING])
    attendant = get_user(session, "meeting_attendant")
    perform(
        session,
        lambda s: send_signal(
            s, meeting.id, MATERIAL_SIGNAL, samples.material_request(), attendant
        ),
    )
    scenarios.complete_step(session, meeting.id, *samples.material_handled(accepted=True))
    # 5. Class-1 meetings (no AV) done: one awaiting payment after a reminder, one paid.
    for paid in (False, True):
        done = book(samples.class_1_booking(later, av=False, headcount=40))
        scenarios.complete_step(session, done.id, *samples.class_1_forms(now))
        run_due_timers(session, done.id)  # the day before is already here
        steps = [samples.ROOM_CHECKLIST, samples.PRE_MEETING, samples.SERVE, samples.reset()]
        steps += [samples.invoice(), samples.invoice_receipt(now)]
        scenarios.run_steps(session, done.id, steps)
        if paid:
            scenarios.complete_step(session, done.id, *samples.payment())
    return 6
