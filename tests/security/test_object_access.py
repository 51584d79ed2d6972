"""Object-level access (issue 8): guessing ids does not open another department's task, or an
instance, attachment or register row of a procedure one's roles cannot see."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from engine.models import HumanTask, TaskStatus


def _status(app, sign_in, username, method, url) -> int:
    client = app.test_client()
    token = sign_in(client, username)
    data = {"csrf_token": token} if method == "POST" else None
    response = client.open(url, method=method, data=data)
    response.close()
    return response.status_code


@pytest.fixture
def security_complaint_task(db_session) -> HumanTask:
    """The demo's complaint waiting for the security department's supervisor."""
    row = db_session.scalar(
        select(HumanTask).where(
            HumanTask.task_spec == "handle_complaint",
            HumanTask.status == TaskStatus.OPEN,
            HumanTask.candidate_department == "security",
        )
    )
    assert row is not None, "the demo data has no complaint for the security department"
    return row


def test_a_supervisor_of_another_department_cannot_touch_the_task(
    app, db_session, sign_in, security_complaint_task
):
    task_id = security_complaint_task.id
    assert _status(app, sign_in, "sup_security", "GET", f"/tasks/{task_id}") == 200
    for url in (f"/tasks/{task_id}", f"/tasks/{task_id}/claim", f"/tasks/{task_id}/unclaim"):
        assert _status(app, sign_in, "sup_cleaning", "POST", url) == 403, url
    assert _status(app, sign_in, "sup_cleaning", "GET", f"/tasks/{task_id}") == 403
    db_session.expire_all()
    row = db_session.get(HumanTask, task_id)
    assert row.status == TaskStatus.OPEN and row.claimed_by_id is None


def test_the_inbox_does_not_list_another_departments_task(app, sign_in, security_complaint_task):
    client = app.test_client()
    sign_in(client, "sup_cleaning")
    page = client.get("/tasks/").get_data(as_text=True)
    assert f"/tasks/{security_complaint_task.id}" not in page


def test_uninvolved_roles_cannot_open_the_instance_or_its_parts(
    app, sign_in, security_complaint_task
):
    instance_id = security_complaint_task.instance_id
    for url in (
        f"/instances/{instance_id}",
        f"/instances/{instance_id}/diagram.bpmn",
        f"/audit/instances/{instance_id}",
        f"/audit/instances/{instance_id}/record.pdf",
    ):
        for username in ("hr", "sales", "sup_cleaning", "reception_officer"):
            assert _status(app, sign_in, username, "GET", url) == 403, (username, url)
    assert _status(app, sign_in, "sup_security", "GET", f"/instances/{instance_id}") == 200


@pytest.mark.parametrize(
    "table,url,outsider",
    [
        ("p1_visit", "/registers/visits/{}", "front_clerk"),
        ("p1_visit", "/registers/visits/{}/print", "hotline"),
        ("p2_booking", "/registers/bookings/{}", "front_clerk"),
        ("p2_booking", "/registers/bookings/{}/print", "reception_officer"),
        ("p4_pass", "/registers/passes/{}", "hr"),
        ("p4_pass", "/registers/passes/{}", "reception_officer"),
    ],
)
def test_register_rows_of_other_procedures_stay_closed(
    app, db_session, sign_in, table, url, outsider
):
    for row_id in db_session.execute(text(f"SELECT id FROM {table} ORDER BY id LIMIT 3")):
        assert _status(app, sign_in, outsider, "GET", url.format(row_id[0])) == 403


def test_revealing_a_pass_holders_data_is_for_the_desk_only(app, db_session, sign_in):
    pass_id = db_session.execute(text("SELECT min(id) FROM p4_pass")).scalar()
    for username in ("manager_assistant", "project_manager", "auditor", "hr"):
        status = _status(app, sign_in, username, "POST", f"/registers/passes/{pass_id}/reveal")
        assert status == 403, username
