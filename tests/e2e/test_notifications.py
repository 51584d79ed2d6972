"""Reminders in a real browser: a complaint falls overdue, its supervisor sees the bell's count,
the overdue badge in the inbox, and clicks through from the notification to the task."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from engine import notifications
from engine.db import make_engine, make_session_factory, perform
from engine.identity import get_user
from engine.models import HumanTask, utcnow
from engine.notifications import Kind, Notification
from workflows import scenarios
from workflows.p3 import PROCESS_ID as P3
from workflows.p3 import samples
from workflows.procedures import register_procedures

pytestmark = pytest.mark.e2e

SCREENSHOT = "/tmp/notifications.png"


@pytest.fixture
def overdue_complaint(live_server, live_database_url):
    """A security complaint whose handling was due an hour ago, and its supervisor told so
    (as the worker's overdue duty does; done here so the test need not wait a minute)."""
    register_procedures()
    engine = make_engine(live_database_url)
    session = make_session_factory(engine)()
    try:
        instance = scenarios.start(session, P3, "front_clerk")
        scenarios.complete_step(session, instance.id, *samples.contact("complaint"))
        scenarios.complete_step(session, instance.id, *samples.complaint_record("security"))
        task = scenarios.open_task(session, instance.id, "handle_complaint")
        perform(session, lambda s: _due_an_hour_ago(s, task.id))
        perform(session, notifications.tell_overdue)
        supervisor = get_user(session, "sup_security")
        told = session.scalar(
            select(Notification.id).where(
                Notification.human_task_id == task.id,
                Notification.user_id == supervisor.id,
                Notification.kind == Kind.OVERDUE,
            )
        )
        assert told is not None
        unread = notifications.unread_count(session, supervisor.id)
        yield {"key": instance.business_key, "task_id": task.id, "unread": unread}
    finally:
        session.close()
        engine.dispose()


def _due_an_hour_ago(session, task_id: int) -> None:
    session.get(HumanTask, task_id).due_at = utcnow() - timedelta(hours=1)


def _bell_count(page) -> int:
    badge = page.locator("#notification-bell [data-unread-count]")
    return int(badge.get_attribute("data-unread-count")) if badge.count() else 0


def test_the_bell_leads_the_supervisor_to_the_overdue_task(
    page, login, screenshot, overdue_complaint
):
    key, task_id = overdue_complaint["key"], overdue_complaint["task_id"]
    login(page, "sup_security")
    page.goto("/tasks/")
    bell = page.locator("#notification-bell")
    expect(bell).to_be_visible()
    assert _bell_count(page) == overdue_complaint["unread"] >= 1

    # The inbox marks the overdue task.
    row = page.locator("tr", has_text=key)
    expect(row.locator(".badge-overdue")).to_have_text("已逾期")
    screenshot(page, "notifications_01_inbox")

    bell.click()
    expect(page).to_have_url(re.compile(r"/notifications/$"))
    item = page.locator("tr.notification-unread", has_text=key)
    expect(item).to_contain_text("任务已逾期：处理投诉")
    expect(item.locator(".badge-overdue")).to_be_visible()
    shutil.copy(screenshot(page, "notifications_02_list"), SCREENSHOT)

    item.get_by_role("button", name="任务已逾期：处理投诉").click()
    expect(page).to_have_url(re.compile(rf"/tasks/{task_id}$"))
    expect(page.locator("h1")).to_contain_text("处理投诉")
    assert _bell_count(page) == overdue_complaint["unread"] - 1

    # Read now: no longer highlighted in the list.
    page.goto("/notifications/")
    expect(page.locator("tr.notification", has_text=key)).not_to_have_class(
        re.compile("notification-unread")
    )
