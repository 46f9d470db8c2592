"""The studio's template editor in Chromium: fill a merchant offer, watch both previews follow, save it,
edit it again in English. Screenshots in both languages under test-artifacts/portal/."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.fixtures.server import LiveServer, free_port
from tests.portal.conftest import browser_login, shoot, shoot_all

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


def test_an_operator_registers_a_loopback_feed_sees_its_headlines_and_deletes_it(
    live_server: LiveServer, open_tab: Callable[[], Page]
) -> None:
    from tests.content_server.studio.feed_server import FeedSite, serve

    url = live_server.url
    shop = open_tab()
    browser_login(shop, url, live_server.create_user("sources-shop", "advertiser"))
    refused = shop.goto(url + "/portal/studio/sources")
    assert refused is not None and refused.status == 403  # data sources are the operators'
    page = open_tab()
    browser_login(page, url, live_server.operator)
    page.goto(url + "/portal/studio")
    page.get_by_role("link", name="实时数据源（新闻、天气、排队叫号）").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("实时数据源")
    shoot(page, "sources-empty-zh-desktop")
    site = FeedSite()
    with serve(site) as base:
        page.get_by_label("名称").fill("幸福里新闻")
        page.get_by_label("RSS / Atom 新闻源").check()
        page.get_by_label("网址").fill(base + "/feed.xml")
        page.get_by_label("抓取间隔（分钟）").fill("30")
        page.get_by_label("有效期（分钟）").fill("120")
        page.get_by_label("允许的内网地址").fill("127.0.0.1/32")  # loopback: allow-listed for this source
        page.get_by_role("button", name="登记并开始抓取").click()
        expect(page.get_by_role("status")).to_contain_text("数据源已登记")
        card = page.locator("section.source").filter(has_text="幸福里新闻")
        card.get_by_role("button", name="立即抓取").click()
        expect(page.get_by_role("status")).to_contain_text("已抓取")
        card = page.locator("section.source").filter(has_text="幸福里新闻")
        expect(card).to_contain_text("正在屏幕上")
        expect(card.get_by_role("listitem")).to_have_count(3)
        expect(card.get_by_role("listitem").first).to_have_text("社区新闻 1-1: 停水通知 Water notice 1")
        expect(card.get_by_role("img")).to_have_attribute("alt", "幸福里新闻 的幻灯片")
        assert card.get_by_role("img").evaluate("img => img.naturalWidth") > 0
        assert any(h.startswith("/feed.xml") for h in site.hits)
        shoot_all(page, "sources-fetched")

        # the feed breaks: the error and the count show, the last good headlines stay on screens
        site.version = 2
        page.goto(url + "/portal/lang/en?next=/portal/studio/sources")
        page.get_by_label("Name").fill("Broken feed")
        page.get_by_label("URL").fill(base + "/broken.xml")
        page.get_by_label("Allowed private addresses").fill("127.0.0.1/32")
        page.get_by_role("button", name="Register and start fetching").click()
        broken = page.locator("section.source").filter(has_text="Broken feed")
        broken.get_by_role("button", name="Refresh now").click()
        expect(page.get_by_role("status")).to_contain_text("This fetch failed")
        broken = page.locator("section.source").filter(has_text="Broken feed")
        expect(broken).to_contain_text("cannot be read")
        expect(broken).to_contain_text("Not fetched yet")
        expect(broken.locator("dd").nth(6)).to_have_text("1")  # failures in a row
        shoot(page, "sources-failed-en-desktop")
        shoot(page, "sources-failed-en-phone", phone=True)

    # a bad allow-list is named in the reader's language and what was typed stays
    page.get_by_label("Name").fill("Typo")
    page.get_by_label("URL").fill("https://news.example.org/feed.xml")
    page.get_by_label("Allowed private addresses").fill("10.0.5.300")
    page.get_by_role("button", name="Register and start fetching").click()
    expect(page.get_by_role("alert")).to_contain_text("10.0.5.300 is not an address or network")
    expect(page.get_by_label("Name")).to_have_value("Typo")
    shoot(page, "sources-refused-en-desktop")

    # delete: only with the box ticked; then it is gone from the page
    broken = page.locator("section.source").filter(has_text="Broken feed")
    broken.get_by_label("Yes, delete “Broken feed” and take it off the screens").check()
    broken.get_by_role("button", name="Delete source").click()
    expect(page.get_by_role("status")).to_contain_text("Source deleted")
    expect(page.locator("section.source")).to_have_count(1)


def test_an_operator_uploads_a_long_pdf_notice_and_publishes_it_as_one_announcement(
    live_server: LiveServer, browser_page: Page, tmp_path: Path
) -> None:
    from tests.content_server.studio.pdfs import notice

    page = browser_page
    url = live_server.url
    browser_login(page, url, live_server.operator)
    pdf = tmp_path / "rules.pdf"
    pdf.write_bytes(notice(12))  # more than the ten pages the old 20-media limit allowed
    page.goto(url + "/portal/studio")
    page.get_by_label("PDF文件").set_input_files(str(pdf))
    page.get_by_label("标题（可选）").fill("小区管理规约")
    page.get_by_role("button", name="上传", exact=True).click()
    page.wait_for_url(re.compile(r"/portal/media\?notice=uploaded"), timeout=60000)
    page.goto(url + "/portal/studio")
    row = page.get_by_role("row").filter(has_text="小区管理规约")
    expect(row).to_contain_text("12")
    shoot(page, "studio-pdfs-zh-desktop")
    shoot(page, "studio-pdfs-zh-phone", phone=True)
    row.get_by_role("button", name="作为一条公告发布（按页序播放全部页）").click()
    page.wait_for_url(re.compile(r"/portal/announcements\?notice=announcement_published"))
    expect(page.get_by_role("cell", name="小区管理规约", exact=True)).to_be_visible()
    op = live_server.auth(live_server.operator)
    listed = httpx.get(live_server.api + "/announcements", headers=op).json()
    notice_ann = [a for a in listed if a["title"] == "小区管理规约"]
    assert len(notice_ann) == 1 and len(notice_ann[0]["media_ids"]) == 24  # 12 pages × two shapes


def test_a_merchants_too_long_pdf_is_refused_in_the_readers_language_a_short_one_fills_a_campaign(
    live_server: LiveServer, browser_page: Page, tmp_path: Path
) -> None:
    from tests.content_server.studio.pdfs import notice
    from tests.portal.conftest import set_language

    page = browser_page
    url = live_server.url
    shop = live_server.create_user("menu-shop", "advertiser")
    browser_login(page, url, shop)
    long_pdf, short_pdf = tmp_path / "menu-25.pdf", tmp_path / "menu-3.pdf"
    long_pdf.write_bytes(notice(25))
    short_pdf.write_bytes(notice(3))
    page.goto(url + "/portal/studio")
    expect(page.locator("#pdf-help")).to_contain_text("最多 20 页")  # said before the upload
    for lang, label, button, words in (
        ("zh", "PDF文件", "上传", "这份PDF有 25 页；一个广告最多 20 页"),
        ("en", "PDF file", "Upload", "The PDF has 25 pages; an ad may have at most 20"),
    ):
        set_language(page, lang, url + "/portal/studio")
        page.get_by_label(label).set_input_files(str(long_pdf))
        page.get_by_role("button", name=button, exact=True).click()
        expect(page.locator(".upload-errors")).to_contain_text(words, timeout=30000)
        shoot(page, f"studio-ad-pdf-refused-{lang}")
    headers = live_server.auth(shop)
    assert httpx.get(live_server.api + "/media", headers=headers).json() == []  # nothing stored

    set_language(page, "zh", url + "/portal/studio")
    page.get_by_label("PDF文件").set_input_files(str(short_pdf))
    page.get_by_label("标题（可选）").fill("秋季菜单")
    page.get_by_role("button", name="上传", exact=True).click()
    page.wait_for_url(re.compile(r"/portal/media\?notice=uploaded"), timeout=60000)
    page.goto(url + "/portal/studio")
    row = page.get_by_role("row").filter(has_text="秋季菜单")
    row.get_by_role("link", name="用这些页新建投放").click()
    page.wait_for_url(re.compile(r"/portal/campaigns/new\?"))
    media = httpx.get(live_server.api + "/media", headers=headers).json()
    assert len(media) >= 3  # three pages, each in every screen shape
    expect(page.locator("input[name=media_ids]:checked")).to_have_count(len(media))
    ticked = page.locator("input[name=media_ids]:checked")
    titles = ticked.evaluate_all("(els) => els.map((e) => e.dataset.title)")
    pages = [t.split()[1] for t in titles]
    assert pages == sorted(pages) and pages[0] == "p1"  # ticked first, in page order: the spots' turns
    expect(page.get_by_label("名称", exact=True)).to_have_value("秋季菜单")
    shoot(page, "campaign-from-ad-pdf-zh")
