"""The studio's template editor in Chromium: fill a merchant offer, watch both previews follow, save it,
edit it again in English. Screenshots in both languages under test-artifacts/portal/."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.fixtures.server import LiveServer, free_port
from tests.portal.conftest import browser_login, shoot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PREVIEWS_DRAWN = """(round) => [...document.querySelectorAll('img[data-preview]')]
  .every((img) => Number(img.dataset.round || 0) >= round && img.naturalWidth > 0)"""


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(data_dir=tmp_path_factory.mktemp("studio-server"), port=free_port())
    server.create_operator()
    server.start()
    yield server
    server.stop()


def _previews(page: Page) -> tuple[int, int]:
    page.wait_for_function(
        "() => [...document.querySelectorAll('img[data-preview]')].every((img) => img.naturalWidth > 0)",
        timeout=20000,
    )
    return page.evaluate(
        "() => [...document.querySelectorAll('img[data-preview]')].map((i) => i.naturalWidth)"
    )


def _current_round(page: Page) -> int:
    return int(
        page.evaluate(
            "() => Math.max(...[...document.querySelectorAll('img[data-preview]')]"
            ".map((i) => Number(i.dataset.round || 0)))"
        )
    )


def test_a_merchant_designs_an_offer_with_a_live_preview_in_both_languages(
    live_server: LiveServer, browser_page: Page
) -> None:
    page = browser_page
    url = live_server.url
    browser_login(page, url, live_server.create_user("bakery", "advertiser"))
    page.goto(url + "/portal/studio")
    shoot(page, "studio-zh-desktop")
    page.get_by_role("link", name="商家优惠").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("商家优惠")
    page.get_by_label("标题", exact=True).fill("全麦面包优惠")
    page.get_by_label("商品 (中文)").fill("手工全麦面包")
    page.get_by_label("商品 (英文)").fill("Hand-made wholemeal bread")
    page.get_by_label("优惠价（元）").fill("15.9")
    page.get_by_label("原价（元）").fill("19.9")
    page.get_by_label("有效期至").fill("2026-12-31")
    page.get_by_label("商家名称 (中文)").fill("麦香坊烘焙")
    page.get_by_label("商家名称 (英文)").fill("Maixiang Bakery")
    page.get_by_label("优惠说明 (中文)").fill("每天早上七点新鲜出炉，凭本广告享八折。")
    page.get_by_label("优惠说明 (英文)").fill("Fresh from the oven at 7 every morning; 20% off with this ad.")
    page.get_by_label("二维码链接").fill("https://bakery.example.com/offer")
    assert _previews(page) == [480, 270]  # landscape and portrait, drawn by the server
    drawn = _current_round(page)
    page.wait_for_function(PREVIEWS_DRAWN, arg=drawn, timeout=20000)
    shoot(page, "studio-editor-zh-desktop")

    # a bad price is named, in the page's language, without losing what was typed
    page.get_by_label("优惠价（元）").fill("很便宜")
    expect(page.get_by_role("status").filter(has_text="请修改")).to_contain_text("price")
    page.get_by_label("优惠价（元）").fill("15.9")
    expect(page.locator(".studio-status")).to_have_text("")

    page.get_by_role("button", name="保存并生成幻灯片").click()
    page.wait_for_url(re.compile(r"/portal/studio\?notice=slide_saved"))
    expect(page.get_by_role("row").filter(has_text="全麦面包优惠").locator("img")).to_have_count(2)

    # edit it again, in English: the fields come back, the previews follow the change
    page.goto(url + "/portal/lang/en?next=/portal/studio")
    page.get_by_role("row").filter(has_text="全麦面包优惠").get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Price (yuan) *", exact=True)).to_have_value("15.9")
    page.get_by_label("Languages shown").select_option("en")
    page.get_by_label("Price (yuan) *", exact=True).fill("12.9")
    before = _current_round(page)
    page.wait_for_function(PREVIEWS_DRAWN, arg=before + 1, timeout=20000)
    shoot(page, "studio-editor-en-desktop")
    shoot(page, "studio-editor-en-phone", phone=True)
    page.get_by_role("button", name="Save and make the slides").click()
    page.wait_for_url(re.compile(r"/portal/studio\?notice=slide_saved"))
    shoot(page, "studio-en-desktop")
