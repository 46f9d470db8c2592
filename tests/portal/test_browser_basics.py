"""Portal basics in Chromium: the CSP holds (scripts still run), languages, phone width."""

from __future__ import annotations

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
