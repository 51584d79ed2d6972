"""The auditors' pages: read-only access, search filters, timeline, exports, the approval
record (PDF), masking of personal data, and sign-in events."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from engine import audit_chain
from engine.audit_search import AuditVerification
from engine.db import perform
from engine.models import AuditEvent
from workflows import scenarios
from workflows.p3 import PROCESS_ID as P3
from workflows.p3 import samples

PASSWORD = "test-pass-2026"
PHONE = "13812345678"
MASKED_PHONE = "138****5678"


@pytest.fixture
def database_url(p3_url):
    return p3_url


@pytest.fixture
def complaint(db_session):
    """A P3 complaint past its first two steps (the contact holds the owner's phone)."""
    instance = scenarios.start(db_session, P3, "front_clerk")
    scenarios.run_steps(
        db_session, instance.id, [samples.contact("complaint"), samples.complaint_record()]
    )
    return instance


def _approval(db_session, instance, actor, decision, comment, role="deputy_director"):
    """An approval as P1's forms will write it: `decision` and `comment` in the task data."""
    perform(
        db_session,
        lambda s: audit_chain.record(
            s,
            "task:complete",
            actor=actor,
            role=role,
            instance_id=instance.id,
            task="approve_plan",
            version_id=instance.version_id,
            payload={
                "human_task": None,
                "name": "审批接待方案",
                "data": {"decision": decision, "comment": comment},
            },
        ),
    )


def _events(db_session, kind):
    db_session.expire_all()
    return db_session.scalars(
        select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.seq)
    ).all()


def _text(response) -> str:
    return response.get_data(as_text=True)


# --- access ---------------------------------------------------------------------------------


def test_every_write_route_of_the_app_refuses_an_auditor(app, db_session, login_as, complaint):
    """Enumerated from the URL map, so a route added later cannot be forgotten."""
    client = login_as("auditor")
    token = re.search(r'name="csrf_token" value="([^"]+)"', _text(client.get("/audit/")))[1]
    checked = []
    for rule in app.url_map.iter_rules():
        methods = (rule.methods or set()) - {"GET", "HEAD", "OPTIONS"}
        # The one auditor write: revealing personal data records only an audit event.
        if not methods or rule.endpoint in ("auth.login", "auth.logout", "static", "audit.reveal"):
            continue
        url = rule.rule
        for name in rule.arguments:
            value = P3 if name == "process_id" else str(complaint.id)
            url = re.sub(rf"<(?:[^:>]+:)?{name}>", value, url)
        for method in methods:
            response = client.open(url, method=method, data={"csrf_token": token})
            assert response.status_code == 403, f"{method} {url} answered {response.status_code}"
            checked.append(f"{method} {url}")
    assert checked, "no write routes found"
    # Nothing changed on the instance.
    assert not [e for e in _events(db_session, "task:complete") if e.actor == "auditor"]


def test_audit_pages_are_for_auditors_only(login_as, complaint):
    client = login_as("front_clerk")
    for url in ("/audit/", "/audit/chain", f"/audit/instances/{complaint.id}", "/audit/export.csv"):
        assert client.get(url).status_code == 403, url
    auditor = login_as("auditor")
    page = _text(auditor.get("/tasks/"))
    assert 'href="/audit/"' in page  # the navigation entry


# --- search ---------------------------------------------------------------------------------


def test_search_filters_by_outcome_person_text_and_key(db_session, login_as, make_user, complaint):
    make_user("li_deputy", ["deputy_director"], display_name="李副主任")
    make_user("zhao_director", ["director"], display_name="赵主任")
    _approval(db_session, complaint, "li_deputy", "reject", "接待规格过高，请修改方案")
    _approval(db_session, complaint, "zhao_director", "approve", "同意按方案接待", "director")
    client = login_as("auditor")

    rejected = _text(client.get("/audit/?outcome=rejected"))
    assert "接待规格过高" in rejected and "同意按方案接待" not in rejected

    by_name = _text(client.get("/audit/", query_string={"person": "赵主任"}))
    assert "同意按方案接待" in by_name and "接待规格过高" not in by_name

    by_text = _text(client.get("/audit/", query_string={"q": "规格"}))
    assert "接待规格过高" in by_text and "同意按方案接待" not in by_text

    by_role = _text(client.get("/audit/?role=director"))
    assert "同意按方案接待" in by_role and "接待规格过高" not in by_role

    by_key = _text(client.get("/audit/", query_string={"key": complaint.business_key}))
    assert complaint.business_key in by_key and "登记业主接待记录" in by_key
    other_key = _text(client.get("/audit/?key=JD19990101"))
    assert "接待规格过高" not in other_key

    by_procedure = _text(client.get(f"/audit/?procedure={P3}&kind=instance:start"))
    assert complaint.business_key in by_procedure


