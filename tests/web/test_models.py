"""Process owners in the web app: models and versions, drafts, validation, editors' save
endpoints, deploys, test runs and migration. Only `process_owner` gets in."""

from __future__ import annotations

import io
import json
import re

import pytest
from sqlalchemy import func, select

from engine.drafts import ModelDraft
from engine.models import AuditEvent, ProcessInstance, ProcessVersion
from workflows import scenarios
from workflows.p3 import PROCESS_ID as P3
from workflows.p3 import samples

BPMN = "p3_owner_reception.bpmn"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def database_url(p3_url):
    return p3_url


def _token(client, url: str) -> str:
    return _TOKEN.search(client.get(url).get_data(as_text=True)).group(1)


def _open_draft(client, form_post) -> int:
    response = form_post(client, f"/models/{P3}/draft", page="/models/")
    assert response.status_code == 302, response.status_code
    return int(response.headers["Location"].rstrip("/").split("/")[-1])


def _save(client, draft_id: int, name: str, text: str, revision: int, token: str):
    return client.post(
        f"/models/drafts/{draft_id}/files/{name}",
        json={"text": text, "revision": revision},
        headers={"X-CSRFToken": token},
    )


def _draft_text(client, draft_id: int, name: str = BPMN) -> tuple[str, int]:
    response = client.get(f"/models/drafts/{draft_id}/files/{name}")
    return response.get_data(as_text=True), int(response.headers["X-Draft-Revision"])


OWNER_URLS = [
    ("get", "/models/"),
    ("get", "/models/versions/1"),
    ("get", "/models/versions/1/diagram.bpmn"),
    ("get", f"/models/versions/1/files/{BPMN}"),
    ("get", "/models/versions/1/migrate"),
    ("post", "/models/versions/1/migrate"),
    ("post", f"/models/{P3}/draft"),
    ("post", "/models/upload"),
    ("get", "/models/drafts/1"),
    ("get", "/models/drafts/1/problems.json"),
    ("get", f"/models/drafts/1/files/{BPMN}"),
    ("post", f"/models/drafts/1/files/{BPMN}"),
    ("get", "/models/drafts/1/modeler"),
    ("get", "/models/drafts/1/tables/p3_contact_routing.dmn"),
    ("get", "/models/drafts/1/forms/p3_result_report.json"),
    ("post", "/models/drafts/1/forms/p3_result_report.json/preview"),
    ("post", "/models/drafts/1/deploy"),
    ("post", "/models/drafts/1/discard"),
    ("get", "/models/drafts/1/test-run"),
    ("post", "/models/drafts/1/test-run"),
]


@pytest.mark.parametrize("role", ["front_clerk", "auditor", "admin", "project_manager"])
def test_only_process_owners_get_in(login_as, csrf_token, role):
    client = login_as(role)
    token = csrf_token(client, "/")
    for method, url in OWNER_URLS:
        if method == "get":
            response = client.get(url)
        else:
            response = client.post(url, data={"csrf_token": token}, headers={"X-CSRFToken": token})
        assert response.status_code == 403, (method, url)


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/models/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_every_post_needs_the_csrf_token(login_as, form_post):
    client = login_as("process_owner")
    draft_id = _open_draft(client, form_post)
    text, revision = _draft_text(client, draft_id)
    no_token = client.post(
        f"/models/drafts/{draft_id}/files/{BPMN}", json={"text": text, "revision": revision}
    )
    assert no_token.status_code == 400
    for url in (
        f"/models/{P3}/draft",
        f"/models/drafts/{draft_id}/deploy",
        "/models/upload",
        f"/models/drafts/{draft_id}/discard",
        "/models/versions/1/migrate",
    ):
        assert client.post(url, data={}).status_code == 400, url


def test_index_lists_versions_with_running_counts(db_session, login_as):
    scenarios.start(db_session, P3, "front_clerk")
    client = login_as("process_owner")
    page = client.get("/models/").get_data(as_text=True)
    assert "业主接待" in page and "v1" in page and "system:test" in page
    version = db_session.scalar(select(ProcessVersion))
    assert version.checksum[:12] in page
    assert re.search(r"<td>1</td>\s*</tr>", page)  # one running instance on v1
    assert "Process models" in page or "流程模型" in page


