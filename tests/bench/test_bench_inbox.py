"""The inbox benchmark at a tiny size: its seeding bookkeeping and the plans, never timings.

The inbox's contents and plans are checked on PostgreSQL too (`tests/pg.py`: a database of the
module's own, skipped without a server), whose statements are spelled differently."""

from __future__ import annotations

import random

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from engine.db import make_engine, make_session_factory
from engine.identity import get_user
from engine.inbox import can_work_on, inbox, inbox_count
from engine.models import HumanTask, HumanTaskCandidate, ProcessInstance, TaskStatus
from web.blueprints import tasks as task_views
from web.cli import main
from workflows import scenarios
from workflows.benchmarks.inbox import (
    P3_SHARE,
    build_database,
    captured_plans,
    full_scans,
)
from workflows.p3 import PROCESS_ID as P3
from workflows.p3.ledger import LedgerFilter, ledger_page
from workflows.p3.models import OwnerContact
from workflows.p4 import PROCESS_ID as P4
from workflows.p4.models import Pass
from workflows.p4.registry import PassFilter, registry_page
from workflows.procedures import register_procedures

from ..pg import pg_database

COUNT = 300


@pytest.fixture
def database_url(p3_url):
    return p3_url


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    register_procedures()
    path = tmp_path_factory.mktemp("inbox") / "bench.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    session = make_session_factory(engine)()
    shapes = build_database(session, COUNT, random.Random(7))
    yield session, shapes
    session.close()
    engine.dispose()


@pytest.fixture(scope="module")
def seeded_pg():
    register_procedures()
    with pg_database("jiedai_test_inbox") as url:
        engine = make_engine(url)
        session = make_session_factory(engine)()
        shapes = build_database(session, COUNT, random.Random(7))
        yield session, shapes
        session.close()
        engine.dispose()


@pytest.fixture(autouse=True)
def _end_read_transactions(request):
    """The module's sessions end each test's reads: a transaction left open across tests
    would leave the working-day calendar of `engine.holidays` active for the next ones."""
    yield
    for name in ("seeded", "seeded_pg"):
        if name in request.fixturenames:
            request.getfixturevalue(name)[0].rollback()


def _open(session, process_id: str) -> int:
    return session.scalar(
        select(func.count())
        .select_from(ProcessInstance)
        .where(ProcessInstance.process_id == process_id, ProcessInstance.status == "running")
    )


def test_every_asked_instance_is_seeded_and_open(seeded):
    session, shapes = seeded
    assert sum(shapes.values()) == COUNT
    assert (
        _open(session, P3)
        == round(COUNT * P3_SHARE)
        == sum(n for name, n in shapes.items() if name.startswith("P3"))
    )
    assert _open(session, P4) == COUNT - round(COUNT * P3_SHARE)
    keys = session.scalars(select(ProcessInstance.business_key)).all()
    assert len(keys) == len(set(keys))


def test_each_shape_has_its_open_task_for_its_role(seeded):
    session, shapes = seeded
    for name, wanted in shapes.items():
        words = name.split()
        if words[-1] == "issued":  # waiting for the expiry reminder: no task
            continue
        query = (
            select(func.count())
            .select_from(HumanTask)
            .where(HumanTask.status == TaskStatus.OPEN, HumanTask.task_spec == words[1])
        )
        if words[1] == "handle_complaint":
            query = query.where(HumanTask.candidate_department == words[2])
        assert session.scalar(query) == wanted, name
    # The security supervisor's tasks: one per security complaint waiting for handling.
    security = session.scalar(
        select(func.count())
        .select_from(HumanTask)
        .join(HumanTaskCandidate)
        .where(
            HumanTask.status == TaskStatus.OPEN,
            HumanTaskCandidate.role_code == "dept_supervisor",
            HumanTask.candidate_department == "security",
        )
    )
    assert security == shapes["P3 handle_complaint security"]


def _check_inbox(session, username: str) -> None:
    user = get_user(session, username)
    every_open = session.scalars(select(HumanTask).where(HumanTask.status == TaskStatus.OPEN))
    mine = {
        task.id
        for task in every_open
        if can_work_on(user, task) and task.claimed_by_id in (None, user.id)
    }
    listed = inbox(session, user, limit=10_000)
    assert mine and {task.id for task in listed} == mine
    assert inbox_count(session, user) == len(mine)
    assert inbox_count(session, user, at_most=3) == min(len(mine), 4)
    dated = [task.due_at for task in listed if task.claimed_by_id is None and task.due_at]
    assert dated == sorted(dated)
    # Paged: the pages are the whole list cut in order, past the claimed tasks too.
    pages = [inbox(session, user, limit=7, offset=offset) for offset in range(0, 35, 7)]
    assert [task.id for page in pages for task in page] == [task.id for task in listed[:35]]


INBOX_OWNERS = ["front_clerk", "sup_security", "cashier", "hr"]


@pytest.mark.parametrize("username", INBOX_OWNERS)
def test_an_inbox_holds_exactly_the_tasks_its_owner_may_work_on(seeded, username):
    _check_inbox(seeded[0], username)


@pytest.mark.parametrize("username", INBOX_OWNERS)
def test_a_postgresql_inbox_holds_exactly_the_tasks_its_owner_may_work_on(seeded_pg, username):
    _check_inbox(seeded_pg[0], username)


