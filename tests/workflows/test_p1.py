"""P1 official visits through the engine facade: each approval tier, the reject and
plan-not-agreed loops, three departments in parallel, the reminder timer, the register and
attachments. One transaction per step (workflows.scenarios), as a person's click would be."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy import select

from engine import attachments, runtime
from engine.bundles import DEFAULT_BPMN_DIR, collect_bundle
from engine.db import make_engine, make_session_factory, perform
from engine.deploy import check_bundle
from engine.errors import Forbidden, FormInvalid
from engine.identity import get_user
from engine.inbox import can_work_on, inbox
from engine.models import AuditEvent, HumanTask, ProcessInstance, TaskStatus, Timer
from web.instructions import render_instructions
from workflows import scenarios
from workflows.p1 import PROCESS_ID as P1
from workflows.p1 import samples
from workflows.p1.exports import visits_csv, visits_xlsx
from workflows.p1.models import Visit
from workflows.p1.queries import VisitFilter, approval_history, tier_decisions, visit_page

PASSWORD = "test-pass-2026"
P1_BPMN = DEFAULT_BPMN_DIR / "p1_official_visit.bpmn"


@pytest.fixture
def session(procedure_url):
    engine = make_engine(procedure_url("p1_official_visit"))
    session = make_session_factory(engine)()
    yield session
    session.close()
    engine.dispose()


def _open(session, instance_id) -> list[str]:
    session.expire_all()
    return sorted(
        session.scalars(
            select(HumanTask.task_spec).where(
                HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.OPEN
            )
        )
    )


def _new_visit(session, level="routine", **kwargs) -> int:
    instance = scenarios.start(session, P1, "reception_officer")
    scenarios.complete_step(session, instance.id, *samples.registration(level, **kwargs))
    scenarios.run_steps(session, instance.id, [samples.LEADER, samples.plan()])
    return instance.id


def _data(session, instance_id) -> dict:
    instance = runtime.load_instance(session, instance_id)
    return runtime.instance_data(runtime.load_workflow(instance))


def _visit(session, instance_id) -> Visit:
    session.expire_all()
    return session.scalar(select(Visit).where(Visit.instance_id == instance_id))


def test_the_bundle_passes_the_deploy_check():
    parsed = check_bundle(collect_bundle(P1_BPMN))
    assert parsed.spec.name == P1


def test_only_reception_officers_start_a_visit(session):
    with pytest.raises(Forbidden):
        scenarios.start(session, P1, "front_clerk")
    instance = scenarios.start(session, P1, "reception_officer")
    row = scenarios.open_task(session, instance.id, "register_visit")
    assert row.candidate_roles == ["reception_officer"]
    assert _visit(session, instance.id).status == "registering"


def test_leader_instructions_go_to_deputy_director_or_director(session):
    instance = scenarios.start(session, P1, "reception_officer")
    scenarios.complete_step(session, instance.id, *samples.registration("routine"))
    row = scenarios.open_task(session, instance.id, "report_to_leader")
    assert row.candidate_roles == ["deputy_director", "director"]
    scenarios.complete_step(session, instance.id, *samples.LEADER, username="director")
    assert _open(session, instance.id) == ["draft_plan"]
    assert "按对等原则热情接待" in _visit(session, instance.id).leader_instructions


@pytest.mark.parametrize(
    ("level", "rule", "tier", "first_approval", "roles"),
    [
        ("routine", "Rule_routine", "deputy_director", "approve_routine", ["deputy_director"]),
        (
            "important",
            "Rule_important",
            "director_then_leader",
            "approve_by_director",
            ["director"],
        ),
        ("major", "Rule_major", "coordination_meeting", "coordination_meeting", ["univ_leader"]),
    ],
)
def test_the_tier_table_picks_the_approver_and_says_why(
    session, level, rule, tier, first_approval, roles
):
    instance_id = _new_visit(session, level)
    assert _open(session, instance_id) == [first_approval]
    assert scenarios.open_task(session, instance_id, first_approval).candidate_roles == roles
    (decision,) = tier_decisions(session, session.get(ProcessInstance, instance_id))
    assert decision.table == "p1_approval_tier"
    assert [r["id"] for r in decision.rules] == [rule]
    assert decision.inputs == {"reception_level": level}
    assert _visit(session, instance_id).approval_tier == tier
    assert _visit(session, instance_id).status == "approving"


def test_routine_visit_is_approved_by_the_deputy_director(session):
    instance_id = _new_visit(session, "routine")
    scenarios.complete_step(session, instance_id, *samples.approve("approve_routine"))
    assert _open(session, instance_id) == ["coordinate_departments"]
    row = _visit(session, instance_id)
    assert (row.approved_by, row.status) == ("deputy_director", "preparing")
    assert row.approved_at is not None


def test_important_visit_needs_director_then_university_leader(session):
    instance_id = _new_visit(session, "important")
    scenarios.complete_step(session, instance_id, *samples.approve("approve_by_director"))
    assert _open(session, instance_id) == ["approve_by_leader"]
    assert _visit(session, instance_id).approved_by is None  # not yet: one approval to go
    scenarios.complete_step(session, instance_id, *samples.approve("approve_by_leader"))
    assert _open(session, instance_id) == ["coordinate_departments"]
    history = approval_history(session, session.get(ProcessInstance, instance_id))
    assert [(a.step, a.actor, a.role, a.decision) for a in history] == [
        ("approve_by_director", "director", "director", "approve"),
        ("approve_by_leader", "univ_leader", "univ_leader", "approve"),
    ]
    assert _visit(session, instance_id).approved_by == "univ_leader"


def test_major_visit_is_fixed_by_the_coordination_meeting(session):
    instance_id = _new_visit(session, "major")
    scenarios.complete_step(session, instance_id, *samples.meeting())
    assert _open(session, instance_id) == ["coordinate_departments"]
    (entry,) = approval_history(session, session.get(ProcessInstance, instance_id))
    assert entry.meeting["meeting_date"] == "2026-11-21"
    assert "张副校长" in entry.meeting["meeting_attendees"]
    assert "校长办公室牵头" in entry.meeting["meeting_decisions"]


@pytest.mark.parametrize(
    ("level", "step"),
    [
        ("routine", "approve_routine"),
        ("important", "approve_by_director"),
        ("important", "approve_by_leader"),
        ("major", "coordination_meeting"),
    ],
)
def test_a_rejection_needs_a_comment_and_returns_to_the_plan(session, level, step):
    instance_id = _new_visit(session, level)
    if step == "approve_by_leader":
        scenarios.complete_step(session, instance_id, *samples.approve("approve_by_director"))
    base = samples.meeting("reject")[1] if step == "coordination_meeting" else {}
    with pytest.raises(FormInvalid) as refused:
        scenarios.complete_step(session, instance_id, step, {**base, "approval_decision": "reject"})
    assert refused.value.errors == {"approval_comment": "退回时必须填写审定意见"}
    assert _open(session, instance_id) == [step]  # nothing saved
    comment = "请补充用餐安排和陪同人员名单。"
    scenarios.complete_step(
        session,
        instance_id,
        step,
        {**base, "approval_decision": "reject", "approval_comment": comment},
    )
    assert _open(session, instance_id) == ["draft_plan"]
    assert _visit(session, instance_id).status == "planning"
    row = scenarios.open_task(session, instance_id, "draft_plan")
    shown = str(render_instructions(row.instructions, _data(session, instance_id)))
    assert comment in shown and "被退回" in shown
    # The revised plan goes through the same tier again, and the rule is recorded again.
    scenarios.complete_step(session, instance_id, *samples.plan())
    assert len(tier_decisions(session, session.get(ProcessInstance, instance_id))) == 2
    for approval in samples.approvals(level):
        scenarios.complete_step(session, instance_id, *approval)
    assert _open(session, instance_id) == ["coordinate_departments"]
    decisions = [a.decision for a in approval_history(session, _instance(session, instance_id))]
    assert decisions.count("reject") == 1 and decisions[-1] == "approve"


def _instance(session, instance_id) -> ProcessInstance:
    return session.get(ProcessInstance, instance_id)


def test_approving_needs_no_comment_and_an_unknown_decision_is_refused(session):
    instance_id = _new_visit(session, "routine")
    with pytest.raises(FormInvalid) as refused:
        scenarios.complete_step(session, instance_id, "approve_routine", {"approval_decision": "x"})
    assert set(refused.value.errors) == {"approval_decision"}
    scenarios.complete_step(
        session, instance_id, "approve_routine", {"approval_decision": "approve"}
    )
    assert _open(session, instance_id) == ["coordinate_departments"]


def test_plan_not_agreed_by_the_contact_is_revised_before_approval(session):
    instance = scenarios.start(session, P1, "reception_officer")
    scenarios.run_steps(session, instance.id, [samples.registration("routine"), samples.LEADER])
    with pytest.raises(FormInvalid) as refused:
        scenarios.complete_step(session, instance.id, *samples.plan(agreed=False))
    assert "contact_feedback" in refused.value.errors
    feedback = "来宾希望增加与学生代表座谈。"
    scenarios.complete_step(session, instance.id, *samples.plan(agreed=False, feedback=feedback))
    assert _open(session, instance.id) == ["draft_plan"]  # looped, no approval yet
    row = scenarios.open_task(session, instance.id, "draft_plan")
    assert feedback in str(render_instructions(row.instructions, _data(session, instance.id)))
    scenarios.complete_step(session, instance.id, *samples.plan())
    assert _open(session, instance.id) == ["approve_routine"]


def _to_preparation(session, departments=samples.DEPARTMENTS, **kwargs) -> int:
    instance = scenarios.start(session, P1, "reception_officer")
    steps = samples.path_to_preparation("routine", departments)
    steps[0] = samples.registration("routine", **kwargs)
    scenarios.run_steps(session, instance.id, steps)
    return instance.id


def test_each_department_gets_its_own_task_and_the_visit_waits_for_all(session):
    instance_id = _to_preparation(session)
    rows = session.scalars(
        select(HumanTask).where(
            HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.OPEN
        )
    ).all()
    assert sorted(r.candidate_department for r in rows) == sorted(samples.DEPARTMENTS)
    assert {r.task_spec for r in rows} == {"confirm_preparation"}
    for department in samples.DEPARTMENTS:
        liaison = get_user(session, f"liaison_{department}")
        mine = [t for t in inbox(session, liaison) if t.instance_id == instance_id]
        assert [t.candidate_department for t in mine] == [department]
        others = [r for r in rows if r.candidate_department != department]
        assert not any(can_work_on(liaison, r) for r in others)
    # A liaison of an office that is not co-hosting sees nothing; nor does the plain demo one.
    for outsider in ("liaison_finance_office", "dept_liaison"):
        user = get_user(session, outsider)
        assert not [t for t in inbox(session, user) if t.instance_id == instance_id]
    for done, department in enumerate(samples.DEPARTMENTS, start=1):
        row = next(r for r in rows if r.candidate_department == department)
        perform(
            session,
            lambda s, row=row, d=department: runtime.complete_task(
                s, row.id, get_user(s, f"liaison_{d}"), samples.CONFIRM[1]
            ),
        )
        assert _visit(session, instance_id).departments_confirmed == done
        expected = ["record_execution"] if done == 3 else ["confirm_preparation"] * (3 - done)
        assert _open(session, instance_id) == expected


def test_a_liaison_cannot_confirm_another_departments_task(session):
    instance_id = _to_preparation(session)
    row = session.scalar(
        select(HumanTask).where(
            HumanTask.instance_id == instance_id,
            HumanTask.candidate_department == "publicity_dept",
        )
    )
    intruder = get_user(session, "liaison_president_office")
    with pytest.raises(Forbidden):
        perform(session, lambda s: runtime.complete_task(s, row.id, intruder, samples.CONFIRM[1]))


def test_confirmation_must_be_ticked(session):
    instance_id = _to_preparation(session, departments=["president_office"])
    with pytest.raises(FormInvalid) as refused:
        scenarios.complete_step(
            session, instance_id, "confirm_preparation", {"preparation_confirmed": False}
        )
    assert set(refused.value.errors) == {"preparation_confirmed"}


def test_reminder_the_day_before_notifies_the_party_office_and_the_departments(session):
    visit_from = date(2026, 12, 10)
    instance_id = _to_preparation(session, visit_from=visit_from)
    (timer,) = session.scalars(select(Timer).where(Timer.instance_id == instance_id)).all()
    assert timer.task_spec == "preparation_reminder_timer"
    # 09:00 Beijing time the day before the visit.
    assert timer.due_at == datetime(2026, 12, 9, 1, 0, tzinfo=UTC)
    scenarios.complete_step(session, instance_id, *samples.CONFIRM)

    def fire(s):
        instance = runtime.load_instance(s, instance_id, for_update=True)
        runtime.advance(
            s, instance, runtime.load_workflow(instance), actor="system:timer", replay={}
        )

    with time_machine.travel(datetime(2026, 12, 8, 23, 0, tzinfo=UTC), tick=False):
        perform(session, fire)  # not due yet
    assert "follow_up_preparation" not in _open(session, instance_id)
    with time_machine.travel(datetime(2026, 12, 9, 1, 1, tzinfo=UTC), tick=False):
        perform(session, fire)
    assert _open(session, instance_id) == [
        "confirm_preparation",
        "confirm_preparation",
        "follow_up_preparation",
    ]
    assert scenarios.open_task(session, instance_id, "follow_up_preparation").candidate_roles == [
        "party_office"
    ]
    pending = scenarios.open_task(session, instance_id, "confirm_preparation")
    shown = str(render_instructions(pending.instructions, _data(session, instance_id)))
    assert "提醒：来访明天开始（2026-12-10）" in shown
    assert _visit(session, instance_id).status == "preparing"
    # The visit goes on; archiving ends it, and a follow-up nobody did is closed with it.
    scenarios.run_steps(session, instance_id, [samples.CONFIRM, samples.CONFIRM])
    scenarios.run_steps(
        session,
        instance_id,
        [samples.execution("2026-12-10", "2026-12-10"), samples.ARCHIVE],
    )
    instance = session.get(ProcessInstance, instance_id)
    assert instance.status == "completed"
    assert _open(session, instance_id) == []
    row = _visit(session, instance_id)
    assert (row.status, row.archive_location) == ("archived", "党办档案盒 2026-接待-12")
    assert row.archived_at is not None


def test_no_reminder_once_everyone_confirmed(session):
    instance_id = _to_preparation(session, departments=["president_office"])
    scenarios.complete_step(session, instance_id, *samples.CONFIRM)
    assert session.scalars(select(Timer).where(Timer.instance_id == instance_id)).all() == []


# --- the register ---------------------------------------------------------------------------


def test_register_follows_the_visit_and_filters(session):
    first = _new_visit(session, "routine", organisation="南京大学党委办公室")
    second = _new_visit(
        session, "major", organisation="江苏省人民政府", visit_from=date(2026, 12, 20)
    )
    scenarios.complete_step(session, first, *samples.approve("approve_routine"))
    row = _visit(session, second)
    assert row.visiting_organisation == "江苏省人民政府"
    assert row.visit_from == date(2026, 12, 20)
    assert row.requested_activities == ["meeting", "tour", "meal"]
    assert session.get(ProcessInstance, second).title.endswith("江苏省人民政府")

    def keys(filters):
        rows, total = visit_page(session, filters)
        assert total == len(rows)
        return {r.instance_id for r in rows}

    assert keys(VisitFilter()) == {first, second}
    assert keys(VisitFilter(reception_level="major")) == {second}
    assert keys(VisitFilter(status="preparing")) == {first}
    assert keys(VisitFilter(text="南京")) == {first}
    assert keys(VisitFilter(date_from=date(2026, 12, 15))) == {second}
    assert keys(VisitFilter(date_to=date(2026, 12, 15), reception_level="major")) == set()


def test_register_exports_show_labels(session):
    instance_id = _new_visit(session, "important", organisation='=HYPERLINK("x")')
    text = visits_csv(session, VisitFilter())
    header, line = text.splitlines()[:2]
    assert header.startswith("编号,登记时间,来访通知方式,来访单位")
    assert "重要" in line and "主任、校领导依次审定" in line and "审定中" in line
    assert "'=HYPERLINK" in line  # a formula typed into a form is not run by a spreadsheet
    english = visits_csv(session, VisitFilter(), "en")
    assert english.splitlines()[0].startswith("Reference,Registered,Received by")
    assert "Important" in english
    book = load_workbook(io.BytesIO(visits_xlsx(session, VisitFilter(reception_level="important"))))
    sheet = book.active
    assert sheet["A1"].value == "编号"
    assert sheet["D2"].value == '=HYPERLINK("x")' and sheet["D2"].data_type == "s"
    assert sheet.max_row == 2
    headcount_column = [c.value for c in sheet[1]].index("来访人数") + 1
    assert sheet.cell(row=2, column=headcount_column).value == 6  # a number, not text
    assert _visit(session, instance_id).business_key == sheet["A2"].value


# --- attachments ----------------------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        package.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def _upload(session, storage, instance_id, username, content, filename="计划.pdf", kind="plan"):
    def action(s):
        return attachments.save_attachment(
            s,
            storage_dir=storage,
            instance=s.get(ProcessInstance, instance_id),
            user=get_user(s, username),
            filename=filename,
            content=content,
            kind=kind,
        )

    return perform(session, action)


def test_attachments_are_stored_by_content_hash_outside_the_database(session, tmp_path):
    instance_id = _new_visit(session, "routine")
    storage = tmp_path / "files"
    row = _upload(session, storage, instance_id, "reception_officer", PDF, "../../etc/计划.txt")
    digest = hashlib.sha256(PDF).hexdigest()
    assert row.sha256 == digest and row.file_type == "pdf" and row.size == len(PDF)
    assert (storage / digest[:2] / digest).read_bytes() == PDF
    assert row.filename == "计划.pdf"  # no folders; the extension of the real type
    again = _upload(session, storage, instance_id, "reception_officer", PDF, "copy.pdf")
    assert again.sha256 == digest and len(list(storage.rglob("*"))) == 2  # one folder, one file
    photo = _upload(session, storage, instance_id, "reception_officer", PNG, "p.jpg", "photo")
    assert (photo.file_type, photo.filename, photo.mimetype) == ("png", "p.png", "image/png")
    doc = _upload(session, storage, instance_id, "reception_officer", _docx(), "纪要.docx")
    assert doc.file_type == "docx"
    events = session.scalars(
        select(AuditEvent).where(
            AuditEvent.instance_id == instance_id, AuditEvent.kind == "attachment:upload"
        )
    ).all()
    assert [e.payload["filename"] for e in events] == ["计划.pdf", "copy.pdf", "p.png", "纪要.docx"]
    assert events[0].payload["sha256"] == digest and events[0].actor == "reception_officer"


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"MZ\x90\x00 not a pdf", attachments.AttachmentTypeRefused),
        (b"<html><script>alert(1)</script>", attachments.AttachmentTypeRefused),
        (b"PK\x03\x04 broken zip", attachments.AttachmentTypeRefused),
        (b"", attachments.AttachmentEmpty),
        (b"%PDF-" + b"0" * attachments.MAX_BYTES, attachments.AttachmentTooLarge),
    ],
)
def test_wrong_type_empty_or_too_large_is_refused(session, tmp_path, content, error):
    instance_id = _new_visit(session, "routine")
    with pytest.raises(error) as refused:
        _upload(session, tmp_path / "files", instance_id, "reception_officer", content, "x.pdf")
    assert refused.value.message("zh_CN") and refused.value.message("en").isascii()
    assert attachments.attachments_of(session, instance_id) == []
    assert not (tmp_path / "files").exists()


def test_a_zip_that_is_not_an_office_file_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        package.writestr("payload.exe", "MZ")
    assert attachments.sniff(out.getvalue()) is None
    assert attachments.sniff(_docx()) == "docx"


def test_only_people_on_the_visit_upload_and_download(session, tmp_path):
    instance_id = _new_visit(session, "routine")
    row = _upload(session, tmp_path, instance_id, "reception_officer", PDF)
    # The deputy director holds the open approval task: may add the plan too.
    _upload(session, tmp_path, instance_id, "deputy_director", PNG, "p.png", "photo")
    for outsider in ("hr", "liaison_finance_office"):
        with pytest.raises(Forbidden):
            _upload(session, tmp_path, instance_id, outsider, PDF)
        with pytest.raises(Forbidden):
            attachments.open_attachment(session, get_user(session, outsider), row.id, tmp_path)
    # Auditors see every instance: they may download but not add files.
    found, path = attachments.open_attachment(
        session, get_user(session, "auditor"), row.id, tmp_path
    )
    assert found.id == row.id and path.read_bytes() == PDF
    with pytest.raises(Forbidden):
        _upload(session, tmp_path, instance_id, "auditor", PDF)


def test_no_uploads_after_the_visit_is_archived(session, tmp_path):
    instance_id = _to_preparation(session, departments=["president_office"])
    start = _data(session, instance_id)["visit_from"]
    scenarios.run_steps(
        session,
        instance_id,
        [samples.CONFIRM, samples.execution(start, start), samples.ARCHIVE],
    )
    with pytest.raises(Forbidden):
        _upload(session, tmp_path, instance_id, "reception_officer", PDF)


def test_demo_sample_dates_are_relative_to_today():
    step, data = samples.registration("routine")
    assert step == "register_visit"
    assert date.fromisoformat(data["visit_from"]) > date.today() + timedelta(days=5)
