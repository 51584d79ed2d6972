"""P2 in a real browser: a class-1 meeting with AV from the hotline's booking to the recorded
payment, each step done by the person whose role it is, with a screenshot of the key pages.

The diagram's timers (the day before, 30 minutes before the start, the 3-day payment
reminder) lie in the future; the test fires them the way the timer worker would, in this
process, with the clock moved forward (time-machine) on the live server's database."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from playwright.sync_api import expect
from sqlalchemy import select

from engine.db import make_engine, make_session_factory
from engine.models import ProcessInstance
from engine.working_days import business_timezone
from workflows.p2.demo import run_due_timers

pytestmark = pytest.mark.e2e


@pytest.fixture
def fire_timers(tmp_path_factory, live_server):
    """fire_timers(business_key, moment): run the instance's due timers as of `moment`."""
    # The live server's folder: the one whose log shows it serving on this port.
    port = live_server.rsplit(":", 1)[1]
    (database,) = {  # a set: pytest also links the folder as "<name>current"
        log.resolve().with_name("e2e.sqlite3")
        for log in Path(tmp_path_factory.getbasetemp()).glob("*/server.log")
        if f"--port {port}" in log.read_text(encoding="utf-8", errors="replace")
    }
    engine = make_engine(f"sqlite:///{database}")
    factory = make_session_factory(engine)

    def fire(business_key: str, moment: datetime) -> None:
        session = factory()
        try:
            instance_id = session.scalar(
                select(ProcessInstance.id).where(ProcessInstance.business_key == business_key)
            )
            with time_machine.travel(moment, tick=False):
                run_due_timers(session, instance_id)
        finally:
            session.close()

    yield fire
    engine.dispose()


def _logout(page):
    page.locator("form.logout-form button").click()
    expect(page).to_have_url(re.compile(r"/login"))


def _open_task(page, business_key, task_name):
    page.goto("/tasks/")
    row = page.locator("tr", has_text=business_key).filter(has_text=task_name)
    row.get_by_role("link", name=task_name).first.click()
    expect(page.locator("h1")).to_contain_text(task_name)


def _submit(page):
    page.locator("form button[type=submit].btn-primary").click()
    expect(page.locator(".flash-success")).to_be_visible()


def _check_all(page, names):
    for name in names:
        page.check(f"#field-{name}")


