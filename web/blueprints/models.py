"""Process owners: process models and their versions, drafts edited in the browser (bpmn-js
modeler, dmn-js tables with test cases, form schemas with a live preview), validation,
deploys, test runs and migrating running instances. Every route is `process_owner` only."""

from __future__ import annotations

import json
import re
from dataclasses import asdict

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from sqlalchemy import func, select

from engine import drafts as drafts_service
from engine import migration
from engine.bundles import FORM_PREFIX
from engine.db import perform
from engine.dmn_tests import CasesInvalid, load_cases, run_cases, tests_name
from engine.errors import DeployRefused, JiedaiError, NotFound
from engine.identity import ROLE_LABELS
from engine.models import InstanceStatus, ProcessInstance, ProcessModel, ProcessVersion
from engine.sandbox import RESERVED_NAMES
from engine.service_tasks import registered_operators
from engine.test_runs import ScenarioInvalid, parse_scenario, run_scenario
from engine.version_diff import diff_bundles
from forms.rendering import render_fields
from forms.schema import SchemaLoadError, check_schema, load_schema

from ..database import get_session
from ..i18n import current_locale
from .auth import role_required, signed_in_user

OWNER_ROLE = "process_owner"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024

bp = Blueprint("models", __name__, url_prefix="/models")


@bp.before_request
@role_required(OWNER_ROLE)
def _owners_only():
    """Every route of this blueprint: signed in and holding `process_owner`, else 403."""
    return None


# --- lists and versions ---------------------------------------------------------------------


@bp.get("/")
def index():
    session = get_session()
    models = session.scalars(select(ProcessModel).order_by(ProcessModel.process_id)).all()
    running = dict(
        session.execute(
            select(ProcessInstance.version_id, func.count())
            .where(ProcessInstance.status == InstanceStatus.RUNNING)
            .group_by(ProcessInstance.version_id)
        ).all()
    )
    drafts = {d.process_id: d for d in session.scalars(select(drafts_service.ModelDraft)).all()}
    return render_template("models/index.html", models=models, running=running, drafts=drafts)


def _version(version_id: int) -> ProcessVersion:
    version = get_session().get(ProcessVersion, version_id)
    if version is None:
        abort(404)
    return version


def _previous(version: ProcessVersion) -> ProcessVersion | None:
    earlier = [v for v in version.model.versions if v.number < version.number]
    return earlier[-1] if earlier else None


@bp.get("/versions/<int:version_id>")
def version(version_id: int):
    session = get_session()
    current = _version(version_id)
    previous = _previous(current)
    summary = diff_bundles(previous.files if previous else None, current.files)
    running = session.scalar(
        select(func.count())
        .select_from(ProcessInstance)
        .where(
            ProcessInstance.version_id == current.id,
            ProcessInstance.status == InstanceStatus.RUNNING,
        )
    )
    return render_template(
        "models/version.html",
        version=current,
        previous=previous,
        summary=summary,
        running=running,
        others=[v for v in current.model.versions if v.id != current.id],
    )


@bp.get("/versions/<int:version_id>/diagram.bpmn")
def version_diagram(version_id: int):
    current = _version(version_id)
    (name,) = [n for n in current.files if n.endswith(".bpmn")]
    return Response(current.files[name], mimetype="application/xml")


@bp.get("/versions/<int:version_id>/files/<path:name>")
def version_file(version_id: int, name: str):
    current = _version(version_id)
    if name not in current.files:
        abort(404)
    return Response(current.files[name], mimetype="text/plain")


# --- drafts ---------------------------------------------------------------------------------


@bp.post("/<process_id>/draft")
def open_draft(process_id: str):
    session, user = get_session(), signed_in_user()
    draft = perform(session, lambda s: drafts_service.open_draft(s, process_id, user))
    return redirect(url_for("models.draft", draft_id=draft.id))


