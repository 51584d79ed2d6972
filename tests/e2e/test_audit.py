"""The auditor in a real browser: find a rejected 重要 (important) visit by the approver's name,
open its timeline and print the approval record (审批单). The demo data holds such a visit
(workflows/p1/demo.py: the director sent 浙江大学's plan back)."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

P1 = "p1_official_visit"


def _search(page, **fields):
    page.goto("/audit/")
    for name, value in fields.items():
        selector = f"#{name}"
        if page.locator(f"select{selector}").count():
            page.select_option(selector, value)
        else:
            page.fill(selector, value)
    page.locator("form.filters button[type=submit], main form button[type=submit]").first.click()
    page.wait_for_load_state()


def _rejections(page):
    return page.locator("table tbody tr").filter(has=page.locator(".badge", has_text="不同意"))


def test_auditor_finds_a_rejected_important_visit_and_prints_its_record(page, login, screenshot):
    login(page, "auditor")

    # Who rejected a visit: the approver's display name, as the trail shows it.
    _search(page, procedure=P1, outcome="rejected")
    rows = _rejections(page)
    expect(rows.first).to_be_visible()
    person_cell = rows.first.locator("td").nth(3)
    username = person_cell.locator(".muted").inner_text().strip()
    name = person_cell.inner_text().replace(username, "").strip()
    assert name, "the trail names the approver"

    # Search by that name alone (with the outcome), as an auditor would.
    _search(page, person=name, outcome="rejected")
    rows = _rejections(page)
    expect(rows.first).to_be_visible()
    expect(rows.first).to_contain_text(name)
    screenshot(page, "audit_01_search_by_approver")

    # The timeline of the rejected visit: an important visit, the rejection with its comment.
    business_key = rows.first.locator("td").nth(5).inner_text().strip()
    assert re.fullmatch(r"JD\d{8}-\d{6}", business_key)
    rows.first.get_by_role("link", name=business_key).click()
    expect(page.locator("h1")).to_contain_text(business_key)
    expect(page.locator("#diagram svg").first).to_be_visible()
    main = page.locator("main")
    expect(main).to_contain_text("重要")
    expect(main).to_contain_text(name)
    expect(main).to_contain_text("不同意")
    screenshot(page, "audit_02_timeline")

    # The printed approval record (审批单).
    link = page.get_by_role("link", name=re.compile("审批单|PDF"))
    response = page.request.get(link.get_attribute("href"))
    assert response.ok and response.headers["content-type"].startswith("application/pdf")
    assert response.body().startswith(b"%PDF")
