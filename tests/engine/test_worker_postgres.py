"""Timer workers on PostgreSQL: SKIP LOCKED, several real worker processes, one killed with
SIGKILL mid-firing, every timer fired exactly once; and the engine's P3 flow on PostgreSQL.

Each test creates and drops its own database (`tests/pg.py`: the server at `JIEDAI_TEST_PG_URL`,
default 127.0.0.1:5432, user root or postgres). Without a reachable server the tests skip with
the reason; with `CI=true` they fail instead."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from engine import audit_chain, timers
from engine.db import make_engine, make_session_factory
from engine.models import AuditEvent, HumanTask, ProcessInstance, TaskStatus, Timer
from engine.timers.firing import _claim
from workflows import scenarios
from workflows.p3 import PROCESS_ID as P3
from workflows.p3 import samples

from ..pg import p3_database

ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh database `jiedai_test_<random>`, migrated, with P3 and the demo users."""
    with p3_database() as url:
        yield url


@pytest.fixture
def pg_session(pg_url):
    engine = make_engine(pg_url)
    session = make_session_factory(engine)()
    yield session
    session.close()
    engine.dispose()


def _overdue_complaints(session, count: int) -> list[int]:
    """`count` complaints recorded ten days ago: their 2-working-day timers are due now."""
    ids = []
    with time_machine.travel(datetime.now(SHANGHAI) - timedelta(days=10), tick=False):
        for _ in range(count):
            instance = scenarios.start(session, P3, "front_clerk")
            scenarios.complete_step(session, instance.id, *samples.contact("complaint"))
            scenarios.complete_step(session, instance.id, *samples.complaint_record("security"))
            ids.append(instance.id)
    return ids


def test_the_p3_flow_runs_on_postgresql(pg_session):
    session = pg_session
    instance = scenarios.start(session, P3, "front_clerk")
    assert instance.status == "running"
    row = scenarios.open_task(session, instance.id, "record_contact")
    assert row.candidate_roles == ["front_clerk"]
    scenarios.complete_step(session, instance.id, *samples.contact("complaint"))
    scenarios.complete_step(session, instance.id, *samples.complaint_record("security"))
    assert scenarios.open_task(session, instance.id, "handle_complaint").due_at is not None
    assert session.scalar(select(func.count()).select_from(Timer)) == 1
    for step in samples.complaint_path("front_clerk")[2:]:
        scenarios.complete_step(session, instance.id, *step)
    session.rollback()
    assert session.get(ProcessInstance, instance.id).status == "completed"
    assert session.scalar(select(func.count()).select_from(Timer)) == 0
    assert audit_chain.verify(session).ok


def test_skip_locked_passes_over_an_instance_another_worker_holds(pg_url, pg_session):
    first, second = _overdue_complaints(pg_session, 2)
    engine = make_engine(pg_url)
    factory = make_session_factory(engine)
    holder = factory()
    try:
        holder.begin()
        held, locked = _claim(holder, None, datetime.now(SHANGHAI))
        assert held.instance_id == locked.id == first  # the earliest; its row is now locked
        started = time.monotonic()
        result = timers.fire_next(factory())
        assert time.monotonic() - started < 5  # did not wait for the lock
        assert result.instance_id == second and result.outcome == "fired"
        assert timers.fire_next(factory()) is None  # the held one is skipped, not waited for
        holder.rollback()
        assert timers.fire_next(factory()).instance_id == first
    finally:
        holder.close()
        engine.dispose()


class _Worker:
    """A real `jiedai worker` process whose log lines are collected by a thread."""

    def __init__(self, url: str, delay: float):
        env = {**os.environ, "DATABASE_URL": url, "JIEDAI_TEST_FIRING_DELAY": str(delay)}
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("jiedai")), "worker", "--poll", "0.2"],
            env=env,
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line.rstrip())

    def count(self, word: str) -> int:
        return sum(word in line for line in list(self.lines))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=20)
        self._reader.join(timeout=5)
        self.process.stderr.close()


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_three_workers_fire_every_timer_exactly_once_even_when_one_is_killed(pg_url, pg_session):
    session = pg_session
    instances = _overdue_complaints(session, 12)
    session.close()
    workers = [_Worker(pg_url, delay=0.4) for _ in range(3)]
    try:
        victim = workers[0]
        # Kill the first worker while it sleeps inside the transaction of its second firing.
        _wait_for(lambda: victim.count(": fired") >= 1, 60, "a first firing")
        _wait_for(lambda: victim.count("claimed; test delay") >= 2, 30, "a second claim")
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(timeout=20)

        def all_fired() -> bool:
            session.rollback()
            return session.scalar(select(func.count()).select_from(Timer)) == 0

        _wait_for(all_fired, 90, "every timer to fire")
        for worker in workers[1:]:
            worker.process.send_signal(signal.SIGTERM)
        for worker in workers[1:]:
            assert worker.process.wait(timeout=30) == 0, worker.lines
    finally:
        for worker in workers:
            worker.close()

    assert victim.process.returncode == -signal.SIGKILL
    assert any("timer worker stopped" in line for line in workers[1].lines)
    fired_by_victim = victim.count(": fired")
    assert victim.count("claimed; test delay") == fired_by_victim + 1  # one was cut short
    session.rollback()
    events = session.scalars(select(AuditEvent).where(AuditEvent.kind == "timer:fire")).all()
    per_timer = Counter(event.payload["task_guid"] for event in events)
    assert len(per_timer) == len(instances) and set(per_timer.values()) == {1}
    assert sorted(event.instance_id for event in events) == sorted(instances)
    escalations = session.scalars(
        select(HumanTask).where(
            HumanTask.task_spec == "escalate_overdue", HumanTask.status == TaskStatus.OPEN
        )
    ).all()
    assert sorted(row.instance_id for row in escalations) == sorted(instances)
    handling = session.scalar(
        select(func.count()).where(
            HumanTask.task_spec == "handle_complaint", HumanTask.status == TaskStatus.OPEN
        )
    )
    assert handling == len(instances)
    fired_lines = sum(worker.count(": fired") for worker in workers)
    assert fired_lines == len(instances)
    assert audit_chain.verify(session).ok
