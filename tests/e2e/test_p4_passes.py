"""P4 in a real browser: a tenant pass from the front desk through the cashier to the
registry, each step done by the person whose role it is, with a screenshot of every page."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

HOLDER = "郑晓燕"
HOLDER_ID = "450103199403031231"


def _logout(page):
    page.locator("form.logout-form button").click()
    expect(page).to_have_url(re.compile(r"/login"))


def _open_task(page, business_key, task_name):
    page.goto("/tasks/")
    row = page.locator("tr", has_text=business_key).filter(has_text=task_name)
    row.get_by_role("link", name=task_name).click()
    expect(page.locator("h1")).to_contain_text(task_name)


def _submit(page):
    page.locator("form button[type=submit].btn-primary").click()


def _tick_documents(page):
    # A refused form comes back without its ticks (the task view re-renders the raw post).
    boxes = ("lease_contract", "supplementary_agreement", "id_card_checked", "photo_received")
    for box in (*boxes, "copies_filed"):
        page.check(f"#field-{box}")


def _today():
    return datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()


def test_tenant_pass_from_application_to_registry(page, login, screenshot):
    today = _today()
    login(page, "front_clerk")
    page.goto("/instances/start")
    page.locator("form[action$='/start/p4_pass_issuance'] button").click()

    # The front desk takes the request: a new tenant pass.
    expect(page.locator("h1")).to_contain_text("受理办证事项")
    business_key = re.search(r"JD\d{8}-\d{6}", page.locator(".page-head").inner_text()).group(0)
    page.check("input[name=request_type][value=issue]")
    page.check("input[name=pass_type][value=tenant]")
    screenshot(page, "p4_01_request")
    _submit(page)

    # The clerk checks the lease and the ID; a wrong ID number and a too long validity are
    # refused next to their fields, nothing saved.
    expect(page.locator("h1")).to_contain_text("查验租户证资料")
    page.fill("#field-holder_name", HOLDER)
    page.fill("#field-holder_id_no", HOLDER_ID[:-1] + "9")
    page.fill("#field-unit", "8栋1601")
    page.fill("#field-phone", "13512345678")
    page.fill("#field-owner_name", "钱业主")
    page.fill("#field-lease_start", (today - timedelta(days=10)).isoformat())
    page.fill("#field-lease_end", (today + timedelta(days=720)).isoformat())
    page.fill("#field-valid_from", today.isoformat())
    page.fill("#field-valid_until", (today + timedelta(days=400)).isoformat())
    _tick_documents(page)
    _submit(page)
    expect(page.locator(".field.has-error")).to_contain_text("身份证号码")
    screenshot(page, "p4_02_invalid_id")
    page.fill("#field-holder_id_no", HOLDER_ID)
    _tick_documents(page)
    _submit(page)
    expect(page.locator(".field.has-error")).to_contain_text("最长期限为 12 个月")
    screenshot(page, "p4_03_validity_limit")
    page.fill("#field-valid_until", (today + timedelta(days=300)).isoformat())
    _tick_documents(page)
    _submit(page)
    expect(page.locator(".flash-success")).to_be_visible()
    _logout(page)

    # The cashier takes the deposit and the fee; the pass is numbered only now.
    login(page, "cashier")
    _open_task(page, business_key, "收费并开收据")
    expect(page.locator("main")).to_contain_text("15.00")
    page.fill("#field-receipt_no", "SJ-E2E-0001")
    page.fill("#field-amount_received", "10")
    page.check("input[name=payment_method][value=wechat]")
    _submit(page)
    expect(page.locator(".field.has-error")).to_contain_text("应收金额 ¥15.00")
    page.fill("#field-amount_received", "15.00")
    screenshot(page, "p4_04_payment")
    _submit(page)
    expect(page.locator(".flash-success")).to_be_visible()
    _logout(page)

    # The clerk hands the pass over against the receipt.
    login(page, "front_clerk")
    _open_task(page, business_key, "凭收据发证")
    expect(page.locator("main")).to_contain_text("SJ-E2E-0001")
    pass_no = re.search(r"ZU-\d{4}-\d{4}", page.locator("main").inner_text()).group(0)
    page.check("#field-pass_handed_over")
    page.check("#field-receipt_sighted")
    screenshot(page, "p4_05_handover")
    _submit(page)

    # The registry lists it with the ID number masked; the detail reveals it on request.
    page.goto("/registers/passes/?q=" + HOLDER)
    row = page.locator("tr", has_text=pass_no)
    expect(row).to_contain_text(HOLDER)
    expect(row).to_contain_text("4501**********1231")
    expect(page.locator("main")).not_to_contain_text(HOLDER_ID)
    screenshot(page, "p4_06_registry")
    row.get_by_role("link", name=pass_no).click()
    page.locator("form[action$='/reveal'] button").click()
    expect(page.locator("[data-testid=id-full]")).to_have_text(HOLDER_ID)
    screenshot(page, "p4_07_detail_revealed")
    page.goto("/registers/passes/rented-units")
    expect(page.locator("tr", has_text=pass_no)).to_contain_text("8栋1601")
    screenshot(page, "p4_08_rented_units")
    page.goto("/registers/passes/deposits")
    expect(page.locator("tr", has_text=pass_no).first).to_contain_text("10.00")
    screenshot(page, "p4_09_deposits")
    page.goto("/registers/passes/print?type=tenant")
    expect(page.locator("h1")).to_contain_text("住户联络资料表")
    screenshot(page, "p4_10_print")
    page.goto("/registers/passes/?q=" + HOLDER)
    page.get_by_role("link", name=pass_no).click()
    page.get_by_role("link", name="Issuing process").or_(
        page.get_by_role("link", name="办证流程")
    ).click()
    page.wait_for_selector("#diagram.is-loaded", timeout=15000)
    screenshot(page, "p4_11_instance")
