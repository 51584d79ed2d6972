"""Admins keep the holiday calendar in the web app: list per year, add, edit, delete, import,
and the warning while next year's calendar is missing."""

from __future__ import annotations

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from engine import holidays

TODAY = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def frozen_today():
    holidays.invalidate()
    with time_machine.travel(TODAY, tick=False):
        yield
    holidays.invalidate()


def _page(client, year=2027) -> str:
    return client.get(f"/admin/calendar/?year={year}").get_data(as_text=True)


@pytest.mark.parametrize("role", ["front_clerk", "process_owner", "auditor"])
def test_only_admins_may_see_or_change_the_calendar(login_as, form_post, role):
    client = login_as(role)
    assert client.get("/admin/calendar/").status_code == 403
    response = form_post(
        client, "/admin/calendar/days", {"day": "2027-01-01", "kind": "holiday"}, page="/"
    )
    assert response.status_code == 403


def test_admins_see_the_page_in_their_navigation(login_as):
    client = login_as("admin")
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "/admin/calendar/" in home
    other = login_as("front_clerk")
    assert "/admin/calendar/" not in other.get("/", follow_redirects=True).get_data(as_text=True)


def test_the_page_warns_that_next_year_is_missing_until_it_is_entered(login_as, form_post):
    client = login_as("admin")
    assert 'id="calendar-missing"' in _page(client) and "2027" in _page(client)
    form_post(
        client,
        "/admin/calendar/days",
        {"day": "2027-01-01", "kind": "holiday", "name": "元旦"},
        page="/admin/calendar/",
    )
    assert 'id="calendar-missing"' not in _page(client)


def test_add_edit_and_delete_days(login_as, form_post, db_session):
    client = login_as("admin")
    page = "/admin/calendar/?year=2027"
    data = {"day": "2027-01-01", "kind": "holiday", "name": "元旦"}
    response = form_post(client, "/admin/calendar/days", data, page=page)
    assert response.status_code == 302 and "year=2027" in response.headers["Location"]
    form_post(client, "/admin/calendar/days", {"day": "2027-02-07", "kind": "workday"}, page=page)
    listing = _page(client)
    assert "2027-01-01" in listing and "元旦" in listing and "2027-02-07" in listing
    assert 'value="2027-02-07"' in client.get(f"{page}&edit=2027-02-07").get_data(as_text=True)

    form_post(
        client,
        "/admin/calendar/days",
        {"day": "2027-02-07", "kind": "holiday", "name": "改为放假"},
        page=page,
    )
    days = {d.day: (d.is_workday, d.name) for d in holidays.year_days(db_session, 2027)}
    assert days == {date(2027, 1, 1): (False, "元旦"), date(2027, 2, 7): (False, "改为放假")}

    form_post(client, "/admin/calendar/days/2027-01-01/delete", page=page)
    db_session.expire_all()
    assert [d.day for d in holidays.year_days(db_session, 2027)] == [date(2027, 2, 7)]


def test_bad_input_is_refused_with_a_message(login_as, form_post):
    client = login_as("admin")
    page = "/admin/calendar/"
    response = form_post(
        client, "/admin/calendar/days", {"day": "2027-02-30", "kind": "holiday"}, page=page
    )
    assert response.status_code == 302
    assert "YYYY-MM-DD" in client.get(response.headers["Location"]).get_data(as_text=True)
    response = form_post(
        client, "/admin/calendar/days", {"day": "2027-02-03", "kind": "maybe"}, page=page
    )
    followed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "调休" in followed or "make-up" in followed.lower()


def test_import_a_csv_file(login_as, form_post, db_session):
    client = login_as("admin")
    csv = "date,type,name\n2027-01-01,holiday,元旦\n2027-02-14,班,春节调休\n".encode()
    response = form_post(
        client,
        "/admin/calendar/import",
        {"file": (io.BytesIO(csv), "2027.csv")},
        page="/admin/calendar/",
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert [d.day for d in holidays.year_days(db_session, 2027)] == [
        date(2027, 1, 1),
        date(2027, 2, 14),
    ]


def test_a_bad_import_file_saves_nothing_and_says_where(login_as, form_post, db_session):
    client = login_as("admin")
    csv = b"2027-01-01,holiday\n2027-01-32,holiday\n"
    response = form_post(
        client,
        "/admin/calendar/import",
        {"file": (io.BytesIO(csv), "bad.csv")},
        page="/admin/calendar/",
        content_type="multipart/form-data",
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "第 2 行" in page
    assert holidays.year_days(db_session, 2027) == []


def test_admins_get_a_banner_once_while_next_year_is_missing(login_as):
    client = login_as("admin")
    first = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "2027" in first and "flash-warning" in first
    again = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "flash-warning" not in again
    clerk = login_as("front_clerk")
    assert "flash-warning" not in clerk.get("/", follow_redirects=True).get_data(as_text=True)
