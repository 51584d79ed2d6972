"""The application factory (Flask tutorial style: no module-level app).

Configuration, lowest to highest priority:
  defaults below → environment (`DATABASE_URL`, `JIEDAI_SECRET_KEY`, `JIEDAI_DEVELOPMENT`,
  `JIEDAI_TIMEZONE`) → `instance/config.py` (only when no `config` mapping is given) → the
  `config` mapping.

Keys: `DATABASE_URL`, `SECRET_KEY`, `TESTING`, `DEBUG`, `JIEDAI_DEVELOPMENT` (a development
machine: without a secret key one is generated and kept in `instance/secret_key`), plus
Flask's, Flask-WTF's (`WTF_CSRF_*`) and Flask-Babel's (`BABEL_*`) own.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import NamedTuple

from flask import Flask, current_app, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import CSRFProtect

from engine.db import database_url
from workflows.p3.ledger import READER_ROLES as P3_READER_ROLES
from workflows.procedures import register_procedures

from . import database, i18n, presentation, security
from .blueprints import BLUEPRINTS
from .blueprints.auth import login_manager
from .errors import register_error_handlers

csrf = CSRFProtect()

SECRET_KEY_FILE = "secret_key"


class NavItem(NamedTuple):
    """One entry of the main navigation; shown only if `endpoint` is registered and, when
    `roles` is not empty, only to holders of one of them."""

    endpoint: str
    label: str
    roles: tuple[str, ...] = ()


#: The main navigation, in order. Blueprints that are not registered are skipped.
NAVIGATION: list[NavItem] = [
    NavItem("tasks.inbox", _l("Inbox")),
    NavItem("instances.start_list", _l("Start")),
    NavItem("instances.index", _l("Instances")),
    NavItem("registers.complaint_ledger", _l("Complaint ledger"), roles=P3_READER_ROLES),
    NavItem("registers.complaint_report", _l("Monthly complaint report"), roles=P3_READER_ROLES),
    NavItem(
        "bookings.index",
        _l("Meeting bookings"),
        roles=("hotline", "meeting_lead", "meeting_attendant", "av_tech", "cashier", "auditor"),
    ),  # noqa: E501
    NavItem(
        "visits.index",
        _l("Visit register"),
        roles=(
            "reception_officer",
            "deputy_director",
            "director",
            "univ_leader",
            "party_office",
            "process_owner",
            "auditor",
        ),
    ),
    NavItem(
        "passes.index",
        _l("Pass registry"),
        roles=("front_clerk", "cashier", "manager_assistant", "project_manager", "auditor"),
    ),  # noqa: E501
    NavItem("audit.search", _l("Audit"), roles=("auditor",)),
    NavItem("calendar.index", _l("Holiday calendar"), roles=("admin",)),
    NavItem("models.index", _l("Process models"), roles=("process_owner",)),
]


def create_app(config: dict | None = None) -> Flask:
    """Build the jiedai web application.

    `config` overrides everything (tests pass `TESTING`, `DATABASE_URL`, `SECRET_KEY`).
    Outside debug and testing, a missing secret key is an error rather than a random one."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        DATABASE_URL=database_url(),
        SECRET_KEY=os.environ.get("JIEDAI_SECRET_KEY") or None,
        JIEDAI_DEVELOPMENT=_env_flag("JIEDAI_DEVELOPMENT"),
        SESSION_COOKIE_NAME="jiedai_session",
        SESSION_COOKIE_SAMESITE="Lax",
        # A CSRF token lives as long as the session: a long form must not expire on a clerk.
        WTF_CSRF_TIME_LIMIT=None,
    )
    if config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.from_mapping(config)
    _ensure_secret_key(app)
    register_procedures()

    database.init_app(app)
    i18n.init_app(app)
    presentation.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    register_error_handlers(app)
    security.init_app(app)  # before the blueprints: it bounds their `<int:>` URL parts
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.context_processor(_navigation_context)
    return app


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _ensure_secret_key(app: Flask) -> None:
    if app.config.get("SECRET_KEY"):
        return
    if not (app.debug or app.testing or app.config.get("JIEDAI_DEVELOPMENT")):
        raise RuntimeError(
            "JIEDAI_SECRET_KEY is not set. Set it to a long random value shared by every web "
            "process (python -c 'import secrets; print(secrets.token_hex(32))'); on a "
            "development machine set JIEDAI_DEVELOPMENT=1 or run with --debug instead."
        )
    # Development: one random key per checkout, kept in the instance folder so sessions
    # survive restarts of the dev server.
    path = Path(app.instance_path) / SECRET_KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made earlier, or just now by another process
        pass
    else:
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_hex(32))
    app.config["SECRET_KEY"] = path.read_text().strip()


def _navigation_context() -> dict:
    if not current_user.is_authenticated:
        return {"navigation": []}
    views = current_app.view_functions
    items = [
        item
        for item in NAVIGATION
        if item.endpoint in views and (not item.roles or current_user.has_role(*item.roles))
    ]
    # The exact page is active; else an item of the same blueprint, its `index` first
    # (a task form → Inbox, an instance's detail → Instances).
    endpoint = request.endpoint or ""
    active = endpoint if any(item.endpoint == endpoint for item in items) else None
    if active is None:
        blueprint = endpoint.partition(".")[0] + "."
        same = [item.endpoint for item in items if item.endpoint.startswith(blueprint)]
        active = next((e for e in same if e.endswith(".index")), same[0] if same else None)
    return {
        "navigation": [
            {"url": url_for(item.endpoint), "label": item.label, "active": item.endpoint == active}
            for item in items
        ]
    }
