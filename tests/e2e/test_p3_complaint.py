"""P3 in a real browser: a complaint from the front desk to the closed ledger row, each step
done by the person whose role it is, with a screenshot of every page."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


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


def test_complaint_from_record_to_closed_ledger(page, login, screenshot):
    login(page, "front_clerk")
    page.goto("/instances/start")
    screenshot(page, "p3_01_start")
    page.locator("form[action$='/start/p3_owner_reception'] button").click()

    # 1. The clerk records the contact (业主接待记录表) as a complaint.
    expect(page.locator("h1")).to_contain_text("登记业主接待记录")
    business_key = re.search(r"JD\d{8}-\d{6}", page.locator(".page-head").inner_text()).group(0)
    page.fill("#field-owner_name", "黄晓明")
    page.fill("#field-unit", "7栋1203")
    page.fill("#field-phone", "13900001111")
    page.check("input[name=channel][value=phone]")
    page.fill("#field-content", "电梯多次困人，物业回应慢。")
    page.check("input[name=category][value=complaint]")
    screenshot(page, "p3_02_contact_record")
    _submit(page)

    # a. Still the clerk's: the complaint's details, and the apology.
    expect(page.locator("h1")).to_contain_text("记录投诉详情")
    _submit(page)  # empty: refused with messages next to the fields, nothing saved
    expect(page.locator(".field.has-error").first).to_be_visible()
    screenshot(page, "p3_03_complaint_errors")
    page.select_option("#field-complained_department", "engineering")
    page.select_option("#field-complaint_class", "maintenance")
    page.fill("#field-complaint_details", "3号电梯本周两次困人。")
    page.check("#field-apologised")
    _submit(page)
    expect(page.locator(".flash-success")).to_be_visible()
    _logout(page)

    # c. Only the supervisor of the engineering department gets it.
    login(page, "sup_security")
    page.goto("/tasks/")
    expect(page.locator("body")).not_to_contain_text(business_key)
    _logout(page)
    login(page, "sup_engineering")
    _open_task(page, business_key, "处理投诉")
    expect(page.locator(".due")).to_be_visible()
    page.fill("#field-cause", "电梯门机老化。")
    page.fill("#field-action_taken", "更换门机并请维保单位复检。")
    page.check("input[name=complaint_valid][value=true]")
    screenshot(page, "p3_04_handle")
    _submit(page)
    _logout(page)

    # d, e. The clerk reports the result and records how the owner was told.
    login(page, "front_clerk")
    _open_task(page, business_key, "上报处理结果")
    page.fill("#field-result_summary", "已更换门机，维保单位复检合格。")
    _submit(page)
    expect(page.locator("h1")).to_contain_text("反馈业主处理结果")
    page.check("input[name=inform_method][value=home_visit]")
    _submit(page)
    _logout(page)

    # f. The manager's assistant designates the project manager for the return visit.
    login(page, "manager_assistant")
    _open_task(page, business_key, "安排回访人员")
    page.select_option("#field-return_visitor", "project_manager")
    screenshot(page, "p3_05_designate")
    _submit(page)
    _logout(page)

    # g. The designated person records the owner's satisfaction; h. the record closes.
    login(page, "project_manager")
    _open_task(page, business_key, "回访业主")
    page.check("input[name=visit_method][value=phone]")
    page.check("input[name=satisfaction][value=very_satisfied]")
    _submit(page)
    page.goto("/registers/complaints?q=" + business_key)
    row = page.locator("tr", has_text=business_key)
    expect(row).to_contain_text("已注销")
    expect(row).to_contain_text("非常满意")
    screenshot(page, "p3_06_ledger")
    row.get_by_role("link", name=business_key).click()
    expect(page.locator(".page-head")).to_contain_text("已完成")
    page.wait_for_selector("#diagram.is-loaded", timeout=15000)
    screenshot(page, "p3_07_instance")
