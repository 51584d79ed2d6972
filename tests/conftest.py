"""Fixtures shared by the whole suite (Flask tutorial and warehouse style).

database_url  a fresh SQLite file in `tmp_path`, one per test.
app           `create_app({"TESTING": True, "DATABASE_URL": ..., "SECRET_KEY": ...})`, schema
              migrated to head with `engine.schema.migrate`. CSRF protection stays ON: POSTs
              must carry a token (`csrf_token`, `form_post`, `login_as` do that).
db_session    a `Session` on one connection whose outer transaction is rolled back after the
              test. The app's requests are bound to the same connection, so rows the test adds
              are visible to `client` requests and vice versa. `commit()` (and `perform`) only
              release a savepoint. While it is in use that outer transaction holds SQLite's
              write lock: do not open other connections (a CLI command building its own
              engine) in the same test; such tests use `database_url` and committed data.
client        `app.test_client()`.
runner        `app.test_cli_runner()`.
csrf_token    `csrf_token(client, path="/login")`: the token of the form on `path` (redirects
              followed), as a browser would send it.
form_post     `form_post(client, url, data, page=None, **kwargs)`: POST `data` plus the CSRF
              token read from `page` (default: `url` itself, else the home page).
make_user     `make_user(username, roles=(), department=None, password=PASSWORD,
              display_name=None) -> User`, committed (through `db_session`).
login_as      `login_as(role_or_username, *, client=None, roles=None, department=None)`:
              signs in through the login form and returns the client (the `client` fixture
              unless another is given, e.g. `app.test_client()` for a second person). A role
              code (`"front_clerk"`) means the user of that name holding that role; any other
              name is a user holding `roles`. Users are created when missing; an existing
              user (demo data, say) gets the password `PASSWORD` first if theirs differs.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bundles import DEFAULT_BPMN_DIR, collect_bundle
from engine.db import make_engine, make_session_factory, perform
from engine.deploy import deploy_bundle
from engine.identity import ROLE_LABELS, create_user, hash_password, verify_password
from engine.models import User
from engine.schema import migrate
from web.app import create_app
from web.i18n import compile_catalogs
from workflows.demo import DemoResult, create_demo_users
from workflows.p1.demo import create_liaisons
from workflows.procedures import register_procedures

PASSWORD = "test-pass-2026"
SECRET_KEY = "jiedai-tests"

_CSRF_INPUT = re.compile(r"<input\b[^>]*\bname=\"csrf_token\"[^>]*>")
_VALUE = re.compile(r"\bvalue=\"([^\"]+)\"")


@pytest.fixture(scope="session")
def compiled_translations() -> None:
    """The zh_CN catalogue compiled to .mo (build output, missing on a fresh checkout)."""
    compile_catalogs()


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'jiedai.sqlite3'}"


@pytest.fixture
def app(database_url: str, compiled_translations) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY})
    engine = app.extensions["jiedai"].engine
    migrate(engine)
    yield app
    engine.dispose()


@pytest.fixture
def db_session(app: Flask) -> Iterator[Session]:
    database = app.extensions["jiedai"]
    connection = database.engine.connect()
    outer = connection.begin()
    # Every session of the app (requests included) now joins this connection's transaction
    # through a savepoint of its own; rolling back `outer` undoes the whole test.
    database.session_factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    session = database.session_factory()
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()
        database.session_factory.configure(bind=database.engine)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


def _token_in(html: str) -> str | None:
    tag = _CSRF_INPUT.search(html)
    if tag is None:
        return None
    value = _VALUE.search(tag.group(0))
    return value.group(1) if value else None


@pytest.fixture(name="csrf_token")
def csrf_token_fixture():
    def csrf_token(client: FlaskClient, path: str = "/login") -> str:
        response = client.get(path, follow_redirects=True)
        token = _token_in(response.get_data(as_text=True))
        assert token, f"no CSRF token in the page at {path} (status {response.status_code})"
        return token

    return csrf_token


@pytest.fixture
def form_post(csrf_token):
    def form_post(client: FlaskClient, url: str, data: dict | None = None, page=None, **kwargs):
        response = client.get(page or url, follow_redirects=True)
        token = _token_in(response.get_data(as_text=True)) or csrf_token(client, "/")
        return client.post(url, data={**(data or {}), "csrf_token": token}, **kwargs)

    return form_post


@pytest.fixture
def make_user(db_session: Session):
    def make_user(
        username: str,
        roles=(),
        department: str | None = None,
        password: str = PASSWORD,
        display_name: str | None = None,
    ) -> User:
        user = create_user(
            db_session, username, display_name or username, password, list(roles), department
        )
        db_session.commit()
        return user

    return make_user


@pytest.fixture
def login_as(client: FlaskClient, db_session: Session, make_user, csrf_token):
    def login_as(
        who: str,
        *,
        client: FlaskClient = client,
        roles=None,
        department: str | None = None,
    ) -> FlaskClient:
        user = db_session.scalar(select(User).where(User.username == who))
        if user is None:
            if roles is None:
                roles = [who] if who in ROLE_LABELS else []
            display_name = ROLE_LABELS[who][0] if who in ROLE_LABELS else who
            make_user(who, roles, department=department, display_name=display_name)
        elif not verify_password(user.password_hash, PASSWORD):
            user.password_hash = hash_password(PASSWORD)
            db_session.commit()
        with client.session_transaction() as session:
            signed_in = "_user_id" in session
        if signed_in:
            client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
        response = client.post(
            "/login",
            data={"csrf_token": csrf_token(client), "username": who, "password": PASSWORD},
        )
        assert response.status_code == 302, f"login as {who} failed ({response.status_code})"
        return client

    return login_as


# --- P3 deployed with the demo users ------------------------------------------------------


@pytest.fixture(scope="session")
def procedure_template(tmp_path_factory):
    """`procedure_template(bpmn_name)`: a migrated SQLite file with that diagram deployed and
    the demo users (plus P1's department liaisons), built once per test session."""
    built: dict[str, object] = {}

    def template(bpmn_name: str):
        if bpmn_name not in built:
            register_procedures()
            path = tmp_path_factory.mktemp(bpmn_name) / "db.sqlite3"
            engine = make_engine(f"sqlite:///{path}")
            migrate(engine)
            session = make_session_factory(engine)()
            bundle = collect_bundle(DEFAULT_BPMN_DIR / f"{bpmn_name}.bpmn")
            perform(session, lambda s: deploy_bundle(s, bundle, "system:test"))
            perform(session, lambda s: create_demo_users(s, PASSWORD, DemoResult()))
            perform(session, lambda s: create_liaisons(s, PASSWORD, {}))
            session.close()
            engine.dispose()
            built[bpmn_name] = path
        return built[bpmn_name]

    return template


@pytest.fixture
def procedure_url(procedure_template, tmp_path):
    """`procedure_url(bpmn_name)`: the URL of this test's own copy of the template."""

    def copy(bpmn_name: str) -> str:
        path = tmp_path / f"{bpmn_name}.sqlite3"
        shutil.copy(procedure_template(bpmn_name), path)
        return f"sqlite:///{path}"

    return copy


@pytest.fixture(scope="session")
def p3_template(procedure_template):
    return procedure_template("p3_owner_reception")


@pytest.fixture
def p3_url(procedure_url):
    return procedure_url("p3_owner_reception")
