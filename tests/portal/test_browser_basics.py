"""Portal basics in Chromium: the CSP holds (scripts still run), languages, phone width."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.fixtures.server import LiveServer
from tests.portal.conftest import browser_login, shoot

pytestmark = pytest.mark.browser


def test_login_pages_in_both_languages_and_widths(live_server: LiveServer, browser_page: Page) -> None:
    page = browser_page
    page.goto(live_server.url + "/portal/login")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    shoot(page, "login-zh-desktop")
    shoot(page, "login-zh-phone", phone=True)
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    shoot(page, "login-en-desktop")
    shoot(page, "login-en-phone", phone=True)
    page.get_by_role("link", name="中文").click()
    browser_login(page, live_server.url, live_server.operator)
    expect(page.get_by_role("heading", name="审核", exact=True)).to_be_visible()
    # keyboard: the skip link is the first stop and leads to the main content
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="跳到主要内容")).to_be_focused()


def test_clerk_records_a_case_and_its_progress(live_server: LiveServer, browser_page: Page) -> None:
    clerk = live_server.create_user("clerk1", "clerk")
    page = browser_page
    browser_login(page, live_server.url, clerk)
    expect(page.get_by_role("heading", name="政务办件")).to_be_visible()
    page.get_by_label("事项").select_option("residence_permit")
    page.get_by_label("申请人姓名").fill("李四")
    page.get_by_label("身份证号").fill("11010519491231002X")
    page.get_by_label("手机号").fill("13912345678")
    page.get_by_role("button", name="登记").click()
    expect(page.locator(".case-state")).to_contain_text("已提交")
    page.get_by_label("下一步状态").select_option("accepted")
    page.get_by_role("button", name="更新").click()
    expect(page.get_by_role("status")).to_contain_text("办件状态已更新")
    expect(page.locator(".case-timeline li")).to_have_count(2)
    expect(page.get_by_role("img", name=re.compile("回执二维码"))).to_be_visible()
    shoot(page, "case-zh-desktop")
    shoot(page, "case-zh-phone", phone=True)
    detail = page.url
    page.get_by_role("link", name="政务办件").click()
    shoot(page, "cases-zh-desktop")
    page.get_by_role("link", name="English").click()
    shoot(page, "cases-en-desktop")
    shoot(page, "cases-en-phone", phone=True)
    page.goto(detail)
    expect(page.locator(".case-state")).to_contain_text("Accepted")
    shoot(page, "case-en-desktop")