def test_open_save_validate_and_deploy_a_draft(db_session, login_as, form_post):
    client = login_as("process_owner")
    draft_id = _open_draft(client, form_post)
    page = client.get(f"/models/drafts/{draft_id}").get_data(as_text=True)
    assert "deploy" in page.lower()
    text, revision = _draft_text(client, draft_id)
    token = _token(client, f"/models/drafts/{draft_id}")
    changed = text.replace('name="处理投诉"', 'name="处理业主投诉"', 1)
    response = _save(client, draft_id, BPMN, changed, revision, token)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"revision": revision + 1, "problems": [], "dmn_results": None}
    # A save from an editor opened before that one is refused: nothing of it is stored.
    stale = _save(client, draft_id, BPMN, text, revision, token)
    assert stale.status_code == 409 and stale.get_json()["conflict"]
    assert _draft_text(client, draft_id)[0] == changed
    draft_page = client.get(f"/models/drafts/{draft_id}").get_data(as_text=True)
    assert "handle_complaint" in draft_page  # the change summary names the element
    response = form_post(
        client,
        f"/models/drafts/{draft_id}/deploy",
        {"revision": revision + 1},
        page=f"/models/drafts/{draft_id}",
    )
    assert response.status_code == 302
    version = db_session.scalar(select(ProcessVersion).where(ProcessVersion.number == 2))
    assert response.headers["Location"].endswith(f"/models/versions/{version.id}")
    assert db_session.scalar(select(func.count()).select_from(ModelDraft)) == 0
    page = client.get(f"/models/versions/{version.id}").get_data(as_text=True)
    assert 'data-changed="handle_complaint"' in page and "处理业主投诉" in page


def test_problems_are_listed_and_nothing_is_deployed(db_session, login_as, form_post):
    client = login_as("process_owner")
    draft_id = _open_draft(client, form_post)
    text, revision = _draft_text(client, draft_id)
    token = _token(client, f"/models/drafts/{draft_id}")
    broken = text.replace('record_status = "closed"', "import os", 1)
    body = _save(client, draft_id, BPMN, broken, revision, token).get_json()
    (problem,) = body["problems"]
    assert problem["element_id"] == "close_record" and problem["line"]
    assert problem["file"] == BPMN and problem["reason_zh"] and problem["reason_en"]
    page = client.get(f"/models/drafts/{draft_id}").get_data(as_text=True)
    assert 'data-element="close_record"' in page
    form_post(
        client,
        f"/models/drafts/{draft_id}/deploy",
        {"revision": revision + 1},
        page=f"/models/drafts/{draft_id}",
    )
    assert db_session.scalar(select(func.count()).select_from(ProcessVersion)) == 1
    problems = client.get(f"/models/drafts/{draft_id}/problems.json").get_json()["problems"]
    assert problems[0]["element_id"] == "close_record"


def test_invalid_form_schema_is_refused_with_its_pointer(login_as, form_post):
    client = login_as("process_owner")
    draft_id = _open_draft(client, form_post)
    name = "forms/p3_result_report.json"
    text, revision = _draft_text(client, draft_id, name)
    token = _token(client, f"/models/drafts/{draft_id}")
    schema = json.loads(text)
    field = next(iter(schema["properties"]))
    schema["properties"][field]["type"] = "strng"
    response = _save(client, draft_id, name, json.dumps(schema), revision, token)
    assert response.status_code == 422
    assert response.get_json()["problems"][0]["pointer"] == f"/properties/{field}/type"
    assert _draft_text(client, draft_id, name) == (text, revision)
    preview = client.post(
        f"/models/drafts/{draft_id}/forms/p3_result_report.json/preview",
        json={"text": text},
        headers={"X-CSRFToken": token},
    ).get_json()
    assert preview["ok"] and f'name="{field}"' in preview["html"]
    bad = client.post(
        f"/models/drafts/{draft_id}/forms/p3_result_report.json/preview",
        json={"text": "{"},
        headers={"X-CSRFToken": token},
    ).get_json()
    assert not bad["ok"] and bad["problems"]


def test_dmn_test_cases_run_on_save(login_as, form_post):
    client = login_as("process_owner")
    draft_id = _open_draft(client, form_post)
    token = _token(client, f"/models/drafts/{draft_id}")
    _, revision = _draft_text(client, draft_id)
    cases = {
        "cases": [
            {
                "name": "complaint",
                "inputs": {"category": "complaint"},
                "expected": {"route": "repair"},
            }
        ]
    }
    body = _save(
        client, draft_id, "p3_contact_routing.dmn.tests.json", json.dumps(cases), revision, token
    ).get_json()
    (result,) = body["dmn_results"]
    assert not result["ok"] and result["actual"] == {"route": "complaint"}
    assert body["problems"][0]["file"] == "p3_contact_routing.dmn.tests.json"
    page = client.get(f"/models/drafts/{draft_id}/tables/p3_contact_routing.dmn")
    assert page.status_code == 200 and "case-failed" in page.get_data(as_text=True)


