"""Fixtures of the security tests.

full_template   a SQLite file (made once per session) with every diagram of `bpmn/` deployed
                and the demo data loaded (one user per role, named by its code; sample P1–P4
                records), every password `PASSWORD`.
database_url    a copy of it per test (overrides the suite's empty database).
pg_url          a PostgreSQL database of the test's own (P3 and the demo users), dropped
                afterwards; skips with the reason without a server, fails when CI=true.
sign_in         `sign_in(client, username)`: puts the user's id and a CSRF token in the test
                client's session, without the (deliberately slow) password check; returns the
                signed token to send as `csrf_token`.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from engine.bundles import DEFAULT_BPMN_DIR, collect_bundle, collect_bundles
from engine.db import make_engine, make_session_factory, perform
from engine.deploy import deploy_bundle
from engine.models import User
from engine.schema import migrate
from workflows.demo import DemoResult, create_demo_users, load_demo
from workflows.procedures import register_procedures

PASSWORD = "test-pass-2026"
SECRET_KEY = "jiedai-tests"  # tests/conftest.py's app fixture
RAW_CSRF = "c" * 40


@pytest.fixture(scope="session")
def full_template(tmp_path_factory):
    register_procedures()
    path = tmp_path_factory.mktemp("security") / "full.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    session = make_session_factory(engine)()
    for bundle in collect_bundles(DEFAULT_BPMN_DIR):
        perform(session, lambda s, b=bundle: deploy_bundle(s, b, "system:test"))
    load_demo(session, PASSWORD)
    session.close()
    engine.dispose()
    return path


@pytest.fixture
def database_url(full_template, tmp_path):
    path = tmp_path / "full.sqlite3"
    shutil.copy(full_template, path)
    return f"sqlite:///{path}"


def signed_csrf(secret_key: str = SECRET_KEY) -> str:
    return URLSafeTimedSerializer(secret_key, salt="wtf-csrf-token").dumps(RAW_CSRF)


@pytest.fixture
def sign_in(app):
    users: dict[str, int] = {}

    def sign_in(client, username: str | None) -> str:
        with client.session_transaction() as session:
            session["csrf_token"] = RAW_CSRF
            if username is not None:
                if username not in users:
                    with app.extensions["jiedai"].session_factory() as db:
                        user_id = db.scalar(select(User.id).where(User.username == username))
                    assert user_id is not None, f"no user {username}"
                    users[username] = user_id
                session["_user_id"] = str(users[username])
                session["_fresh"] = True
        return signed_csrf(app.secret_key)

    return sign_in


# --- PostgreSQL: a database of our own per test --------------------------------------------

PG_SERVER_URLS = (
    [os.environ["JIEDAI_TEST_PG_URL"]]
    if os.environ.get("JIEDAI_TEST_PG_URL")
    else [
        "postgresql+psycopg://root@127.0.0.1:5432/postgres",
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    ]
)


def pg_server_url() -> str:
    """A reachable server, else skip with the reason (fail when `CI=true`)."""
    reasons = []
    for url in PG_SERVER_URLS:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return url
        except OperationalError as exc:
            reasons.append(
                f"{make_url(url).render_as_string()}: {' '.join(str(exc.orig).split())[:160]}"
            )
        finally:
            engine.dispose()
    reason = "no PostgreSQL server reachable (" + "; ".join(reasons) + ")"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@contextmanager
def pg_database(prefix: str = "jiedai_sec") -> Iterator[str]:
    """Create an empty database, yield its URL, drop it afterwards."""
    server = pg_server_url()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def prepare_p3(url: str) -> None:
    """Migrate `url`, deploy P3 and add the demo users."""
    register_procedures()
    engine = make_engine(url)
    migrate(engine)
    session = make_session_factory(engine)()
    bundle = collect_bundle(DEFAULT_BPMN_DIR / "p3_owner_reception.bpmn")
    perform(session, lambda s: deploy_bundle(s, bundle, "system:test"))
    perform(session, lambda s: create_demo_users(s, PASSWORD, DemoResult()))
    session.close()
    engine.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database with P3 deployed and the demo users."""
    with pg_database() as url:
        prepare_p3(url)
        yield url
