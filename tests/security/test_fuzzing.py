"""Property tests (issue 8): every form schema validates any input without raising; the task
form and the JSON endpoints answer any input with 2xx/3xx or a 4xx with a message, never 500,
and a refused submission leaves the instance exactly as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from sqlalchemy import select, text
from werkzeug.datastructures import MultiDict

from engine.models import HumanTask, ProcessInstance, TaskStatus
from forms.labels import properties
from forms.validation import FORMAT_CHECKER, coerce_submission, validate
from workflows import scenarios
from workflows.p3 import PROCESS_ID as P3
from workflows.p3 import samples

SCHEMAS = sorted((Path(__file__).resolve().parents[2] / "forms" / "schemas").glob("*.json"))
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=300)
    | st.sampled_from(["", " ", "2026-02-30", "2026-10-01", "1e999", "\x00", "<script>", "是"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
form_text = st.text(max_size=200) | st.sampled_from(
    ["", "true", "false", "on", "0", "-1", "99999999999999999999", "2026-10-01T09:30", "\x00"]
)


def _field_names(schema: dict) -> list[str]:
    return list(properties(schema)) or ["x"]


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.stem)
def test_validate_never_raises_and_agrees_with_json_schema(path):
    schema = json.loads(path.read_text(encoding="utf-8"))
    names = _field_names(schema)
    keys = st.sampled_from(names) | st.text(max_size=12)
    checker = Draft202012Validator(schema, format_checker=FORMAT_CHECKER)

    @FUZZ
    @given(data=st.dictionaries(keys, json_values, max_size=len(names) + 2))
    def check(data):
        for locale in ("zh_CN", "en"):
            errors = validate(schema, data, locale=locale)
            assert isinstance(errors, dict)
            assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in errors.items())
            if not errors:
                assert checker.is_valid(data)

    check()


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.stem)
def test_html_submissions_are_coerced_and_validated_without_raising(path):
    schema = json.loads(path.read_text(encoding="utf-8"))
    names = _field_names(schema)

    @FUZZ
    @given(
        pairs=st.lists(
            st.tuples(st.sampled_from(names) | st.text(max_size=8), form_text), max_size=12
        )
    )
    def check(pairs):
        data = coerce_submission(schema, MultiDict(pairs))
        errors = validate(schema, data)
        assert isinstance(errors, dict)

    check()


# --- through the web app ----------------------------------------------------------------


@pytest.fixture
def p3_task(db_session):
    instance = scenarios.start(db_session, P3, "front_clerk")
    task = scenarios.open_task(db_session, instance.id, "record_contact")
    db_session.commit()
    return instance.id, task.id


def _snapshot(app, instance_id: int):
    with app.extensions["jiedai"].session_factory() as session:
        instance = session.get(ProcessInstance, instance_id)
        tasks = session.execute(
            select(HumanTask.id, HumanTask.status, HumanTask.claimed_by_id).where(
                HumanTask.instance_id == instance_id
            )
        ).all()
        state = session.execute(
            text("SELECT state_json FROM process_instance WHERE id = :id"), {"id": instance_id}
        ).scalar()
        return instance.lock_version, instance.status, sorted(tasks), state


CONTACT_FIELDS = list(samples.contact("complaint")[1])


def test_task_completion_answers_any_form_without_500(app, db_session, sign_in, p3_task):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    instance_id, task_id = p3_task
    valid = {k: str(v) for k, v in samples.contact("complaint")[1].items()}
    connection = db_session.get_bind()
    before = _snapshot(app, instance_id)

    @FUZZ
    @given(
        fields=st.dictionaries(
            st.sampled_from(CONTACT_FIELDS) | st.text(max_size=8), form_text, max_size=10
        ),
        start_valid=st.booleans(),
    )
    def check(fields, start_valid):
        savepoint = connection.begin_nested()
        try:
            client = app.test_client()
            token = sign_in(client, "front_clerk")
            data = {**(valid if start_valid else {}), **fields, "csrf_token": token}
            response = client.post(f"/tasks/{task_id}", data=data)
            assert response.status_code in (302, 422), response.status_code
            if response.status_code == 422:
                body = response.get_data(as_text=True)
                assert "flash-error" in body or "error" in body
                assert _snapshot(app, instance_id) == before  # nothing partial was saved
            else:
                with app.extensions["jiedai"].session_factory() as session:
                    assert session.get(HumanTask, task_id).status == TaskStatus.COMPLETED
        finally:
            savepoint.rollback()

    check()
    assert _snapshot(app, instance_id) == before


def test_task_urls_with_odd_ids_never_500(app, db_session, sign_in):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    sign_in(client, "front_clerk")

    @FUZZ
    @given(st.text(min_size=1, max_size=30) | st.integers().map(str))
    def check(raw):
        from urllib.parse import quote

        response = client.get("/tasks/" + quote(raw, safe=""))
        assert response.status_code in (200, 302, 308, 403, 404), (raw, response.status_code)

    check()


def test_form_preview_json_endpoint_never_500(app, db_session, sign_in):
    if "models.form_preview" not in app.view_functions:
        pytest.skip("the models editor is not registered")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    token = sign_in(client, "process_owner")
    opened = client.post(f"/models/{P3}/draft", data={"csrf_token": token})
    assert opened.status_code == 302, opened.status_code
    draft_url = opened.headers["Location"]
    draft_id = int(draft_url.rstrip("/").rsplit("/", 1)[-1])
    url = f"/models/drafts/{draft_id}/forms/p3_contact_record.json/preview"

    @FUZZ
    @given(
        body=st.one_of(
            json_values.map(json.dumps),
            json_values.map(lambda v: json.dumps({"text": json.dumps(v)})),
            st.text(max_size=200).map(lambda t: json.dumps({"text": t})),
            st.text(max_size=50),
        )
    )
    def check(body):
        response = client.post(
            url, data=body, content_type="application/json", headers={"X-CSRFToken": token}
        )
        assert response.status_code < 500, (body[:200], response.status_code)
        if response.status_code >= 400 or response.is_json:
            payload = response.get_json(silent=True)
            assert payload is not None and (
                payload.get("ok") is True or payload.get("error") or payload.get("message")
            )

    check()
