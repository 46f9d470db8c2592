"""The portal in Chromium against one real server (a uvicorn subprocess shared by this module).

- log-in pages in both languages and widths, keyboard skip link;
- the advertiser journey: signup -> operator approves the account -> uploads with a progress
  bar -> campaign with a live availability check -> operator approves -> the screen's manifest
  and timeline picture carry it -> the paired screen posts proof of play -> the advertiser's
  chart, table and CSV show it;
- the operator's emergency broadcast (confirm, send, end) and a clerk's case.

Every page visited is also screenshotted under test-artifacts/portal/ (zh/en, desktop/phone),
after checks that no translation key shows and every control is labelled.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect

from content_server.core.db import make_engine, make_sessionmaker
from signage_demo.kiosk_catalogue import seed_demo_catalogue
from tests.fixtures.server import Credentials, LiveServer, free_port, pair_device
from tests.portal.conftest import browser_login, shoot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOP_NAME = "<script>alert(1)</script>面包房"
WATCH_PROGRESS = """() => {
  const bar = document.querySelector('form[data-upload] progress');
  new MutationObserver(() => window.reportProgress(Number(bar.getAttribute('aria-valuenow'))))
    .observe(bar, {attributes: true, attributeFilter: ['aria-valuenow']});
}"""


SHANGHAI = dt.timezone(dt.timedelta(hours=8))  # the screens' time zone


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the module's browser tests (starting one costs seconds); tests use
    their own accounts and screens so they stay independent."""
    server = LiveServer(data_dir=tmp_path_factory.mktemp("portal-server"), port=free_port())
    server.create_operator()
    server.start()
    engine = make_engine(f"sqlite:///{server.data_dir / 'signage.db'}")
    with make_sessionmaker(engine)() as session:  # the kiosks' service categories, as the demo seeds them
        seed_demo_catalogue(session, dt.datetime.now(dt.UTC), days=2)
    engine.dispose()
    yield server
    server.stop()


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


