"""An operator's emergency broadcast in Chromium (issue 14): the confirmation names the screens it
will reach, and afterwards the page says "delivered to N of M" from the screens' own reports
(heartbeats carrying the emergency version in play), naming the ones not confirmed yet; it
refreshes itself as screens report."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.fixtures.server import LiveServer, pair_device
from tests.portal.conftest import browser_login, heartbeat, set_language, shoot, shoot_all

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LIVE = 15_000  # the delivery line polls every 5 s
ZH = {
    "title": "标题",
    "zh": "中文内容",
    "en": "英文内容",
    "next": "下一步：确认",
    "three": "立即发送到下列 3 块屏幕",
    "never": "几秒内",
}
EN = {
    "title": "Title",
    "zh": "Chinese text",
    "en": "English text",
    "next": "Next: confirm",
    "three": "sent at once to the 3 screens below",
    "never": "within seconds",
}


def test_delivery_is_counted_from_the_screens_and_stragglers_are_named(
    portal_server: LiveServer, open_tab: Callable[[], Page]
) -> None:
    server = portal_server
    one = pair_device(server, screen_class="indoor_small", name="1号楼大堂", groups=["block-1"])
    two = pair_device(server, screen_class="indoor_small", name="2号楼大堂", groups=["block-1"])
    kiosk = pair_device(server, kind="kiosk", name="服务中心终端", groups=["block-1"])
    elsewhere = pair_device(server, screen_class="outdoor_large", name="南门大屏", groups=["south"])
    op = open_tab()
    browser_login(op, server.url, server.operator)
    for lang, labels in (("en", EN), ("zh", ZH)):  # the confirmation step is a form's answer: fill it in each
        set_language(op, lang, server.url + "/portal/emergency")
        op.get_by_label(labels["title"], exact=True).fill("燃气泄漏")
        op.get_by_label(labels["zh"]).fill("1号楼燃气泄漏，请立即撤离")
        op.get_by_label(labels["en"]).fill("Gas leak in block 1: leave now")
        op.get_by_label("block-1").check()
        op.get_by_role("button", name=labels["next"]).click()
        expect(op.get_by_role("alert")).to_contain_text(labels["three"])
        expect(op.locator("main")).not_to_contain_text(labels["never"])  # no promise the server cannot check
        expect(op.locator("dd.targets")).to_have_text("1号楼大堂、2号楼大堂、服务中心终端")
        where = {"zh": "屏幕组：block-1", "en": "screen groups: block-1"}[lang]  # in words, not a code
        expect(op.locator("dd.emergency-where")).to_have_text(where)
        shoot(op, f"emergency-confirm-{lang}-desktop")
        shoot(op, f"emergency-confirm-{lang}-phone", phone=True)
    op.get_by_role("button", name="立即发出").click()
    expect(op.locator(".notice")).to_contain_text("紧急广播已发出")
    delivery = op.locator(".emergency-active .delivery")
    expect(delivery).to_contain_text("已送达 0 / 3 块屏幕")
    expect(delivery).to_contain_text("尚未确认：1号楼大堂、2号楼大堂、服务中心终端")

    # a screen takes the broadcast from its long-poll (the title comes with it) and reports it in play
    state = httpx.get(server.api + "/device/emergency", headers=one.headers).json()
    assert state["active"] is True and state["item"]["title"] == "燃气泄漏"
    assert state["item"]["text"]["zh"] == "1号楼燃气泄漏，请立即撤离"
    heartbeat(server, one, emergency_version=state["version"])
    heartbeat(server, two, emergency_version="none")  # its heartbeat went out before the broadcast
    expect(delivery).to_contain_text("已送达 1 / 3 块屏幕", timeout=LIVE)
    expect(delivery).to_contain_text("尚未确认：2号楼大堂、服务中心终端")
    assert httpx.get(server.api + "/device/emergency", headers=elsewhere.headers).json()["active"] is False
    for device in (two, kiosk):
        heartbeat(server, device, emergency_version=state["version"])
    expect(delivery).to_contain_text("已送达 3 / 3 块屏幕", timeout=LIVE)
    expect(delivery).to_contain_text("全部目标屏幕已显示")
    shoot_all(op, "emergency-delivered")

    op.get_by_role("button", name="结束紧急广播").click()
    expect(op.locator(".notice")).to_contain_text("紧急广播已结束")
    assert httpx.get(server.api + "/device/emergency", headers=one.headers).json()["active"] is False
