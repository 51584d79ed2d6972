"""Staff: the inbox, claiming, and the task form."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import login_required
from sqlalchemy import select

from engine import runtime
from engine.db import perform
from engine.errors import FormInvalid, InstanceFailed, JiedaiError
from engine.history import instance_history
from engine.inbox import COUNT_LIMIT, can_work_on, inbox, inbox_count
from engine.models import HumanTask, TaskStatus
from engine.workload import workload
from forms.rendering import render_fields
from forms.validation import coerce_submission

from ..database import get_session
from ..i18n import current_locale
from ..instructions import render_instructions
from .auth import role_required, signed_in_user

bp = Blueprint("tasks", __name__, url_prefix="/tasks")

PER_PAGE = 50
#: Those who lead others' front-desk work see everyone's load.
TEAM_VIEW_ROLES = (
    "project_manager",
    "manager_assistant",
    "director",
    "deputy_director",
    "meeting_lead",
    "sales_manager",
    "admin",
)


@bp.get("/", endpoint="inbox")
@login_required
def inbox_view():
    session, user = get_session(), signed_in_user()
    page = max(request.args.get("page", 1, type=int), 1)
    rows = inbox(session, user, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    total = inbox_count(session, user, at_most=COUNT_LIMIT)
    pages = -(-min(total, COUNT_LIMIT) // PER_PAGE)
    if total > COUNT_LIMIT and len(rows) == PER_PAGE:
        pages = max(pages, page + 1)  # more than counted: there may be a page after this one
    return render_template(
        "tasks/inbox.html",
        may_see_team=user.has_role(*TEAM_VIEW_ROLES),
        tasks=rows,
        total=total,
        more_than=COUNT_LIMIT if total > COUNT_LIMIT else None,
        page=page,
        pages=pages,
        user_id=user.id,
    )


def _task_for(session, task_id: int, user) -> HumanTask:
    row = session.get(HumanTask, task_id)
    if row is None:
        abort(404)
    if not can_work_on(user, row):
        abort(403)
    return row


@bp.get("/<int:task_id>")
@login_required
def show(task_id: int):
    session, user = get_session(), signed_in_user()
    row = _task_for(session, task_id, user)
    if row.status != TaskStatus.OPEN:
        flash(gettext("This task is already done."), "warning")
        return redirect(url_for("instances.detail", instance_id=row.instance_id))
    return _render_form(session, row, values={}, errors={})


def _render_form(session, row: HumanTask, *, values: dict, errors: dict, status: int = 200):
    instance = row.instance
    locale = current_locale()
    schema = runtime.form_schema(instance, row.form_file)
    workflow = runtime.load_workflow(instance)
    data = runtime.instance_data(workflow)
    fields = None
    if schema is not None:
        fields = render_fields(
            schema,
            values=values,
            errors=errors,
            locale=locale,
            choices=runtime.user_choices(session, schema),
        )
    return render_template(
        "tasks/form.html",
        task=row,
        instance=instance,
        schema=schema,
        fields=fields,
        errors=errors,
        instructions=render_instructions(row.instructions, data),
        history=instance_history(session, instance),
        locale=locale,
    ), status


@bp.post("/<int:task_id>")
@login_required
def complete(task_id: int):
    session, user = get_session(), signed_in_user()
    row = _task_for(session, task_id, user)
    schema = runtime.form_schema(row.instance, row.form_file)
    data = coerce_submission(schema, request.form) if schema else {}
    try:
        instance = perform(session, lambda s: runtime.complete_task(s, task_id, user, data))
    except FormInvalid as exc:
        flash(exc.message(current_locale()), "error")
        row = session.get(HumanTask, task_id)
        # The coerced values: ticked boxes stay ticked (the raw post has "on", not True).
        return _render_form(session, row, values=data, errors=exc.errors, status=422)
    except InstanceFailed as exc:
        flash(exc.message(current_locale()), "error")
        return redirect(url_for("instances.detail", instance_id=row.instance_id))
    except JiedaiError as exc:  # a conflict or a permission change: nothing was saved
        flash(exc.message(current_locale()), "error")
        return redirect(url_for("tasks.inbox"))
    flash(gettext("Task completed: %(name)s", name=row.name), "success")
    return redirect(_next_url(session, instance.id, user))


def _next_url(session, instance_id: int, user) -> str:
    """Straight on to the instance's next task when it is this person's, else the inbox."""
    open_tasks = session.scalars(
        select(HumanTask).where(
            HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.OPEN
        )
    )
    following = [task for task in open_tasks if can_work_on(user, task)]
    if following:
        return url_for("tasks.show", task_id=following[0].id)
    return url_for("tasks.inbox")


@bp.post("/<int:task_id>/claim")
@login_required
def claim(task_id: int):
    return _claim_action(
        task_id,
        runtime.claim_task,
        gettext("Task claimed."),
        url_for("tasks.show", task_id=task_id),
    )


@bp.post("/<int:task_id>/unclaim")
@login_required
def unclaim(task_id: int):
    return _claim_action(
        task_id, runtime.unclaim_task, gettext("Task released."), url_for("tasks.inbox")
    )


def _claim_action(task_id: int, action, done_message: str, done_url: str):
    session, user = get_session(), signed_in_user()
    _task_for(session, task_id, user)
    try:
        perform(session, lambda s: action(s, task_id, user))
    except JiedaiError as exc:
        flash(exc.message(current_locale()), "error")
        return redirect(url_for("tasks.inbox"))
    flash(done_message, "success")
    return redirect(done_url)


@bp.get("/team")
@role_required(*TEAM_VIEW_ROLES)
def team():
    by_role, by_person = workload(get_session())
    return render_template("tasks/team.html", by_role=by_role, by_person=by_person)