def test_search_by_date_range(db_session, login_as, complaint):
    client = login_as("auditor")
    day = complaint.started_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    today = day.date().isoformat()
    inside = _text(client.get(f"/audit/?from={today}&to={today}&key={complaint.business_key}"))
    assert complaint.business_key in inside
    before = _text(
        client.get(f"/audit/?from=2000-01-01&to=2000-01-02&key={complaint.business_key}")
    )
    assert f">{complaint.business_key}<" not in before


def test_search_pages_results(db_session, login_as, complaint):
    for i in range(55):
        _approval(db_session, complaint, "front_clerk", "approve", f"批注{i:02d}")
    client = login_as("auditor")
    first = _text(client.get("/audit/?q=批注"))
    second = _text(client.get("/audit/?q=批注&page=2"))
    assert "批注54" in first and "批注00" not in first
    assert "批注00" in second and "批注54" not in second
    assert "page=2" in first


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-05-02&to=2026-05-01", "开始日期晚于结束日期"),
        ("from=yesterday", "yesterday"),
        ("person=nobody_here", "nobody_here"),
        ("role=astronaut", "astronaut"),
    ],
)
def test_bad_filters_get_a_clear_message(login_as, query, message):
    client = login_as("auditor")
    response = client.get(f"/audit/?{query}")
    page = _text(response)
    assert response.status_code == 200
    assert 'class="alert alert-error"' in page and message in page


# --- timeline and masking -------------------------------------------------------------------


def test_timeline_shows_steps_rules_and_masks_the_phone(db_session, login_as, complaint):
    client = login_as("auditor")
    page = _text(client.get(f"/audit/instances/{complaint.id}"))
    assert 'id="diagram"' in page and "diagram.js" in page
    assert "p3_contact_routing" in page  # the DMN table that chose the route
    assert "王建国" in page and MASKED_PHONE in page and PHONE not in page
    assert "personal_data:reveal" not in {
        e.kind for e in _events(db_session, "personal_data:reveal")
    }


def test_revealing_needs_a_reason_and_is_recorded(db_session, login_as, form_post, complaint):
    client = login_as("auditor")
    url = f"/audit/instances/{complaint.id}"
    page = _text(client.get(f"{url}?reveal=1&reason=核实投诉人身份"))  # a GET never reveals
    assert PHONE not in page and not _events(db_session, "personal_data:reveal")
    assert client.post(f"{url}/reveal", data={"reason": "核实"}).status_code == 400  # no CSRF
    page = _text(form_post(client, f"{url}/reveal", {"reason": ""}, page=url))
    assert PHONE not in page and not _events(db_session, "personal_data:reveal")
    page = _text(form_post(client, f"{url}/reveal", {"reason": "核实投诉人身份"}, page=url))
    assert PHONE in page
    (event,) = _events(db_session, "personal_data:reveal")
    assert event.actor == "auditor" and event.role == "auditor"
    assert event.instance_id == complaint.id
    assert event.payload["reason"] == "核实投诉人身份" and "phone" in event.payload["fields"]


# --- exports --------------------------------------------------------------------------------


def test_csv_export_has_the_rows_masked_and_is_recorded(db_session, login_as, complaint):
    _approval(db_session, complaint, "front_clerk", "reject", f"请联系业主{PHONE}")
    client = login_as("auditor")
    response = client.get(f"/audit/export.csv?key={complaint.business_key}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = _text(response)
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0][:3] == ["序号", "时间", "事件类型"]
    kinds = [row[2] for row in rows[1:]]
    assert "instance:start" in kinds and "task:complete" in kinds
    assert all(row[6] == complaint.business_key for row in rows[1:])
    assert PHONE not in body and MASKED_PHONE in body
    assert any(row[9] == "不同意" for row in rows[1:])
    (event,) = _events(db_session, "audit:export")
    assert event.payload["format"] == "csv" and event.payload["rows"] == len(rows) - 1
    assert event.payload["filters"] == {"business_key": complaint.business_key}


