"""The audit chain: events exist exactly when their change commits, `verify` finds each kind of
tampering at the right event, and several processes appending at once never fork the chain
(a SQLite file and PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from engine import audit_chain
from engine.audit_chain import _canonical_row, canonical_json, event_document
from engine.db import make_engine, make_session_factory, perform
from engine.models import AuditEvent
from engine.schema import migrate

from ..pg import pg_database

REPO_ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 4
EVENTS_PER_PROCESS = 60


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'chain.sqlite3'}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    return url


@pytest.fixture
def session(sqlite_url):
    engine = make_engine(sqlite_url)
    session = make_session_factory(engine)()
    yield session
    session.close()
    engine.dispose()


def _append(session, count: int, actor: str = "clerk") -> None:
    for i in range(count):
        perform(
            session,
            lambda s, i=i: audit_chain.record(
                s,
                "task:complete",
                actor=actor,
                role="front_clerk",
                instance_id=i // 3 + 1,
                task="record_contact",
                version_id=1,
                payload={"human_task": i, "data": {"comment": f"意见 {i}", "n": i}},
            ),
        )


# --- writing --------------------------------------------------------------------------------


def test_events_are_chained_in_order(session):
    _append(session, 5)
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == audit_chain.GENESIS_HASH
    for before, after in zip(events, events[1:], strict=False):
        assert after.prev_hash == before.hash
    for event in events:
        assert event.hash == audit_chain.compute_hash(event.prev_hash, event_document(event))
    assert audit_chain.head(session) == (5, events[-1].hash)
    result = audit_chain.verify(session)
    assert result.ok and result.count == 5 and result.head_hash == events[-1].hash
    assert result.describe() == f"OK 5 events, head {events[-1].hash}"


def test_a_rolled_back_change_leaves_no_event(session):
    _append(session, 2)

    def failing(s):
        audit_chain.record(s, "task:complete", actor="clerk", payload={})
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        perform(session, failing)
    _append(session, 1)
    assert session.scalars(select(AuditEvent.seq)).all() == [1, 2, 3]
    assert audit_chain.verify(session).ok


def test_fast_canonical_form_matches_the_convention():
    """`verify`'s direct assembly gives exactly `canonical_json(event_document(...))`."""
    cases = [
        (datetime(2026, 5, 1, 8, 0, 0, tzinfo=UTC), "2026-05-01 08:00:00.000000"),
        (datetime(2026, 5, 1, 8, 0, 0, 123, tzinfo=UTC), "2026-05-01 08:00:00.000123"),
    ]
    for at, stored in cases:
        for role, instance, task in [("auditor", 7, "t"), (None, None, None)]:
            event = AuditEvent(
                seq=12,
                at=at,
                actor='王"小\\丽\n',
                role=role,
                instance_id=instance,
                task=task,
                version_id=None,
                kind="task:complete",
                payload={"b": [1, 2.5, None, True], "a": {"评论": "同意\u2028"}},
            )
            expected = canonical_json(event_document(event)).decode("utf-8")
            raw = (12, stored, event.actor, role, instance, task, None, event.kind)
            assert _canonical_row(*raw, event.payload) == expected
            # As SQLAlchemy stores it on SQLite (ASCII escapes, default separators) and as a dict.
            assert _canonical_row(*raw, json.dumps(event.payload)) == expected


# --- tampering ------------------------------------------------------------------------------


def _tamper(session, *statements) -> None:
    if session.in_transaction():
        session.rollback()
    with session.begin():
        for statement in statements:
            session.execute(statement)


def _broken(session) -> tuple[int | None, str | None]:
    session.expire_all()
    result = audit_chain.verify(session)
    assert not result.ok
    assert result.describe().startswith(f"BROKEN at event {result.broken_seq}")
    return result.broken_seq, result.damage


def test_an_edited_payload_is_found(session):
    _append(session, 8)
    _tamper(
        session,
        update(AuditEvent).where(AuditEvent.seq == 5).values(payload={"data": {"n": 999}}),
    )
    assert _broken(session) == (5, "edited")