def test_every_seeded_instance_is_in_its_register(seeded):
    session, shapes = seeded
    p3_ids = set(
        session.scalars(select(ProcessInstance.id).where(ProcessInstance.process_id == P3))
    )
    assert set(session.scalars(select(OwnerContact.instance_id))) == p3_ids
    rows, total = ledger_page(session, LedgerFilter(), per_page=25)
    assert total == len(p3_ids) and len(rows) == 25
    # The pass is registered once paid: from the hand-over step on.
    issued = sum(
        shapes[name]
        for name in ("P4 hand_over_pass", "P4 tenant pass issued", "P4 temporary pass issued")
    )
    passes = session.scalars(select(Pass)).all()
    assert len(passes) == issued == registry_page(session, PassFilter())[1]
    assert len({p.pass_no for p in passes}) == issued
    assert {p.issue_instance_id for p in passes} <= set(
        session.scalars(select(ProcessInstance.id).where(ProcessInstance.process_id == P4))
    )


def _inbox_plan(session) -> str:
    user = get_user(session, "front_clerk")
    with captured_plans(session) as plans:
        inbox(session, user)
    session.rollback()
    return "\n".join(plans)


def test_the_inbox_page_walks_the_inbox_index(seeded):
    session, _shapes = seeded
    plan = _inbox_plan(session)
    lines = plan.splitlines()
    lanes = [
        i
        for i, line in enumerate(lines)
        if "ix_human_task_inbox (status=? AND assignee_id=? AND lane=?" in line
    ]
    # front_clerk: 3 lanes, each for no department and for customer service.
    assert len(lanes) == 6, plan
    # Each lane's part is read in page order: no sort after it, no table scanned.
    assert all("TEMP B-TREE" not in lines[i + 1] for i in lanes), plan
    assert not full_scans({"inbox": lines})
    # Without the index the page sorts every open task of the role: the check above fails.
    session.execute(text("DROP INDEX ix_human_task_inbox"))
    try:
        assert "ix_human_task_inbox" not in _inbox_plan(session)
    finally:
        session.rollback()  # SQLite DDL is transactional: the index is back


def _unclaimed_plan(session, username: str) -> list[str]:
    """The PostgreSQL plan of the unclaimed part of a first page, the planner kept off the
    whole-table paths a table this small would get."""
    session.execute(text("SET LOCAL enable_seqscan = off"))
    session.execute(text("SET LOCAL enable_bitmapscan = off"))
    user = get_user(session, username)
    with captured_plans(session) as plans:
        inbox(session, user)
    start = next(i for i, line in enumerate(plans) if line.startswith("SELECT anon_1.undated"))
    end = next(
        i for i, line in enumerate(plans[start + 1 :], start + 1) if line.startswith("SELECT")
    )
    return plans[start:end]


def test_a_postgresql_inbox_page_merges_its_parts_read_in_page_order(seeded_pg):
    session, _shapes = seeded_pg
    try:
        plan = _unclaimed_plan(session, "sup_security")
        joined = "\n".join(plan)
        assert "Merge Append" in joined, joined
        for index in ("pool", "department", "assigned"):
            assert f"ix_human_task_inbox_{index} " in joined, joined
        # No part sorts its rows: each is an index range already in page order.
        assert not any(line.lstrip(" ->").startswith("Sort  (") for line in plan), joined
        assert not full_scans({"inbox": plan})
        # Without the partial indexes (migration 0013) a part is read whole and sorted.
        for index in ("pool", "department", "assigned"):
            session.execute(text(f"DROP INDEX ix_human_task_inbox_{index}"))
        plan = _unclaimed_plan(session, "sup_security")
        assert any(line.lstrip(" ->").startswith("Sort  (") for line in plan), "\n".join(plan)
    finally:
        session.rollback()  # PostgreSQL DDL is transactional: the indexes are back


def test_bench_inbox_cli_prints_and_records_the_table(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "BENCHMARKS.md").write_text("# Benchmarks\n", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["bench", "inbox", "-n", "40", "--repetitions", "2", "--explain", "--record"]
    )
    assert result.exit_code == 0, result.output
    assert "ix_human_task_inbox" in result.output
    text_ = (tmp_path / "docs" / "BENCHMARKS.md").read_text(encoding="utf-8")
    assert "### bench inbox" in text_ and "cores" in text_
    assert "| inbox, first page: front_clerk |" in text_
    assert "40 open instances (P3 24, P4 16)" in text_


def test_a_long_inbox_says_more_than_it_counted_and_still_pages_on(
    db_session, login_as, monkeypatch
):
    monkeypatch.setattr(task_views, "COUNT_LIMIT", 2)
    monkeypatch.setattr(task_views, "PER_PAGE", 1)
    for _ in range(4):
        scenarios.start(db_session, P3, "front_clerk")
    client = login_as("front_clerk")
    first = client.get("/tasks/?lang=en").get_data(as_text=True)
    assert "More than 2 open tasks" in first
    assert 'rel="next" href="/tasks/?page=2"' in first
    # Past the counted pages the next one is still offered while pages come back full.
    fourth = client.get("/tasks/?page=4&lang=en").get_data(as_text=True)
    assert 'aria-current="page">4<' in fourth
    last = client.get("/tasks/?page=5&lang=en").get_data(as_text=True)
    assert "No open tasks for your roles" in last and 'rel="next"' not in last
