"""P1 in a real browser: an 'important' visit from the registration to the archived register
row — the director and then a university leader approve (after one rejection without and with
a comment), two departments confirm their preparation, the plan is attached. A screenshot of
every page."""

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


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


def _as(page, login, username):
    """Sign out whoever is signed in (after the last submit's redirect settled), sign in."""
    page.goto("/tasks/")
    if page.locator("form.logout-form").count():
        _logout(page)
    login(page, username)


def test_important_visit_with_two_approvals(page, login, screenshot, tmp_path):
    visit_from = date.today() + timedelta(days=14)
    login(page, "reception_officer")
    page.goto("/instances/start")
    page.locator("form[action$='/start/p1_official_visit'] button").click()

    # 1. 接待工作登记表.
    expect(page.locator("h1")).to_contain_text("填写接待工作登记表")
    business_key = re.search(r"JD\d{8}-\d{6}", page.locator(".page-head").inner_text()).group(0)
    page.check("input[name=request_channel][value=letter]")
    page.fill("#field-visiting_organisation", "复旦大学党委办公室")
    page.fill("#field-contact_person", "陈静")
    page.fill("#field-contact_phone", "021-65642222")
    page.fill("#field-visit_purpose", "交流学习校园文化建设经验。")
    page.fill("#field-visit_from", visit_from.isoformat())
    page.fill("#field-visit_to", visit_from.isoformat())
    page.fill("#field-headcount", "8")
    page.select_option("#field-highest_rank", "bureau")
    page.check("input[name=requested_activities][value=meeting]")
    page.check("input[name=requested_activities][value=tour]")
    page.check("input[name=reception_level][value=important]")
    screenshot(page, "p1_01_registration")
    _submit(page)
    expect(page.locator(".flash-success")).to_be_visible()

    # 2. The director reports to the supervising leader and records the instructions.
    _as(page, login, "director")
    _open_task(page, business_key, "汇报并记录领导指示")
    page.fill("#field-supervising_leader", "李副校长")
    page.fill("#field-reported_on", date.today().isoformat())
    page.fill("#field-leader_instructions", "按对等原则接待，安排座谈和参观校史馆。")
    _submit(page)

    # 3. The officer drafts the plan and agrees it with the visitor's contact.
    _as(page, login, "reception_officer")
    _open_task(page, business_key, "制订接待计划并与来宾沟通")
    expect(page.locator(".instructions")).to_contain_text("按对等原则接待")
    page.fill("#field-plan_summary", "9:00 座谈交流（行政楼第一会议室）；10:30 参观校史馆。")
    page.check("input[name=contact_agreed][value=true]")
    screenshot(page, "p1_02_plan")
    _submit(page)

    # 4a. The director: the page says why (rule of the tier table). A rejection needs a comment.
    _as(page, login, "director")
    _open_task(page, business_key, "主任审定接待计划")
    why = page.locator(".why-step")
    expect(why).to_contain_text("Rule_important")
    expect(why).to_contain_text("重要")
    page.check("input[name=approval_decision][value=reject]")
    _submit(page)
    error = page.locator("#field-approval_comment-error")
    expect(error).to_contain_text("退回时必须填写审定意见")
    screenshot(page, "p1_03_reject_needs_comment")
    page.check("input[name=approval_decision][value=reject]")
    page.fill("#field-approval_comment", "请补充陪同人员名单。")
    _submit(page)

    # The plan comes back with the comment.
    _as(page, login, "reception_officer")
    _open_task(page, business_key, "制订接待计划并与来宾沟通")
    expect(page.locator(".instructions")).to_contain_text("请补充陪同人员名单。")
    screenshot(page, "p1_04_plan_returned")
    page.fill(
        "#field-plan_summary", "9:00 座谈交流；10:30 参观校史馆。陪同：党办主任、宣传部部长。"
    )
    page.check("input[name=contact_agreed][value=true]")
    _submit(page)

    # 4b. Director, then university leader approve.
    _as(page, login, "director")
    _open_task(page, business_key, "主任审定接待计划")
    page.check("input[name=approval_decision][value=approve]")
    _submit(page)
    _as(page, login, "univ_leader")
    _open_task(page, business_key, "校领导审定接待计划")
    expect(page.locator(".why-step")).to_contain_text("p1_approval_tier")
    screenshot(page, "p1_05_leader_approval")
    page.check("input[name=approval_decision][value=approve]")
    page.fill("#field-approval_comment", "同意。")
    _submit(page)

    # 5. The party office picks two co-hosting departments.
    _as(page, login, "party_office")
    _open_task(page, business_key, "确定协办部门和准备事项")
    page.check("input[name=co_host_departments][value=president_office]")
    page.check("input[name=co_host_departments][value=publicity_dept]")
    page.check("input[name=preparation_items][value=av_slides]")
    page.check("input[name=preparation_items][value=name_cards]")
    screenshot(page, "p1_06_departments")
    _submit(page)

    # Each liaison sees only their own department's task.
    _as(page, login, "liaison_international_office")
    page.goto("/tasks/")
    expect(page.locator("body")).not_to_contain_text(business_key)
    for liaison in ("liaison_president_office", "liaison_publicity_dept"):
        _as(page, login, liaison)
        page.goto("/tasks/")
        expect(page.locator("tr", has_text=business_key)).to_have_count(1)
        _open_task(page, business_key, "部门确认接待准备")
        page.check("input[name=prepared_items][value=av_slides]")
        page.check("#field-preparation_confirmed")
        if liaison == "liaison_president_office":
            screenshot(page, "p1_07_confirmation")
        _submit(page)

    # 6, 7. The officer records the reception, attaches the plan and archives.
    _as(page, login, "reception_officer")
    _open_task(page, business_key, "记录接待情况")
    page.fill("#field-actual_from", visit_from.isoformat())
    page.fill("#field-actual_to", visit_from.isoformat())
    page.fill("#field-actual_headcount", "8")
    page.fill("#field-execution_summary", "座谈交流顺利，来宾参观了校史馆。")
    _submit(page)
    expect(page.locator("h1")).to_contain_text("资料整理存档")
    plan_file = tmp_path / "接待计划.pdf"
    plan_file.write_bytes(PDF)
    page.locator("#attachments summary").click()  # folded on a task page until used
    page.select_option("#attachment-kind", "plan")
    page.set_input_files("#attachment-file", str(plan_file))
    page.locator("form.attachment-upload button[type=submit]").click()
    expect(page.locator(".attachment-list")).to_contain_text("接待计划.pdf")
    page.check("input[name=archived_materials][value=plan]")
    page.check("input[name=archived_materials][value=photos]")
    page.fill("#field-archive_location", "党办档案盒 2026-接待-15")
    screenshot(page, "p1_08_archive")
    _submit(page)

    # The register row: archived, approved by the leader; detail and print view.
    page.goto("/registers/visits/?q=" + business_key)
    row = page.locator("tr", has_text=business_key)
    expect(row).to_contain_text("已存档")
    expect(row).to_contain_text("复旦大学党委办公室")
    screenshot(page, "p1_09_register")
    row.get_by_role("link", name=business_key).click()
    expect(page.locator(".timeline")).to_contain_text("请补充陪同人员名单。")
    screenshot(page, "p1_10_register_detail")
    detail_url = page.url
    page.locator(".toolbar a[href*='/instances/']").click()
    expect(page.locator(".why-step")).to_contain_text("p1_approval_tier")
    page.wait_for_selector("#diagram.is-loaded", timeout=15000)
    screenshot(page, "p1_12_instance")
    page.goto(detail_url)
    page.get_by_role("link", name=re.compile("Print view|打印视图")).click()
    expect(page.locator("h1")).to_have_text("接待工作登记表")
    screenshot(page, "p1_11_print")