def test_upload_refuses_non_bpmn_and_oversized_files(login_as, form_post, monkeypatch):
    # A small limit: a body over 500 KB would be spooled by the test client to a temporary
    # file it never closes (a ResourceWarning, an error under -W error).
    monkeypatch.setattr("web.blueprints.models.MAX_UPLOAD_BYTES", 5 * 1024 * 1024 // 1000)
    client = login_as("process_owner")
    not_bpmn = form_post(
        client,
        "/models/upload",
        {"files": (io.BytesIO(b"hello"), "notes.bpmn")},
        page="/models/",
        content_type="multipart/form-data",
    )
    assert not_bpmn.status_code == 302
    page = client.get("/models/").get_data(as_text=True)
    assert "notes.bpmn" in page
    huge = form_post(
        client,
        "/models/upload",
        {"files": (io.BytesIO(b"<" + b"x" * 6000), "big.bpmn")},
        page="/models/",
        content_type="multipart/form-data",
    )
    assert huge.status_code == 302
    assert "big.bpmn" in client.get("/models/").get_data(as_text=True)


def test_upload_of_a_broken_bundle_becomes_a_draft_with_its_problems(
    db_session, login_as, form_post
):
    from pathlib import Path

    folder = Path(__file__).parent.parent / "engine" / "broken" / "dead_end"
    client = login_as("process_owner")
    response = form_post(
        client,
        "/models/upload",
        {
            "files": [
                (io.BytesIO((folder / "broken.bpmn").read_bytes()), "broken.bpmn"),
                (io.BytesIO((folder / "forms" / "register.json").read_bytes()), "register.json"),
            ]
        },
        page="/models/",
        content_type="multipart/form-data",
    )
    assert response.status_code == 302 and "/models/drafts/" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-element="review"' in page and "disabled" in page


def test_test_run_shows_the_path_and_writes_nothing(db_session, login_as, form_post):
    client = login_as("process_owner")
    draft_id = _open_draft(client, form_post)
    before = [
        db_session.scalar(select(func.count()).select_from(m))
        for m in (ProcessInstance, AuditEvent)
    ]
    scenario = {"steps": [{"task": t, "data": d} for t, d in [samples.contact("repair")]]}
    response = form_post(
        client,
        f"/models/drafts/{draft_id}/test-run",
        {"scenario": json.dumps(scenario, ensure_ascii=False)},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-current="repair_work_order"' in page and "route_contact" in page
    after = [
        db_session.scalar(select(func.count()).select_from(m))
        for m in (ProcessInstance, AuditEvent)
    ]
    assert after == before
    bad = form_post(client, f"/models/drafts/{draft_id}/test-run", {"scenario": "["})
    assert bad.status_code == 200 and "JSON" in bad.get_data(as_text=True)


def test_migration_preview_and_bulk_move(db_session, login_as, form_post):
    instance = scenarios.start(db_session, P3, "front_clerk")
    scenarios.run_steps(db_session, instance.id, [samples.contact("complaint")])
    client = login_as("process_owner")
    draft_id = _open_draft(client, form_post)
    text, revision = _draft_text(client, draft_id)
    token = _token(client, f"/models/drafts/{draft_id}")
    _save(
        client,
        draft_id,
        BPMN,
        text.replace('name="记录投诉详情"', 'name="记录投诉内容"'),
        revision,
        token,
    )
    form_post(
        client,
        f"/models/drafts/{draft_id}/deploy",
        {"revision": revision + 1},
        page=f"/models/drafts/{draft_id}",
    )
    v1, v2 = db_session.scalars(select(ProcessVersion).order_by(ProcessVersion.number)).all()
    preview = client.get(f"/models/versions/{v1.id}/migrate?to={v2.id}").get_data(as_text=True)
    assert instance.business_key in preview and f'value="{instance.id}"' in preview
    response = form_post(
        client,
        f"/models/versions/{v1.id}/migrate",
        {"to": v2.id, "instance": instance.id},
        page=f"/models/versions/{v1.id}/migrate?to={v2.id}",
    )
    assert response.status_code == 302
    db_session.expire_all()
    assert db_session.get(ProcessInstance, instance.id).version_id == v2.id
    assert (
        db_session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.kind == "instance:migrate")
        )
        == 1
    )
