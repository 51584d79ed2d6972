"""Database engines, sessions and the one-transaction-per-state-change rule."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Table, Update, bindparam, create_engine, event, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from .errors import EngineStepFailed, StaleInstance

T = TypeVar("T")

DEFAULT_DATABASE_URL = "sqlite:///instance/jiedai.sqlite3"
WRITE_OPTION = "jiedai_write"


def database_url() -> str:
    return os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)


def make_engine(url: str | None = None) -> Engine:
    """An engine for `url` (default: `DATABASE_URL` or the SQLite file).

    SQLite gets WAL, a busy timeout and `BEGIN IMMEDIATE` so that two writers queue instead
    of failing half-way with "database is locked"."""
    url = url or database_url()
    if url.startswith("sqlite"):
        _ensure_sqlite_folder(url)
        engine = create_engine(url, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _ensure_sqlite_folder(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # With WAL, NORMAL never corrupts the database; a power cut may lose the last commits.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # A state change takes the write lock up front (`perform` marks it), so two writers
        # queue instead of failing half-way; reads stay deferred and never block writers.
        write = connection.get_execution_options().get(WRITE_OPTION)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def perform(session: Session, action: Callable[[Session], T]) -> T:
    """Run one state change as one transaction.

    If the engine steps fail (a script or service task raised), everything is rolled back;
    the incident is then recorded in a transaction of its own and `InstanceFailed` raised."""
    from .incidents import record_incident  # imported late: incidents imports runtime models

    if session.in_transaction():
        # Reads done earlier in the request end here, so the write transaction starts fresh
        # (on SQLite that is what takes the write lock). A read-only transaction is committed
        # rather than rolled back: a rollback would expire every loaded object (the user and
        # their roles, the version) and reload them all; state changes re-read what they lock.
        if session.new or session.dirty or session.deleted:
            session.rollback()
        else:
            session.commit()
    try:
        with session.begin():
            session.connection(execution_options={WRITE_OPTION: True})
            return action(session)
    except StaleDataError as exc:
        # `UPDATE ... WHERE lock_version = :seen` hit no row: someone else saved first.
        raise StaleInstance() from exc
    except EngineStepFailed as failure:
        with session.begin():
            session.connection(execution_options={WRITE_OPTION: True})
            incident = record_incident(session, failure)
        raise failure.as_instance_failed(incident) from failure


def prebuilt_update(table: Table, *, key: tuple[str, ...], columns: tuple[str, ...]) -> Update:
    """`UPDATE table SET columns… WHERE key…`, built once, for `write_through`."""
    return (
        update(table)
        .where(*(table.c[name] == bindparam(f"k_{name}") for name in key))
        .values({name: bindparam(f"v_{name}") for name in columns})
    )


def write_through(session: Session, obj, statement: Update, key: dict, values: dict) -> None:
    """Run a `prebuilt_update` of `obj`'s row on the connection and set `values` on `obj` as
    already saved, so the unit of work has nothing left to write for them.

    For what every step of every instance writes (its state, the completed task): a built-once
    statement skips SQLAlchemy's statement building and the unit of work, most of the cost of
    a small write. No matching row (an optimistic-lock check failed) raises `StaleDataError`,
    as the ORM's own version check does."""
    params = {f"k_{name}": value for name, value in key.items()}
    params.update({f"v_{name}": value for name, value in values.items()})
    if session.connection().execute(statement, params).rowcount != 1:
        raise StaleDataError(f"{type(obj).__name__} {key} was changed by someone else")
    for name, value in values.items():
        set_committed_value(obj, name, value)