def test_xlsx_export_has_the_same_rows(db_session, login_as, complaint):
    client = login_as("auditor")
    response = client.get(f"/audit/export.xlsx?key={complaint.business_key}")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "序号"
    assert {row[6] for row in values[1:]} == {complaint.business_key}
    assert all(PHONE not in str(cell) for row in values for cell in row)
    assert any(MASKED_PHONE in str(row[11]) for row in values[1:])
    assert [e.payload["format"] for e in _events(db_session, "audit:export")] == ["xlsx"]


def test_export_with_a_bad_filter_is_refused(login_as):
    client = login_as("auditor")
    response = client.get("/audit/export.csv?from=2026-05-02&to=2026-05-01")
    assert response.status_code == 400 and "开始日期晚于结束日期" in _text(response)


def test_approval_record_pdf(db_session, login_as, make_user, complaint):
    make_user("li_deputy", ["deputy_director"], display_name="李副主任")
    _approval(db_session, complaint, "li_deputy", "reject", "接待规格过高，请修改方案")
    client = login_as("auditor")
    response = client.get(f"/audit/instances/{complaint.id}/record.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    (event,) = _events(db_session, "audit:export")
    assert event.payload["format"] == "pdf" and event.instance_id == complaint.id
    text = _pdf_text(response.data)
    assert complaint.business_key in text
    assert "审批单" in text and "李副主任" in text and "不同意" in text
    assert "接待规格过高" in text
    assert MASKED_PHONE in text and PHONE not in text
    last = db_session.scalar(
        select(AuditEvent.hash)
        .where(AuditEvent.instance_id == complaint.id, AuditEvent.kind != "audit:export")
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )
    assert last in text
    assert "第1页/共" in text  # page numbers


def _pdf_text(data: bytes) -> str:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (poppler-utils) is missing: run scripts/system-deps.sh")
    result = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True)
    # Table cells wrap: compare without whitespace.
    return re.sub(r"\s+", "", result.stdout.decode("utf-8"))


# --- chain status ---------------------------------------------------------------------------


def test_chain_status_verifies_on_demand_and_stores_the_result(db_session, login_as, complaint):
    client = login_as("auditor")
    page = _text(client.get("/audit/chain?verify=1"))
    seq, digest = audit_chain.head(db_session)
    assert digest in page
    db_session.expire_all()
    stored = db_session.scalars(select(AuditVerification)).all()
    assert [(v.ok, v.complete, v.checked_by) for v in stored] == [(True, True, "auditor")]


def test_a_damaged_chain_is_shown_prominently(db_session, login_as, complaint):
    event = db_session.scalar(select(AuditEvent).order_by(AuditEvent.seq).limit(1))
    event.payload = {**event.payload, "data": {"forged": True}}
    db_session.commit()
    client = login_as("auditor")
    client.get("/audit/chain?verify=1")
    page = _text(client.get("/audit/"))
    alarm = page.split('class="alert alert-error"', 1)[1].split("</div>", 1)[0]
    assert f"{event.seq}" in alarm and ("篡改" in alarm or "edited" in alarm)
    db_session.expire_all()
    (stored,) = db_session.scalars(select(AuditVerification)).all()
    assert (stored.ok, stored.broken_seq, stored.damage) == (False, event.seq, "edited")


def test_admins_see_a_damaged_chain_on_every_page(db_session, login_as, make_user, complaint):
    event = db_session.scalar(select(AuditEvent).order_by(AuditEvent.seq).limit(1))
    event.payload = {**event.payload, "data": {"forged": True}}
    db_session.commit()
    make_user("clerk", ["front_clerk"])
    assert 'id="chain-alarm"' not in _text(login_as("admin").get("/"))  # nothing stored yet
    login_as("auditor").get("/audit/chain?verify=1")
    for path in ("/", "/instances/"):
        page = _text(login_as("admin").get(path, follow_redirects=True))
        alarm = page.split('id="chain-alarm"', 1)[1].split("</div>", 1)[0]
        assert f"{event.seq}" in alarm and ("篡改" in alarm or "edited" in alarm)
    assert 'id="chain-alarm"' not in _text(login_as("clerk").get("/", follow_redirects=True))


