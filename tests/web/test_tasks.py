"""Staff in the web app: inbox by role, the task form, claiming, conflicts, access rules."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.models import HumanTask, ProcessInstance, TaskStatus, User
from workflows import scenarios
from workflows.p3 import PROCESS_ID as P3
from workflows.p3 import samples


@pytest.fixture
def database_url(p3_url):
    return p3_url


def _new_contact(db_session):
    instance = scenarios.start(db_session, P3, "front_clerk")
    return instance, scenarios.open_task(db_session, instance.id, "record_contact")


CONTACT = samples.contact("complaint")[1]


def test_inbox_lists_the_tasks_of_my_roles(db_session, login_as):
    _instance, row = _new_contact(db_session)
    client = login_as("front_clerk")
    page = client.get("/tasks/").get_data(as_text=True)
    assert "登记业主接待记录" in page and f"/tasks/{row.id}" in page
    other = login_as("hr")
    assert f"/tasks/{row.id}" not in other.get("/tasks/").get_data(as_text=True)


def test_wrong_role_gets_403_even_by_direct_url(db_session, login_as, form_post):
    _instance, row = _new_contact(db_session)
    client = login_as("hr")
    assert client.get(f"/tasks/{row.id}").status_code == 403
    assert form_post(client, f"/tasks/{row.id}", CONTACT, page="/tasks/").status_code == 403
    assert client.get("/tasks/999999").status_code == 404


def test_task_form_shows_field_errors_and_keeps_values(db_session, login_as, form_post):
    instance, row = _new_contact(db_session)
    client = login_as("front_clerk")
    response = form_post(client, f"/tasks/{row.id}", {**CONTACT, "category": "", "phone": "12"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "请选择" in page or "请填写" in page
    assert 'value="王建国"' in page  # what was typed is kept
    db_session.expire_all()
    assert db_session.get(HumanTask, row.id).status == TaskStatus.OPEN


def test_submitting_the_form_completes_and_moves_on(db_session, login_as, form_post):
    instance, row = _new_contact(db_session)
    client = login_as("front_clerk")
    response = form_post(client, f"/tasks/{row.id}", CONTACT)
    assert response.status_code == 302
    following = scenarios.open_task(db_session, instance.id, "record_complaint")
    assert response.headers["Location"].endswith(f"/tasks/{following.id}")


def test_csrf_token_is_required(db_session, login_as):
    _instance, row = _new_contact(db_session)
    client = login_as("front_clerk")
    assert client.post(f"/tasks/{row.id}", data=CONTACT).status_code == 400
    db_session.expire_all()
    assert db_session.get(HumanTask, row.id).status == TaskStatus.OPEN


def test_claim_and_the_second_person_sees_a_clear_message(app, db_session, login_as, form_post):
    _instance, row = _new_contact(db_session)
    first = login_as("front_clerk")
    assert form_post(first, f"/tasks/{row.id}/claim", page="/tasks/").status_code == 302
    second = login_as("clerk_two", client=app.test_client(), roles=["front_clerk"])
    response = form_post(
        second, f"/tasks/{row.id}", CONTACT, page=f"/tasks/{row.id}", follow_redirects=True
    )
    assert "已由" in response.get_data(as_text=True) and "认领" in response.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(HumanTask, row.id).status == TaskStatus.OPEN


def test_the_loser_of_a_race_is_told_nothing_was_saved(app, db_session, login_as, form_post):
    _instance, row = _new_contact(db_session)
    first = login_as("front_clerk")
    second = login_as("clerk_two", client=app.test_client(), roles=["front_clerk"])
    token_page = f"/tasks/{row.id}"
    assert form_post(first, f"/tasks/{row.id}", CONTACT, page=token_page).status_code == 302
    response = form_post(second, f"/tasks/{row.id}", CONTACT, page="/tasks/", follow_redirects=True)
    assert "已被他人完成" in response.get_data(as_text=True) or response.status_code == 403


def test_instance_detail_shows_history_and_data(db_session, login_as):
    instance, _row = _new_contact(db_session)
    scenarios.complete_step(db_session, instance.id, *samples.contact("complaint"))
    client = login_as("front_clerk")
    page = client.get(f"/instances/{instance.id}").get_data(as_text=True)
    assert instance.business_key in page
    assert "王建国" in page and "投诉" in page
    assert client.get(f"/instances/{instance.id}/diagram.bpmn").status_code == 200
    assert login_as("hr").get(f"/instances/{instance.id}").status_code == 403


def test_start_page_and_start(db_session, login_as, form_post):
    client = login_as("front_clerk")
    assert "业主接待与投诉处理" in client.get("/instances/start").get_data(as_text=True)
    response = form_post(client, f"/instances/start/{P3}", page="/instances/start")
    assert response.status_code == 302 and "/tasks/" in response.headers["Location"]
    hr = login_as("hr")
    response = form_post(
        hr, f"/instances/start/{P3}", page="/instances/start", follow_redirects=True
    )
    assert "不能发起" in response.get_data(as_text=True)


def test_complaint_ledger_filters_and_exports(db_session, login_as):
    done = scenarios.start(db_session, P3, "front_clerk")
    scenarios.run_steps(db_session, done.id, samples.complaint_path("front_clerk"))
    praise = scenarios.start(db_session, P3, "front_clerk")
    scenarios.complete_step(db_session, praise.id, *samples.contact("praise", owner="孙伟"))
    client = login_as("front_clerk")
    page = client.get("/registers/complaints?category=complaint").get_data(as_text=True)
    assert done.business_key in page and praise.business_key not in page
    closed = client.get("/registers/complaints?status=closed").get_data(as_text=True)
    assert done.business_key in closed and praise.business_key not in closed
    csv = client.get("/registers/complaints.csv?category=complaint").get_data(as_text=True)
    header, *rows = csv.lstrip("\ufeff").strip().splitlines()
    assert header.startswith("编号,受理时间")
    assert len(rows) == 1 and done.business_key in rows[0] and "满意" in rows[0]
    assert login_as("hr").get("/registers/complaints").status_code == 403


def test_incident_is_visible_and_a_process_owner_retries(db_session, login_as, form_post):
    instance, _row = _new_contact(db_session)
    db_session.execute(
        ProcessInstance.__table__.update()
        .where(ProcessInstance.id == instance.id)
        .values(status="error")
    )
    from engine.models import Incident

    db_session.add(
        Incident(
            instance_id=instance.id,
            task_spec="route_contact",
            task_name="按类别分派",
            message="决策表没有匹配的规则",
            replay={"action": "steps"},
        )
    )
    db_session.commit()
    client = login_as("process_owner")
    page = client.get(f"/instances/{instance.id}").get_data(as_text=True)
    assert "决策表没有匹配的规则" in page and "/retry" in page
    response = form_post(
        client, f"/instances/{instance.id}/retry", page=f"/instances/{instance.id}"
    )
    assert response.status_code == 302
    db_session.expire_all()
    assert db_session.get(ProcessInstance, instance.id).status == "running"
    clerk = login_as("front_clerk")
    assert form_post(clerk, f"/instances/{instance.id}/retry", page="/tasks/").status_code == 403
    assert db_session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance.id))


def test_claim_and_release_from_the_task_page(db_session, login_as, form_post):
    _instance, row = _new_contact(db_session)
    client = login_as("front_clerk")
    assert "认领" in client.get(f"/tasks/{row.id}").get_data(as_text=True)
    form_post(client, f"/tasks/{row.id}/claim", page=f"/tasks/{row.id}")
    page = client.get(f"/tasks/{row.id}").get_data(as_text=True)
    assert "我已认领" in page and f"/tasks/{row.id}/unclaim" in page
    form_post(client, f"/tasks/{row.id}/unclaim", page=f"/tasks/{row.id}")
    db_session.expire_all()
    assert db_session.get(HumanTask, row.id).claimed_by_id is None


def test_instance_page_masks_the_phone_for_auditors_only(db_session, login_as):
    instance, _row = _new_contact(db_session)
    scenarios.complete_step(db_session, instance.id, *samples.contact("complaint"))
    staff = login_as("front_clerk").get(f"/instances/{instance.id}").get_data(as_text=True)
    assert "13812345678" in staff
    audit = login_as("auditor").get(f"/instances/{instance.id}").get_data(as_text=True)
    assert "13812345678" not in audit and "138****5678" in audit


def test_complaint_contents_are_shown_only_to_p3_readers_and_auditors(db_session, login_as):
    """A process owner oversees every instance, yet may not read a complaint; the handling
    department's supervisor reads it on the task."""
    instance, _row = _new_contact(db_session)
    for step in (samples.contact("complaint"), samples.complaint_record()):
        scenarios.complete_step(db_session, instance.id, *step)
    texts = ("地下车库B区照明损坏", "夜班保安巡逻不到位")
    url = f"/instances/{instance.id}"
    owner = login_as("process_owner").get(url)
    page = owner.get_data(as_text=True)
    assert owner.status_code == 200 and instance.business_key in page
    assert not [t for t in texts if t in page]
    for reader in ("front_clerk", "auditor"):
        page = login_as(reader).get(url).get_data(as_text=True)
        assert all(t in page for t in texts), reader
    task = scenarios.open_task(db_session, instance.id, "handle_complaint")
    handler = scenarios.worker_for(db_session, task)
    page = login_as(handler.username).get(f"/tasks/{task.id}").get_data(as_text=True)
    assert all(t in page for t in texts)


