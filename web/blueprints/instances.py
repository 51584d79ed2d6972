"""Starting procedures and following an instance: its tasks, history, data and diagram."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import login_required
from SpiffWorkflow.task import TaskState
from sqlalchemy import func, select

from engine import runtime
from engine.catalog import startable_processes
from engine.db import perform
from engine.errors import InstanceFailed, JiedaiError
from engine.history import instance_history
from engine.inbox import can_work_on
from engine.models import HumanTask, Incident, InstanceStatus, ProcessInstance, TaskStatus
from engine.visibility import can_view_instance, visible_instances

from ..database import get_session
from ..i18n import current_locale
from ..presentation import hide_confidential
from .auth import role_required, signed_in_user

bp = Blueprint("instances", __name__, url_prefix="/instances")

PER_PAGE = 25
STATUSES = (
    InstanceStatus.RUNNING,
    InstanceStatus.ERROR,
    InstanceStatus.COMPLETED,
    InstanceStatus.CANCELLED,
)


@bp.get("/")
@login_required
def index():
    session, user = get_session(), signed_in_user()
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    page = max(request.args.get("page", 1, type=int), 1)
    query = visible_instances(user)
    if status:
        query = query.where(ProcessInstance.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(
        query.order_by(ProcessInstance.id.desc()).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).all()
    return render_template(
        "instances/index.html",
        instances=rows,
        total=total,
        page=page,
        per_page=PER_PAGE,
        status=status,
        statuses=STATUSES,
    )


@bp.get("/start")
@login_required
def start_list():
    session, user = get_session(), signed_in_user()
    return render_template("instances/start.html", processes=startable_processes(session, user))


@bp.post("/start/<process_id>")
@login_required
def start(process_id: str):
    session, user = get_session(), signed_in_user()
    try:
        instance = perform(session, lambda s: runtime.start_instance(s, process_id, user))
    except InstanceFailed as exc:
        flash(exc.message(current_locale()), "error")
        return redirect(url_for("instances.index"))
    except JiedaiError as exc:
        flash(exc.message(current_locale()), "error")
        return redirect(url_for("instances.start_list"))
    first = _first_task_for(session, instance.id, user)
    if first is not None:
        return redirect(url_for("tasks.show", task_id=first.id))
    return redirect(url_for("instances.detail", instance_id=instance.id))


def _first_task_for(session, instance_id: int, user) -> HumanTask | None:
    tasks = session.scalars(
        select(HumanTask).where(
            HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.OPEN
        )
    )
    return next((task for task in tasks if can_work_on(user, task)), None)


def _visible_instance(instance_id: int) -> ProcessInstance:
    session, user = get_session(), signed_in_user()
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        abort(404)
    if not can_view_instance(session, user, instance):
        abort(403)
    return instance


@bp.get("/<int:instance_id>")
@login_required
def detail(instance_id: int):
    session, user = get_session(), signed_in_user()
    instance = _visible_instance(instance_id)
    hide_confidential(instance)
    workflow = runtime.load_workflow(instance)
    data = runtime.instance_data(workflow)
    tasks = session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id).order_by(HumanTask.seq)
    ).all()
    incidents = session.scalars(
        select(Incident).where(Incident.instance_id == instance.id).order_by(Incident.id.desc())
    ).all()
    return render_template(
        "instances/detail.html",
        instance=instance,
        tasks=tasks,
        incidents=incidents,
        history=instance_history(session, instance),
        data=data,
        workable={t.id for t in tasks if t.status == TaskStatus.OPEN and can_work_on(user, t)},
        may_retry=user.has_role(runtime.RETRY_ROLE),
        path=_path_taken(workflow),
        locale=current_locale(),
    )


def _path_taken(workflow) -> dict[str, list[str]]:
    """BPMN element ids the instance has passed and the ones it is at, for the diagram."""
    done = {
        t.task_spec.bpmn_id
        for t in workflow.get_tasks(state=TaskState.COMPLETED)
        if t.task_spec.bpmn_id
    }
    current = {
        t.task_spec.bpmn_id
        for t in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING)
        if t.task_spec.bpmn_id
    }
    return {"done": sorted(done - current), "current": sorted(current)}


@bp.get("/<int:instance_id>/diagram.bpmn")
@login_required
def diagram(instance_id: int):
    instance = _visible_instance(instance_id)
    (name,) = [n for n in instance.version.files if n.endswith(".bpmn")]
    return Response(instance.version.files[name], mimetype="application/xml")


@bp.post("/<int:instance_id>/retry")
@role_required(runtime.RETRY_ROLE)
def retry(instance_id: int):
    session, user = get_session(), signed_in_user()
    _visible_instance(instance_id)
    try:
        perform(session, lambda s: runtime.retry_instance(s, instance_id, user))
    except JiedaiError as exc:
        flash(exc.message(current_locale()), "error")
    else:
        flash(gettext("The failed step ran again successfully."), "success")
    return redirect(url_for("instances.detail", instance_id=instance_id))
