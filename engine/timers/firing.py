"""Firing due timers: one transaction per firing, safe with several workers on PostgreSQL.

A firing claims one due timer by locking its row and its *instance* row with `FOR UPDATE
SKIP LOCKED` (SQLite: `BEGIN IMMEDIATE` already serializes writers). The claim never waits,
so it cannot deadlock; and anyone else who changes a timer's row for good (a completion that
cancels it, another firing) locks the instance first, so it waits for the firing to commit,
never the other way round. A timer whose instance is busy is simply skipped until the next
pass. A worker killed mid-firing leaves nothing behind: its transaction dies with its
connection and the timer is still due.

A firing that raises is rolled back and retried with backoff (`attempts`, `next_attempt_at`
on the timer row); the last attempt goes through `engine.db.perform`, so its failure becomes
an incident that a process owner retries from the instance page."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import TaskNotFoundException
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker, undefer

from .. import audit_chain, runtime
from .. import holidays as _holidays  # noqa: F401 — registers the calendar's session hooks
from ..db import WRITE_OPTION, perform
from ..errors import EngineStepFailed, InstanceFailed
from ..models import InstanceStatus, ProcessInstance, Timer, utcnow

log = logging.getLogger("jiedai.timers")

ACTOR = "system:worker"
DEFAULT_MAX_ATTEMPTS = 5
BACKOFF_BASE = 10.0  # seconds before the 2nd attempt; doubled for each further one
BACKOFF_CAP = 600.0
#: Test-only: seconds a firing sleeps inside its transaction (to kill a worker mid-firing).
DELAY_SETTING = "JIEDAI_TEST_FIRING_DELAY"


@dataclass
class FireResult:
    """What became of one claimed timer: fired, skipped, retry (will try again) or incident."""

    timer_id: int
    instance_id: int
    task_spec: str
    outcome: str
    lateness: float = 0.0  # seconds between due time and firing
    error: str | None = None

    def describe(self) -> str:
        text = (
            f"timer {self.timer_id} ({self.task_spec}) of instance {self.instance_id}: "
            f"{self.outcome}"
        )
        if self.outcome == "fired":
            text += f", {self.lateness:.2f} s late"
        return text + (f" — {self.error}" if self.error else "")


class _NotDueYet(Exception):
    """SpiffWorkflow left the timer waiting: the firing is rolled back."""


class _RetryLater(Exception):
    """A failed attempt that is not the last: rolled back without an incident."""

    def __init__(self, cause: BaseException):
        super().__init__(str(cause))
        self.cause = cause


def backoff(attempts: int) -> timedelta:
    """Delay after the `attempts`-th failure: 10 s, 20 s, 40 s... at most 10 minutes."""
    return timedelta(seconds=min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP))


def due_query(now: datetime):
    """Due timers of running instances, earliest first (the claim adds the lock)."""
    return (
        select(Timer.id)
        .join(ProcessInstance, ProcessInstance.id == Timer.instance_id)
        .where(
            # Strictly earlier: SpiffWorkflow fires a timer only once its time has passed.
            Timer.due_at < now,
            or_(Timer.next_attempt_at.is_(None), Timer.next_attempt_at <= now),
            ProcessInstance.status == InstanceStatus.RUNNING,
        )
        .order_by(Timer.due_at, Timer.id)
    )


def next_due_at(session: Session) -> datetime | None:
    """When the earliest timer of a running instance is next due (or retried)."""
    rows = session.execute(
        select(Timer.due_at, Timer.next_attempt_at)
        .join(ProcessInstance, ProcessInstance.id == Timer.instance_id)
        .where(ProcessInstance.status == InstanceStatus.RUNNING)
        .order_by(Timer.due_at)
        .limit(50)
    ).all()
    session.rollback()  # why: end the read so a sleeping worker holds no snapshot or lock
    times = [max(due, retry) if retry else due for due, retry in rows]
    return min(times, default=None)


def fire_due_timers(
    session_factory: sessionmaker[Session],
    *,
    now: datetime | None = None,
    limit: int = 100,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    should_stop: Callable[[], bool] = lambda: False,
    on_result: Callable[[FireResult], None] | None = None,
) -> list[FireResult]:
    """Fire up to `limit` due timers, each in its own transaction; stop early if asked."""
    results: list[FireResult] = []
    with session_factory() as session:
        while len(results) < limit and not should_stop():
            # After a firing more is likely due: claim at once (two round trips fewer per
            # firing); a claim that finds nothing ends the batch all the same.
            look_first = not results or results[-1].outcome != "fired"
            result = fire_next(session, now=now, max_attempts=max_attempts, look_first=look_first)
            if result is None:
                break
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results


def fire_next(
    session: Session,
    *,
    now: datetime | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    look_first: bool = True,
) -> FireResult | None:
    """Claim and fire the earliest due timer; None when nothing is due."""
    if look_first:
        # A plain read first: an idle worker must not take SQLite's write lock on every poll.
        anything_due = session.scalar(due_query(now or utcnow()).limit(1))
        session.rollback()
        if anything_due is None:
            return None
    return fire_timer(session, None, now=now, max_attempts=max_attempts)


def fire_timer(
    session: Session,
    timer_id: int | None,
    *,
    now: datetime | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> FireResult | None:
    """Fire timer `timer_id` (None: the earliest due one) in one transaction.

    Returns None when there was nothing to claim (not due, or its instance is locked by
    another worker). Failures are retried later with backoff; the last one is an incident."""
    claimed: dict = {}

    def action(s: Session) -> FireResult | None:
        return _fire_in_transaction(s, timer_id, now, max_attempts, claimed)

    try:
        if session.in_transaction():
            session.rollback()
        return perform(session, action)
    except _RetryLater as retry:
        return _schedule_retry(session, claimed, retry.cause)
    except _NotDueYet:
        _postpone(session, claimed["timer_id"])
        return _result(claimed, "not_due")
    except InstanceFailed as failed:
        _reset_attempts(session, claimed["timer_id"])
        return _result(claimed, "incident", error=failed.failure.message)


def _fire_in_transaction(
    session: Session, timer_id: int | None, now: datetime | None, max_attempts: int, claimed
) -> FireResult | None:
    now = now or utcnow()
    found = _claim(session, timer_id, now)
    if found is None:
        return None
    timer, instance = found
    claimed.update(
        timer_id=timer.id,
        instance_id=timer.instance_id,
        task_spec=timer.task_spec,
        attempts=timer.attempts,
        due_at=timer.due_at,
    )
    final = timer.attempts + 1 >= max_attempts
    try:
        return _fire(session, timer, instance, now)
    except _NotDueYet:
        raise
    except EngineStepFailed as failure:
        if final:
            raise  # perform rolls back and records the incident
        raise _RetryLater(failure) from failure
    except Exception as exc:  # noqa: BLE001 — any failure of a firing is retried, then an incident
        if final:
            raise EngineStepFailed(
                instance_id=timer.instance_id,
                message=f"{type(exc).__name__}: {exc}"[:2000],
                task_spec=timer.task_spec,
                replay={"action": "steps"},
            ) from exc
        raise _RetryLater(exc) from exc


def _claim(
    session: Session, timer_id: int | None, now: datetime
) -> tuple[Timer, ProcessInstance] | None:
    """Lock the earliest due timer (or `timer_id`) and its instance; None if none is free."""
    query = due_query(now).with_only_columns(Timer, ProcessInstance)
    if timer_id is not None:
        query = query.where(Timer.id == timer_id)
    # Both rows, never waiting (see the module docstring); SQLite ignores this. A row that
    # another worker fired (or retried) between our snapshot and our lock is re-read by
    # PostgreSQL and skipped when it no longer qualifies, so what comes back is current,
    # the instance's state included: one statement claims and loads.
    found = session.execute(
        query.options(undefer(ProcessInstance.state_json))
        .limit(1)
        .with_for_update(of=(Timer, ProcessInstance), skip_locked=True)
        .execution_options(populate_existing=True)
    ).first()
    return None if found is None else (found[0], found[1])


def _fire(session: Session, timer: Timer, instance: ProcessInstance, now: datetime) -> FireResult:
    result = FireResult(timer.id, instance.id, timer.task_spec, "fired")
    if instance.status != InstanceStatus.RUNNING:
        session.delete(timer)  # the claim filters these out; kept for a direct fire_timer
        result.outcome = "skipped"
        return result
    delay = float(os.environ.get(DELAY_SETTING) or 0)
    if delay:
        log.info("timer %s of instance %s claimed; test delay %.1f s", timer.id, instance.id, delay)
        time.sleep(delay)
    result.lateness = max((now - timer.due_at).total_seconds(), 0.0)
    timer_guid, due_at = timer.task_guid, timer.due_at
    workflow = runtime.load_workflow_for_change(session, instance)
    spiff_due = _workflow_due(workflow, timer_guid)
    if spiff_due is None:  # a stale projection: the workflow no longer waits on it
        session.delete(timer)
        result.outcome = "skipped"
        return result
    if spiff_due >= now:
        # The projection is ahead of SpiffWorkflow's own time for it (it fires only after
        # its time has passed): look again shortly rather than spinning on it.
        raise _NotDueYet()
    # Recorded first, so the chain reads: the timer fired, then what it caused.
    audit_chain.record(
        session,
        "timer:fire",
        actor=ACTOR,
        instance_id=instance.id,
        task=timer.task_spec,
        version_id=instance.version_id,
        payload={
            "timer": timer.id,
            "task_guid": timer_guid,
            "due_at": due_at.isoformat(),
            "attempt": timer.attempts + 1,
        },
    )
    runtime.advance(session, instance, workflow, actor=ACTOR, replay={"action": "steps"})
    if instance.status != InstanceStatus.RUNNING:
        return result  # ended: the projection removed every timer, none was re-armed
    session.flush()  # why: the projection's delete of the fired timer must be visible below
    left = session.scalar(
        select(Timer).where(Timer.task_guid == timer_guid).execution_options(populate_existing=True)
    )
    if left is not None:  # a cycle timer, re-armed for its next time
        left.attempts, left.next_attempt_at, left.last_error = 0, None, None
    return result


def _schedule_retry(session: Session, claimed: dict, cause: BaseException) -> FireResult:
    """In a transaction of its own (the firing was rolled back): count the attempt."""
    message = (str(cause) or type(cause).__name__)[:2000]

    def count(s: Session) -> None:
        timer = s.get(Timer, claimed["timer_id"], populate_existing=True)
        if timer is None:
            return
        timer.attempts += 1
        timer.last_error = message
        timer.next_attempt_at = utcnow() + backoff(timer.attempts)

    _write(session, count)
    log.warning(
        "timer %s failed (attempt %s): %s", claimed["timer_id"], claimed["attempts"] + 1, message
    )
    return _result(claimed, "retry", error=message)


def _workflow_due(workflow, task_guid: str) -> datetime | None:
    """When SpiffWorkflow itself will fire the timer event `task_guid` (None: not waiting)."""
    try:
        task = workflow.get_task_from_id(UUID(task_guid))
    except TaskNotFoundException:
        return None
    if task is None:  # sub-process lookups answer None rather than raising
        return None
    value = task._get_internal_data("event_value")
    if isinstance(value, dict):  # a cycle timer: its next firing
        value = value.get("next") if value.get("cycles") != 0 else None
    return TimerEventDefinition.get_datetime(value) if value else None


def _postpone(session: Session, timer_id: int) -> None:
    def later(s: Session) -> None:
        timer = s.get(Timer, timer_id, populate_existing=True)
        if timer is not None:
            timer.next_attempt_at = utcnow() + timedelta(seconds=BACKOFF_BASE)

    _write(session, later)


def _reset_attempts(session: Session, timer_id: int) -> None:
    """After the incident: a retry from the UI, or a later firing, starts counting afresh."""

    def reset(s: Session) -> None:
        timer = s.get(Timer, timer_id, populate_existing=True)
        if timer is not None:
            timer.attempts, timer.next_attempt_at = 0, None

    _write(session, reset)


def _write(session: Session, change: Callable[[Session], None]) -> None:
    if session.in_transaction():
        session.rollback()
    with session.begin():
        session.connection(execution_options={WRITE_OPTION: True})
        change(session)


def _result(claimed: dict, outcome: str, error: str | None = None) -> FireResult:
    return FireResult(
        claimed["timer_id"], claimed["instance_id"], claimed["task_spec"], outcome, error=error
    )
