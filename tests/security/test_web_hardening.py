"""Web hardening (issue 8): headers, cookies, secret key, error pages, body size, login
throttling across processes and the password policy."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from engine import throttle
from engine.db import make_engine, make_session_factory, perform
from engine.identity import GuessablePassword, WeakPassword, check_password_policy, create_user
from engine.models import AuditEvent, utcnow
from engine.schema import migrate
from web.app import create_app
from web.security import MAX_BODY_BYTES

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"
PASSWORD = "correct-horse-battery"
LOCK_TEXTS = ("Too many failed sign-ins", "登录失败次数过多")


def _directives(policy: str) -> dict[str, list[str]]:
    result = {}
    for part in policy.split(";"):
        name, *values = part.split()
        result[name] = values
    return result


# --- headers --------------------------------------------------------------------------------


def test_content_security_policy_allows_no_inline_script(client):
    response = client.get("/login")
    policy = _directives(response.headers["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_error_pages_carry_the_headers_too(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_hsts_only_over_https_or_when_configured(app, client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://jiedai.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    app.config["JIEDAI_HSTS"] = True
    assert "Strict-Transport-Security" in client.get("/login").headers


INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|javascript:", re.IGNORECASE)


@pytest.mark.parametrize(
    "template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES))
)
def test_no_template_has_inline_scripts_or_handlers(template):
    # The CSP would block them: a page relying on one would silently break.
    assert INLINE.findall(template.read_text(encoding="utf-8")) == []


def test_pages_of_a_signed_in_person_are_not_cached(login_as):
    client = login_as("front_clerk")
    assert client.get("/tasks/").headers["Cache-Control"] == "no-store"


# --- cookies and the secret key -------------------------------------------------------------


def _production_app(database_url, **extra):
    return create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x" * 32, **extra})


def test_production_session_cookie_is_secure_httponly_lax(database_url, monkeypatch):
    monkeypatch.delenv("JIEDAI_DEVELOPMENT", raising=False)
    monkeypatch.delenv("JIEDAI_INSECURE_COOKIES", raising=False)
    app = _production_app(database_url)
    try:
        migrate(app.extensions["jiedai"].engine)
        assert app.config["SESSION_COOKIE_SECURE"] is True
        assert app.config["REMEMBER_COOKIE_SECURE"] is True
        response = app.test_client().get("/login", base_url="https://jiedai.example")
        cookie = response.headers["Set-Cookie"]
        assert "jiedai_session=" in cookie
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    finally:
        app.extensions["jiedai"].engine.dispose()


def test_cookies_are_not_secure_in_tests_and_development(app, database_url, monkeypatch):
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    monkeypatch.setenv("JIEDAI_DEVELOPMENT", "1")
    dev = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "k"})
    assert dev.config["SESSION_COOKIE_SECURE"] is False
    dev.extensions["jiedai"].engine.dispose()


def test_plain_http_intranet_may_turn_secure_cookies_off(database_url, monkeypatch):
    monkeypatch.delenv("JIEDAI_DEVELOPMENT", raising=False)
    app = _production_app(database_url, JIEDAI_INSECURE_COOKIES=True)
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    app.extensions["jiedai"].engine.dispose()


def test_no_secret_key_default_in_production(database_url, monkeypatch):
    for name in ("JIEDAI_SECRET_KEY", "JIEDAI_DEVELOPMENT", "FLASK_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError, match="JIEDAI_SECRET_KEY"):
        create_app({"DATABASE_URL": database_url})
    with pytest.raises(RuntimeError, match="JIEDAI_SECRET_KEY"):
        create_app({"DATABASE_URL": database_url, "SECRET_KEY": ""})


# --- error pages ----------------------------------------------------------------------------


@pytest.fixture
def production_app(database_url, monkeypatch):
    monkeypatch.delenv("JIEDAI_DEVELOPMENT", raising=False)
    app = _production_app(database_url, JIEDAI_INSECURE_COOKIES=True)
    migrate(app.extensions["jiedai"].engine)

    def boom():
        raise RuntimeError("secret detail /etc/jiedai SELECT password_hash FROM user")

    def sql_boom():
        raise OperationalError('SELECT password_hash FROM "user" WHERE id = 1', {}, None)

    app.add_url_rule("/_test/boom", "test_boom", boom)
    app.add_url_rule("/_test/sql", "test_sql", sql_boom)
    app.add_url_rule("/api/_test/boom", "test_api_boom", boom)
    yield app
    app.extensions["jiedai"].engine.dispose()


@pytest.mark.parametrize("path", ["/_test/boom", "/_test/sql", "/api/_test/boom"])
def test_an_unexpected_error_is_a_plain_500_page(production_app, path, caplog):
    response = production_app.test_client().get(path)
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    for leak in ("Traceback", "SELECT", "password_hash", "RuntimeError", "/etc/jiedai", 'File "'):
        assert leak not in body
    assert "Content-Security-Policy" in response.headers
    assert "SELECT password_hash" in caplog.text  # logged for the operators, not shown


# --- size limits ----------------------------------------------------------------------------


def test_request_bodies_are_limited(app, client):
    assert app.config["MAX_CONTENT_LENGTH"] == MAX_BODY_BYTES
    response = client.post(
        "/login", data=b"x" * (MAX_BODY_BYTES + 1), content_type="application/octet-stream"
    )
    assert response.status_code == 413
    assert "Traceback" not in response.get_data(as_text=True)


# --- login throttling -----------------------------------------------------------------------


@pytest.fixture
def user_in_file_db(database_url, app):
    """A committed user (no `db_session`: several apps open their own connections here)."""
    engine = make_engine(database_url)
    session = make_session_factory(engine)()
    perform(session, lambda s: create_user(s, "alice", "Alice", PASSWORD, ["front_clerk"]))
    session.close()
    yield
    engine.dispose()


def _try_login(client, csrf_token, username, password, address="10.0.0.1"):
    token = csrf_token(client)
    return client.post(
        "/login",
        data={"csrf_token": token, "username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def _locked(response) -> bool:
    body = response.get_data(as_text=True)
    return response.status_code == 429 and any(text in body for text in LOCK_TEXTS)


def test_five_failures_lock_the_account_even_for_the_right_password(
    app, client, csrf_token, user_in_file_db
):
    for _ in range(throttle.ACCOUNT_LIMIT - 1):
        response = _try_login(client, csrf_token, "alice", "wrong-password")
        assert response.status_code == 200 and not _locked(response)
    assert _locked(_try_login(client, csrf_token, "Alice ", "wrong-password"))
    locked = _try_login(client, csrf_token, "alice", PASSWORD)
    assert _locked(locked) and int(locked.headers["Retry-After"]) > 0
    with client.session_transaction() as session:
        assert "_user_id" not in session


def test_the_lock_is_shared_by_every_process_and_expires(
    app, database_url, csrf_token, user_in_file_db
):
    # Two apps with engines of their own stand for two gunicorn workers.
    other = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "k"})
    try:
        first, second = app.test_client(), other.test_client()
        for _ in range(throttle.ACCOUNT_LIMIT):
            _try_login(first, csrf_token, "alice", "wrong-password")
        assert _locked(_try_login(second, csrf_token, "alice", PASSWORD))
        with time_machine.travel(utcnow() + throttle.LOCKOUT + timedelta(seconds=5)):
            assert _try_login(second, csrf_token, "alice", PASSWORD).status_code == 302
    finally:
        other.extensions["jiedai"].engine.dispose()


def test_a_success_clears_the_account_counter(app, client, csrf_token, user_in_file_db):
    for _ in range(throttle.ACCOUNT_LIMIT - 1):
        _try_login(client, csrf_token, "alice", "wrong-password")
    assert _try_login(client, csrf_token, "alice", PASSWORD).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    for _ in range(throttle.ACCOUNT_LIMIT - 1):
        assert not _locked(_try_login(client, csrf_token, "alice", "wrong-password"))


def test_one_address_spraying_many_accounts_is_locked(app, client, csrf_token, user_in_file_db):
    for n in range(throttle.ADDRESS_LIMIT):
        _try_login(client, csrf_token, f"nobody{n}", "wrong-password", address="10.9.9.9")
    assert _locked(_try_login(client, csrf_token, "alice", PASSWORD, address="10.9.9.9"))
    # Another address (another office) is not affected.
    assert _try_login(client, csrf_token, "alice", PASSWORD, address="10.0.0.2").status_code == 302


def test_unknown_and_known_names_lock_alike(app, client, csrf_token, user_in_file_db):
    for _ in range(throttle.ACCOUNT_LIMIT):
        _try_login(client, csrf_token, "ghost", "wrong-password", address="10.1.1.1")
    assert _locked(_try_login(client, csrf_token, "ghost", "x", address="10.1.1.2"))


def test_failures_are_still_audited(app, database_url, client, csrf_token, user_in_file_db):
    _try_login(client, csrf_token, "alice", "wrong-password")
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        kinds = session.scalars(select(AuditEvent.kind)).all()
    engine.dispose()
    assert "auth:login_failed" in kinds


def test_an_administrator_can_lift_a_lock(app, database_url, client, csrf_token, user_in_file_db):
    for _ in range(throttle.ACCOUNT_LIMIT):
        _try_login(client, csrf_token, "alice", "wrong-password")
    engine = make_engine(database_url)
    session = make_session_factory(engine)()
    assert perform(session, lambda s: throttle.clear(s, username="alice")) == 1
    session.close()
    engine.dispose()
    assert _try_login(client, csrf_token, "alice", PASSWORD).status_code == 302


# --- password policy ------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["password", "12345678", "Password1", "alice-smith"])
def test_guessable_passwords_are_refused(password):
    with pytest.raises(GuessablePassword) as raised:
        check_password_policy(password, "alice-smith")
    assert "常见密码" in raised.value.message("zh_CN")


def test_short_passwords_are_refused_and_good_ones_pass():
    with pytest.raises(WeakPassword):
        check_password_policy("short", "alice")
    check_password_policy("correct-horse-battery", "alice")


def test_create_user_applies_the_policy(db_session):
    with pytest.raises(GuessablePassword):
        create_user(db_session, "bob", "Bob", "password1", ["hr"])
    with pytest.raises(GuessablePassword):
        create_user(db_session, "bobby123", "Bob", "BOBBY123", ["hr"])


def test_passwords_are_hashed_with_scrypt(db_session):
    user = create_user(db_session, "carol", "Carol", PASSWORD, ["hr"])
    assert user.password_hash.startswith("scrypt:")
    assert PASSWORD not in user.password_hash
