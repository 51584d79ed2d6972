"""The booking register in the web app: list, filters, paging, CSV/XLSX by content, detail,
print view, access rules, and the attendant's ad-hoc request during a meeting."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy import select

from engine.models import HumanTask, TaskStatus
from workflows import scenarios
from workflows.p2 import PROCESS_ID, samples
from workflows.p2.models import MeetingBooking

SHANGHAI = ZoneInfo("Asia/Shanghai")
BOOKED = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
MEETING = datetime(2026, 11, 27, 9, 0, tzinfo=SHANGHAI)
PASSWORD = "test-pass-2026"


@pytest.fixture
def database_url(procedure_url):
    return procedure_url("p2_meeting_reception")


def _book(db_session, step):
    with time_machine.travel(BOOKED, tick=False):
        instance = scenarios.start(db_session, PROCESS_ID, "hotline")
        scenarios.complete_step(db_session, instance.id, *step)
    return instance


def _row(db_session, instance) -> MeetingBooking:
    db_session.expire_all()
    return db_session.scalar(
        select(MeetingBooking).where(MeetingBooking.instance_id == instance.id)
    )


@pytest.fixture
def bookings(db_session):
    """A class-1 meeting with AV re-checked and in progress, a daily one and a temporary one."""
    big = _book(db_session, samples.class_1_booking(MEETING))
    scenarios.complete_step(db_session, big.id, *samples.equipment_sheet())
    scenarios.complete_step(db_session, big.id, *samples.class_1_forms(BOOKED))
    with time_machine.travel(datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI), tick=False):
        from workflows.p2.demo import run_due_timers

        run_due_timers(db_session, big.id)
        scenarios.complete_step(db_session, big.id, *samples.ROOM_CHECKLIST)
    with time_machine.travel(MEETING - timedelta(minutes=25), tick=False):
        run_due_timers(db_session, big.id)
        steps = [samples.AV_TEST, samples.av_recheck("failed"), samples.PRE_MEETING]
        scenarios.run_steps(db_session, big.id, steps)
    daily = _book(db_session, samples.booking(MEETING + timedelta(days=3), unit="物业工程部"))
    temporary = _book(db_session, samples.booking(BOOKED + timedelta(hours=2), unit="销售部"))
    return big, daily, temporary


def test_register_lists_and_filters(bookings, login_as):
    big, daily, temporary = bookings
    client = login_as("meeting_lead")
    page = client.get("/registers/bookings/").get_data(as_text=True)
    for instance in bookings:
        assert instance.business_key in page
    assert "一类会议" in page and "日常会议" in page and "临时会议" in page
    only_class_1 = client.get("/registers/bookings/?class=class_1").get_data(as_text=True)
    assert big.business_key in only_class_1 and daily.business_key not in only_class_1
    in_meeting = client.get("/registers/bookings/?status=in_meeting").get_data(as_text=True)
    assert big.business_key in in_meeting and temporary.business_key not in in_meeting
    by_text = client.get("/registers/bookings/?q=工程部").get_data(as_text=True)
    assert daily.business_key in by_text and big.business_key not in by_text
    by_date = client.get("/registers/bookings/?from=2026-11-30&to=2026-11-30")
    assert daily.business_key in by_date.get_data(as_text=True)
    assert big.business_key not in by_date.get_data(as_text=True)
    ignored = client.get("/registers/bookings/?class=nonsense&from=not-a-date")
    assert ignored.status_code == 200 and big.business_key in ignored.get_data(as_text=True)


def test_paging(db_session, login_as, monkeypatch):
    from web.blueprints import registers_p2

    monkeypatch.setattr(registers_p2, "PER_PAGE", 2)
    made = [_book(db_session, samples.booking(MEETING + timedelta(days=i))) for i in range(3)]
    client = login_as("hotline")
    first = client.get("/registers/bookings/").get_data(as_text=True)
    second = client.get("/registers/bookings/?page=2").get_data(as_text=True)
    assert made[2].business_key in first and made[0].business_key not in first
    assert made[0].business_key in second and "page=1" in second


def test_csv_export_by_content(bookings, login_as):
    big, daily, _temporary = bookings
    client = login_as("cashier")
    body = client.get("/registers/bookings/export.csv?class=class_1").get_data(as_text=True)
    header, *rows = body.lstrip("\ufeff").strip().splitlines()
    assert header.startswith("编号,登记时间,登记人,会议单位")
    assert "复核结果" in header and "收费状态" in header
    assert len(rows) == 1 and big.business_key in rows[0]
    assert "一类会议" in rows[0] and "复核不合格" in rows[0] and "3600.00" in rows[0]
    assert "2026-11-27 09:00" in rows[0] and "主楼多功能会议厅" in rows[0]
    english = login_as("cashier").get("/registers/bookings/export.csv?lang=en")
    assert english.status_code == 200


def test_xlsx_export_by_content(bookings, login_as):
    big, daily, temporary = bookings
    response = login_as("auditor").get("/registers/bookings/export.xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data)).active
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["编号", "登记时间", "登记人", "会议单位"]
    rows = {
        r[0]: dict(zip(header, r, strict=True))
        for r in sheet.iter_rows(min_row=2, values_only=True)
    }
    assert set(rows) == {big.business_key, daily.business_key, temporary.business_key}
    assert rows[big.business_key]["会议类别"] == "一类会议"
    assert rows[big.business_key]["复核结果"] == "复核不合格"
    assert float(rows[big.business_key]["会议费用结算金额（元）"]) == 3600.0  # a number
    assert rows[big.business_key]["出席人数"] == 80
    assert rows[temporary.business_key]["会议类别"] == "临时会议"


def test_detail_and_print_view(bookings, login_as, db_session):
    big, _daily, _temporary = bookings
    row = _row(db_session, big)
    client = login_as("meeting_attendant")
    page = client.get(f"/registers/bookings/{row.id}").get_data(as_text=True)
    assert "复核不合格" in page and "杂音" in page and "李娜" in page
    printed = client.get(f"/registers/bookings/{row.id}/print").get_data(as_text=True)
    assert "<h1>商务接待活动登记表</h1>" in printed
    assert "集团发展规划部" in printed and "张总经理" in printed and "3600.00" in printed
    assert "☑ 需要" in printed
    assert client.get("/registers/bookings/999999").status_code == 404


@pytest.mark.parametrize("role", ["front_clerk", "hr", "sales"])
@pytest.mark.parametrize(
    "url",
    ["/registers/bookings/", "/registers/bookings/export.csv", "/registers/bookings/export.xlsx"],
)
def test_other_roles_get_403(login_as, role, url):
    assert login_as(role).get(url).status_code == 403


def test_anonymous_is_sent_to_login(client):
    response = client.get("/registers/bookings/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_attendant_sends_an_ad_hoc_request_during_the_meeting(
    bookings, login_as, form_post, db_session
):
    big, daily, _temporary = bookings
    row = _row(db_session, big)
    client = login_as("meeting_attendant")
    page = client.get(f"/registers/bookings/{row.id}").get_data(as_text=True)
    assert "material-request" in page
    url = f"/registers/bookings/{row.id}/material-request"
    response = form_post(
        client,
        url,
        {"item": "", "note": ""},
        page=f"/registers/bookings/{row.id}",
        follow_redirects=True,
    )
    assert "请填写" in response.get_data(as_text=True)  # the item is required
    response = form_post(
        client,
        url,
        {"item": "翻页笔", "note": "主讲人用"},
        page=f"/registers/bookings/{row.id}",
        follow_redirects=True,
    )
    assert "5" in response.get_data(as_text=True)
    db_session.expire_all()
    task = db_session.scalar(
        select(HumanTask).where(
            HumanTask.instance_id == big.id, HumanTask.task_spec == "handle_material_request"
        )
    )
    assert task is not None and task.status == TaskStatus.OPEN
    assert _row(db_session, big).material_requests == 1
    detail = client.get(f"/registers/bookings/{row.id}").get_data(as_text=True)
    assert "翻页笔" in detail


def test_no_request_outside_a_meeting_or_from_other_roles(
    bookings, login_as, form_post, db_session
):
    big, daily, _temporary = bookings
    daily_row = _row(db_session, daily)
    client = login_as("meeting_attendant")
    page = client.get(f"/registers/bookings/{daily_row.id}").get_data(as_text=True)
    assert "material-request" not in page
    response = form_post(
        client,
        f"/registers/bookings/{daily_row.id}/material-request",
        {"item": "茶叶"},
        page=f"/registers/bookings/{daily_row.id}",
        follow_redirects=True,
    )
    text = response.get_data(as_text=True)
    assert "会议进行中" in text or "meeting is in progress" in text  # until p2.po is merged
    assert _row(db_session, daily).material_requests == 0
    hotline = login_as("hotline")
    big_row = _row(db_session, big)
    response = form_post(
        hotline,
        f"/registers/bookings/{big_row.id}/material-request",
        {"item": "茶叶"},
        page=f"/registers/bookings/{big_row.id}",
    )
    assert response.status_code == 403


def test_navigation_shows_the_register_to_its_roles(login_as):
    assert "/registers/bookings/" in login_as("hotline").get("/tasks/").get_data(as_text=True)
    assert "/registers/bookings/" not in login_as("hr").get("/tasks/").get_data(as_text=True)