@bp.post("/upload")
def upload():
    session, user = get_session(), signed_in_user()
    files = {}
    for storage in request.files.getlist("files"):
        name = (storage.filename or "").rsplit("/", 1)[-1]
        if not name:
            continue
        try:
            data = storage.read(MAX_UPLOAD_BYTES + 1)
        finally:
            storage.close()  # a large upload is spooled to a temporary file
        if len(data) > MAX_UPLOAD_BYTES:
            flash(
                gettext(
                    "%(name)s is larger than %(size)s.",
                    name=name,
                    size=f"{MAX_UPLOAD_BYTES / 1024 / 1024:g} MB",
                ),
                "error",
            )
            return redirect(url_for("models.index"))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            flash(gettext("%(name)s is not a UTF-8 text file.", name=name), "error")
            return redirect(url_for("models.index"))
        # A form schema keeps its place in the bundle: forms/<name>.json.
        is_form = name.endswith(".json") and not name.endswith(".tests.json")
        files[FORM_PREFIX + name if is_form else name] = text
    if not files:
        flash(gettext("Choose a .bpmn file (with its tables and forms) to upload."), "error")
        return redirect(url_for("models.index"))
    try:
        draft = perform(session, lambda s: drafts_service.draft_from_upload(s, files, user))
    except JiedaiError as exc:
        flash(exc.message(current_locale()), "error")
        return redirect(url_for("models.index"))
    return redirect(url_for("models.draft", draft_id=draft.id))


def _draft(draft_id: int) -> drafts_service.ModelDraft:
    try:
        return drafts_service.get_draft(get_session(), draft_id)
    except NotFound:
        abort(404)


@bp.get("/drafts/<int:draft_id>")
def draft(draft_id: int):
    current = _draft(draft_id)
    base = current.base_version
    return render_template(
        "models/draft.html",
        draft=current,
        problems=drafts_service.check_draft(current),
        summary=diff_bundles(base.files if base else None, current.files),
        locale=current_locale(),
    )


@bp.get("/drafts/<int:draft_id>/problems.json")
def draft_problems(draft_id: int):
    current = _draft(draft_id)
    return jsonify(problems=_problems_json(drafts_service.check_draft(current)))


def _problems_json(problems) -> list[dict]:
    locale = current_locale()
    return [dict(asdict(p), text=p.describe(locale)) for p in problems]


@bp.get("/drafts/<int:draft_id>/files/<path:name>")
def draft_file(draft_id: int, name: str):
    current = _draft(draft_id)
    if name not in current.files:
        abort(404)
    mimetype = "application/xml" if name.endswith((".bpmn", ".dmn")) else "application/json"
    response = Response(current.files[name], mimetype=mimetype)
    response.headers["X-Draft-Revision"] = str(current.revision)
    return response


@bp.post("/drafts/<int:draft_id>/files/<path:name>")
def save_draft_file(draft_id: int, name: str):
    """Save one file (JSON `{"text", "revision"}`); answers the new revision and the
    problems the whole draft now has (the editors mark them)."""
    session, user = get_session(), signed_in_user()
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}  # `true`, `[1]`, `"x"` are JSON too
    text, revision = body.get("text"), body.get("revision")
    if not isinstance(text, str) or not isinstance(revision, int):
        return jsonify(error=gettext("Send the file text and the draft revision.")), 400
    locale = current_locale()
    refusal = _refuse_file(name, text, locale)
    if refusal is not None:
        return jsonify(error=refusal["error"], problems=refusal["problems"]), 422
    try:
        saved = perform(
            session,
            lambda s: drafts_service.save_file(s, draft_id, name, text, revision, user),
        )
    except drafts_service.DraftChanged as exc:
        return jsonify(error=exc.message(locale), conflict=True), 409
    except NotFound:
        abort(404)
    except JiedaiError as exc:
        return jsonify(error=exc.message(locale)), 400
    return jsonify(
        revision=saved.revision,
        problems=_problems_json(drafts_service.check_draft(saved)),
        dmn_results=_dmn_results(saved.files, name),
    )