def test_class_1_meeting_with_av_through_to_payment(page, login, screenshot, fire_timers):
    shanghai = business_timezone()
    start = (datetime.now(shanghai) + timedelta(days=2)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )

    # 1. The hotline logs the booking (商务接待活动登记表).
    login(page, "hotline")
    page.goto("/instances/start")
    page.locator("form[action$='/start/p2_meeting_reception'] button").click()
    expect(page.locator("h1")).to_contain_text("登记商务接待活动")
    business_key = re.search(r"JD\d{8}-\d{6}", page.locator(".page-head").inner_text()).group(0)
    page.fill("#field-unit", "集团发展规划部")
    page.fill("#field-booker_name", "李娜")
    page.fill("#field-booker_phone", "13800138000")
    page.fill("#field-headcount", "80")
    page.fill("#field-convener", "张总经理")
    page.select_option("#field-convener_rank", "company_leader")
    page.select_option("#field-room", "main_hall")
    page.fill("#field-start_at", start.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#field-end_at", (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    page.check("#field-av_voice")
    page.check("#field-av_projector")
    page.fill("#field-other_needs", "主席台摆放鲜花，需要横幅。")
    screenshot(page, "p2_01_booking")
    _submit(page)

    # The equipment sheet goes to the AV technician within 5 minutes (still the hotline's).
    expect(page.locator("h1")).to_contain_text("发送设备准备工作表")
    expect(page.locator(".due")).to_be_visible()
    page.select_option("#field-av_technician", "av_tech")
    page.fill("#field-equipment_items", "无线话筒2支、投影仪及幕布。")
    screenshot(page, "p2_02_equipment_sheet")
    _submit(page)
    _logout(page)

    # 2. Class 1: the meeting lead records the booker's signature on both forms.
    login(page, "meeting_lead")
    _open_task(page, business_key, "确认物资需求表与费用结算表")
    page.fill("#field-materials_list", "横幅1条、鲜花4盆、名位牌20个。")
    page.fill("#field-fee_amount", "3600")
    page.fill("#field-booker_signed_name", "李娜")
    page.fill("#field-booker_signed_at", datetime.now(shanghai).strftime("%Y-%m-%dT%H:%M"))
    page.check("#field-forms_signed")
    page.check("#field-materials_requisitioned")
    screenshot(page, "p2_03_class1_forms")
    _submit(page)

    # The day before: the full room check, then the room is sealed.
    fire_timers(business_key, start - timedelta(days=1) + timedelta(hours=1))
    _open_task(page, business_key, "会前一天布置检查并封闭会场")
    _check_all(
        page,
        [
            "banner_ready", "flowers_placed", "seats_checked", "name_plates_checked",
            "av_checked", "lights_checked", "tea_cups_ready", "hygiene_checked",
            "passages_clear", "room_sealed", "customer_inspected",
        ],
    )  # fmt: skip
    screenshot(page, "p2_04_room_checklist")
    _submit(page)
    _logout(page)

    # 3. Thirty minutes before: the technician tests the room's system.
    fire_timers(business_key, start - timedelta(minutes=29))
    login(page, "av_tech")
    _open_task(page, business_key, "检测会议室语音/投影系统")
    expect(page.locator("main")).to_contain_text("全程跟进")  # a leader-level meeting
    _check_all(page, ["voice_ok", "projector_ok", "av_attending"])
    page.check("input[name=av_test_result][value=ready]")
    screenshot(page, "p2_05_av_test")
    _submit(page)
    _logout(page)

    # 4. The attendant re-checks, has tea ready, serves; an ad-hoc request comes in.
    login(page, "meeting_attendant")
    _open_task(page, business_key, "复核设备检测")
    page.check("input[name=av_recheck_result][value=passed]")
    _submit(page)
    _open_task(page, business_key, "会前检查及茶水准备")
    _check_all(page, ["lights_on", "ac_comfortable", "devices_ready", "tea_ready"])
    page.check("input[name=pre_check_result][value=ok]")
    _submit(page)
    page.goto(f"/registers/bookings/?q={business_key}")
    page.locator("tr", has_text=business_key).get_by_role("link", name=business_key).click()
    page.fill("#field-item", "翻页笔")
    page.fill("#field-note", "主讲人需要")
    screenshot(page, "p2_06_material_request")
    page.locator("form.material-request button[type=submit]").click()
    expect(page.locator(".flash-success")).to_be_visible()
    _open_task(page, business_key, "送达或解释临时物资")
    expect(page.locator("main")).to_contain_text("翻页笔")
    page.check("input[name=material_outcome][value=delivered]")
    page.check("input[name=customer_accepted][value=true]")
    screenshot(page, "p2_07_material_delivery")
    _submit(page)
    _open_task(page, business_key, "会议服务")
    page.check("#field-meeting_ended")
    _submit(page)
    _open_task(page, business_key, "会后整理会议室")
    reset_items = [
        "tables_tidied", "ashtrays_stored", "devices_restored", "borrowed_items_returned",
        "room_dirty", "lights_off", "ac_off", "windows_closed",
    ]  # fmt: skip
    _check_all(page, reset_items)
    page.locator("form button[type=submit].btn-primary").click()  # dirty, no cleaner: refused
    expect(page.locator(".field.has-error").first).to_be_visible()
    expect(page.locator(".field.has-error")).to_contain_text("清洁员")
    screenshot(page, "p2_08_reset_refused")
    _check_all(page, [*reset_items, "cleaner_called"])  # the form does not keep ticks
    _submit(page)
    _logout(page)

    # 5. The cashier invoices; the customer signs for it; reminders until paid.
    login(page, "cashier")
    _open_task(page, business_key, "开具会议费用发票")
    page.fill("#field-invoice_no", "FP-20261127-001")
    page.fill("#field-invoice_amount", "3600.00")
    _submit(page)
    _logout(page)
    login(page, "meeting_lead")
    _open_task(page, business_key, "发票交客户签收")
    page.fill("#field-invoice_signed_by", "李娜")
    page.fill("#field-invoice_signed_at", datetime.now(shanghai).strftime("%Y-%m-%dT%H:%M"))
    _submit(page)
    fire_timers(business_key, datetime.now(UTC) + timedelta(days=3, minutes=5))
    _open_task(page, business_key, "跟进会议费用")
    page.fill("#field-follow_up_note", "已电话联系预订人，财务流程中。")
    screenshot(page, "p2_09_payment_reminder")
    _submit(page)
    _logout(page)
    login(page, "cashier")
    _open_task(page, business_key, "确认收到会议费用")
    page.fill("#field-payment_amount", "3600.00")
    page.fill("#field-payment_received_on", datetime.now(shanghai).strftime("%Y-%m-%d"))
    page.fill("#field-payment_receipt_no", "SJ-0001")
    _submit(page)

    # The register: re-check, payment and completion recorded; the print view.
    page.goto(f"/registers/bookings/?q={business_key}")
    row = page.locator("tr", has_text=business_key)
    expect(row).to_contain_text("一类会议")
    expect(row).to_contain_text("复核合格")
    expect(row).to_contain_text("已收款")
    expect(row).to_contain_text("已完成")
    screenshot(page, "p2_10_register")
    row.get_by_role("link", name=business_key).click()
    expect(page.locator("main")).to_contain_text("翻页笔")
    screenshot(page, "p2_11_detail")
    page.get_by_role("link", name=re.compile("打印|Print")).click()
    expect(page.locator("h1")).to_contain_text("商务接待活动登记表")
    screenshot(page, "p2_12_print")
    page.goto("/registers/bookings/")
    screenshot(page, "p2_13_register_all")
    page.goto(f"/registers/bookings/?q={business_key}")
    page.locator("tr", has_text=business_key).get_by_role("link", name=business_key).click()
    page.get_by_role("link", name=re.compile("流程详情|Instance details")).click()
    expect(page.locator(".page-head")).to_contain_text("已完成")
    page.wait_for_selector("#diagram.is-loaded", timeout=15000)
    screenshot(page, "p2_14_instance")