def test_team_view_counts_open_and_overdue_work(db_session, login_as):
    from datetime import UTC, datetime, timedelta

    _instance, row = _new_contact(db_session)
    other, late = _new_contact(db_session)
    late.due_at = datetime.now(UTC) - timedelta(hours=1)
    late.claimed_by_id = db_session.scalar(select(User.id).where(User.username == "front_clerk"))
    db_session.commit()
    page = login_as("project_manager").get("/tasks/team").get_data(as_text=True)
    assert "团队工作量" in page
    role_row = page[page.find("前台文员/客服接待员") :][:400]
    assert ">2<" in role_row and "badge-overdue" in role_row
    inbox = login_as("front_clerk").get("/tasks/").get_data(as_text=True)
    assert "已逾期" in inbox and "/tasks/team" not in inbox
    assert login_as("front_clerk").get("/tasks/team").status_code == 403


def test_due_today_is_marked_in_the_inbox(db_session, login_as):
    from datetime import UTC, datetime, timedelta

    from engine.working_days import business_timezone

    _instance, row = _new_contact(db_session)
    end_of_day = datetime.now(business_timezone()).replace(hour=23, minute=59, second=0)
    if end_of_day <= datetime.now(business_timezone()) + timedelta(minutes=1):
        pytest.skip("too close to midnight in the business time zone")
    row.due_at = end_of_day.astimezone(UTC)
    db_session.commit()
    assert "今日到期" in login_as("front_clerk").get("/tasks/").get_data(as_text=True)