def _refuse_file(name: str, text: str, locale: str) -> dict | None:
    """A form schema that is not valid is refused with the JSON pointer of each problem."""
    if not name.startswith(FORM_PREFIX):
        return None
    try:
        # Bytes: `load_schema` reads text that does not start with "{" as a file path.
        schema = load_schema(text.encode("utf-8"))
    except SchemaLoadError as exc:
        reason = exc.reason_en if locale.startswith("en") else exc.reason_zh
        return {"error": reason, "problems": [{"pointer": "", "text": reason}]}
    problems = check_schema(schema, reserved_names=RESERVED_NAMES)
    if not problems:
        return None
    return {
        "error": gettext("The form schema is not valid; nothing was saved."),
        "problems": [{"pointer": p.pointer, "text": p.message(locale)} for p in problems],
    }


def _dmn_results(files: dict, name: str) -> list[dict] | None:
    """The test cases of the table `name` is (or belongs to), run now: on every save."""
    dmn_name = name.removesuffix(".tests.json")
    if not dmn_name.endswith(".dmn") or dmn_name not in files:
        return None
    text = files.get(tests_name(dmn_name))
    if not text:
        return []
    try:
        return [r.as_dict() for r in run_cases(files[dmn_name], load_cases(text), dmn_name)]
    except CasesInvalid as exc:
        reason = exc.reason_en if current_locale().startswith("en") else exc.reason_zh
        return [{"name": "-", "ok": False, "error": reason}]
    except Exception as exc:  # noqa: BLE001 — a table that cannot be built yet
        return [{"name": "-", "ok": False, "error": str(exc)}]


@bp.get("/drafts/<int:draft_id>/modeler")
def modeler(draft_id: int):
    current = _draft(draft_id)
    if current.bpmn_name is None:
        abort(404)
    return render_template(
        "models/modeler.html",
        draft=current,
        roles=sorted(ROLE_LABELS),
        operators=sorted(registered_operators()),
        forms=sorted(
            n.removeprefix(FORM_PREFIX) for n in current.files if n.startswith(FORM_PREFIX)
        ),
        decisions=_decision_ids(current.files),
    )


def _decision_ids(files: dict) -> list[str]:
    found = set()
    for name, text in files.items():
        if name.endswith(".dmn"):
            found.update(re.findall(r"<(?:\w+:)?decision\b[^>]*\bid=\"([^\"]+)\"", text))
    return sorted(found)


@bp.get("/drafts/<int:draft_id>/tables/<name>")
def dmn_editor(draft_id: int, name: str):
    current = _draft(draft_id)
    if not name.endswith(".dmn") or name not in current.files:
        abort(404)
    cases = current.files.get(tests_name(name)) or '{\n  "cases": []\n}\n'
    return render_template(
        "models/dmn.html",
        draft=current,
        name=name,
        cases=cases,
        results=_dmn_results(current.files, name) or [],
    )


@bp.get("/drafts/<int:draft_id>/forms/<name>")
def form_editor(draft_id: int, name: str):
    current = _draft(draft_id)
    path = FORM_PREFIX + name
    if path not in current.files:
        abort(404)
    return render_template("models/form.html", draft=current, name=name, path=path)


@bp.post("/drafts/<int:draft_id>/forms/<name>/preview")
def form_preview(draft_id: int, name: str):
    """The form as staff would see it, rendered by the server from the posted schema text;
    or the problems, each with its JSON pointer."""
    _draft(draft_id)
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}  # `true`, `[1]`, `"x"` are JSON too
    text = body.get("text") if isinstance(body.get("text"), str) else ""
    locale = current_locale()
    refusal = _refuse_file(FORM_PREFIX + name, text, locale)
    if refusal is not None:
        return jsonify(ok=False, error=refusal["error"], problems=refusal["problems"])
    schema = json.loads(text)
    return jsonify(ok=True, html=str(render_fields(schema, locale=locale, id_prefix="preview-")))


