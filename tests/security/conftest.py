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

import shutil
from collections.abc import Iterator

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from engine.bundles import DEFAULT_BPMN_DIR, collect_bundles
from engine.db import make_engine, make_session_factory, perform
from engine.deploy import deploy_bundle
from engine.models import User
from engine.schema import migrate
from workflows.demo import load_demo
from workflows.procedures import register_procedures

from ..pg import p3_database, pg_database

__all__ = ["pg_database"]  # test_backup.py makes its restore target with it

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


# --- PostgreSQL: a database of our own per test (tests/pg.py) --------------------------------


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database with P3 deployed and the demo users."""
    with p3_database("jiedai_sec") as url:
        yield url
