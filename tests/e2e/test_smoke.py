"""Smoke test in a real browser: the login page, then the first page after logging in."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_login_page_is_chinese_and_front_clerk_logs_in(page, login, screenshot):
    page.goto("/login")
    expect(page.locator("body")).to_contain_text("登录")
    expect(page.locator("input[name='password']")).to_be_visible()
    screenshot(page, "login")

    login(page, "front_clerk")

    expect(page).not_to_have_url(re.compile(r"/login(\?|$)"))
    expect(page.locator("header")).to_contain_text("front_clerk")
    screenshot(page, "after_login")