@bp.post("/drafts/<int:draft_id>/deploy")
def deploy(draft_id: int):
    session, user = get_session(), signed_in_user()
    revision = request.form.get("revision", type=int)
    try:
        result = perform(
            session, lambda s: drafts_service.deploy_draft(s, draft_id, revision or 0, user)
        )
    except DeployRefused as exc:
        flash(
            gettext("Not deployed: %(n)s problem(s) must be fixed first.", n=len(exc.problems)),
            "error",
        )
        return redirect(url_for("models.draft", draft_id=draft_id))
    except NotFound:
        abort(404)
    except JiedaiError as exc:
        flash(exc.message(current_locale()), "error")
        return redirect(url_for("models.draft", draft_id=draft_id))
    if result.created:
        flash(gettext("Deployed as version %(n)s.", n=result.version.number), "success")
    else:
        flash(gettext("Nothing changed: the draft equals the latest version."), "info")
    return redirect(url_for("models.version", version_id=result.version.id))


@bp.post("/drafts/<int:draft_id>/discard")
def discard(draft_id: int):
    session = get_session()
    _draft(draft_id)
    perform(session, lambda s: drafts_service.discard_draft(s, draft_id))
    flash(gettext("The draft was discarded."), "info")
    return redirect(url_for("models.index"))


# --- test runs ------------------------------------------------------------------------------


@bp.route("/drafts/<int:draft_id>/test-run", methods=["GET", "POST"])
def test_run(draft_id: int):
    current = _draft(draft_id)
    scenario_text = request.form.get("scenario", "") if request.method == "POST" else ""
    result, error = None, None
    if request.method == "POST":
        try:
            scenario = parse_scenario(scenario_text)
        except ScenarioInvalid as exc:
            error = exc.message(current_locale())
        else:
            result = run_scenario(current.bundle, scenario, current_locale())
    return render_template(
        "models/test_run.html",
        draft=current,
        scenario=scenario_text or _scenario_template(current),
        result=result,
        error=error,
    )


def _scenario_template(current) -> str:
    return json.dumps(
        {"start": {}, "steps": [{"task": "task_id", "data": {}}], "services": {}},
        ensure_ascii=False,
        indent=2,
    )


# --- migration ------------------------------------------------------------------------------


@bp.get("/versions/<int:version_id>/migrate")
def migrate_preview(version_id: int):
    session = get_session()
    source = _version(version_id)
    target_id = request.args.get("to", type=int)
    target = session.get(ProcessVersion, target_id) if target_id else None
    if target is not None and target.model_id != source.model_id:
        abort(404)
    checks = migration.preview(session, source, target) if target is not None else []
    return render_template(
        "models/migrate.html",
        source=source,
        target=target,
        targets=[v for v in source.model.versions if v.id != source.id],
        checks=checks,
        locale=current_locale(),
    )


@bp.post("/versions/<int:version_id>/migrate")
def migrate(version_id: int):
    """Each selected instance moves in a transaction of its own; refused ones stay as they
    were and are listed."""
    session, user = get_session(), signed_in_user()
    source = _version(version_id)
    target_id = request.form.get("to", type=int)
    target = session.get(ProcessVersion, target_id) if target_id else None
    if target is None or target.model_id != source.model_id:
        abort(400)
    moved, refused = 0, []
    for instance_id in request.form.getlist("instance", type=int):
        try:
            perform(
                session,
                lambda s, i=instance_id: migration.migrate_instance(s, i, target.id, user),
            )
            moved += 1
        except JiedaiError as exc:
            refused.append(f"#{instance_id}: {exc.message(current_locale())}")
    if moved:
        flash(
            gettext("%(n)s instance(s) moved to version %(v)s.", n=moved, v=target.number),
            "success",
        )
    for line in refused:
        flash(line, "error")
    return redirect(url_for("models.migrate_preview", version_id=source.id, to=target.id))
