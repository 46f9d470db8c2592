"""The operations pages in Chromium against a real server (uvicorn subprocess) and real receivers.

A district of 26 screens and kiosks across four buildings, some with screenshots, some silent,
some never seen; an operator on duty: the fleet wall (and its refreshing itself), adding an
e-mail channel and sending a test message that the loopback SMTP server receives, a webhook
channel's secret shown once, tuning the offline rule, building 3 going dark, acknowledging the
alert with a note, a dead letter sent again, the audit trail filtered and exported. Each page is
screenshotted under test-artifacts/portal/ (zh and en), after checks that no translation key
shows and every control is labelled.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect
from sqlalchemy import update

from content_server.core.db import make_engine, make_sessionmaker
from content_server.signage.models import Device
from tests.fixtures.receivers import SmtpReceiver
from tests.fixtures.server import LiveServer, PairedDevice, free_port, pair_device
from tests.fixtures.waiting import eventually
from tests.portal.conftest import browser_login, set_language, shoot, shoot_all

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def screenshot_png(label: str, colour: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (320, 180), colour)
    ImageDraw.Draw(image).rectangle((20, 20, 300, 60), fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


class District:
    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.op = server.auth(server.operator)
        self.devices: dict[str, PairedDevice] = {}

    def pair(
        self, name: str, building: str | None, kind: str = "player", screen_class: str | None = None
    ) -> None:
        tags = [f"building:{building}"] if building else []
        self.devices[name] = pair_device(
            self.server, kind=kind, name=name, tags=tags, screen_class=screen_class
        )

    def beat(self, name: str) -> None:
        body = {
            "sent_at": dt.datetime.now(dt.UTC).isoformat(),
            "player_version": "1.4.2",
            "free_disk_bytes": 8 * 10**9,
        }
        r = httpx.post(self.server.api + "/device/heartbeat", json=body, headers=self.devices[name].headers)
        assert r.status_code == 200, r.text

    def shot(self, name: str, colour: tuple[int, int, int]) -> None:
        d = self.devices[name]
        httpx.post(f"{self.server.api}/screens/{d.device_id}/screenshot-request", headers=self.op)
        r = httpx.post(
            self.server.api + "/device/screenshot", content=screenshot_png(name, colour), headers=d.headers
        )
        assert r.status_code == 204, r.text

    def silence(self, names: list[str], minutes: float) -> None:
        """These screens were last heard ``minutes`` ago (as if their network went down then)."""
        engine = make_engine(f"sqlite:///{self.server.data_dir / 'signage.db'}")
        with make_sessionmaker(engine)() as s:
            ids = [self.devices[n].device_id for n in names]
            s.execute(
                update(Device)
                .where(Device.id.in_(ids))
                .values(last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes))
            )
            s.commit()
        engine.dispose()


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[District]:
    server = LiveServer(
        data_dir=tmp_path_factory.mktemp("fleet-portal"),
        port=free_port(),
        extra_env={
            "SIGNAGE_FLEET_EVALUATE_EVERY_S": "1",
            "SIGNAGE_DELIVERY_POLL_S": "0.2",
            "SIGNAGE_DELIVERY_MAX_ATTEMPTS": "1",
        },
    )
    server.create_operator()
    server.start()
    d = District(server)
    colours = [(31, 95, 168), (30, 122, 52), (138, 83, 0), (120, 40, 140)]
    for building in ("1", "2", "3", "12"):
        for n in range(5):
            name = f"{building}号楼-大堂{n + 1}"
            d.pair(name, building, screen_class="outdoor_large" if n == 0 else None)
            d.beat(name)
            if n < 3:
                d.shot(name, colours[n % len(colours)])
    d.pair("社区服务中心-自助终端", "12", kind="kiosk")
    d.beat("社区服务中心-自助终端")
    d.pair("新装-未上线", None)
    d.silence(["2号楼-大堂5"], minutes=4)  # offline, not yet past the rule
    yield d
    server.stop()


def test_the_wall_groups_screens_by_building_and_refreshes_itself(
    district: District, browser_page: Page
) -> None:
    page = browser_page
    browser_login(page, district.server.url, district.server.operator)
    page.get_by_role("link", name="运维值班").click()
    expect(page.get_by_role("heading", name="设备总览")).to_be_visible()
    expect(page.get_by_role("heading", name="3号楼")).to_be_visible()
    expect(page.get_by_role("heading", name="未标注楼栋")).to_be_visible()
    expect(page.locator(".tile.state-offline")).to_have_count(1)
    expect(page.locator(".tile.state-never")).to_have_count(1)
    expect(page.locator(".tile img")).to_have_count(12)
    for n in range(12):  # every thumbnail loaded (the screenshots are 320 px wide)
        expect(page.locator(".tile img").nth(n)).to_have_js_property("naturalWidth", 320)
    shoot(page, "fleet-wall-zh-desktop")
    shoot(page, "fleet-wall-zh-phone", phone=True)
    page.get_by_label("状态").select_option("offline")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator(".tile")).to_have_count(1)
    expect(page.locator(".tile-name")).to_have_text("2号楼-大堂5")
    # the wall refreshes itself: a screen going silent turns red without anyone reloading
    page.goto(district.server.url + "/portal/fleet?refresh=2")
    expect(page.locator(".tile.state-offline")).to_have_count(1)
    district.silence(["1号楼-大堂2"], minutes=5)
    expect(page.locator(".tile.state-offline")).to_have_count(2, timeout=15_000)
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Fleet wall")).to_be_visible()
    expect(page.get_by_role("heading", name="Building 12")).to_be_visible()
    shoot(page, "fleet-wall-en-desktop")
    page.get_by_role("link", name="中文").click()


def test_an_operator_adds_channels_tests_them_and_tunes_a_rule(
    district: District, smtp: SmtpReceiver, browser_page: Page
) -> None:
    page = browser_page
    browser_login(page, district.server.url, district.server.operator)
    page.goto(district.server.url + "/portal/fleet/channels")
    expect(page.get_by_role("heading", name="通知通道")).to_be_visible()
    page.get_by_label("名称").fill("值班邮箱")
    page.get_by_label("邮件服务器").fill("127.0.0.1")
    page.get_by_label("端口").fill(str(smtp.port))
    page.get_by_label("加密方式").select_option("none")
    page.get_by_label("发件地址").fill("alerts@signage.test")
    page.get_by_label("收件人（多个用逗号分隔）").fill("duty@property.test, manager@property.test")
    page.get_by_role("button", name="添加通道").click()
    expect(page.get_by_text("通道已保存。")).to_be_visible()
    shoot(page, "fleet-channels-zh")
    page.get_by_role("row", name="值班邮箱").get_by_role("button", name="发送测试消息").click()
    expect(page.get_by_text("测试消息已排队发送")).to_be_visible()
    eventually(lambda: len(smtp.received()) == 1, what="the test e-mail at the SMTP server")
    page.reload()
    expect(page.locator(".badge.dstate-delivered")).to_be_visible()
    expect(page.get_by_text("accepted by 127.0.0.1")).to_be_visible()
    shoot(page, "fleet-delivery-zh")
    mail = smtp.received()[0]
    assert mail.recipients == ["duty@property.test", "manager@property.test"] and "测试" in mail.subject

    # a webhook channel: its signing secret is shown once
    page.goto(district.server.url + "/portal/fleet/channels?kind=webhook")
    page.get_by_label("名称").fill("物业工单系统")
    page.get_by_label("地址").fill("https://ops.property.test/hooks/signage")
    page.get_by_role("button", name="添加通道").click()
    expect(page.locator(".fleet-secret code")).to_contain_text("whsec_")
    shoot(page, "fleet-channel-secret-zh")
    page.goto(district.server.url + "/portal/fleet/channels")
    expect(page.locator(".fleet-secret")).to_have_count(0)
    expect(page.get_by_text("https://ops.property.test/***")).to_be_visible()

    # the offline rule: alert after 3 minutes, at once for the whole building
    page.goto(district.server.url + "/portal/fleet/rules")
    shoot(page, "fleet-rules-zh")
    # the rule that relays a software rollout pausing itself (issue 18), named in both languages
    rollout_rule = "更新自动暂停 · Rollout paused itself"
    expect(page.get_by_role("row", name=rollout_rule)).to_contain_text("软件更新自动暂停")
    page.get_by_role("link", name=rollout_rule).click()
    expect(page.get_by_role("heading", name="修改告警规则 · 软件更新自动暂停")).to_be_visible()
    expect(page.locator("#groups")).to_have_count(0)  # no "which devices": it watches rollouts
    shoot_all(page, "fleet-rule-rollout")
    set_language(page, "en")
    heading = "Edit alert rule · software rollout paused itself"
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    set_language(page, "zh", district.server.url + "/portal/fleet/rules")
    page.get_by_role("link", name="屏幕离线 · Screens offline").click()
    page.get_by_label("离线分钟数").fill("3")
    page.get_by_label("合并等待（秒）").fill("0")
    page.get_by_role("group", name="通知通道").get_by_label("值班邮箱").check()
    page.get_by_label("离线分钟数").fill("-1")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("alert")).to_contain_text("离线分钟数")  # refused, the form kept
    page.get_by_label("离线分钟数").fill("3")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_text("规则已保存。")).to_be_visible()
    expect(page.get_by_role("row", name="屏幕离线 · Screens offline")).to_contain_text("离线分钟数 3")


def test_building_3_goes_dark_the_duty_operator_acknowledges(
    district: District, smtp: SmtpReceiver, browser_page: Page
) -> None:
    page = browser_page
    before = len(smtp.received())
    building3 = [n for n in district.devices if n.startswith("3号楼")]
    district.silence(building3, minutes=5)
    def outage_mail() -> list[str]:  # (buildings 1 and 2 have a silent screen each: their own e-mails)
        return [m.text for m in smtp.received()[before:] if "3号楼" in m.subject]

    texts = eventually(outage_mail, timeout_s=30, what="building 3's outage e-mail")
    assert len(texts) == 1 and all(n in texts[0] for n in building3)
    browser_login(page, district.server.url, district.server.operator)
    page.goto(district.server.url + "/portal/fleet")
    alerts = page.locator(".fleet-alerts")
    expect(alerts).to_contain_text("3号楼")
    expect(alerts).to_contain_text("无人确认")
    shoot(page, "fleet-wall-outage-zh")
    # buildings 1 and 2 have open alerts of the same rule too, in any order: open building 3's
    building3_alert = alerts.locator(".fleet-alert", has_text="3号楼")
    building3_alert.get_by_role("link", name="屏幕离线 · Screens offline").click()
    expect(page.get_by_role("heading", name="受影响（5）")).to_be_visible()
    page.get_by_label("处理说明（必填）").fill("已通知电工检查 3 号楼弱电间交换机")
    page.get_by_role("button", name="确认，我来处理").click()
    expect(page.get_by_text("已确认，此告警不再升级。")).to_be_visible()
    expect(page.locator(".fleet-ack blockquote")).to_have_text("已通知电工检查 3 号楼弱电间交换机")
    shoot(page, "fleet-alert-acknowledged-zh")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Affected (5)")).to_be_visible()
    shoot(page, "fleet-alert-acknowledged-en")
    page.get_by_role("link", name="中文").click()
    page.goto(district.server.url + "/portal/fleet/alerts")
    shoot(page, "fleet-alerts-zh")


def test_dead_letters_are_listed_and_sent_again(district: District, browser_page: Page) -> None:
    """A channel pointing where nobody answers; with one attempt allowed, its test message dies."""
    r = httpx.post(
        district.server.api + "/fleet/channels",
        headers=district.op,
        json={"name": "旧系统", "kind": "webhook", "config": {"url": f"http://127.0.0.1:{free_port()}/gone"}},
    )
    channel = r.json()["id"]
    queued = httpx.post(f"{district.server.api}/fleet/channels/{channel}/test", headers=district.op).json()

    def dead() -> bool:
        return (
            httpx.get(f"{district.server.api}/deliveries/{queued['id']}", headers=district.op).json()["state"]
            == "dead"
        )

    eventually(dead, what="the message becoming a dead letter")
    page = browser_page
    browser_login(page, district.server.url, district.server.operator)
    page.goto(district.server.url + "/portal/fleet/deliveries")
    page.get_by_role("link", name="死信 (1)").click()
    shoot(page, "fleet-dead-letters-zh")
    page.get_by_role("link", name="test message to 旧系统").click()
    expect(page.locator(".badge.state-failing")).to_have_count(1)
    shoot(page, "fleet-dead-letter-zh")
    page.get_by_role("button", name="重新发送").click()
    expect(page.get_by_text("已重新排队发送。")).to_be_visible()
    eventually(dead, what="the second round failing too")
    page.reload()
    expect(page.locator(".badge.state-failing")).to_have_count(2)


def test_the_audit_trail_filters_and_exports(district: District, browser_page: Page) -> None:
    page = browser_page
    browser_login(page, district.server.url, district.server.operator)
    page.get_by_role("link", name="审计日志").first.click()
    expect(page.get_by_role("heading", name="审计日志")).to_be_visible()
    screen = district.devices["12号楼-大堂1"].device_id
    page.get_by_label("屏幕编号").fill(screen)
    page.get_by_role("button", name="筛选").click()
    rows = page.locator("table.fleet-audit tbody tr")
    expect(rows.first).to_be_visible()
    texts = rows.all_inner_texts()
    assert any("屏幕 · 新建" in t for t in texts) and any(
        "设备" in t for t in texts
    )  # operator and device; the action in words (its code stays the filter's and the CSV's)
    shoot(page, "fleet-audit-zh")
    with page.expect_download() as download:
        page.get_by_role("link", name="导出 CSV").click()
    content = download.value.path().read_text()
    assert content.splitlines()[0].startswith("seq,at_utc,actor_kind") and screen in content
    page.get_by_role("link", name="校验哈希链").click()
    expect(page.get_by_text("哈希链完整")).to_be_visible()
    page.get_by_role("link", name="English").click()
    expect(page.get_by_text("The chain is intact")).to_be_visible()
    page.goto(district.server.url + f"/portal/fleet/audit?screen={screen}")
    shoot(page, "fleet-audit-en")
    page.get_by_role("link", name="中文").click()


def test_restart_every_player_in_building_1_from_the_commands_page(
    district: District, browser_page: Page
) -> None:
    """The operator picks a command and a building, sees which screens it reaches, sends it; one
    screen answers over its long-poll and the send's page shows it done, the others pending."""
    page = browser_page
    browser_login(page, district.server.url, district.server.operator)
    page.goto(district.server.url + "/portal/commands")
    expect(page.get_by_role("heading", name="远程指令")).to_be_visible()
    page.get_by_label("指令", exact=True).select_option("restart_app")
    page.get_by_label("楼栋", exact=True).fill("1")
    page.get_by_role("button", name="查看将收到的屏幕").click()
    building1 = sorted(n for n in district.devices if n.startswith("1号楼"))
    targets = page.locator(".command-targets li")
    expect(targets).to_have_count(len(building1))
    assert sorted(t.split(" ")[0] for t in targets.all_inner_texts()) == building1
    shoot(page, "commands-preview-zh")
    page.get_by_role("button", name=f"发送给 {len(building1)} 块屏幕").click()
    expect(page.get_by_text("指令已发送。")).to_be_visible()
    expect(page.locator(".command-counts")).to_contain_text(f"待执行 {len(building1)}")

    device = district.devices[building1[0]]
    polled = httpx.get(f"{district.server.api}/device/commands", headers=device.headers, timeout=10).json()
    [command] = polled["commands"]
    assert command["kind"] == "restart_app" and command["device_id"] == device.device_id
    done = {"outcome": "done", "detail": "restarting", "finished_at": dt.datetime.now(dt.UTC).isoformat()}
    r = httpx.post(
        f"{district.server.api}/device/commands/{command['id']}/ack", json=done, headers=device.headers
    )
    assert r.status_code == 204
    page.get_by_role("link", name="刷新", exact=True).click()
    expect(page.locator(".command-counts")).to_contain_text("已完成 1")
    row = page.locator(f"tr[data-device='{device.device_id}']")
    expect(row).to_contain_text("已完成")
    expect(row).to_contain_text("restarting")
    shoot(page, "commands-sent-zh")
    page.get_by_role("link", name="English").click()
    expect(page.locator(".command-counts")).to_contain_text(f"Pending {len(building1) - 1}")
    shoot(page, "commands-sent-en")
    page.get_by_role("link", name="中文").click()
