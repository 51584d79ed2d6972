"""Crashes (issue 8): a `jiedai complete` process killed with SIGKILL inside its transaction,
after every statement of the state change ran but before COMMIT, leaves the previous state:
instance, task projection and audit chain unchanged; the app then starts and works normally.
On SQLite (a file) and on PostgreSQL (a database of the test's own).

The pause is injected from the test, not shipped in the product: the child process registers a
SQLAlchemy `commit` listener (fired just before the DBAPI commit of the transaction that wrote)
that announces itself and sleeps, then runs the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from engine import audit_chain
from engine.db import make_engine, make_session_factory
from engine.models import HumanTask, ProcessInstance, TaskStatus
from web.app import create_app
from workflows import scenarios
from workflows.p3 import PROCESS_ID as P3
from workflows.p3 import samples

from .conftest import signed_csrf

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import sys, time
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    statements = []

    @event.listens_for(Engine, "before_cursor_execute")
    def _remember(connection, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()[:2]).strip('"'))

    @event.listens_for(Engine, "commit")
    def _pause_before_commit(connection):
        wrote = sorted({s for s in statements if s.startswith(("UPDATE", "INSERT"))})
        statements.clear()
        if not wrote:
            return  # a read-only transaction (the CLI's lookups) ends with a commit too
        print("IN-TRANSACTION", ";".join(wrote), flush=True)
        time.sleep(120)

    from web.cli import main
    sys.argv = ["jiedai", *sys.argv[1:]]
    main()
    """
)


def _snapshot(url: str, instance_id: int):
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            state = connection.execute(
                text("SELECT lock_version, status, state_json FROM process_instance WHERE id = :i"),
                {"i": instance_id},
            ).one()
            tasks = connection.execute(
                text(
                    "SELECT id, status, claimed_by_id, completed_by_id FROM human_task "
                    "WHERE instance_id = :i ORDER BY id"
                ),
                {"i": instance_id},
            ).all()
        session = make_session_factory(engine)()
        head = audit_chain.head(session)
        verified = audit_chain.verify(session).ok
        session.close()
        return tuple(state), [tuple(t) for t in tasks], head, verified
    finally:
        engine.dispose()


def _kill_mid_completion(url: str) -> None:
    engine = make_engine(url)
    session = make_session_factory(engine)()
    instance = scenarios.start(session, P3, "front_clerk")
    task_id = scenarios.open_task(session, instance.id, "record_contact").id
    session.close()
    engine.dispose()
    before = _snapshot(url, instance.id)
    assert before[3], "the chain verifies before the crash"

    env = {**os.environ, "DATABASE_URL": url, "JIEDAI_LANG": "en"}
    data = json.dumps(samples.contact("complaint")[1], ensure_ascii=False)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, "complete", str(task_id), "--user", "front_clerk",
         "--data", data],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline:
            line = child.stdout.readline()
            if "IN-TRANSACTION" in line or child.poll() is not None:
                break
        assert "IN-TRANSACTION" in line, child.stderr.read()
        # Killed inside the completion itself: the instance and the chain were written.
        assert "UPDATE process_instance" in line and "UPDATE audit_head" in line, line
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()

    # Nothing of the completion is visible: state, projection and chain as before.
    assert _snapshot(url, instance.id) == before

    # The app starts and works: the task opens and can be completed now.
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "crash-key"})
    try:
        client = app.test_client()
        with app.extensions["jiedai"].session_factory() as db:
            clerk_id = db.scalar(text("SELECT id FROM \"user\" WHERE username = 'front_clerk'"))
        with client.session_transaction() as cookie:
            cookie["_user_id"] = str(clerk_id)
            cookie["csrf_token"] = "c" * 40
        assert client.get(f"/tasks/{task_id}").status_code == 200
        form = {k: str(v) for k, v in samples.contact("complaint")[1].items()}
        form["csrf_token"] = signed_csrf(app.secret_key)
        assert client.post(f"/tasks/{task_id}", data=form).status_code == 302
    finally:
        app.extensions["jiedai"].engine.dispose()
    engine = make_engine(url)
    session = make_session_factory(engine)()
    try:
        assert session.get(HumanTask, task_id).status == TaskStatus.COMPLETED
        assert session.get(ProcessInstance, instance.id).lock_version == before[0][0] + 1
        assert audit_chain.verify(session).ok
        assert session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance.id))
    finally:
        session.close()
        engine.dispose()


def test_sigkill_mid_completion_on_sqlite(p3_template, tmp_path):
    path = tmp_path / "crash.sqlite3"
    shutil.copy(p3_template, path)
    _kill_mid_completion(f"sqlite:///{path}")


@pytest.mark.postgres
def test_sigkill_mid_completion_on_postgresql(pg_url):
    _kill_mid_completion(pg_url)
