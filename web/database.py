"""The request's database session.

`init_app` builds the engine and session factory once per app and keeps them in
`app.extensions["jiedai"]`; `get_session()` opens one `Session` per request (on `flask.g`),
which `teardown_appcontext` rolls back if still in a transaction and closes. Views never commit
themselves: a state change goes through `engine.db.perform`, which commits or rolls back whole."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from engine.db import make_engine, make_session_factory

EXTENSION = "jiedai"


@dataclass
class Database:
    """What `app.extensions["jiedai"]` holds."""

    engine: Engine
    session_factory: sessionmaker[Session]


def init_app(app: Flask) -> Database:
    """Create the engine for `app.config["DATABASE_URL"]` and register the session teardown."""
    engine = make_engine(app.config["DATABASE_URL"])
    database = Database(engine=engine, session_factory=make_session_factory(engine))
    app.extensions[EXTENSION] = database
    app.teardown_appcontext(close_session)
    return database


def database() -> Database:
    """The current app's engine and session factory (for CLI commands and workers too)."""
    return current_app.extensions[EXTENSION]


def get_session() -> Session:
    """The session of the current request (or app context), opened on first use."""
    if "db_session" not in g:
        g.db_session = database().session_factory()
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is None:
        return
    try:
        if session.in_transaction():
            session.rollback()
    finally:
        session.close()