# --- sign-in events -------------------------------------------------------------------------


def test_logins_and_failed_logins_are_recorded(client, db_session, make_user, csrf_token):
    make_user("wang", ["front_clerk"])
    token = csrf_token(client)
    client.post("/login", data={"csrf_token": token, "username": "wang", "password": "wrong"})
    client.post("/login", data={"csrf_token": token, "username": "wang", "password": PASSWORD})
    (failed,) = _events(db_session, "auth:login_failed")
    assert failed.payload == {"username": "wang", "remote_addr": "127.0.0.1"}
    (ok,) = _events(db_session, "auth:login")
    assert ok.actor == "wang" and ok.payload["remote_addr"] == "127.0.0.1"


# --- a real approval: P1, an important visit rejected by the director --------------------------


@pytest.fixture
def rejected_visit(db_session):
    """An important (重要) P1 visit whose plan the director sent back with a comment."""
    from engine.bundles import DEFAULT_BPMN_DIR, collect_bundle
    from engine.deploy import deploy_bundle
    from engine.models import HumanTask
    from workflows.p1 import PROCESS_ID as P1
    from workflows.p1 import samples as p1

    bundle = collect_bundle(DEFAULT_BPMN_DIR / "p1_official_visit.bpmn")
    perform(db_session, lambda s: deploy_bundle(s, bundle, "system:test"))
    instance = scenarios.start(db_session, P1, "reception_officer")
    steps = [p1.registration("important"), p1.LEADER, p1.plan()]
    scenarios.run_steps(db_session, instance.id, steps)
    scenarios.run_steps(
        db_session, instance.id, [p1.reject("approve_by_director", "请补充用餐安排和陪同人员名单")]
    )
    db_session.expire_all()
    task = db_session.scalar(
        select(HumanTask).where(
            HumanTask.instance_id == instance.id, HumanTask.task_spec == "approve_by_director"
        )
    )
    return instance, task.completed_by


def test_an_auditor_finds_a_rejected_visit_by_the_approvers_name(login_as, rejected_visit):
    instance, director = rejected_visit
    client = login_as("auditor")
    found = _text(
        client.get("/audit/", query_string={"person": director.display_name, "outcome": "rejected"})
    )
    assert instance.business_key in found and "请补充用餐安排" in found
    assert found.count(f">{instance.business_key}<") == 1

    timeline = _text(client.get(f"/audit/instances/{instance.id}"))
    assert "p1_approval_tier" in timeline  # the DMN table that chose the approvers
    assert "请补充用餐安排" in timeline and director.display_name in timeline
    assert "025-83592114" not in timeline  # the contact's phone is masked

    pdf = _pdf_text(client.get(f"/audit/instances/{instance.id}/record.pdf").data)
    assert instance.business_key in pdf and "不同意" in pdf
    assert director.display_name in pdf and "请补充用餐安排" in pdf


# --- masking rules (engine.masking), used by every audit view and export -------------------------


def test_masking_rules():
    from engine.masking import field_kind, mask_data, mask_id, mask_phone

    assert mask_phone("13812345678") == "138****5678"
    assert mask_id("110101199001011234") == "1101**********1234"
    assert mask_phone("123") == "***"
    assert [field_kind(n) for n in ("phone", "contact_phone", "holder_id_no", "id_card")] == [
        "phone",
        "phone",
        "id",
        "id",
    ]
    assert [field_kind(n) for n in ("paid_note", "valid_until", "provider", "hotel")] == [None] * 4
    data = {
        "id_card_checked": True,
        "comment": "身份证110101199001011234，电话+86 13812345678",
        "visitors": [{"name": "王", "id_number": "110101199001011234"}],
        "business_key": "JD20261123-000001",
        "headcount": 12345678901,
    }
    assert mask_data(data) == {
        "id_card_checked": True,
        "comment": "身份证1101**********1234，电话+86 138****5678",
        "visitors": [{"name": "王", "id_number": "1101**********1234"}],
        "business_key": "JD20261123-000001",
        "headcount": 12345678901,
    }