def test_an_edited_and_rehashed_event_is_found(session):
    _append(session, 8)
    row = session.get(AuditEvent, 5)
    row.payload = {"data": {"comment": "改过"}}
    forged = audit_chain.compute_hash(row.prev_hash, event_document(row))
    session.rollback()
    _tamper(
        session,
        update(AuditEvent)
        .where(AuditEvent.seq == 5)
        .values(payload={"data": {"comment": "改过"}}, hash=forged),
    )
    assert _broken(session) == (5, "edited")


def test_a_deleted_event_is_found(session):
    _append(session, 8)
    _tamper(session, delete(AuditEvent).where(AuditEvent.seq == 4))
    assert _broken(session) == (4, "deleted")


def test_a_deleted_last_event_is_found(session):
    _append(session, 8)
    _tamper(session, delete(AuditEvent).where(AuditEvent.seq == 8))
    assert _broken(session) == (8, "deleted")


def test_a_deleted_event_with_the_rest_renumbered_is_found(session):
    _append(session, 8)
    _tamper(
        session,
        delete(AuditEvent).where(AuditEvent.seq == 4),
        update(AuditEvent).where(AuditEvent.seq > 4).values(seq=-AuditEvent.seq + 1),
        update(AuditEvent).where(AuditEvent.seq < 0).values(seq=-AuditEvent.seq),
    )
    assert _broken(session) == (4, "deleted")


def _forged_row(session, seq: int, prev_hash: str) -> dict:
    event = AuditEvent(
        seq=seq,
        at=datetime.now(UTC),
        actor="mallory",
        role="director",
        instance_id=1,
        task="approve",
        version_id=1,
        kind="task:complete",
        payload={"data": {"decision": "approve", "comment": "补签"}},
    )
    digest = audit_chain.compute_hash(prev_hash, event_document(event))
    return {
        "seq": seq,
        "at": event.at,
        "actor": event.actor,
        "role": event.role,
        "instance_id": 1,
        "task": event.task,
        "version_id": 1,
        "kind": event.kind,
        "payload": event.payload,
        "prev_hash": prev_hash,
        "hash": digest,
    }


def test_an_inserted_event_is_found(session):
    """A forged approval slipped in as event 4, hashed correctly onto event 3, the later
    events renumbered: the chain breaks right after it."""
    _append(session, 8)
    prev = session.get(AuditEvent, 3).hash
    session.rollback()
    _tamper(
        session,
        update(AuditEvent).where(AuditEvent.seq >= 4).values(seq=-AuditEvent.seq - 1),
        update(AuditEvent).where(AuditEvent.seq < 0).values(seq=-AuditEvent.seq),
    )
    with session.begin():
        session.execute(AuditEvent.__table__.insert(), [_forged_row(session, 4, prev)])
    assert _broken(session) == (4, "inserted")


def test_an_event_appended_behind_the_head_is_found(session):
    _append(session, 5)
    prev = session.get(AuditEvent, 5).hash
    session.rollback()
    with session.begin():
        session.execute(AuditEvent.__table__.insert(), [_forged_row(session, 6, prev)])
    assert _broken(session) == (6, "inserted")


def test_two_swapped_events_are_found(session):
    _append(session, 8)
    _tamper(
        session,
        update(AuditEvent).where(AuditEvent.seq == 5).values(seq=-1),
        update(AuditEvent).where(AuditEvent.seq == 6).values(seq=5),
        update(AuditEvent).where(AuditEvent.seq == -1).values(seq=6),
    )
    assert _broken(session) == (5, "reordered")


def test_damage_at_a_batch_boundary_is_classified_too(session):
    _append(session, 8)
    _tamper(
        session,
        update(AuditEvent).where(AuditEvent.seq == 4).values(seq=-1),
        update(AuditEvent).where(AuditEvent.seq == 5).values(seq=4),
        update(AuditEvent).where(AuditEvent.seq == -1).values(seq=5),
    )
    session.expire_all()
    result = audit_chain.verify(session, batch=4)
    assert (result.broken_seq, result.damage) == (4, "reordered")


def test_a_time_budget_stops_early_without_a_verdict(session):
    _append(session, 6)
    result = audit_chain.verify(session, batch=2, budget=0)
    assert result.ok and not result.complete and result.count == 2


# --- concurrency ----------------------------------------------------------------------------


