"""Staff: my notifications (the bell in the top bar, the list, marking read).

A person only ever sees and marks their own notifications: anyone else's answers 404, as if it
did not exist. Marking is a POST (CSRF-protected); opening a notification marks it read and
goes on to its task, or to the instance once the task is no longer open."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from engine import notifications
from engine.db import perform
from engine.errors import NotFound

from ..database import get_session
from ..i18n import current_locale
from .auth import signed_in_user

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

PER_PAGE = 30


@bp.app_context_processor
def _bell() -> dict:
    """`unread_notifications()` for the bell of base.html: one indexed COUNT, run only by the
    pages that show the bell (not by partials, exports or print views)."""

    def unread_notifications() -> int:
        if not current_user.is_authenticated:
            return 0
        return notifications.unread_count(get_session(), current_user.id)

    return {"unread_notifications": unread_notifications}


@bp.get("/", endpoint="index")
@login_required
def index():
    session, user = get_session(), signed_in_user()
    page = max(request.args.get("page", 1, type=int), 1)
    rows = notifications.notifications_for(
        session, user.id, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
    )
    return render_template(
        "notifications/index.html",
        rows=rows,
        total=notifications.count_for(session, user.id),
        page=page,
        per_page=PER_PAGE,
        locale=current_locale(),
    )


def _mark(notification_id: int):
    user = signed_in_user()
    try:
        return perform(
            get_session(), lambda s: notifications.mark_read(s, user.id, notification_id)
        )
    except NotFound:
        abort(404)


@bp.post("/<int:notification_id>/open")
@login_required
def open_notification(notification_id: int):
    row = _mark(notification_id)
    if notifications.target_is_open_task(row):
        return redirect(url_for("tasks.show", task_id=row.human_task_id))
    flash(gettext("This task is no longer open; here is its case."), "info")
    return redirect(url_for("instances.detail", instance_id=row.instance_id))


@bp.post("/<int:notification_id>/read")
@login_required
def mark_read(notification_id: int):
    _mark(notification_id)
    return redirect(url_for("notifications.index", page=_page()))


@bp.post("/read-all")
@login_required
def mark_all_read():
    user = signed_in_user()
    marked = perform(get_session(), lambda s: notifications.mark_all_read(s, user.id))
    if marked:
        flash(gettext("Notifications marked read: %(count)s", count=marked), "success")
    return redirect(url_for("notifications.index"))


def _page() -> int:
    return max(request.form.get("page", 1, type=int), 1)
