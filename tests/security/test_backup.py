"""Backup and restore (issue 8): `jiedai backup PATH` then `jiedai restore PATH` into a fresh
database; the audit chain verifies with the same head hash and a running instance continues.
SQLite (online backup API) and PostgreSQL (pg_dump / pg_restore)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine import audit_chain
from engine.db import make_engine, make_session_factory
from engine.models import ProcessInstance
from web.cli import main as cli
from workflows import scenarios
from workflows.p3 import PROCESS_ID as P3
from workflows.p3 import samples

from .conftest import pg_database

ROOT = Path(__file__).resolve().parents[2]


def _work(url: str) -> tuple[int, tuple[int, str]]:
    """A running complaint half-way, a closed one; returns the running one and the head."""
    engine = make_engine(url)
    session = make_session_factory(engine)()
    try:
        running = scenarios.start(session, P3, "front_clerk")
        scenarios.complete_step(session, running.id, *samples.contact("complaint"))
        closed = scenarios.start(session, P3, "front_clerk")
        scenarios.run_steps(session, closed.id, samples.complaint_path("front_clerk"))
        return running.id, audit_chain.head(session)
    finally:
        session.close()
        engine.dispose()


def _round_trip(source_url: str, restored_url: str, backup_file) -> None:
    running_id, head = _work(source_url)
    runner = CliRunner()
    made = runner.invoke(cli, ["backup", str(backup_file)], env={"DATABASE_URL": source_url})
    assert made.exit_code == 0, made.output
    assert head[1] in made.output
    assert stat.S_IMODE(backup_file.stat().st_mode) == 0o600  # personal data

    restored = runner.invoke(
        cli, ["restore", "--yes", str(backup_file)], env={"DATABASE_URL": restored_url}
    )
    assert restored.exit_code == 0, restored.output
    verified = subprocess.run(
        [sys.executable, "-c", "from web.cli import main; main()", "audit", "verify"],
        env={**os.environ, "DATABASE_URL": restored_url},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr

    engine = make_engine(restored_url)
    session = make_session_factory(engine)()
    try:
        assert audit_chain.head(session) == head
        assert audit_chain.verify(session).ok
        # The running instance continues where it was.
        assert session.get(ProcessInstance, running_id).status == "running"
        scenarios.complete_step(session, running_id, *samples.complaint_record("security"))
        assert scenarios.open_task(session, running_id, "handle_complaint") is not None
        assert audit_chain.verify(session).ok
    finally:
        session.close()
        engine.dispose()


def test_sqlite_backup_restores_into_a_fresh_database(p3_template, tmp_path):
    source = tmp_path / "live.sqlite3"
    shutil.copy(p3_template, source)
    _round_trip(
        f"sqlite:///{source}", f"sqlite:///{tmp_path / 'fresh' / 'restored.sqlite3'}",
        tmp_path / "backups" / "jiedai.backup",
    )  # fmt: skip


def test_restore_refuses_a_damaged_file(tmp_path):
    damaged = tmp_path / "damaged.backup"
    damaged.write_bytes(b"not a database at all" * 100)
    result = CliRunner().invoke(
        cli,
        ["restore", "--yes", str(damaged)],
        env={"DATABASE_URL": f"sqlite:///{tmp_path / 'target.sqlite3'}"},
    )
    assert result.exit_code != 0
    assert "Traceback" not in result.output


@pytest.mark.postgres
def test_postgresql_backup_restores_into_a_fresh_database(pg_url, tmp_path):
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump/pg_restore are not installed")
    with pg_database("jiedai_restored") as restored_url:
        _round_trip(pg_url, restored_url, tmp_path / "jiedai.dump")
