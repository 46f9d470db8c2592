"""The kiosk's one translation layer: every string a resident sees comes from here (zh default, en).

The texts are one :class:`schedules.bilingual.TextTable` (``key -> (zh, en)``, the suite's one
shape), which refuses at import a pair whose placeholders differ; :class:`Translator` adds the
current language, its listeners and the community's time zone for the widgets.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from enum import StrEnum
from zoneinfo import ZoneInfo

from kiosk_app.errors import KioskError
from schedules.bilingual import MissingText, TextTable
from schedules.protocol.kiosk import LocalizedText, ServiceAddress


class Language(StrEnum):
    ZH = "zh"
    EN = "en"


class MissingTranslation(KioskError):
    """A key was asked for that the catalogue does not hold: a bug, never shown as a raw key."""


# key -> (zh, en). Placeholders use str.format names and must match in both languages.
CATALOGUE = TextTable({
    "app.title": ("社区自助服务", "Community self-service"),
    "attract.touch_to_start": ("点击开始", "Touch to start"),
    "attract.subtitle": ("社区服务 · 缴费 · 办件进度", "Services · Payment · Application progress"),
    "common.back": ("返回", "Back"),
    "common.home": ("首页", "Home"),
    "common.read_aloud": ("朗读", "Read aloud"),
    "common.large_text": ("大字模式", "Large text"),
    "common.normal_text": ("标准字体", "Normal text"),
    "common.language": ("English", "中文"),
    "common.loading": ("正在加载，请稍候…", "Loading, please wait…"),
    "common.retry": ("重试", "Try again"),
    "common.ok": ("确定", "OK"),
    "common.cancel": ("取消", "Cancel"),
    "common.delete": ("删除", "Delete"),
    "common.clear": ("清空", "Clear"),
    "common.next": ("下一步", "Next"),
    "common.previous_page": ("上一页", "Previous page"),
    "common.next_page": ("下一页", "Next page"),
    "common.page": ("第 {page} / {pages} 页", "Page {page} of {pages}"),
    "common.error": (
        "出错了，请重试或联系工作人员。", "Something went wrong. Please try again or ask staff."),
    "offline.banner": ("离线 — 信息更新于 {time}", "Offline — information as of {time}"),
    "offline.no_catalogue": (
        "暂时无法连接服务器，也没有已保存的服务信息。请稍后再试。",
        "Cannot reach the server and no saved service information. Please try later.",
    ),
    "home.title": ("请选择服务", "Please choose a service"),
    "category.title": ("{category}", "{category}"),
    "category.empty": ("该类别暂无服务", "No services in this category yet"),
    "service.price": ("价格：{price}", "Price: {price}"),
    "service.provider": ("服务商：{provider}", "Provider: {provider}"),
    "service.rating": ("评分：{rating} 分", "Rating: {rating} / 5"),
    "service.no_rating": ("暂无评分", "Not rated yet"),
    "service.duration": ("时长：{minutes} 分钟", "Duration: {minutes} min"),
    "service.book": ("预约", "Book"),
    "service.choose": ("查看详情", "Details"),
    "slot.title": ("请选择时间", "Choose a time"),
    "slot.remaining": ("剩余 {remaining} 个名额", "{remaining} places left"),
    "slot.full": ("已约满", "Fully booked"),
    "slot.none": ("暂无可预约时间", "No times available"),
    "phone.title": ("请输入手机号码", "Enter your mobile number"),
    "phone.hint": (
        "用于接收预约通知，我们只显示部分号码。", "Used for booking notices; only part is ever shown."),
    "phone.invalid": ("请输入11位手机号码（1开头）", "Enter an 11-digit mobile number starting with 1"),
    "address.title_home": ("请输入上门服务的地址", "Your address for the home visit"),
    "address.title_optional": ("您的地址（可以不填）", "Your address (you may skip this)"),
    "address.hint_home": (
        "服务人员会上门，请填写楼号和房号。", "The provider comes to your home: enter building and room."),
    "address.hint_optional": (
        "此服务不在您家中进行，可以跳过。",
        "This service does not take place at your home: you may skip this.",
    ),
    "address.building": ("楼号", "Building"),
    "address.unit": ("单元（没有可不填）", "Unit (if any)"),
    "address.room": ("房号", "Room"),
    "address.skip": ("跳过，不需要上门", "Skip: not at my home"),
    "address.missing_building": ("请填写楼号", "Please enter the building number"),
    "address.missing_room": ("请填写房号", "Please enter the room number"),
    "address.required": (
        "上门服务需要地址，不能跳过。", "A home visit needs your address; it cannot be skipped."),
    "place.building": ("{number}号楼", "Building {number}"),
    "place.unit": ("{number}单元", "Unit {number}"),
    "place.room": ("{number}室", "Room {number}"),
    "confirm.title": ("请确认预约信息", "Please confirm your booking"),
    "confirm.phone": ("手机：{phone}", "Phone: {phone}"),
    "confirm.submit": ("确认预约", "Confirm booking"),
    "order.service": ("服务：{service}", "Service: {service}"),
    "order.appointment": ("预约时间：{time}", "Appointment: {time}"),
    "order.place": ("服务地点：{place}", "Place: {place}"),
    "order.amount": ("金额：{amount}", "Amount: {amount}"),
    "order.submitting": ("正在提交预约…", "Submitting your booking…"),
    "order.reference": ("订单号：{reference}", "Order number: {reference}"),
    "order.local_reference": ("临时订单号：{reference}", "Temporary order number: {reference}"),
    "order.kept": (
        "订单 {reference} 已保留：稍后可在“我的订单”中继续支付。",
        "Order {reference} is kept: you can pay it later under \"My orders\".",
    ),
    "order.saved_offline": (
        "网络暂时中断，您的预约已安全保存，联网后自动提交。",
        "The network is down. Your booking is saved safely and will be sent when it returns.",
    ),
    "order.pay_now": ("扫码支付", "Pay by QR code"),
    "order.free_done": ("预约成功，无需付款。", "Booked. Nothing to pay."),
    "pay.title": ("请用手机扫码支付", "Scan with your phone to pay"),
    "pay.countdown": ("剩余支付时间 {minutes}:{seconds}", "Time left to pay {minutes}:{seconds}"),
    "pay.waiting": ("正在等待支付确认…", "Waiting for payment confirmation…"),
    "pay.offline_note": (
        "终端离线：请用手机支付，终端联网后会确认。",
        "The kiosk is offline: pay on your phone, we will confirm when the kiosk reconnects.",
    ),
    "pay.expired": ("支付已超时，订单已取消。", "Payment time ran out; the order was cancelled."),
    "pay.cancelled": ("订单已取消。", "The order was cancelled."),
    "pay.cancel": ("取消订单", "Cancel order"),
    "pay.keep": ("返回首页，订单保留", "Home: keep the order, pay later"),
    "pay.cancel_failed": (
        "暂时无法取消，请稍后再试。", "The order could not be cancelled just now. Please try again."),
    "cancel.title": ("确定要取消这个订单吗？", "Cancel this order?"),
    "cancel.consequence": (
        "取消后，预约的名额会让给别人，不能恢复。",
        "Your booked place will go to someone else; this cannot be undone.",
    ),
    "cancel.yes": ("是，取消订单", "Yes, cancel the order"),
    "cancel.no": ("不取消，继续支付", "No, keep it and pay"),
    "receipt.title": ("支付成功", "Payment received"),
    "receipt.keep": (
        "用手机扫描二维码，可随时查看订单", "Scan the code with your phone to follow your order"),
    "receipt.done": ("完成", "Done"),
    "orders.title": ("我的订单", "My orders"),
    "orders.find_other": ("查找其他订单", "Find another order"),
    "orders.pay_now": ("继续支付", "Pay now"),
    "lookup.title": ("查找订单", "Find an order"),
    "lookup.hint": (
        "请输入订单号，或扫描收据上的二维码", "Enter your order number or scan the code on your receipt"),
    "lookup.search": ("查找", "Find"),
    "lookup.not_found": ("未找到该订单，请核对订单号。", "No order with that number. Please check it."),
    "lookup.offline": ("离线时无法查找订单。", "Orders cannot be looked up while offline."),
    "lookup.state": ("状态：{state}", "Status: {state}"),
    "state.created": ("待付款", "Waiting for payment"),
    "state.awaiting_payment": ("待付款", "Waiting for payment"),
    "state.paid": ("已付款", "Paid"),
    "state.fulfilled": ("服务已完成", "Service done"),
    "state.expired": ("已过期，未扣款", "Expired; nothing was charged"),
    "state.cancelled": ("已取消", "Cancelled"),
    "state.refunded": ("已取消并退款", "Cancelled and refunded"),
    "case.title": ("办件进度查询", "Application progress"),  # also the home tile: one name
    "case.number": ("办件编号", "Case number"),
    "case.id_last4": ("身份证后4位", "Last 4 ID digits"),
    "case.scan_hint": (
        "可扫描回执上的二维码，或用键盘输入",
        "Scan the QR code on your receipt, or type on the keypad",
    ),
    "case.search": ("查询", "Search"),
    "scan.retry": ("未能读取二维码，请重新扫描。", "Could not read the code. Please scan again."),
    "case.invalid": (
        "请输入办件编号（4位以上）和身份证后4位",
        "Enter the case number (4+ characters) and the last 4 ID digits",
    ),
    "case.not_found": (
        "未查到匹配的办件，请核对后重试。", "No matching application. Please check and retry."),
    "case.locked": (
        "尝试次数过多，请 {minutes} 分钟后再试。", "Too many attempts. Try again in {minutes} min."),
    "case.offline_cached": (
        "离线：显示本机于 {time} 查询到的状态",
        "Offline: showing the status this kiosk saw at {time}",
    ),
    "case.offline_none": ("离线时无法查询办件进度。", "Application progress is not available offline."),
    "case.type": ("事项：{type}", "Matter: {type}"),
    "case.applicant": ("申请人：{name}", "Applicant: {name}"),
    "case.id": ("证件号：{id}", "ID: {id}"),
    "case.current": ("当前", "Current"),
    "case.next_step": ("下一步：{text}", "Next step: {text}"),
    "case.missing": ("需补充材料：{docs}", "Documents needed: {docs}"),
    "case.list_separator": ("、", ", "),
    "case.deadline": ("截止日期：{date}", "Deadline: {date}"),
    "case.due_by": ("法定办结时限：{date}", "Legal time limit: {date}"),
    "case.as_of": ("信息更新于 {time}", "Information as of {time}"),
    "case_state.submitted": ("已提交", "Submitted"),
    "case_state.accepted": ("已受理", "Accepted"),
    "case_state.rejected": ("不予受理", "Not accepted"),
    "case_state.materials_needed": ("需补充材料", "Documents needed"),
    "case_state.under_review": ("审核中", "Under review"),
    "case_state.approved": ("已批准", "Approved"),
    "case_state.denied": ("未获批准", "Denied"),
    "case_state.in_production": ("制证中", "Being produced"),
    "case_state.ready_for_pickup": ("可领取", "Ready for pickup"),
    "case_state.closed": ("已办结", "Closed"),
    "idle.title": ("还在吗？", "Are you still there?"),
    "idle.countdown": (
        "{seconds} 秒后将返回首页并清除您的信息",
        "Returning to start in {seconds} s; your details will be cleared",
    ),
    "idle.more_time": ("我还需要时间", "I need more time"),
    "maint.title": ("维护", "Maintenance"),
    "maint.pin": ("请输入运维密码", "Enter the operator PIN"),
    "maint.pin_wrong": ("密码错误", "Wrong PIN"),
    "maint.pin_locked": ("错误次数过多，请稍后再试", "Too many wrong PINs; try later"),
    "maint.device_id": ("设备编号：{value}", "Device ID: {value}"),
    "maint.paired": ("配对状态：{value}", "Pairing: {value}"),
    "maint.server": ("服务器：{value}", "Server: {value}"),
    "maint.network": ("网络：{value}", "Network: {value}"),
    "maint.outbox": ("待发送：{value} 条", "Outbox: {value} waiting"),
    "maint.peripherals": ("外设：{value}", "Peripherals: {value}"),
    "maint.cache": ("缓存大小：{value}", "Cache size: {value}"),
    "maint.version": ("版本：{value}", "Version: {value}"),
    "maint.yes": ("已配对", "Paired"),
    "maint.no": ("未配对", "Not paired"),
    "maint.online": ("在线", "Online"),
    "maint.offline": ("离线", "Offline"),
    "maint.none": ("无", "None"),
    "peripheral.scanner": ("扫码器", "Scanner"),
    "peripheral.printer": ("打印机", "Printer"),
    "peripheral.touchscreen": ("触摸屏", "Touch screen"),
    "maint.exit": ("退出维护", "Leave maintenance"),
    "emergency.title": ("紧急通知", "Emergency notice"),
    "emergency.kept": (
        "您正在办理的事项已保留，通知结束后可继续。",
        "What you were doing is kept; you can carry on when this notice ends.",
    ),
    "emergency.read_aloud": ("朗读通知", "Read the notice aloud"),
    "privacy.hidden": (
        "居民正在使用（页面：{page}）— 为保护隐私，截图不显示页面内容",
        "A resident is using the kiosk (page: {page}): hidden from screenshots for privacy",
    ),
})


class Translator:
    """Looks keys up in the current language; listeners redraw when the language changes."""

    def __init__(self, language: Language = Language.ZH, tz: ZoneInfo | None = None) -> None:
        self.language = language
        self.tz = tz or ZoneInfo("Asia/Shanghai")  # times are shown in the community's zone
        self._listeners: list[Callable[[], None]] = []

    def t(self, key: str, **values: object) -> str:
        try:
            return CATALOGUE.text(key, self.language.value, **values)
        except MissingText:
            raise MissingTranslation(key) from None

    def text(self, localized: LocalizedText) -> str:
        """Pick the current language out of server-provided bilingual text."""
        return localized.zh if self.language is Language.ZH else localized.en

    def time(self, when: dt.datetime) -> str:
        return format_time(when, self.tz)

    def datetime(self, when: dt.datetime) -> str:
        return format_datetime(when, self.language, self.tz)

    def date(self, day: dt.date) -> str:
        return format_date(day, self.language)

    def place(self, address: ServiceAddress, masked: bool = False) -> str:
        return format_place(address, self.language, masked)

    def set_language(self, language: Language) -> None:
        if language is not self.language:
            self.language = language
            for listener in list(self._listeners):
                listener()

    def toggle(self) -> None:
        self.set_language(Language.EN if self.language is Language.ZH else Language.ZH)

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)


_PLACE_PARTS = (("building", re.compile(r"^(\w+?)号楼$")), ("unit", re.compile(r"^(\w+?)单元$")),
                ("room", re.compile(r"^(\w+?)室?$")))


def format_place(address: ServiceAddress, language: Language, masked: bool = False) -> str:
    """"3号楼 2单元 1203室" / "Building 3, Unit 2, Room 1203". The kiosk sends building and unit with
    their Chinese suffixes (how the provider reads an address); English puts the numbers in English
    words; text typed elsewhere is shown as it is. ``masked`` hides the middle of the room number
    (``1**3``) like the phone's status page: for orders shown again, not just typed."""
    parts = []
    for name, pattern in _PLACE_PARTS:
        value = getattr(address, name).strip()
        if not value:
            continue
        match = pattern.fullmatch(value)
        number = match.group(1) if match else value
        if name == "room" and masked:
            number = mask_middle(number)
        parts.append(CATALOGUE.text(f"place.{name}", language.value, number=number) if match else number)
    return (" " if language is Language.ZH else ", ").join(parts)


def mask_middle(text: str) -> str:
    """``1203`` → ``1**3``; two characters or fewer are hidden whole."""
    return text[0] + "*" * (len(text) - 2) + text[-1] if len(text) > 2 else "*" * len(text)


def format_money(amount_minor: int, currency: str = "CNY") -> str:
    """``¥12.50`` for CNY, ``12.50 USD`` otherwise; amounts are in minor units (fen)."""
    major = f"{amount_minor // 100}.{amount_minor % 100:02d}"
    return f"¥{major}" if currency == "CNY" else f"{major} {currency}"


def format_time(when: dt.datetime, tz: ZoneInfo) -> str:
    """``HH:MM`` in the kiosk's time zone."""
    return when.astimezone(tz).strftime("%H:%M")


def format_datetime(when: dt.datetime, language: Language, tz: ZoneInfo) -> str:
    local = when.astimezone(tz)
    if language is Language.ZH:
        return f"{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local.day} {local:%b} {local:%H:%M}"


def format_date(day: dt.date, language: Language) -> str:
    if language is Language.ZH:
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {day:%b} {day.year}"
