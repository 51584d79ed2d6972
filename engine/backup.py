"""Backing up and restoring the whole database (`jiedai backup PATH`, `jiedai restore PATH`).

SQLite: the online backup API copies a consistent snapshot while web and worker processes keep
running (WAL readers and writers are not blocked); restore copies the file's pages back into
the database in one step. PostgreSQL: `pg_dump --format=custom` and `pg_restore --clean
--if-exists --no-owner` (the client tools of the server's major version must be on PATH; else
`BackupUnavailable` says so and the operator uses their own dump tooling).

A backup holds owners' personal data: it is written with mode 0600. After a restore, run
`jiedai audit verify`; the head hash printed by `jiedai audit head` before the backup must
match (see tests/security/test_backup.py)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from .errors import JiedaiError


class BackupUnavailable(JiedaiError):
    """The database kind needs a tool that is missing, or is not supported."""


class BackupFailed(JiedaiError):
    def __init__(self, detail: str):
        super().__init__(f"备份或恢复失败：{detail}", f"Backup or restore failed: {detail}")


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupUnavailable("内存数据库无法备份", "An in-memory database cannot be backed up")
    return Path(database)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL as libpq's tools take it (no `+psycopg` driver part) and their environment: a
    password goes in PGPASSWORD, never on the command line other users can list."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupUnavailable(
            f"找不到 {name}：请安装与服务器版本一致的 PostgreSQL 客户端工具",
            f"{name} not found: install the PostgreSQL client tools of the server's version",
        )
    return path


def _private(path: Path) -> None:
    """Create `path` empty with mode 0600 (personal data), replacing an older file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def backup(url: str, target: Path) -> Path:
    """Write a consistent copy of the database at `url` to `target`; returns `target`."""
    target = Path(target)
    kind = make_url(url).get_backend_name()
    if kind == "sqlite":
        source_path = _sqlite_path(url)
        if not source_path.is_file():
            raise BackupFailed(f"no database file at {source_path}")
        _private(target)
        source = sqlite3.connect(source_path)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        return target
    if kind == "postgresql":
        _private(target)
        libpq_url, env = _libpq(url)
        _run([_tool("pg_dump"), "--format=custom", "--file", str(target), libpq_url], env)
        return target
    raise BackupUnavailable(f"不支持的数据库：{kind}", f"Unsupported database: {kind}")


def restore(url: str, source: Path) -> None:
    """Replace the contents of the database at `url` with the backup `source`."""
    source = Path(source)
    if not source.is_file():
        raise BackupFailed(f"no backup file at {source}")
    kind = make_url(url).get_backend_name()
    if kind == "sqlite":
        target_path = _sqlite_path(url)
        target_path.parent.mkdir(parents=True, exist_ok=True)
        backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            if backup_db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupFailed(f"{source} is damaged (integrity check failed)")
            target = sqlite3.connect(target_path, timeout=30)
            try:
                backup_db.backup(target)  # page by page, under the target's write lock
            finally:
                target.close()
        except sqlite3.DatabaseError as exc:
            raise BackupFailed(f"{source}: {exc}") from exc
        finally:
            backup_db.close()
        return
    if kind == "postgresql":
        libpq_url, env = _libpq(url)
        _run(
            [
                _tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "--dbname",
                libpq_url,
                str(source),
            ],
            env,
        )
        return
    raise BackupUnavailable(f"不支持的数据库：{kind}", f"Unsupported database: {kind}")


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600, env=env)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise BackupFailed(detail[-1] if detail else f"exit status {done.returncode}")
