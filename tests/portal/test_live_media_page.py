"""The media library page: operators add web pages and live streams (no file, an address) in either
language; a refused address keeps the form; advertisers have no such form and are refused."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.fixtures.server import AppClient, LiveServer
from tests.portal.conftest import (
    assert_accessible,
    assert_translated,
    browser_login,
    csrf_of,
    portal_login,
    shoot_all,
)


def test_the_library_page_adds_them_for_operators_in_both_languages(app_client: AppClient) -> None:
    c = app_client
    portal_login(c, c.operator)
    page = c.get("/portal/media")
    assert "添加网页或直播" in page.text
    token = csrf_of(page.text)
    form = {"kind": "web", "url": "https://board.example.org/today",
            "allowed_hosts": "cdn.example.org，*.img.example.org", "load_timeout_s": "", "title": "预约看板",
            "duration_s": "20", "csrf_token": token}  # fmt: skip
    added = c.post("/portal/media/live", data=form, follow_redirects=True)
    assert added.status_code == 200 and "已添加" in added.text
    assert "https://board.example.org/today" in added.text and "网页" in added.text
    listed = c.get("/api/v1/media", headers=c.auth(c.operator)).json()
    assert [(m["title"], m["allowed_hosts"], m["duration_s"]) for m in listed] == [
        ("预约看板", ["board.example.org", "cdn.example.org", "*.img.example.org"], 20.0)
    ]
    detail = c.get(f"/portal/media/{listed[0]['id']}")
    assert "cdn.example.org" in detail.text and "替换文件" not in detail.text  # nothing to replace
    # a stream that is not HLS: refused in the reader's language, the form kept
    bad = c.post("/portal/media/live", data={**form, "kind": "stream", "url": "https://tv.example.org/watch"})
    assert bad.status_code == 422 and ".m3u8" in bad.text and "直播" in bad.text
    assert 'value="https://tv.example.org/watch"' in bad.text
    c.cookies.set("portal_lang", "en")
    english = c.post("/portal/media/live", data={**form, "duration_s": "1"})
    assert english.status_code == 422 and "Not a valid number: Duration" in english.text
    c.cookies.delete("portal_lang")
    # an advertiser's library page has no such form, and posting it is refused
    shop_creds = c.create_user("shop", "advertiser")
    c.post("/portal/logout", data={"csrf_token": csrf_of(c.get("/portal/media").text)})
    portal_login(c, shop_creds)
    library = c.get("/portal/media")
    assert library.status_code == 200 and "添加网页或直播" not in library.text
    refused = c.post("/portal/media/live", data={**form, "csrf_token": csrf_of(library.text)})
    assert refused.status_code == 403


@pytest.mark.browser
@pytest.mark.slow
def test_an_operator_adds_a_booking_board_in_the_browser(live_server: LiveServer, browser_page: Page) -> None:
    page = browser_page
    browser_login(page, live_server.url, live_server.operator)
    page.goto(live_server.url + "/portal/media")
    page.get_by_label("地址").fill("https://board.example.org/today")
    page.get_by_label("允许的其他主机").fill("cdn.example.org")
    page.get_by_label("标题").last.fill("活动室预约看板")
    page.get_by_role("button", name="添加", exact=True).click()
    expect(page.get_by_text("已添加，可用于公告")).to_be_visible()
    row = page.locator("tr", has_text="活动室预约看板")
    expect(row).to_contain_text("网页")
    expect(row).to_contain_text("https://board.example.org/today")
    page.get_by_label("类型").first.select_option("stream")
    page.get_by_label("地址").fill("https://tv.example.org/watch")
    page.get_by_role("button", name="添加", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text(".m3u8")
    assert_accessible(page)
    assert_translated(page)
    shoot_all(page, "media-live")