# Each appender is a fresh interpreter (the test module itself is not importable there:
# pytest runs with --import-mode=importlib); they all start appending at the same instant.
_APPENDER = """
import sys, time
from engine import audit_chain
from engine.db import make_engine, make_session_factory, perform
url, name, count, start_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
engine = make_engine(url)
session = make_session_factory(engine)()
time.sleep(max(start_at - time.time(), 0))
for i in range(count):
    perform(session, lambda s: audit_chain.record(
        s, "task:complete", actor=name, role="front_clerk", instance_id=i,
        payload={"data": {"comment": f"{name} 意见 {i}"}}))
session.close()
engine.dispose()
"""


def _append_concurrently(url: str) -> None:
    start_at = time.time() + 3  # after every interpreter has imported the engine
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _APPENDER, url, f"worker{i}", str(EVENTS_PER_PROCESS)]
            + [str(start_at)],
            cwd=REPO_ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(PROCESSES)
    ]
    for worker in workers:
        _, errors = worker.communicate(timeout=300)
        assert worker.returncode == 0, errors


def _check_one_chain(url: str) -> None:
    engine = make_engine(url)
    session = make_session_factory(engine)()
    try:
        result = audit_chain.verify(session)
        total = PROCESSES * EVENTS_PER_PROCESS
        assert result.ok, result.describe()
        assert result.count == total
        actors = session.scalars(select(AuditEvent.actor).distinct()).all()
        assert sorted(actors) == [f"worker{i}" for i in range(PROCESSES)]
        prev = session.scalars(select(AuditEvent.prev_hash)).all()
        assert len(set(prev)) == total  # no two events share a predecessor: no fork
    finally:
        session.close()
        engine.dispose()


def test_several_processes_keep_one_chain_on_sqlite(sqlite_url):
    _append_concurrently(sqlite_url)
    _check_one_chain(sqlite_url)


@pytest.fixture
def postgres_url():
    with pg_database("jiedai_chain") as url:
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        yield url


@pytest.mark.postgres
def test_several_processes_keep_one_chain_on_postgresql(postgres_url):
    _append_concurrently(postgres_url)
    _check_one_chain(postgres_url)


# --- the command line -----------------------------------------------------------------------


def test_cli_verify_reports_ok_or_the_damage_with_exit_codes(session, sqlite_url):
    from click.testing import CliRunner

    from engine.audit_search import AuditVerification
    from web.cli import main

    _append(session, 4)
    runner = CliRunner()
    ok = runner.invoke(main, ["audit", "verify"], env={"DATABASE_URL": sqlite_url})
    seq, digest = audit_chain.head(session)
    assert ok.exit_code == 0 and ok.output.startswith(f"OK 4 events, head {digest}")
    head = runner.invoke(main, ["audit", "head"], env={"DATABASE_URL": sqlite_url})
    assert head.output.strip() == f"4 {digest}"
    _tamper(session, delete(AuditEvent).where(AuditEvent.seq == 2))
    broken = runner.invoke(main, ["audit", "verify"], env={"DATABASE_URL": sqlite_url})
    assert broken.exit_code == 1 and broken.output.startswith("BROKEN at event 2: deleted")
    session.expire_all()
    stored = session.scalars(select(AuditVerification).order_by(AuditVerification.id)).all()
    assert [(v.ok, v.damage, v.checked_by) for v in stored] == [
        (True, None, "system:cli"),
        (False, "deleted", "system:cli"),
    ]


# --- the parallel walk ----------------------------------------------------------------------


def test_parallel_walk_agrees_with_the_single_one(session, sqlite_url):
    _append(session, 30)
    single = audit_chain.verify(session)
    session.rollback()
    parallel = audit_chain.verify_parallel(session, sqlite_url, 2, min_events=0)
    assert parallel.ok and (parallel.count, parallel.head_hash) == (30, single.head_hash)
    _tamper(session, delete(AuditEvent).where(AuditEvent.seq == 8))  # at a range's edge
    session.expire_all()
    broken = audit_chain.verify_parallel(session, sqlite_url, 2, min_events=0)
    assert (broken.ok, broken.broken_seq, broken.damage) == (False, 8, "deleted")