def _throttle_uploads(page: Page, bytes_per_s: int) -> None:
    """Slow the tab's uploads (Chromium's own network emulation) so progress is visible."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 5, "downloadThroughput": -1, "uploadThroughput": bytes_per_s},
    )


def test_advertiser_journey_from_signup_to_proof_of_play(
    live_server: LiveServer, open_tab: Callable[[], Page], media_dir: Path
) -> None:
    url = live_server.url
    screen = pair_device(live_server, screen_class="outdoor_large", groups=["east-gate"], tags=["building:3"])
    pair_device(live_server, screen_class="indoor_small", orientation="portrait", groups=["lobby"])

    # 1. a merchant signs up and has to wait
    shop = open_tab()
    shop.goto(url + "/portal/signup")
    shoot(shop, "signup-zh-desktop")
    shop.get_by_label("商户/机构名称").fill(SHOP_NAME)
    shop.get_by_label("用户名").fill("bakery")
    shop.get_by_label("密码").fill("bakery-password-1")
    shop.get_by_role("button", name="提交注册").click()
    expect(shop.get_by_role("status")).to_contain_text("审核通过后")
    browser_login(shop, url, _creds("bakery"))
    expect(shop.locator("main")).to_contain_text("等待运营人员审核")

    # 2. the operator approves the account
    op = open_tab()
    browser_login(op, url, live_server.operator)
    row = op.get_by_role("row").filter(has_text="bakery")
    expect(row).to_contain_text(SHOP_NAME)  # shown as text, not run
    row.get_by_role("button", name="批准").click()
    expect(op.get_by_role("status")).to_contain_text("账号已通过审核")
    # ... and gives the screens a default slide for time nobody booked
    op.get_by_role("link", name="素材库").click()
    op.set_input_files("#file", [str(media_dir / "small.jpg")])
    op.get_by_role("button", name="上传").click()
    op.wait_for_url("**/portal/media?notice=uploaded")
    op.get_by_role("row").filter(has_text="small.jpg").get_by_role("button", name="设为默认内容").click()
    expect(op.get_by_role("row").filter(has_text="small.jpg")).to_contain_text("取消默认")

    # 3. uploads with a real progress bar; a broken file is refused with the server's reason
    browser_login(shop, url, _creds("bakery"))
    seen: list[int] = []
    shop.expose_function("reportProgress", lambda value: seen.append(value))
    shop.goto(url + "/portal/media")
    shop.evaluate(WATCH_PROGRESS)
    _throttle_uploads(shop, 120_000)
    shop.set_input_files("#file", [str(media_dir / "landscape.png"), str(media_dir / "clip.mp4")])
    shop.get_by_role("button", name="上传").click()
    shop.wait_for_url("**/portal/media?notice=uploaded", timeout=60_000)
    assert any(0 < p < 100 for p in seen), f"the progress bar never showed a partial upload: {seen}"
    table = shop.locator("table")
    expect(table).to_contain_text("1920 × 1080")
    expect(table).to_contain_text("320 × 240")
    expect(table).to_contain_text("3.0 秒")
    expect(shop.locator("img.thumb")).to_have_count(2)
    shoot(shop, "media-zh-desktop")
    shoot(shop, "media-zh-phone", phone=True)
    shop.evaluate(WATCH_PROGRESS)
    shop.set_input_files("#file", [str(media_dir / "not_an_image.png")])
    shop.get_by_role("button", name="上传").click()
    expect(shop.locator(".upload-errors")).to_contain_text("not_an_image.png 未被接受")

    # 4. a campaign, with the availability check answering as the form changes
    shop.goto(url + "/portal/campaigns/new")
    shop.get_by_label("名称").first.fill("冬季面包节")
    shop.get_by_label("行业类别").fill("bakery")
    # from today (the form offers tomorrow): step 7 reports plays, believed only within the flight
    shop.locator("#flight_start").fill(dt.datetime.now(SHANGHAI).date().isoformat())
    shop.locator(".media-pick label").filter(has_text="landscape.png").locator("input").check()
    shop.get_by_label("户外大屏").check()
    shop.get_by_label("播放占比（%）").fill("95")
    expect(shop.locator("#availability")).to_contain_text("目前最多可订")
    shop.get_by_label("播放占比（%）").fill("10")
    expect(shop.locator("#availability")).to_contain_text("档期充足：1 块屏幕")
    expect(shop.locator(".frame.outdoor img")).to_be_visible()
    expect(shop.locator(".frame.lobby img")).to_be_visible()  # one landscape picture: every shape plays it
    shoot(shop, "campaign-new-zh-desktop")
    shoot(shop, "campaign-new-zh-phone", phone=True)
    shop.get_by_role("button", name="提交审核").click()
    expect(shop.get_by_role("status").first).to_contain_text("投放申请已提交")
    expect(shop.locator(".campaign-state")).to_contain_text("待审核")
    campaign_id = shop.url.split("?")[0].rsplit("/", 1)[1]

    # 5. the operator approves it from the queue, with the previews in view
    op.goto(url + "/portal/approvals")
    card = op.locator("article.pending-campaign").filter(has_text="冬季面包节")
    expect(card.locator(".frame.outdoor img")).to_be_visible()
    shoot(op, "approvals-zh-desktop")
    card.get_by_role("button", name="批准").click()
    expect(op.get_by_role("status")).to_contain_text("已批准该投放")

    # 6. the targeted screen's manifest carries it, and so does its timeline picture
    manifest = httpx.get(live_server.api + "/device/manifest", headers=screen.headers).json()
    served_at = dt.datetime.now(dt.UTC)  # plays count only from when the screen had this manifest
    assert campaign_id in [c["id"] for c in manifest["catalogue"]["campaigns"]]
    op.goto(f"{url}/portal/screens/{screen.device_id}")
    ads = op.locator("svg.timeline rect.slot-campaign")
    expect(ads.first).to_be_attached()
    # the picture starts now, so its first spot may be the last sliver of one already playing:
    # click the widest, as a person would
    widths = [float(w) for w in ads.evaluate_all("els => els.map(e => e.getAttribute('width'))")]
    ads.nth(widths.index(max(widths))).click()
    expect(op.locator("#explain")).to_contain_text("冬季面包节")
    shoot(op, "screen-zh-desktop")

    # 7. the screen reports plays; the advertiser sees them in the chart, table and CSV
    item_id = next(c["item_ids"][0] for c in manifest["catalogue"]["campaigns"] if c["id"] == campaign_id)
    # the chart has a bar per community day: all seven on served_at's day, ended by its midnight
    # (moved to the next day, the last ones could end over two minutes ahead: refused as "future")
    zone = ZoneInfo("Asia/Shanghai")
    midnight = dt.datetime.combine(served_at.astimezone(zone).date() + dt.timedelta(days=1), dt.time(), zone)
    start = min(served_at, midnight - dt.timedelta(seconds=63))
    records = [
        {"id": str(uuid.uuid4()), "item_id": item_id, "campaign_id": campaign_id,
         "started_at": (start + dt.timedelta(seconds=9 * i)).isoformat(), "duration_s": 8.0,
         "completed": True}
        for i in range(7)
    ]  # fmt: skip
    r = httpx.post(live_server.api + "/device/plays", json={"records": records}, headers=screen.headers)
    assert r.status_code == 200 and r.json()["accepted"] == 7, r.text
    shop.goto(f"{url}/portal/campaigns/{campaign_id}")
    expect(shop.locator("svg.chart rect.bar")).to_have_count(1)
    expect(shop.locator("svg.chart rect.bar title")).to_contain_text(": 7")
    expect(shop.locator("table.report")).to_contain_text("户外大屏")
    expect(shop.locator("table.report td.num").first).to_have_text("7")
    shoot(shop, "campaign-zh-desktop")
    shoot(shop, "campaign-zh-phone", phone=True)
    with shop.expect_download() as download:
        shop.get_by_role("link", name="下载 CSV").click()
    csv = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert csv[0].startswith("日期,小时,投放,商户,屏幕,屏幕类型,播放次数")
    assert sum(int(line.split(",")[6]) for line in csv[1:]) == 7 and "冬季面包节" in csv[1]

    # 8. the same pages in English, at desktop and phone width
    for tab, pages in ((shop, ("campaigns", f"campaigns/{campaign_id}", "media", "campaigns/new")),
                       (op, ("approvals", "screens", f"screens/{screen.device_id}", "announcements",
                             "emergency", "bundles"))):  # fmt: skip
        tab.goto(f"{url}/portal/lang/en?next=/portal/")
        for path in pages:
            tab.goto(f"{url}/portal/{path}")
            expect(tab.locator("html")).to_have_attribute("lang", "en")
            name = re.sub(r"[0-9a-f]{32}", "detail", path).replace("/", "-")
            shoot(tab, f"{name}-en-desktop")
            shoot(tab, f"{name}-en-phone", phone=True)
        tab.goto(f"{url}/portal/lang/zh?next=/portal/")
    for path in ("screens", "announcements", "bundles"):
        op.goto(f"{url}/portal/{path}")
        shoot(op, f"{path}-zh-desktop")
        shoot(op, f"{path}-zh-phone", phone=True)


def test_operator_sends_and_ends_an_emergency(live_server: LiveServer, browser_page: Page) -> None:
    screen = pair_device(live_server, screen_class="indoor_small", groups=["north-gate"])
    op = browser_page
    browser_login(op, live_server.url, live_server.operator)
    op.get_by_role("link", name="紧急广播").click()
    op.get_by_label("标题").fill("燃气泄漏")
    op.get_by_label("中文内容").fill("3号楼燃气泄漏，请立即撤离")
    op.get_by_label("英文内容").fill("Gas leak in building 3: leave now")
    op.get_by_label("north-gate").check()
    op.get_by_role("button", name="下一步：确认").click()
    expect(op.get_by_role("heading", name="确认发出紧急广播")).to_be_visible()
    shoot(op, "emergency-confirm-zh-desktop")
    state = httpx.get(live_server.api + "/device/emergency", headers=screen.headers).json()
    assert state["active"] is False
    op.get_by_role("button", name="立即发出").click()
    expect(op.locator(".notice")).to_contain_text("紧急广播已发出")
    state = httpx.get(live_server.api + "/device/emergency", headers=screen.headers).json()
    assert state["active"] is True and state["item"]["text"]["zh"] == "3号楼燃气泄漏，请立即撤离"
    shoot(op, "emergency-zh-desktop")
    shoot(op, "emergency-zh-phone", phone=True)
    op.get_by_role("button", name="结束紧急广播").click()
    expect(op.locator(".notice")).to_contain_text("紧急广播已结束")
    state = httpx.get(live_server.api + "/device/emergency", headers=screen.headers).json()
    assert state["active"] is False


def _creds(username: str) -> Credentials:
    return Credentials(username, "bakery-password-1")


def test_provider_service_booked_and_paid_on_a_phone(
    live_server: LiveServer, open_tab: Callable[[], Page]
) -> None:
    """A provider publishes a service in the portal, a resident books it on a kiosk and pays on
    their phone (the community pay page), and the provider accepts the booking."""
    plumber = live_server.create_user("plumber", "provider", password="plumber-pass-1")
    tab = open_tab()
    browser_login(tab, live_server.url, plumber)
    tab.get_by_role("link", name="我的服务").click()
    tab.get_by_label("商户名称（中文）").fill("快修管道")
    tab.get_by_label("商户名称（英文）").fill("QuickFix Plumbing")
    tab.get_by_role("button", name="保存").click()
    tab.get_by_label("服务类别").select_option("repairs")
    tab.get_by_label("服务名称（中文）").fill("厨房水龙头维修")
    tab.get_by_label("服务名称（英文）").fill("Kitchen tap repair")
    tab.get_by_label("价格（元）").fill("60")
    tab.get_by_label("时长（分钟）").fill("60")
    tab.get_by_role("button", name="发布服务").click()
    expect(tab.get_by_role("status")).to_contain_text("服务已发布")
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).astimezone(dt.timezone(dt.timedelta(hours=8)))
    service = tab.locator("article.service").filter(has_text="厨房水龙头维修")
    add = service.locator("details.add-slot")
    add.locator("summary").click()
    add.get_by_label("日期").fill(tomorrow.date().isoformat())
    add.get_by_label("从").fill("10:00")
    add.get_by_label("到").fill("11:00")
    add.get_by_label("名额").fill("2")
    add.get_by_role("button", name="添加时段").click()
    expect(tab.locator("article.service")).to_contain_text("已约 0/2")
    shoot(tab, "services-zh-desktop")
    shoot(tab, "services-zh-phone", phone=True)

    kiosk = pair_device(live_server, kind="kiosk")
    catalogue = httpx.get(live_server.api + "/kiosk/catalogue", headers=kiosk.headers).json()
    offer = next(s for s in catalogue["services"] if s["name"]["en"] == "Kitchen tap repair")
    booking = {"idempotency_key": str(uuid.uuid4()), "service_id": offer["id"],
               "slot_id": offer["slots"][0]["id"], "phone": "13900001111"}  # fmt: skip
    order = httpx.post(live_server.api + "/kiosk/orders", headers=kiosk.headers, json=booking).json()

    phone = open_tab()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(order["payment"]["qr_payload"])
    expect(phone.locator("#merchant")).to_have_text("快修管道")
    expect(phone.locator("#amount")).to_have_text("¥60.00")
    phone.screenshot(path=str(Path(__file__).resolve().parents[2] / "test-artifacts/portal/pay-phone.png"))
    phone.locator("#confirm").click()
    expect(phone.locator("#status")).to_contain_text("支付成功")
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=15)
    state = ""
    while state != "paid" and dt.datetime.now(dt.UTC) < deadline:  # the signed notification is async
        state = httpx.get(f"{live_server.api}/kiosk/orders/{order['id']}", headers=kiosk.headers).json()[
            "state"
        ]
    assert state == "paid"

    tab.get_by_role("link", name="预约订单").click()
    row = tab.get_by_role("row").filter(has_text=order["reference"])
    expect(row).to_contain_text("139****1111")
    row.get_by_role("button", name="接单").click()
    expect(tab.get_by_role("row").filter(has_text=order["reference"])).to_contain_text("已接单")
    shoot(tab, "bookings-zh-desktop")
    tab.get_by_role("link", name="English").click()
    shoot(tab, "bookings-en-desktop")
    shoot(tab, "bookings-en-phone", phone=True)
