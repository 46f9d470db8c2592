"""Residents, providers and clerks in Chromium (issue 14): a home service booked at a kiosk with
its address, paid on a phone whose pages show the appointment, the place and the order number
(h1, contrast), an order status page the receipt's QR opens; the provider's services and slots
without dead ends, contact details on an audited page, "done" only after accepting, bookings
reachable at phone width; the clerk's printable receipt slip and refusals in Chinese."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.fixtures.server import Credentials, LiveServer, pair_device
from tests.portal.conftest import (
    DESKTOP,
    PHONE,
    assert_axe_clean,
    browser_login,
    set_language,
    shoot,
    shoot_all,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _provider(server: LiveServer, username: str) -> tuple[Credentials, dict[str, str]]:
    creds = server.create_user(username, "provider", password=f"{username}-password-1")
    me = server.auth(creds)
    r = httpx.put(
        server.api + "/provider/profile", headers=me, json={"name_zh": "快修管道", "name_en": "QuickFix"}
    )
    assert r.status_code == 200, r.text
    return creds, me


def _service_with_slot(server: LiveServer, me: dict[str, str], start: dt.datetime) -> tuple[str, str]:
    body = {
        "category_id": "repairs",
        "name_zh": "上门换水龙头",
        "name_en": "Tap replaced at home",
        "price_minor": 8000,
        "duration_minutes": 60,
    }
    service = httpx.post(server.api + "/provider/services", headers=me, json=body).json()
    slot = httpx.post(
        f"{server.api}/provider/services/{service['id']}/slots",
        headers=me,
        json={"start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat(), "capacity": 2},
    ).json()
    return service["id"], slot["id"]


def test_provider_manages_services_and_repeating_slots(
    portal_server: LiveServer, open_tab: Callable[[], Page]
) -> None:
    server = portal_server
    creds, _ = _provider(server, "cleaner")
    tab = open_tab()
    browser_login(tab, server.url, creds)
    tab.get_by_role("link", name="我的服务").click()
    tab.get_by_label("服务类别").select_option("housekeeping")
    tab.get_by_label("服务名称（中文）").fill("家庭保洁")
    tab.get_by_label("服务名称（英文）").fill("Home cleaning")
    tab.get_by_label("价格（元）").fill("120")
    tab.get_by_label("时长（分钟）").fill("120")
    tab.get_by_role("button", name="发布服务").click()
    expect(tab.locator(".notice")).to_contain_text("服务已发布")
    service = tab.locator("article.service").filter(has_text="家庭保洁")

    # a fortnight of weekday mornings in one go
    first = dt.datetime.now(SHANGHAI).date() + dt.timedelta(days=1)
    last = first + dt.timedelta(days=13)
    weekdays = sum((first + dt.timedelta(days=i)).weekday() < 5 for i in range(14))
    repeat = service.locator("details.add-recurring")
    repeat.locator("summary").click()
    expect(repeat.get_by_label("周一")).to_be_checked()  # Monday to Friday offered by default
    repeat.get_by_label("从", exact=True).fill("09:00")
    repeat.get_by_label("到", exact=True).fill("11:00")
    repeat.get_by_label("名额").fill("2")
    repeat.get_by_label("从哪天开始").fill(first.isoformat())
    repeat.get_by_label("到哪天结束").fill(last.isoformat())
    repeat.get_by_role("button", name="批量添加重复时段").click()
    expect(tab.locator(".notice")).to_contain_text("重复时段已添加")
    slots = tab.locator("article.service").filter(has_text="家庭保洁").locator("tr.slot")
    expect(slots).to_have_count(weekdays)
    expect(slots.first).to_have_attribute("data-start", re.compile(r" 09:00$"))
    shoot_all(tab, "services-slots")

    # one slot gets more places, another goes; the service's price changes
    slots.first.get_by_label("名额").fill("4")
    slots.first.get_by_role("button", name="保存").click()
    expect(tab.locator(".notice")).to_contain_text("时段已保存")
    slots = tab.locator("article.service").filter(has_text="家庭保洁").locator("tr.slot")
    expect(slots.first).to_contain_text("已约 0/4")
    slots.last.get_by_role("button", name="删除").click()
    expect(tab.locator(".notice")).to_contain_text("时段已删除")
    expect(tab.locator("article.service").filter(has_text="家庭保洁").locator("tr.slot")).to_have_count(
        weekdays - 1
    )
    edit = tab.locator("article.service").filter(has_text="家庭保洁").locator("details.edit-service")
    edit.locator("summary").click()
    edit.get_by_label("价格（元）").fill("150")
    edit.get_by_role("button", name="保存").click()
    expect(tab.locator(".notice")).to_contain_text("服务已更新")
    expect(tab.locator("article.service").filter(has_text="家庭保洁")).to_contain_text("¥150.00")
    catalogue = httpx.get(
        server.api + "/kiosk/catalogue", headers=pair_device(server, kind="kiosk").headers
    ).json()
    offer = next(s for s in catalogue["services"] if s["name"]["en"] == "Home cleaning")
    assert offer["price_minor"] == 15000 and offer["slots"][0]["capacity"] == 4

    # never booked: deleting it removes it (asked first)
    edit = tab.locator("article.service").filter(has_text="家庭保洁").locator("details.edit-service")
    edit.locator("summary").click()
    edit.get_by_label("确认删除这项服务").check()
    edit.get_by_role("button", name="删除服务").click()
    expect(tab.locator(".notice")).to_contain_text("服务已删除")
    expect(tab.locator("article.service").filter(has_text="家庭保洁")).to_have_count(0)


def _order(
    server: LiveServer, kiosk_headers: dict[str, str], service_id: str, slot_id: str
) -> dict[str, Any]:
    body = {
        "idempotency_key": str(uuid.uuid4()),
        "service_id": service_id,
        "slot_id": slot_id,
        "phone": "13900001111",
        "address": {"building": "3号楼", "unit": "2单元", "room": "1203"},
    }
    r = httpx.post(server.api + "/kiosk/orders", headers=kiosk_headers, json=body)
    assert r.status_code == 201, r.text
    order: dict[str, Any] = r.json()
    return order


def test_home_service_paid_on_a_phone_then_served_by_the_provider(
    portal_server: LiveServer, open_tab: Callable[[], Page]
) -> None:
    server = portal_server
    creds, me = _provider(server, "plumber")
    start = (dt.datetime.now(SHANGHAI) + dt.timedelta(days=2)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    service_id, slot_id = _service_with_slot(server, me, start)
    kiosk = pair_device(server, kind="kiosk")
    order = _order(server, kiosk.headers, service_id, slot_id)
    assert (
        order["appointment_start"]
        and order["address"]["room"] == "1203"
        and order["phone_masked"] == "139****1111"
    )
    appointment = f"{start:%Y-%m-%d} 10:00–11:00"

    # the resident's phone: the pay page says what, when, where and which order
    phone = open_tab()
    phone.set_viewport_size(PHONE)
    phone.goto(order["payment"]["qr_payload"])
    expect(phone.get_by_role("heading", level=1)).to_contain_text("订单付款")
    expect(phone.locator("#appointment")).to_have_text(appointment)
    expect(phone.locator("#reference")).to_have_text(order["reference"])
    expect(phone.locator("#place")).to_have_text("3号楼 2单元 1**3")  # from a printed receipt: room masked
    colours = phone.locator("#confirm").evaluate(
        "b => [getComputedStyle(b).color, getComputedStyle(b).backgroundColor]"
    )
    assert colours == ["rgb(255, 255, 255)", "rgb(9, 88, 217)"]  # 6.0:1 (white on #1677ff was 4.1:1)
    assert_axe_clean(phone)
    shoot(phone, "pay-phone", phone=True)
    shoot(phone, "pay-desktop")
    phone.locator("#confirm").click()
    expect(phone.locator("#status")).to_contain_text("支付成功")
    expect(phone.locator("#appointment")).to_have_text(appointment)  # still there after paying
    expect(phone.locator("#reference")).to_have_text(order["reference"])
    assert_axe_clean(phone)
    shoot(phone, "pay-paid-phone", phone=True)
    phone.get_by_role("link", name=re.compile("查看预约详情")).click()
    assert phone.url == order["status_url"]  # the page the receipt's QR opens
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=15)
    while (
        phone.locator("#status").get_attribute("data-status") != "paid" and dt.datetime.now(dt.UTC) < deadline
    ):
        phone.reload()  # the provider's signed notification arrives on its own thread
    expect(phone.locator("#status")).to_contain_text("已付款，等待服务商接单")
    expect(phone.locator("#appointment")).to_have_text(appointment)
    assert_axe_clean(phone)
    shoot(phone, "order-status-phone", phone=True)
    shoot(phone, "order-status-desktop")
    forged = httpx.get(order["status_url"].replace("/o/", "/o/A"))
    assert forged.status_code == 404 and "1203" not in forged.text

    # the provider on a phone: cards, every button on the screen, the phone masked in the list
    tab = open_tab()
    browser_login(tab, server.url, creds)
    tab.set_viewport_size(PHONE)
    tab.get_by_role("link", name="预约订单").click()
    card = tab.locator(f'tr[data-reference="{order["reference"]}"]')
    expect(card).to_contain_text("139****1111")
    expect(card.get_by_role("button", name="已完成服务")).to_have_count(0)  # not before accepting
    for button in card.get_by_role("button").all():
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    card.get_by_role("button", name="接单").click()
    expect(tab.locator(".notice")).to_contain_text("预约已更新")
    card = tab.locator(f'tr[data-reference="{order["reference"]}"]')
    expect(card).to_contain_text("已接单")
    tab.set_viewport_size(DESKTOP)  # shoot_all makes both widths itself
    shoot_all(tab, "bookings-phone")

    # the contact details to carry the service out: full phone and address, and the opening is recorded
    card.get_by_role("link", name="联系方式").click()
    expect(tab.locator(".booking-contact .phone")).to_have_text("13900001111")
    expect(tab.locator(".booking-contact .address-building")).to_have_text("3号楼")
    expect(tab.locator(".booking-contact .address-unit")).to_have_text("2单元")
    expect(tab.locator(".booking-contact .address-room")).to_have_text("1203")
    shoot_all(tab, "booking-contact")
    audit = httpx.get(
        f"{server.api}/kiosk-admin/audit",
        params={"entity_id": order["id"]},
        headers=server.auth(server.operator),
    ).json()
    assert [a["actor"] for a in audit if a["action"] == "booking.contact_viewed"]
    tab.get_by_role("button", name="已完成服务").click()
    expect(tab.locator(f'tr[data-reference="{order["reference"]}"]')).to_contain_text("已完成")
    phone.reload()
    expect(phone.locator("#status")).to_contain_text("服务已完成")


def test_clerk_prints_a_receipt_slip_and_reads_refusals_in_their_language(
    portal_server: LiveServer, open_tab: Callable[[], Page]
) -> None:
    server = portal_server
    clerk = server.create_user("clerk-slip", "clerk", password="clerk-password-1")
    tab = open_tab()
    browser_login(tab, server.url, clerk)
    tab.get_by_label("事项").select_option("disability_certificate")
    tab.get_by_label("申请人姓名").fill("王小明")
    tab.get_by_label("身份证号").fill("110105194912310021")  # wrong check digit
    tab.get_by_label("手机号").fill("13912345678")
    tab.get_by_role("button", name="登记").click()
    expect(tab.get_by_role("alert")).to_have_text("身份证号末位校验码不对，请核对。")
    expect(tab.locator("main")).not_to_contain_text("check digit")
    tab.get_by_label("身份证号").fill("11010519491231002X")
    tab.get_by_role("button", name="登记").click()
    expect(tab.locator(".notice")).to_contain_text("办件已登记")
    number = tab.get_by_role("heading", level=1).inner_text()

    tab.get_by_role("link", name="打印回执单").click()
    slip = tab.locator("article.slip")
    expect(slip.locator(".slip-number")).to_have_text(number)
    expect(slip).to_contain_text("王*明")  # masked: the slip leaves in a resident's pocket
    expect(slip).to_contain_text("110***********002X")
    expect(slip.locator(".slip-bring")).to_contain_text("本人身份证原件")
    expect(slip.locator(".slip-bring")).to_contain_text("户口簿")
    assert (
        slip.get_by_role("img", name=re.compile(number)).evaluate("img => img.complete && img.naturalWidth")
        > 0
    )
    expect(tab.get_by_role("button", name="打印")).to_be_visible()
    shoot_all(tab, "case-slip")
    tab.emulate_media(media="print")  # what the printer gets: the slip, not the portal around it
    expect(tab.locator("header.top")).to_be_hidden()
    expect(tab.get_by_role("button", name="打印")).to_be_hidden()
    expect(slip).to_be_visible()
    tab.screenshot(path=str(shoot.__globals__["ARTIFACTS"] / "case-slip-print.png"), full_page=True)
    tab.emulate_media(media="screen")
    set_language(tab, "en")
    expect(slip.locator(".slip-bring")).to_contain_text("Your ID card (original)")
    set_language(tab, "zh")
