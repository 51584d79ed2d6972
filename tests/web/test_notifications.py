"""My notifications in the web app: the bell's count, the list, marking read, opening the task,
and nobody else's notifications."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine import notifications
from engine.db import perform
from engine.identity import get_user
from engine.models import HumanTask
from engine.notifications import Kind, Notification
from workflows import scenarios
from workflows.p3 import PROCESS_ID as P3
from workflows.p3 import samples

_COUNT = re.compile(r'data-unread-count="(\d+)"')
UNREAD_ROW = 'class="notification notification-unread"'


@pytest.fixture
def database_url(p3_url):
    return p3_url


def _tell(db_session, username: str, task_id: int, kind: str) -> int:
    def action(s):
        task = s.get(HumanTask, task_id)
        return notifications.notify(s, get_user(s, username), task, kind).id

    return perform(db_session, action)


@pytest.fixture
def told(db_session):
    """A P3 contact waiting for the front clerk, who was told twice about it (a reminder,
    then that it is overdue); the hr person was told about it once."""
    instance = scenarios.start(db_session, P3, "front_clerk")
    task = scenarios.open_task(db_session, instance.id, "record_contact")
    reminder = _tell(db_session, "front_clerk", task.id, Kind.TIMER)
    overdue = _tell(db_session, "front_clerk", task.id, Kind.OVERDUE)
    others = _tell(db_session, "hr", task.id, Kind.TIMER)
    return {"instance": instance, "task": task, "mine": [reminder, overdue], "others": others}


def _bell(page: str) -> int:
    assert 'id="notification-bell"' in page
    found = _COUNT.search(page)
    return int(found.group(1)) if found else 0


def test_the_bell_shows_my_unread_count_on_every_page(db_session, login_as, told):
    client = login_as("front_clerk")
    assert _bell(client.get("/tasks/").get_data(as_text=True)) == 2
    assert _bell(client.get("/instances/").get_data(as_text=True)) == 2
    other = login_as("project_manager")
    assert _bell(other.get("/tasks/").get_data(as_text=True)) == 0


def test_the_list_shows_mine_newest_first_with_the_unread_highlighted(db_session, login_as, told):
    client = login_as("front_clerk")
    page = client.get("/notifications/").get_data(as_text=True)
    key = told["instance"].business_key
    overdue_at = page.index("任务已逾期：登记业主接待记录")
    reminder_at = page.index("到时提醒：登记业主接待记录")
    assert overdue_at < reminder_at  # the newer first
    assert page.count(UNREAD_ROW) == 2
    assert key in page
    assert f'data-notification="{told["others"]}"' not in page  # hr's is not shown
    english = client.get("/lang/en", follow_redirects=True)
    assert english.status_code == 200
    assert "Task overdue: 登记业主接待记录" in client.get("/notifications/").get_data(as_text=True)


def test_mark_one_read_then_all(db_session, login_as, form_post, told):
    client = login_as("front_clerk")
    reminder, overdue = told["mine"]
    response = form_post(client, f"/notifications/{reminder}/read", page="/notifications/")
    assert response.status_code == 302
    page = client.get("/notifications/").get_data(as_text=True)
    assert _bell(page) == 1 and page.count(UNREAD_ROW) == 1

    response = form_post(client, "/notifications/read-all", page="/notifications/")
    assert response.status_code == 302
    assert _bell(client.get("/notifications/").get_data(as_text=True)) == 0
    db_session.expire_all()
    assert all(db_session.get(Notification, n).read_at for n in told["mine"])
    # Marking all of mine read left hr's alone.
    assert db_session.get(Notification, told["others"]).read_at is None


def test_opening_a_notification_marks_it_read_and_goes_to_the_task(
    db_session, login_as, form_post, told
):
    client = login_as("front_clerk")
    reminder, overdue = told["mine"]
    response = form_post(client, f"/notifications/{reminder}/open", page="/notifications/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/tasks/{told['task'].id}")
    db_session.expire_all()
    assert db_session.get(Notification, reminder).read_at is not None

    # Once the task is done, the notification leads to its case instead.
    scenarios.complete_step(db_session, told["instance"].id, *samples.contact("complaint"))
    response = form_post(client, f"/notifications/{overdue}/open", page="/notifications/")
    assert response.headers["Location"].endswith(f"/instances/{told['instance'].id}")


def test_another_persons_notification_is_not_found(db_session, login_as, form_post, told):
    client = login_as("front_clerk")
    others = told["others"]
    for action in ("open", "read"):
        response = form_post(client, f"/notifications/{others}/{action}", page="/notifications/")
        assert response.status_code == 404
    assert (
        form_post(client, "/notifications/999999/read", page="/notifications/").status_code == 404
    )
    db_session.expire_all()
    assert db_session.get(Notification, others).read_at is None


def test_marking_needs_the_csrf_token(db_session, login_as, told):
    client = login_as("front_clerk")
    reminder = told["mine"][0]
    assert client.post(f"/notifications/{reminder}/read").status_code == 400
    assert client.post("/notifications/read-all").status_code == 400
    db_session.expire_all()
    assert (
        db_session.scalar(select(Notification.read_at).where(Notification.id == reminder)) is None
    )


def test_no_notifications_yet(db_session, login_as):
    client = login_as("front_clerk")
    page = client.get("/notifications/").get_data(as_text=True)
    assert _bell(page) == 0 and UNREAD_ROW not in page
    assert client.get("/notifications/").status_code == 200


def test_the_list_is_paged(db_session, login_as, told, monkeypatch):
    from web.blueprints import notifications as view

    monkeypatch.setattr(view, "PER_PAGE", 1)
    client = login_as("front_clerk")
    first = client.get("/notifications/").get_data(as_text=True)
    second = client.get("/notifications/?page=2").get_data(as_text=True)
    reminder, overdue = told["mine"]
    assert (
        f'data-notification="{overdue}"' in first and f'data-notification="{reminder}"' not in first
    )
    assert f'data-notification="{reminder}"' in second and "?page=1" in second
