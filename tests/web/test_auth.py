"""The auth blueprint, the error pages, languages and the app factory around them."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask, render_template_string

from engine.errors import Forbidden, NotFound, TaskAlreadyDone
from engine.identity import get_user
from web.app import NAVIGATION, _ensure_secret_key, create_app
from web.blueprints.auth import home_url, role_required

PASSWORD = "test-pass-2026"  # the conftest's default password


@pytest.fixture
def app(app: Flask) -> Flask:
    """The app plus a few routes to check guards and error pages (added before any request)."""

    @role_required("admin", "process_owner")
    def owners_only():
        return "owners' page"

    def raise_error(kind: str):
        errors = {
            "not-found": NotFound(),
            "forbidden": Forbidden(),
            "conflict": TaskAlreadyDone(),
            "crash": RuntimeError("secret internal detail"),
        }
        raise errors[kind]

    app.add_url_rule("/test/owners", view_func=owners_only)
    app.add_url_rule("/test/raise/<kind>", view_func=raise_error)
    return app


@pytest.fixture
def home(app: Flask) -> str:
    with app.test_request_context():
        return home_url()


def signed_in(client) -> bool:
    with client.session_transaction() as session:
        return "_user_id" in session


def login(client, csrf_token, username, password=PASSWORD, query=""):
    token = csrf_token(client, "/login")
    return client.post(
        f"/login{query}", data={"csrf_token": token, "username": username, "password": password}
    )


# --- signing in -----------------------------------------------------------------------------


def test_login_page_is_chinese_by_default(client):
    response = client.get("/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "登录" in html and "用户名" in html and "密码" in html
    assert 'name="csrf_token"' in html


def test_login_succeeds_and_shows_the_user(client, make_user, csrf_token, home):
    make_user("alice", ["front_clerk", "manager_assistant"], display_name="王小丽")

    response = login(client, csrf_token, "alice")

    assert response.status_code == 302
    assert response.headers["Location"] == home
    assert signed_in(client)
    page = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "王小丽" in page and "alice" in page
    assert "前台文员/客服接待员" in page and "经理助理" in page
    assert 'action="/logout"' in page


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong-password"), ("nobody", PASSWORD), ("alice", "")],
)
def test_login_fails_with_a_clear_message_and_no_session(
    client, make_user, csrf_token, username, password
):
    make_user("alice", ["front_clerk"])

    response = login(client, csrf_token, username, password)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert ("用户名或密码错误" in html) or ("请输入密码" in html)
    assert not signed_in(client)


def test_login_failure_in_english(client, make_user, csrf_token):
    make_user("alice", ["front_clerk"])
    client.get("/lang/en")
    html = login(client, csrf_token, "alice", "wrong-password").get_data(as_text=True)
    assert "Wrong username or password." in html


def test_inactive_user_cannot_sign_in(client, db_session, make_user, csrf_token):
    user = make_user("retired", ["front_clerk"])
    user.active = False
    db_session.commit()

    assert login(client, csrf_token, "retired").status_code == 200
    assert not signed_in(client)


def test_deactivated_user_is_signed_out_on_next_request(db_session, login_as):
    client = login_as("front_clerk")
    get_user(db_session, "front_clerk").active = False
    db_session.commit()

    response = client.get("/")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_signed_in_user_visiting_login_goes_home(login_as, home):
    client = login_as("front_clerk")
    response = client.get("/login")
    assert response.status_code == 302
    assert response.headers["Location"] == home


# --- next -----------------------------------------------------------------------------------


def test_local_next_is_followed(client, make_user, csrf_token):
    make_user("alice", ["front_clerk"])
    response = login(client, csrf_token, "alice", query="?next=/test/owners%3Fx%3D1")
    assert response.headers["Location"] == "/test/owners?x=1"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/path",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "http:evil.example",
        "evil.example",
        "/%0d%0aSet-Cookie:x",
    ],
)
def test_next_never_leaves_the_site(client, make_user, csrf_token, home, target):
    make_user("alice", ["front_clerk"])
    token = csrf_token(client, "/login")
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"csrf_token": token, "username": "alice", "password": PASSWORD},
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    if target.startswith("/%0d"):  # still a local path; the encoded bytes stay encoded
        assert location.startswith("/") and "\n" not in location and "\r" not in location
    else:
        assert location == home


# --- anonymous visitors ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/test/owners"])
def test_anonymous_visitor_is_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == [path]

    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "请先登录后再访问此页面。" in page


# --- signing out ----------------------------------------------------------------------------


def test_logout(login_as, csrf_token):
    client = login_as("front_clerk")
    token = csrf_token(client, "/")

    response = client.post("/logout", data={"csrf_token": token})

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert not signed_in(client)
    assert "您已退出登录" in client.get("/login").get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_logout_keeps_the_language(login_as, csrf_token):
    client = login_as("front_clerk")
    client.get("/lang/en")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert "You have signed out." in client.get("/login").get_data(as_text=True)


def test_logout_by_get_is_not_allowed(login_as):
    client = login_as("front_clerk")
    response = client.get("/logout")
    assert response.status_code == 405
    assert "不支持该操作" in response.get_data(as_text=True)
    assert "POST" in response.headers["Allow"]
    assert signed_in(client)


# --- CSRF -----------------------------------------------------------------------------------


def test_login_without_csrf_token_is_refused(client, make_user):
    make_user("alice", ["front_clerk"])
    response = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "表单已失效" in html
    assert "Traceback" not in html and "CSRF" not in html
    assert not signed_in(client)


def test_logout_with_a_forged_token_is_refused(login_as):
    client = login_as("front_clerk")
    response = client.post("/logout", data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert signed_in(client)


def test_login_rotates_the_session(client, make_user, csrf_token):
    make_user("alice", ["front_clerk"])
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    login(client, csrf_token, "alice")
    with client.session_transaction() as session:
        assert "planted" not in session


# --- languages ------------------------------------------------------------------------------


def test_language_switch_shows_english_and_back(client):
    response = client.get("/lang/en", query_string={"next": "/login"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Sign in" in html and "Username" in html and "登录" not in html

    client.get("/lang/zh_CN")
    assert "登录" in client.get("/login").get_data(as_text=True)


def test_lang_parameter_switches_and_is_remembered(client):
    assert "Sign in" in client.get("/login?lang=en").get_data(as_text=True)
    assert "Sign in" in client.get("/login").get_data(as_text=True)
    assert "登录" in client.get("/login?lang=zh-CN").get_data(as_text=True)


def test_unknown_language_is_404(client):
    response = client.get("/lang/xx")
    assert response.status_code == 404
    assert "页面不存在" in response.get_data(as_text=True)


def test_language_switch_refuses_foreign_next(client):
    response = client.get("/lang/en", query_string={"next": "//evil.example/"})
    assert response.headers["Location"] == "/"


def test_english_role_labels_in_header(login_as):
    client = login_as("front_clerk")
    client.get("/lang/en")
    page = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "Front-desk clerk" in page and "Sign out" in page


# --- roles ----------------------------------------------------------------------------------


def test_role_required_refuses_other_roles_with_a_friendly_403(login_as):
    client = login_as("front_clerk")
    response = client.get("/test/owners")
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "无权访问" in html and "您没有权限访问此页面" in html


@pytest.mark.parametrize("role", ["admin", "process_owner"])
def test_role_required_lets_holders_in(login_as, role):
    assert login_as(role).get("/test/owners").get_data(as_text=True) == "owners' page"


def test_user_with_several_roles_passes_with_any(login_as):
    client = login_as("multi", roles=["hr", "process_owner"])
    assert client.get("/test/owners").status_code == 200


# --- error pages ----------------------------------------------------------------------------


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "页面不存在" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("kind", "status", "text"),
    [
        ("not-found", 404, "找不到该记录"),
        ("forbidden", 403, "您没有权限执行此操作"),
        ("conflict", 409, "该任务已被他人完成，您的提交未保存"),
    ],
)
def test_named_failures_map_to_status_and_message(login_as, kind, status, text):
    response = login_as("front_clerk").get(f"/test/raise/{kind}")
    assert response.status_code == status
    assert text in response.get_data(as_text=True)


def test_named_failure_message_in_english(login_as):
    client = login_as("front_clerk")
    response = client.get("/test/raise/conflict?lang=en")
    assert "This task has already been completed" in response.get_data(as_text=True)


def test_crash_is_a_500_page_without_details(app, login_as):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = login_as("front_clerk")
    response = client.get("/test/raise/crash")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "出错了" in html
    assert "secret internal detail" not in html and "Traceback" not in html


def test_api_paths_get_json_errors(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.is_json and response.json["error"] == 404


# --- the page frame -------------------------------------------------------------------------


def test_navigation_lists_only_registered_pages(app, login_as):
    page = login_as("front_clerk").get("/", follow_redirects=True).get_data(as_text=True)
    for item in NAVIGATION:
        with app.test_request_context():
            link = f">{item.label}</a>"  # the zh_CN label, as on the page
        if item.endpoint in app.view_functions and not item.roles:
            assert link in page
        elif item.endpoint not in app.view_functions:
            assert link not in page


def test_pages_send_security_headers(client):
    headers = client.get("/login").headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"


def test_no_inline_scripts_or_handlers(login_as):
    page = login_as("front_clerk").get("/", follow_redirects=True).get_data(as_text=True)
    assert "<script>" not in page and "onclick=" not in page and "javascript:" not in page
    assert '<script src="/static/js/app.js">' in page


# --- secret key -----------------------------------------------------------------------------


def test_production_refuses_to_start_without_a_secret_key(database_url, monkeypatch):
    monkeypatch.delenv("JIEDAI_SECRET_KEY", raising=False)
    monkeypatch.delenv("JIEDAI_DEVELOPMENT", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    with pytest.raises(RuntimeError, match="JIEDAI_SECRET_KEY"):
        create_app({"DATABASE_URL": database_url})


def test_secret_key_from_the_environment(database_url, monkeypatch):
    monkeypatch.setenv("JIEDAI_SECRET_KEY", "from-env")
    app = create_app({"DATABASE_URL": database_url})
    assert app.secret_key == "from-env"
    app.extensions["jiedai"].engine.dispose()


def test_development_key_is_generated_once_and_kept(tmp_path):
    first = Flask("dev_app", instance_path=str(tmp_path / "instance"))
    first.config["JIEDAI_DEVELOPMENT"] = True
    _ensure_secret_key(first)
    second = Flask("dev_app", instance_path=str(tmp_path / "instance"))
    second.config["JIEDAI_DEVELOPMENT"] = True
    _ensure_secret_key(second)

    assert len(first.secret_key) == 64
    assert first.secret_key == second.secret_key
    assert (tmp_path / "instance" / "secret_key").stat().st_mode & 0o077 == 0


# --- macros ---------------------------------------------------------------------------------


def render_macro(app: Flask, call: str) -> str:
    with app.test_request_context():
        return render_template_string('{% import "macros.html" as m %}' + call)


def test_pagination_macro_keeps_filters_and_elides_pages(app):
    html = render_macro(app, '{{ m.pagination(5, 12, "auth.index", status="open") }}')
    assert 'href="/?page=4&amp;status=open"' in html  # previous
    assert 'href="/?page=6&amp;status=open"' in html  # next
    assert 'aria-current="page">5<' in html
    assert 'href="/?page=1&amp;status=open"' in html and 'href="/?page=12&amp;status=open"' in html
    assert "page=9&" not in html and html.count("…") == 2
    assert render_macro(app, '{{ m.pagination(1, 1, "auth.index") }}').strip() == ""


def test_badge_and_csrf_field_macros(app):
    assert render_macro(app, '{{ m.badge("overdue", "已超时") }}') == (
        '<span class="badge badge-overdue">已超时</span>'
    )
    field = render_macro(app, "{{ m.csrf_field() }}")
    assert field.startswith('<input type="hidden" name="csrf_token" value="')
