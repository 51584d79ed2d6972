"""Attachments of an instance: upload (multipart) and download. The files live outside the
database (engine.attachments); this blueprint only parses the request and picks the folder."""

from __future__ import annotations

import os
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user, login_required

from engine import attachments
from engine.db import perform
from engine.errors import Forbidden, JiedaiError, NotFound
from engine.models import ProcessInstance
from engine.visibility import can_view_instance

from ..database import get_session
from ..i18n import current_locale
from .auth import signed_in_user

bp = Blueprint("attachments", __name__, url_prefix="/attachments")


def storage_dir() -> Path:
    """`JIEDAI_ATTACHMENTS_DIR` (app config, then environment), else instance/attachments."""
    configured = current_app.config.get("JIEDAI_ATTACHMENTS_DIR") or os.environ.get(
        "JIEDAI_ATTACHMENTS_DIR"
    )
    return Path(configured or Path(current_app.instance_path) / "attachments")


def _back(instance_id: int) -> str:
    """Where to return after an upload: the posted page if it is on this site."""
    target = request.form.get("next", "")
    if target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return url_for("instances.detail", instance_id=instance_id)


@bp.post("/instances/<int:instance_id>")
@login_required
def upload(instance_id: int):
    # Werkzeug spools a large upload to a temporary file, so reading at most one byte over the
    # limit bounds memory; an app-wide MAX_CONTENT_LENGTH would also bound the spooled size.
    session, user = get_session(), signed_in_user()
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        abort(404)
    if not can_view_instance(session, user, instance):
        abort(403)
    file = request.files.get("file")
    content = file.stream.read(attachments.MAX_BYTES + 1) if file else b""
    filename = file.filename if file else ""
    kind = request.form.get("kind", "other")
    try:
        row = perform(
            session,
            lambda s: attachments.save_attachment(
                s,
                storage_dir=storage_dir(),
                instance=s.get(ProcessInstance, instance_id),
                user=user,
                filename=filename or "",
                content=content,
                kind=kind,
            ),
        )
    except Forbidden:
        abort(403)
    except JiedaiError as exc:
        flash(exc.message(current_locale()), "error")
        return redirect(_back(instance_id))
    flash(gettext("Attachment uploaded: %(name)s", name=row.filename), "success")
    return redirect(_back(instance_id))


@bp.get("/<int:attachment_id>")
@login_required
def download(attachment_id: int):
    session, user = get_session(), signed_in_user()
    try:
        row, path = attachments.open_attachment(session, user, attachment_id, storage_dir())
    except NotFound:
        abort(404)
    except Forbidden:
        abort(403)
    # Images may be shown inline; everything else is a download. The type is the sniffed one.
    inline = row.file_type in ("jpeg", "png", "pdf") and request.args.get("inline") == "1"
    response = send_file(
        path,
        mimetype=row.mimetype,
        as_attachment=not inline,
        download_name=row.filename,
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.app_context_processor
def _panel_context() -> dict:
    def instance_attachments(instance: ProcessInstance) -> dict:
        """What the attachments panel shows for `instance` to the signed-in person."""
        if not current_user.is_authenticated:
            return {"rows": [], "may_upload": False}
        session, user = get_session(), signed_in_user()
        return {
            "rows": attachments.attachments_of(session, instance.id),
            "may_upload": attachments.may_upload(session, user, instance),
            "kinds": attachments.KINDS,
            "max_mb": attachments.MAX_BYTES // (1024 * 1024),
        }

    return {"instance_attachments": instance_attachments}
