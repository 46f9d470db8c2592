"""An operator checking screens in Chromium (issue 14): screenshots as thumbnails with the time
they were taken, a list and a status card that refresh themselves, and the 24-hour timeline as
one picture with a summary, hour-by-hour details and explanations by keyboard."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.fixtures.server import LiveServer, pair_device
from tests.portal.conftest import DESKTOP, PHONE, browser_login, heartbeat, png_of, shoot_all

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LIVE = 15_000  # the live parts poll every 5 s: wait for the change, at most three polls
LOADED = "img => img.complete && img.naturalWidth"


def test_screenshots_show_with_their_time_and_the_list_refreshes_itself(
    portal_server: LiveServer, open_tab: Callable[[], Page]
) -> None:
    server = portal_server
    gate = pair_device(server, screen_class="outdoor_large", name="东门大屏", groups=["east-gate"])
    pair_device(
        server, screen_class="indoor_small", orientation="portrait", name="3号楼大堂", groups=["lobby"]
    )
    op = open_tab()
    browser_login(op, server.url, server.operator)
    op.goto(server.url + "/portal/screens")
    row = op.locator("tr[data-screen]").filter(has_text="东门大屏")
    expect(row).to_contain_text("未上线")
    expect(row).to_contain_text("还没有截图")  # said in words, never a broken image

    # the screen comes online while the operator looks: the row changes without a reload
    heartbeat(server, gate, free_disk_bytes=8_000_000_000)
    expect(row.locator("td.online")).to_contain_text("在线", timeout=LIVE)
    expect(row).to_contain_text("8.0 GB")

    # a fresh screenshot: asked on the screen's page, sent by the screen, shown there as it arrives
    row.get_by_role("link", name="东门大屏").click()
    op.get_by_role("button", name="请求新截图").click()
    pending = op.get_by_text("已请求截图，等待屏幕上传")  # in the live status, not a flash that stays
    expect(pending).to_be_visible()
    assert heartbeat(server, gate)["screenshot_requested"] is True
    sent = httpx.post(
        server.api + "/device/screenshot", content=png_of((200, 30, 30)), headers={**gate.headers,
        "Content-Type": "image/png"},
    )  # fmt: skip
    assert sent.status_code == 204, sent.text
    shot = op.locator("img.shot")
    expect(shot).to_be_visible(timeout=LIVE)
    assert shot.evaluate(LOADED) == 480  # the real picture, not a broken image
    expect(op.locator(".shot-box figcaption")).to_contain_text("截于")
    expect(pending).to_have_count(0)  # the same refresh that brought the picture took "requested" away
    assert op.locator(".notice").count() == 0
    src = shot.get_attribute("src")
    assert src is not None
    answer = op.request.get(server.url + src)
    assert answer.status == 200 and answer.headers["content-type"] == "image/png"
    assert answer.headers["cache-control"] == "no-store"
    stranger = httpx.get(server.url + src, follow_redirects=False)
    assert stranger.status_code == 303 and "/portal/login" in stranger.headers["location"]  # operators only
    shoot_all(op, "screen-shot")

    op.goto(server.url + "/portal/screens")
    thumb = op.locator("tr[data-screen]").filter(has_text="东门大屏").locator("img.thumb")
    expect(thumb).to_be_visible()
    assert thumb.evaluate(LOADED) == 480
    expect(op.locator("tr[data-screen]").filter(has_text="东门大屏").locator(".thumb-time")).to_contain_text(
        "截于"
    )
    shoot_all(op, "screens-live")


def _operator_posts_announcement(op: Page, url: str, title: str) -> None:
    op.goto(url + "/portal/announcements")
    op.get_by_label("标题", exact=True).fill(title)
    op.get_by_label("中文内容").fill("明天 9:00-12:00 停水，请提前储水")
    op.get_by_label("英文内容").fill("No water tomorrow 9:00-12:00")
    op.get_by_label("优先级").select_option("important")
    op.get_by_role("button", name="发布").click()
    expect(op.locator(".notice")).to_contain_text("公告已发布")


def test_timeline_is_one_picture_with_a_summary_details_and_keyboard_explanations(
    portal_server: LiveServer, open_tab: Callable[[], Page], media_dir: Path
) -> None:
    server = portal_server
    screen = pair_device(server, screen_class="indoor_small", name="5号楼电梯厅")
    op = open_tab()
    browser_login(op, server.url, server.operator)
    op.goto(server.url + "/portal/media")  # the community's default slide fills unbooked time
    op.set_input_files("#file", [str(media_dir / "small.jpg")])
    op.get_by_role("button", name="上传").click()
    op.wait_for_url("**/portal/media?notice=uploaded")
    op.get_by_role("row").filter(has_text="small.jpg").get_by_role("button", name="设为默认内容").click()
    _operator_posts_announcement(op, server.url, "停水通知")

    op.goto(f"{server.url}/portal/screens/{screen.device_id}")
    figure = op.locator("figure.timeline-box")
    # one tab stop: the picture; its thousands of blocks are not each a stop
    assert op.locator("figure.timeline-box [tabindex], figure.timeline-box [role=button]").count() == 0
    assert op.locator("svg.timeline rect.slot").count() > 50
    picture = op.get_by_role("img", name="5号楼电梯厅 的播放时间线")
    expect(picture).to_have_attribute("aria-label", _contains("未来 24 小时"))
    expect(op.locator("#timeline-summary")).to_contain_text("公告占")
    figure.focus()
    expect(figure).to_be_focused()
    op.keyboard.press("Tab")
    expect(op.get_by_label("说明这个时间在播什么")).to_be_focused()  # the next stop is the explain form

    # the keyboard's way to the engine's explanation: a time that shows the announcement
    blocks = op.locator("svg.timeline rect.slot-announcement")
    widths = [float(w) for w in blocks.evaluate_all("els => els.map(e => e.getAttribute('width'))")]
    widest = blocks.nth(widths.index(max(widths)))
    start = dt.datetime.fromisoformat(str(widest.get_attribute("data-start")))
    end = dt.datetime.fromisoformat(str(widest.get_attribute("data-end")))
    middle = (start + (end - start) / 2).astimezone(ZoneInfo("Asia/Shanghai"))
    op.get_by_label("说明这个时间在播什么").fill(middle.strftime("%Y-%m-%dT%H:%M:%S"))
    op.keyboard.press("Enter")
    explain = op.locator("#explain")
    expect(explain).to_contain_text("社区公告 「停水通知」")  # named by its title, never its id
    expect(explain).to_contain_text("重要")

    # details on demand: hour by hour, in words
    op.get_by_text("逐小时查看").click()
    hours = op.locator("details.timeline-hours tbody tr")
    expect(hours).to_have_count(24)
    expect(hours.first).to_contain_text("停水通知")
    shoot_all(op, "screen-timeline")
    # at phone width the whole day fits the screen (nothing hidden behind a sideways scroll) and the
    # legend names all four kinds in readable type
    op.set_viewport_size(PHONE)
    picture_right = op.locator("svg.timeline").evaluate("e => e.getBoundingClientRect().right")
    assert picture_right <= PHONE["width"]
    expect(op.locator("ul.legend li")).to_have_text(["公告", "广告", "默认内容", "紧急广播"])
    assert all(op.locator("ul.legend li").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().right <= window.innerWidth)"))
    op.set_viewport_size(DESKTOP)
    op.get_by_role("link", name="English").click()
    op.get_by_label("Explain what plays at").fill(middle.strftime("%Y-%m-%dT%H:%M:%S"))
    op.get_by_role("button", name="Explain").click()
    expect(op.locator("#explain")).to_contain_text("Community announcement 「停水通知」 is active")


def _contains(text: str) -> object:
    import re

    return re.compile(re.escape(text))
