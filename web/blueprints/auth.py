"""Signing in and out, the language switch, the home page and the role check for views.

The signed-in person is `flask_login.current_user`, a `SignedInUser` wrapping the engine's
`User` row (loaded by the request's session): its attributes (`id`, `username`,
`display_name`, `department`, `roles`, `role_codes`, `has_role`) read through to the row, and
`signed_in_user()` returns the row itself for engine calls."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from engine import audit_chain, throttle
from engine.db import perform
from engine.identity import authenticate
from engine.models import User

from ..database import get_session
from ..i18n import SESSION_KEY, remember_language

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"

#: Where a signed-in person lands when no (safe) `next` was given, if that page exists.
HOME_ENDPOINT = "tasks.inbox"
#: The actor of a failed sign-in (the name typed is in the payload: it may be anyone's).
FAILED_LOGIN_ACTOR = "system:auth"

F = TypeVar("F", bound=Callable)


# --- who is signed in -----------------------------------------------------------------------


class SignedInUser(UserMixin):
    """The signed-in person as Flask-Login sees them; `record` is the engine's `User` row."""

    def __init__(self, record: User):
        self.record = record

    def get_id(self) -> str:
        return str(self.record.id)

    @property
    def is_active(self) -> bool:
        return bool(self.record.active)

    def __getattr__(self, name: str):
        # Only called for names not found on the wrapper: read through to the row.
        if name == "record":  # not set yet (copy, unpickling): no endless recursion
            raise AttributeError(name)
        return getattr(self.record, name)


def signed_in_user() -> User:
    """The `User` row of the signed-in person (call only in views that require sign-in)."""
    return current_user.record


@login_manager.user_loader
def load_user(user_id: str) -> SignedInUser | None:
    try:
        record = get_session().get(User, int(user_id))
    except ValueError:
        return None
    if record is None or not record.active:
        return None
    return SignedInUser(record)


@login_manager.unauthorized_handler
def unauthorized():
    flash(gettext("Please sign in to see this page."), "warning")
    target = request.full_path if request.method == "GET" else None
    return redirect(url_for("auth.login", next=_local_path(target)))


def role_required(*codes: str) -> Callable[[F], F]:
    """Decorate a view: sign-in required, and 403 unless the user holds one of `codes`."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*codes):
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


# --- where to go ----------------------------------------------------------------------------


def _local_path(target: str | None) -> str | None:
    """`target` if it is a path on this site (`/tasks?x=1`), else None: no open redirects."""
    if not target:
        return None
    target = target.removesuffix("?")  # request.full_path ends in "?" without a query
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ord(char) < 32 or char == "\\" for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def home_url() -> str:
    """The inbox if the tasks blueprint is registered, else the home page."""
    if HOME_ENDPOINT in current_app.view_functions:
        return url_for(HOME_ENDPOINT)
    return url_for("auth.index")


# --- views ----------------------------------------------------------------------------------


class LoginForm(FlaskForm):
    username = StringField(
        _l("Username"),
        validators=[DataRequired(message=_l("Enter your username."))],
        filters=[lambda value: value.strip() if value else value],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(message=_l("Enter your password."))],
        render_kw={"autocomplete": "current-password"},
    )


@bp.route("/login", methods=["GET", "POST"])
def login(form_class: type[LoginForm] = LoginForm):
    next_path = _local_path(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_path or home_url())
    form = form_class()
    failed = False
    if form.validate_on_submit():
        username, address = form.username.data, request.remote_addr
        lock = throttle.current_lock(get_session(), username, address)
        if lock is not None:  # no password is checked while locked
            return _locked(form, next_path, lock)
        user = authenticate(get_session(), username, form.password.data)
        _record_login(username, user)
        if user is None:
            lock = perform(get_session(), lambda s: throttle.record_failure(s, username, address))
            if lock is not None:
                return _locked(form, next_path, lock)
            failed = True
        else:
            perform(get_session(), lambda s: throttle.record_success(s, username))
            # A fresh session on sign-in (no fixation); keep only the chosen language.
            language = session.get(SESSION_KEY)
            session.clear()
            if language:
                session[SESSION_KEY] = language
            login_user(SignedInUser(user))
            flash(gettext("Welcome, %(name)s.", name=user.display_name), "success")
            return redirect(next_path or home_url())
    return render_template("auth/login.html", form=form, failed=failed, next=next_path)


def _locked(form: LoginForm, next_path: str | None, lock: throttle.Lock):
    """The sign-in page with the lockout message, status 429 and `Retry-After`."""
    minutes = lock.minutes_left()
    flash(
        gettext(
            "Too many failed sign-ins. Sign-in is locked for %(minutes)s minutes; "
            "try again later or ask an administrator.",
            minutes=minutes,
        ),
        "error",
    )
    page = render_template("auth/login.html", form=form, failed=False, next=next_path)
    return page, 429, {"Retry-After": str(minutes * 60)}


def _record_login(username: str, user: User | None) -> None:
    """`auth:login` or `auth:login_failed` in the audit chain, with the remote address."""
    payload = {"username": (username or "")[:100], "remote_addr": request.remote_addr}
    actor = user.username if user is not None else FAILED_LOGIN_ACTOR
    kind = "auth:login" if user is not None else "auth:login_failed"
    perform(get_session(), lambda s: audit_chain.record(s, kind, actor=actor, payload=payload))


@bp.post("/logout")
def logout():
    language = session.get(SESSION_KEY)
    logout_user()
    session.clear()
    if language:
        session[SESSION_KEY] = language
    flash(gettext("You have signed out."), "success")
    return redirect(url_for("auth.login"))


@bp.get("/lang/<code>")
def set_language(code: str):
    if not remember_language(code):
        abort(404)
    return redirect(_local_path(request.args.get("next")) or url_for("auth.index"))


@bp.get("/")
@login_required
def index():
    if HOME_ENDPOINT in current_app.view_functions:
        return redirect(url_for(HOME_ENDPOINT))
    return render_template("auth/home.html")
