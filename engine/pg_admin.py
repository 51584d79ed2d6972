"""A PostgreSQL database of one's own, created and dropped again (benchmarks, tests).

`server_url` names the server and a database to connect to for `CREATE DATABASE` (the
`postgres` maintenance database); the new database gets the same user, host and port."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

DEFAULT_SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class ServerUnavailable(Exception):
    """The server cannot be used; the message is one line naming it and why."""


def _admin_engine(server_url: str) -> Engine:
    try:
        url = make_url(server_url)
    except ArgumentError as exc:
        raise ServerUnavailable(f"not a database URL: {server_url!r}") from exc
    if url.get_backend_name() != "postgresql":
        shown = url.render_as_string(hide_password=True)
        raise ServerUnavailable(f"{shown} is not a PostgreSQL URL (postgresql+psycopg://...)")
    # CREATE/DROP DATABASE cannot run inside a transaction block.
    return create_engine(url, isolation_level="AUTOCOMMIT")


def _reason(exc: SQLAlchemyError) -> str:
    return " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]


def server_version(server_url: str) -> str:
    """The server's version (`15.20`); raises `ServerUnavailable` with the reason."""
    engine = _admin_engine(server_url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SHOW server_version")).scalar_one().split()[0]
    except SQLAlchemyError as exc:
        shown = engine.url.render_as_string(hide_password=True)
        raise ServerUnavailable(f"cannot reach PostgreSQL at {shown}: {_reason(exc)}") from exc
    finally:
        engine.dispose()


def database_url(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _checked(name: str) -> str:
    # Names are made by the callers, but they end up in DDL: refuse anything to quote.
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a plain database name: {name!r}")
    return name


def create_database(server_url: str, name: str) -> str:
    """Create the empty database `name`; returns its URL."""
    engine = _admin_engine(server_url)
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{_checked(name)}"'))
    except SQLAlchemyError as exc:
        raise ServerUnavailable(f"cannot create database {name}: {_reason(exc)}") from exc
    finally:
        engine.dispose()
    return database_url(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    """Drop `name` if it exists, ending connections still open to it (a killed worker's)."""
    engine = _admin_engine(server_url)
    try:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{_checked(name)}" WITH (FORCE)'))
    finally:
        engine.dispose()


@contextmanager
def temporary_database(server_url: str, name: str) -> Iterator[str]:
    """Create `name`, yield its URL, and drop it afterwards, whatever happened meanwhile."""
    url = create_database(server_url, name)
    try:
        yield url
    finally:
        drop_database(server_url, name)
