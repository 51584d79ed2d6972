"""The visit register and attachments in the web app: filters, detail, print view, exports
(checked by content), who may see them, the approval form's conditional comment and the
"why this approver" box."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from engine.models import HumanTask, TaskStatus
from workflows import scenarios
from workflows.p1 import PROCESS_ID as P1
from workflows.p1 import samples
from workflows.p1.models import Visit

PASSWORD = "test-pass-2026"
PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture
def database_url(procedure_url):
    return procedure_url("p1_official_visit")


@pytest.fixture
def storage(app, tmp_path):
    folder = tmp_path / "attachments"
    app.config["JIEDAI_ATTACHMENTS_DIR"] = str(folder)
    return folder


def _visit(db_session, level="routine", organisation="南京大学党委办公室", **kwargs) -> int:
    instance = scenarios.start(db_session, P1, "reception_officer")
    step = samples.registration(level, organisation=organisation, **kwargs)
    scenarios.run_steps(db_session, instance.id, [step, samples.LEADER, samples.plan()])
    return instance.id


def _row(db_session, instance_id) -> Visit:
    db_session.expire_all()
    return db_session.scalar(select(Visit).where(Visit.instance_id == instance_id))


def _task(db_session, instance_id, spec) -> HumanTask:
    return scenarios.open_task(db_session, instance_id, spec)


@pytest.mark.parametrize(
    "url",
    [
        "/registers/visits/",
        "/registers/visits/export.csv",
        "/registers/visits/export.xlsx",
        "/registers/visits/{id}",
        "/registers/visits/{id}/print",
    ],
)
@pytest.mark.parametrize("role", ["front_clerk", "hr", "dept_liaison"])
def test_other_roles_get_403(db_session, login_as, url, role):
    visit = _row(db_session, _visit(db_session))
    client = login_as(role)
    assert client.get(url.format(id=visit.id)).status_code == 403


def test_signed_out_people_are_sent_to_login(client):
    response = client.get("/registers/visits/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_navigation_shows_the_register_to_its_readers_only(db_session, login_as):
    assert "/registers/visits/" in login_as("reception_officer").get("/tasks/").get_data(True)
    assert "/registers/visits/" not in login_as("front_clerk").get("/tasks/").get_data(True)


def test_list_filters_by_level_status_date_and_text(db_session, login_as):
    routine = _visit(db_session, "routine", "南京大学党委办公室", visit_from=date(2026, 12, 3))
    major = _visit(db_session, "major", "江苏省人民政府", visit_from=date(2026, 12, 20))
    scenarios.complete_step(db_session, routine, *samples.approve("approve_routine"))
    client = login_as("director")

    def page(query=""):
        return client.get(f"/registers/visits/{query}").get_data(as_text=True)

    everything = page()
    assert "南京大学党委办公室" in everything and "江苏省人民政府" in everything
    assert "2 条记录" in everything or "2 records" in everything
    only_major = page("?level=major")
    assert "江苏省人民政府" in only_major and "南京大学党委办公室" not in only_major
    preparing = page("?status=preparing")
    assert "南京大学党委办公室" in preparing and "江苏省人民政府" not in preparing
    later = page("?from=2026-12-10")
    assert "江苏省人民政府" in later and "南京大学党委办公室" not in later
    assert "南京大学党委办公室" not in page("?q=江苏")
    assert "准备中" in preparing and "重大" in only_major
    # Nonsense filter values are ignored, not errors.
    assert client.get("/registers/visits/?level=x&from=yesterday&page=-3").status_code == 200
    assert _row(db_session, major).status == "approving"


def test_exports_are_filtered_and_labelled(db_session, login_as):
    _visit(db_session, "routine", "南京大学党委办公室")
    _visit(db_session, "important", "教育部高等教育司调研组", headcount=9)
    client = login_as("party_office")
    response = client.get("/registers/visits/export.csv?level=important")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "visit-register.csv" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff编号,")
    lines = text.strip().splitlines()
    assert len(lines) == 2
    assert "教育部高等教育司调研组" in lines[1] and "重要" in lines[1]
    assert "南京大学" not in text
    xlsx = client.get("/registers/visits/export.xlsx?q=南京")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "编号" and len(rows) == 2
    assert "南京大学党委办公室" in rows[1] and "一般" in rows[1]


def test_detail_and_print_view_show_the_approval_history(db_session, login_as):
    instance_id = _visit(db_session, "important", "教育部高等教育司调研组")
    scenarios.complete_step(db_session, instance_id, *samples.reject("approve_by_director"))
    scenarios.complete_step(db_session, instance_id, *samples.plan())
    scenarios.complete_step(db_session, instance_id, *samples.approve("approve_by_director"))
    visit = _row(db_session, instance_id)
    client = login_as("auditor")
    page = client.get(f"/registers/visits/{visit.id}").get_data(as_text=True)
    assert "教育部高等教育司调研组" in page
    assert "Rule_important" in page and "重要接待活动：报主任审定，再报校领导审定" in page
    assert "请补充用餐安排和陪同人员名单。" in page  # the rejection comment
    assert page.count("主任审定接待计划") >= 2  # rejected, then approved
    assert "按对等原则热情接待" in page  # the leader's instructions
    printed = client.get(f"/registers/visits/{visit.id}/print").get_data(as_text=True)
    assert "<h1>接待工作登记表</h1>" in printed
    assert visit.business_key in printed and "教育部高等教育司调研组" in printed
    assert "退回（请补充用餐安排和陪同人员名单。）" in printed
    assert client.get("/registers/visits/999999").status_code == 404


def test_task_page_says_why_this_approver(db_session, login_as):
    instance_id = _visit(db_session, "important")
    row = _task(db_session, instance_id, "approve_by_director")
    page = login_as("director").get(f"/tasks/{row.id}").get_data(as_text=True)
    assert "p1_approval_tier" in page and "Rule_important" in page
    assert "reception_level" in page and "重要" in page
    detail = login_as("reception_officer").get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "Rule_important" in detail


def test_rejecting_without_a_comment_shows_the_message_on_the_comment_field(
    db_session, login_as, form_post
):
    instance_id = _visit(db_session, "routine")
    row = _task(db_session, instance_id, "approve_routine")
    client = login_as("deputy_director")
    response = form_post(client, f"/tasks/{row.id}", {"approval_decision": "reject"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="field-approval_comment-error"' in page
    assert "退回时必须填写审定意见" in page
    db_session.expire_all()
    assert db_session.get(HumanTask, row.id).status == TaskStatus.OPEN
    response = form_post(
        client,
        f"/tasks/{row.id}",
        {"approval_decision": "reject", "approval_comment": "日程太紧，请调整。"},
    )
    assert response.status_code == 302
    plan = _task(db_session, instance_id, "draft_plan")
    page = login_as("reception_officer").get(f"/tasks/{plan.id}").get_data(as_text=True)
    assert "日程太紧，请调整。" in page


def test_liaison_sees_only_their_departments_task(db_session, login_as):
    instance = scenarios.start(db_session, P1, "reception_officer")
    scenarios.run_steps(db_session, instance.id, samples.path_to_preparation("routine"))
    rows = db_session.scalars(
        select(HumanTask).where(
            HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.OPEN
        )
    ).all()
    mine = next(r for r in rows if r.candidate_department == "publicity_dept")
    client = login_as("liaison_publicity_dept")
    inbox = client.get("/tasks/").get_data(as_text=True)
    assert f"/tasks/{mine.id}" in inbox
    for other in rows:
        if other.id != mine.id:
            assert f"/tasks/{other.id}" not in inbox
            assert client.get(f"/tasks/{other.id}").status_code == 403


def test_upload_and_download_an_attachment(db_session, login_as, form_post, storage):
    instance_id = _visit(db_session, "routine")
    client = login_as("reception_officer")
    response = form_post(
        client,
        f"/attachments/instances/{instance_id}",
        {"kind": "plan", "file": (io.BytesIO(PDF), "接待计划.pdf"), "next": "/tasks/"},
        page=f"/instances/{instance_id}",
        content_type="multipart/form-data",
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/tasks/")
    detail = client.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "接待计划.pdf" in detail
    link = detail.split('href="/attachments/')[1].split('"')[0]
    download = client.get(f"/attachments/{link}")
    assert download.status_code == 200 and download.data == PDF
    assert download.mimetype == "application/pdf"
    assert "attachment" in download.headers["Content-Disposition"]
    download.close()  # send_file streams from the file until the response is closed
    assert any(storage.rglob("*")) and not list(storage.rglob("*.pdf"))  # stored by hash
    # Someone not on the visit cannot fetch it, even with the link.
    assert login_as("hr").get(f"/attachments/{link}").status_code == 403
    assert login_as("reception_officer").get("/attachments/999999").status_code == 404


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"MZ\x90\x00", "只能上传 PDF、JPEG、PNG"),
        (b"%PDF-" + b"0" * (10 * 1024 * 1024), "附件不能超过 10 MB"),
    ],
)
def test_refused_uploads_say_why_and_store_nothing(
    db_session, login_as, form_post, storage, content, message
):
    instance_id = _visit(db_session, "routine")
    client = login_as("reception_officer")
    response = form_post(
        client,
        f"/attachments/instances/{instance_id}",
        {"kind": "plan", "file": (io.BytesIO(content), "a.pdf")},
        page=f"/instances/{instance_id}",
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert message in response.get_data(as_text=True)
    assert not storage.exists() or not any(p.is_file() for p in storage.rglob("*"))


def test_upload_is_refused_to_people_not_on_the_visit(db_session, login_as, form_post, storage):
    instance_id = _visit(db_session, "routine")
    client = login_as("hr")
    response = form_post(
        client,
        f"/attachments/instances/{instance_id}",
        {"kind": "plan", "file": (io.BytesIO(PDF), "a.pdf")},
        page="/tasks/",
        content_type="multipart/form-data",
    )
    assert response.status_code == 403
