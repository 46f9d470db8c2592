"""The kiosk's one translation layer: every string a resident sees comes from here (zh default, en).

The texts are one :class:`schedules.bilingual.TextTable` (``key -> (zh, en)``, the suite's one
shape), which refuses at import a pair whose placeholders differ; :class:`Translator` adds the
current language, its listeners and the community's time zone for the widgets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from enum import StrEnum
from zoneinfo import ZoneInfo

from kiosk_app.errors import KioskError
from schedules.bilingual import MissingText, TextTable
from schedules.protocol.kiosk import LocalizedText


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
    "common.error": (
        "出错了，请重试或联系工作人员。", "Something went wrong. Please try again or ask staff."),
    "offline.banner": ("离线 — 信息更新于 {time}", "Offline — information as of {time}"),
    "offline.no_catalogue": (
        "暂时无法连接服务器，也没有已保存的服务信息。请稍后再试。",
        "Cannot reach the server and no saved service information. Please try later.",
    ),
    "home.title": ("请选择服务", "Please choose a service"),
    "home.cases": ("办件进度查询", "Check my application progress"),
    "home.my_order": ("我的订单", "My order"),
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
    "phone.next": ("下一步", "Next"),
    "confirm.title": ("请确认预约信息", "Please confirm your booking"),
    "confirm.service": ("服务：{service}", "Service: {service}"),
    "confirm.time": ("时间：{time}", "Time: {time}"),
    "confirm.phone": ("手机：{phone}", "Phone: {phone}"),
    "confirm.amount": ("金额：{amount}", "Amount: {amount}"),
    "confirm.submit": ("确认预约", "Confirm booking"),
    "order.submitting": ("正在提交预约…", "Submitting your booking…"),
    "order.reference": ("订单号：{reference}", "Order reference: {reference}"),
    "order.local_reference": ("临时单号：{reference}", "Temporary reference: {reference}"),
    "order.saved_offline": (
        "网络暂时中断，您的预约已安全保存，联网后自动提交。",
        "The network is down. Your booking is saved safely and will be sent when it returns.",
    ),
    "order.pay_now": ("扫码支付", "Pay by QR code"),
    "order.free_done": ("预约成功，无需付款。", "Booked. Nothing to pay."),
    "pay.title": ("请用手机扫码支付", "Scan with your phone to pay"),
    "pay.amount": ("金额：{amount}", "Amount: {amount}"),
    "pay.merchant": ("商户：{merchant}", "Merchant: {merchant}"),
    "pay.subject": ("项目：{subject}", "For: {subject}"),
    "pay.countdown": ("剩余支付时间 {minutes}:{seconds}", "Time left to pay {minutes}:{seconds}"),
    "pay.waiting": ("正在等待支付确认…", "Waiting for payment confirmation…"),
    "pay.offline_note": (
        "终端离线：请用手机支付，终端联网后会确认。",
        "The kiosk is offline: pay on your phone, we will confirm when the kiosk reconnects.",
    ),
    "pay.expired": ("支付已超时，订单已取消。", "Payment time ran out; the order was cancelled."),
    "pay.cancelled": ("订单已取消。", "The order was cancelled."),
    "pay.cancel": ("取消订单", "Cancel order"),
    "receipt.title": ("支付成功", "Payment received"),
    "receipt.paid_at": ("支付时间：{time}", "Paid at: {time}"),
    "receipt.keep": ("请扫描或拍下二维码保存订单号", "Scan or photograph the QR code to keep your reference"),
    "receipt.done": ("完成", "Done"),
    "lookup.title": ("查询我的订单", "Look up my order"),
    "lookup.hint": ("请输入订单号", "Enter your order reference"),
    "lookup.search": ("查询", "Search"),
    "lookup.not_found": ("未找到该订单，请核对订单号。", "No order with that reference. Please check it."),
    "lookup.offline": ("离线时无法查询订单。", "Order lookup is not available offline."),
    "lookup.state": ("状态：{state}", "Status: {state}"),
    "state.created": ("已创建", "Created"),
    "state.awaiting_payment": ("待支付", "Awaiting payment"),
    "state.paid": ("已支付", "Paid"),
    "state.fulfilled": ("已完成", "Completed"),
    "state.expired": ("已过期", "Expired"),
    "state.cancelled": ("已取消", "Cancelled"),
    "state.refunded": ("已退款", "Refunded"),
    "case.title": ("办件进度查询", "Application progress"),
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

    def set_language(self, language: Language) -> None:
        if language is not self.language:
            self.language = language
            for listener in list(self._listeners):
                listener()

    def toggle(self) -> None:
        self.set_language(Language.EN if self.language is Language.ZH else Language.ZH)

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)


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
