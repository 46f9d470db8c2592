"""One builder per screen: each turns the flow's state into a fresh page of widgets.

Pages are rebuilt on every state change (they are small: a rebuild costs a few milliseconds),
so no widget outlives the data it shows and a privacy reset leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from kiosk_app.flow import CaseField, KioskFlow
from kiosk_app.i18n import Translator, format_money
from kiosk_app.maintenance import MaintenanceInfo
from kiosk_app.theme import Theme
from kiosk_app.ui.widgets import TouchScrolling, keypad, make_button, make_label, qr_label
from schedules.clock import Clock
from schedules.protocol.kiosk import OrderState

DIGITS = [*"123456789", "0"]
REFERENCE_KEYS = [*"0123456789", *"ABCDEFGHJKMNPQRSTWXYZ", "-"]


class PageBuilder:
    """Builds the page for ``flow.state.screen``; collects the text the read-aloud button speaks."""

    def __init__(self, flow: KioskFlow, tr: Translator, theme: Theme, clock: Clock,
                 maintenance: Callable[[], MaintenanceInfo], images: Callable[[str], QPixmap | None],
                 touch: TouchScrolling) -> None:
        self.flow, self.tr, self.theme, self.clock = flow, tr, theme, clock
        self.maintenance, self.images, self.touch = maintenance, images, touch
        self.spoken: list[str] = []

    # -- helpers ------------------------------------------------------------------------------

    def t(self, key: str, **values: object) -> str:
        return self.tr.t(key, **values)

    def say(self, text: str, role: str = "") -> QLabel:
        """A label whose text is also read aloud."""
        self.spoken.append(text)
        return make_label(text, role)

    def page(self, title_key: str | None = None, **values: object) -> tuple[QWidget, QVBoxLayout]:
        page = QWidget()
        page.setObjectName("page")
        layout = QVBoxLayout(page)
        layout.setContentsMargins(40, 24, 40, 24)
        layout.setSpacing(20)
        if title_key:
            layout.addWidget(self.say(self.t(title_key, **values), "title"))
        return page, layout

    def notice(self, layout: QVBoxLayout) -> None:
        n = self.flow.state.notice
        if n is not None:
            label = self.say(self.t(n.key, **n.kwargs()), "notice")
            label.setProperty("testName", "notice")
            layout.addWidget(label)

    def nav(self, layout: QVBoxLayout, back: bool = True) -> None:
        row = QHBoxLayout()
        if back:
            row.addWidget(make_button("◀ " + self.t("common.back"), self.flow.back, name="back"))
        row.addWidget(make_button("⌂ " + self.t("common.home"), self.flow.home, name="home"))
        layout.addLayout(row)

    def field(self, text: str, active: bool, name: str, on_tap: Callable[[], None] | None = None) -> QWidget:
        if on_tap is not None:
            b = make_button(text or " ", on_tap, name=name)
            b.setObjectName("primary" if active else "")
            b.setProperty("testName", name)
            b.setText(("▶ " if active else "") + (text or "—"))
            return b
        label = make_label(text or " ", "field" if active else "fieldIdle")
        label.setProperty("testName", name)
        return label

    def alnum_pad(self) -> QWidget:
        """Letters and digits: 8 keys a row, 7 with the larger keys, so the pad fits 1080 px."""
        columns = 7 if self.theme.touch_px > 100 else 8
        return keypad(REFERENCE_KEYS, self.flow.key, "⌫", self.flow.delete, columns=columns)

    def finish_list(self, page: QWidget, layout: QVBoxLayout, col: QVBoxLayout, inner: QWidget) -> QWidget:
        """Close a scrolling list page: the list, any notice, then back/home."""
        col.addStretch(1)
        layout.addWidget(self.scroll(inner), 1)
        self.notice(layout)
        self.nav(layout)
        return page

    def scroll(self, inner: QWidget) -> QScrollArea:
        area = QScrollArea()
        inner.setObjectName("page")
        area.setWidget(inner)
        area.setWidgetResizable(True)
        area.setFrameShape(QFrame.Shape.NoFrame)
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.touch.enable(area)  # finger drag
        return area

    def countdown_text(self) -> str:
        left = self.flow.state.pay_seconds_left or 0
        return self.t("pay.countdown", minutes=left // 60, seconds=f"{left % 60:02d}")

    def update_countdown(self, page: QWidget) -> None:
        """Refresh the payment countdown in place."""
        for label in page.findChildren(QLabel):
            if label.property("testName") == "countdown":
                label.setText(self.countdown_text())

    # -- screens ------------------------------------------------------------------------------

    def build(self) -> QWidget:
        self.spoken = []
        return getattr(self, f"_{self.flow.state.screen.value}")()

    def _home(self) -> QWidget:
        page, layout = self.page("home.title")
        catalogue = self.flow.state.catalogue
        tiles = QWidget()
        grid = QGridLayout(tiles)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(16)
        if catalogue is None:
            waiting = self.say(self.t("common.loading" if self.flow.state.catalogue_loading
                                      else "offline.no_catalogue"), "notice")
            waiting.setProperty("testName", "notice")
            layout.addWidget(waiting)
        else:
            columns = 1 if self.theme.touch_px > 100 else 2  # large text: one tile per row, nothing cut
            for i, cat in enumerate(catalogue.categories):
                b = make_button(self.tr.text(cat.name), partial(self.flow.open_category, cat.id), "tile",
                                f"category:{cat.id}")
                grid.addWidget(b, i // columns, i % columns)
            grid.setRowStretch(grid.rowCount(), 1)
        layout.addWidget(self.scroll(tiles), 1)
        layout.addWidget(make_button(self.t("home.cases"), self.flow.open_cases, "tile", "cases"))
        layout.addWidget(make_button(self.t("home.my_order"), self.flow.open_lookup, "tile", "my_order"))
        self.notice(layout)
        return page

    def _category(self) -> QWidget:
        cat = self.flow.category
        page, layout = self.page("category.title", category=self.tr.text(cat.name) if cat else "")
        inner = QWidget()
        col = QVBoxLayout(inner)
        services = self.flow.services_in_category()
        if not services:
            col.addWidget(self.say(self.t("category.empty")))
        for s in services:
            card = QFrame()
            card.setObjectName("card")
            row = QHBoxLayout(card)
            pixmap = self.images(s.id)
            if pixmap is not None:
                img = QLabel()
                img.setPixmap(pixmap.scaled(200, 150, Qt.AspectRatioMode.KeepAspectRatio,
                                            Qt.TransformationMode.SmoothTransformation))
                row.addWidget(img)
            text = QVBoxLayout()
            text.addWidget(self.say(self.tr.text(s.name), "title"))
            text.addWidget(self.say(self.t("service.price", price=format_money(s.price_minor, s.currency))))
            provider = self.tr.text(s.provider_name)
            text.addWidget(make_label(self.t("service.provider", provider=provider), "muted"))
            rating = (self.t("service.rating", rating=f"{s.rating:.1f}") if s.rating is not None
                      else self.t("service.no_rating"))
            text.addWidget(make_label(rating, "muted"))
            row.addLayout(text, 1)
            row.addWidget(make_button(self.t("service.choose") + " ▶", partial(self.flow.open_service, s.id),
                                      "primary", f"service:{s.id}"))
            col.addWidget(card)
        return self.finish_list(page, layout, col, inner)

    def _detail(self) -> QWidget:
        s = self.flow.service
        page, layout = self.page()
        if s is None:
            return self._home()
        layout.addWidget(self.say(self.tr.text(s.name), "title"))
        pixmap = self.images(s.id)
        if pixmap is not None:
            img = QLabel()
            img.setPixmap(pixmap.scaled(640, 360, Qt.AspectRatioMode.KeepAspectRatio,
                                        Qt.TransformationMode.SmoothTransformation))
            layout.addWidget(img, alignment=Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.say(self.tr.text(s.description)))
        layout.addWidget(self.say(self.t("service.price", price=format_money(s.price_minor, s.currency))))
        layout.addWidget(self.say(self.t("service.provider", provider=self.tr.text(s.provider_name))))
        layout.addWidget(make_label(self.t("service.duration", minutes=s.duration_minutes), "muted"))
        if s.rating is not None:
            layout.addWidget(make_label(self.t("service.rating", rating=f"{s.rating:.1f}"), "muted"))
        layout.addStretch(1)
        layout.addWidget(make_button(self.t("service.book") + " ▶", self.flow.book, "primary", "book"))
        self.nav(layout)
        return page

    def _slot(self) -> QWidget:
        page, layout = self.page("slot.title")
        s = self.flow.service
        inner = QWidget()
        col = QVBoxLayout(inner)
        slots = s.slots if s else ()
        if not slots:
            col.addWidget(self.say(self.t("slot.none")))
        for slot in slots:
            when = f"{self.tr.datetime(slot.start)}–{self.tr.time(slot.end)}"
            full = slot.remaining <= 0
            extra = self.t("slot.full") if full else self.t("slot.remaining", remaining=slot.remaining)
            b = make_button(f"{when}    {extra}", partial(self.flow.pick_slot, slot.id),
                            "" if full else "primary", f"slot:{slot.id}")
            b.setEnabled(not full)
            col.addWidget(b)
        return self.finish_list(page, layout, col, inner)

    def _phone(self) -> QWidget:
        page, layout = self.page("phone.title")
        layout.addWidget(make_label(self.t("phone.hint"), "muted"))
        phone = self.flow.state.phone
        shown = " ".join(filter(None, [phone[:3], phone[3:7], phone[7:]]))
        layout.addWidget(self.field(shown, True, "phone_field"))
        self.notice(layout)
        layout.addWidget(keypad(DIGITS, self.flow.key, "⌫ " + self.t("common.delete"), self.flow.delete))
        layout.addWidget(make_button(self.t("phone.next") + " ▶", self.flow.phone_next, "primary",
                                     "phone_next"))
        layout.addStretch(1)
        self.nav(layout)
        return page

    def _confirm(self) -> QWidget:
        page, layout = self.page("confirm.title")
        s, slot, phone = self.flow.service, self.flow.slot, self.flow.state.phone
        if s is not None and slot is not None:
            lines = [
                self.t("confirm.service", service=self.tr.text(s.name)),
                self.t("confirm.time", time=self.tr.datetime(slot.start)),
                self.t("confirm.phone", phone=f"{phone[:3]}****{phone[-4:]}"),
                self.t("confirm.amount", amount=format_money(s.price_minor, s.currency)),
            ]
            for line in lines:
                layout.addWidget(self.say(line))
        layout.addStretch(1)
        self.notice(layout)

        def confirm() -> None:
            self.flow.confirm_booking(self.clock.now())

        layout.addWidget(make_button("✔ " + self.t("confirm.submit"), confirm, "primary", "confirm"))
        self.nav(layout)
        return page

    def _order(self) -> QWidget:
        state = self.flow.state
        page, layout = self.page()
        if state.busy:
            layout.addWidget(self.say(self.t("order.submitting"), "title"))
        order, pending = state.order, state.pending
        if order is not None:
            layout.addWidget(self.say(self.t("order.reference", reference=order.reference), "title"))
            layout.addWidget(self.say(self.t("lookup.state", state=self.t(f"state.{order.state.value}"))))
            if order.state is OrderState.PAID:
                layout.addWidget(self.say(self.t("order.free_done")))
        elif pending is not None and not state.busy:
            ref = pending.order.local_reference or ""
            layout.addWidget(self.say(self.t("order.local_reference", reference=ref), "title"))
        self.notice(layout)
        layout.addStretch(1)
        if not state.busy:
            layout.addWidget(make_button(self.t("receipt.done"), self.flow.home, "primary", "done"))
        return page

    def _pay(self) -> QWidget:
        state = self.flow.state
        page, layout = self.page("pay.title")
        order, pending = state.order, state.pending
        qr_size = 720 if self.theme.touch_px > 100 else 600
        if order is not None and order.payment is not None:
            layout.addWidget(qr_label(order.payment.qr_payload, qr_size, "pay_qr"))
            layout.addWidget(self.say(self.t("pay.amount", amount=format_money(order.amount_minor,
                                                                              order.currency)), "title"))
            layout.addWidget(self.say(self.t("pay.merchant", merchant=self.tr.text(order.merchant_name))))
            layout.addWidget(self.say(self.t("pay.subject", subject=self.tr.text(order.subject))))
            layout.addWidget(make_label(self.t("order.reference", reference=order.reference), "muted"))
            layout.addWidget(make_label(self.t("pay.waiting"), "muted"))
        elif pending is not None and pending.offline_pay_url:
            layout.addWidget(qr_label(pending.offline_pay_url, 900, "pay_qr"))  # long token: bigger code
            amount = format_money(pending.amount_minor)
            layout.addWidget(self.say(self.t("pay.amount", amount=amount), "title"))
            layout.addWidget(self.say(self.t("pay.offline_note"), "notice"))
            layout.addWidget(make_label(self.t("order.local_reference",
                                               reference=pending.order.local_reference or ""), "muted"))
        if state.pay_seconds_left is not None:
            cd = self.say(self.countdown_text())
            cd.setProperty("testName", "countdown")
            layout.addWidget(cd)
        self.notice(layout)
        layout.addStretch(1)
        if order is not None:
            layout.addWidget(make_button("✖ " + self.t("pay.cancel"), self.flow.cancel_payment, "danger",
                                         "cancel"))
        else:
            layout.addWidget(make_button(self.t("receipt.done"), self.flow.home, "primary", "done"))
        return page

    def _receipt(self) -> QWidget:
        order = self.flow.state.order
        page, layout = self.page("receipt.title")
        if order is not None:
            layout.addWidget(self.say("✔ " + self.t("order.reference", reference=order.reference), "title"))
            layout.addWidget(qr_label(order.reference, 360, "receipt_qr"))
            layout.addWidget(make_label(self.t("receipt.keep"), "muted"))
            layout.addWidget(self.say(self.t("pay.amount", amount=format_money(order.amount_minor,
                                                                              order.currency))))
            layout.addWidget(self.say(self.t("pay.subject", subject=self.tr.text(order.subject))))
            if order.paid_at is not None:
                layout.addWidget(self.say(self.t("receipt.paid_at",
                                                 time=self.tr.datetime(order.paid_at))))
        layout.addStretch(1)
        layout.addWidget(make_button(self.t("receipt.done"), self.flow.home, "primary", "done"))
        return page

    def _lookup(self) -> QWidget:
        state = self.flow.state
        page, layout = self.page("lookup.title")
        layout.addWidget(make_label(self.t("lookup.hint"), "muted"))
        layout.addWidget(self.field(state.lookup_reference, True, "reference_field"))
        result = state.lookup_result
        if result is not None:
            layout.addWidget(self.say(self.t("order.reference", reference=result.reference), "title"))
            layout.addWidget(self.say(self.t("lookup.state", state=self.t(f"state.{result.state.value}"))))
            layout.addWidget(self.say(self.t("pay.subject", subject=self.tr.text(result.subject))))
        self.notice(layout)
        layout.addWidget(self.alnum_pad())
        layout.addWidget(make_button(self.t("lookup.search"), self.flow.submit_lookup, "primary",
                                     "search"))
        layout.addStretch(1)
        self.nav(layout)
        return page

    def _case_input(self) -> QWidget:
        state = self.flow.state
        page, layout = self.page("case.title")
        layout.addWidget(make_label(self.t("case.scan_hint"), "muted"))
        number_active = state.case_field is CaseField.NUMBER
        layout.addWidget(make_label(self.t("case.number")))
        layout.addWidget(self.field(state.case_number, number_active, "case_number",
                                    lambda: self.flow.select_case_field(CaseField.NUMBER)))
        layout.addWidget(make_label(self.t("case.id_last4")))
        layout.addWidget(self.field(state.id_last4, not number_active, "id_last4",
                                    lambda: self.flow.select_case_field(CaseField.LAST4)))
        self.notice(layout)
        if number_active:
            pad = self.alnum_pad()
        else:
            pad = keypad([*DIGITS, "X"], self.flow.key, "⌫ " + self.t("common.delete"), self.flow.delete,
                         columns=4)
        layout.addWidget(pad)

        def search() -> None:
            self.flow.submit_case(self.clock.now())

        layout.addWidget(make_button(self.t("case.search"), search, "primary", "case_search"))
        layout.addStretch(1)
        self.nav(layout)
        return page

    def _case_result(self) -> QWidget:
        state = self.flow.state
        status = state.case_status
        page, layout = self.page("case.title")
        if status is None:
            return page
        if state.case_seen_at is not None:
            label = self.say(self.t("case.offline_cached", time=self.tr.datetime(state.case_seen_at)),
                             "banner")
            label.setProperty("testName", "case_offline")
            layout.addWidget(label)
        layout.addWidget(self.say(self.t("case.type", type=self.tr.text(status.case_type))))
        layout.addWidget(make_label(self.t("case.applicant", name=status.applicant_masked), "muted"))
        layout.addWidget(make_label(self.t("case.id", id=status.id_masked), "muted"))
        inner = QWidget()
        timeline = QVBoxLayout(inner)
        timeline.setSpacing(4)
        last = len(status.timeline) - 1
        for i, event in enumerate(status.timeline):
            current = i == last
            row = QHBoxLayout()
            marker = make_label("●" if current else "○", wrap=False)
            marker.setFixedWidth(48)
            row.addWidget(marker, alignment=Qt.AlignmentFlag.AlignTop)
            col = QVBoxLayout()
            name = self.t(f"case_state.{event.state.value}")
            heading = f"{name}  ·  {self.t('case.current')}" if current else name
            head = self.say(heading, "current" if current else "")
            head.setProperty("testName", f"timeline:{event.state.value}")
            col.addWidget(head)
            col.addWidget(make_label(self.tr.datetime(event.at), "muted"))
            if event.note is not None:
                col.addWidget(self.say(self.tr.text(event.note)))
            if event.missing_documents:
                col.addWidget(self.say(self.t("case.missing", docs="、".join(event.missing_documents))))
            if event.deadline is not None:
                col.addWidget(self.say(self.t("case.deadline", date=self.tr.date(event.deadline))))
            row.addLayout(col, 1)
            timeline.addLayout(row)
        timeline.addStretch(1)
        layout.addWidget(self.scroll(inner), 1)
        if status.next_step is not None:
            nxt = self.say(self.t("case.next_step", text=self.tr.text(status.next_step)), "title")
            nxt.setProperty("testName", "next_step")
            layout.addWidget(nxt)
        if status.due_by is not None:
            due = self.tr.date(status.due_by)
            layout.addWidget(make_label(self.t("case.due_by", date=due), "muted"))
        layout.addWidget(make_label(self.t("case.as_of", time=self.tr.datetime(status.as_of)), "muted"))
        self.notice(layout)
        self.nav(layout)
        return page

    def _maint_pin(self) -> QWidget:
        page, layout = self.page("maint.pin")
        layout.addWidget(self.field("●" * len(self.flow.state.pin), True, "pin_field"))
        self.notice(layout)
        layout.addWidget(keypad(DIGITS, self.flow.key, "⌫", self.flow.delete))
        layout.addWidget(make_button(self.t("common.ok"), lambda: self.flow.submit_pin(self.clock.now()),
                                     "primary", "pin_ok"))
        layout.addStretch(1)
        self.nav(layout)
        return page

    def _maintenance(self) -> QWidget:
        page, layout = self.page("maint.title")
        info = self.maintenance()
        t = self.t
        none = t("maint.none")
        devices = ", ".join(f"{p.kind.value}: {p.name}" for p in info.peripherals) or none
        rows = [
            t("maint.device_id", value=info.device_id or none),
            t("maint.paired", value=t("maint.yes") if info.paired else t("maint.no")),
            t("maint.server", value=info.server_url),
            t("maint.network", value=t("maint.online") if info.online else t("maint.offline")),
            t("maint.outbox", value=info.outbox_length),
            t("maint.peripherals", value=devices),
            t("maint.cache", value=f"{info.cache_bytes / 1_048_576:.1f} MB"),
            t("maint.version", value=info.version),
        ]
        for text in rows:
            label = self.say(text)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
            layout.addWidget(label)
        layout.addStretch(1)
        layout.addWidget(make_button(t("maint.exit"), self.flow.reset, "primary", "maint_exit"))
        return page

