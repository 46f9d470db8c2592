"""One builder per screen: each turns the flow's state into a fresh page of widgets.

Pages are rebuilt on every state change (they are small: a rebuild costs a few milliseconds),
so no widget outlives the data it shows and a privacy reset leaves nothing behind. Lists never
scroll: the flow hands out a page at a time (``kiosk_app.paging``) and the page shows large
"previous" and "next" buttons.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from kiosk_app.flow import AddressField, CaseField, KioskFlow, receipt_link
from kiosk_app.i18n import Translator, format_money
from kiosk_app.maintenance import MaintenanceInfo
from kiosk_app.paging import PageOf
from kiosk_app.theme import Theme
from kiosk_app.ui.widgets import (
    ContentButton,
    category_icon,
    icon_label,
    keypad,
    make_button,
    make_label,
    qr_label,
)
from schedules.clock import Clock
from schedules.protocol.kiosk import OrderState, OrderView

DIGITS = [*"123456789", "0"]
REFERENCE_KEYS = [*"0123456789", *"ABCDEFGHJKMNPQRSTWXYZ", "-"]


class PageBuilder:
    """Builds the page for ``flow.state.screen``; collects the text the read-aloud button speaks."""

    def __init__(self, flow: KioskFlow, tr: Translator, theme: Theme, clock: Clock,
                 maintenance: Callable[[], MaintenanceInfo], images: Callable[[str], QPixmap | None]) -> None:
        self.flow, self.tr, self.theme, self.clock = flow, tr, theme, clock
        self.maintenance, self.images = maintenance, images
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

    def pager(self, layout: QVBoxLayout, page: PageOf[Any]) -> None:
        """Large "previous" / "next" buttons with "page 2 of 3" between, when the list has pages."""
        if page.count <= 1:
            return
        row = QHBoxLayout()
        t, flow = self.t, self.flow
        prev = make_button("◀ " + t("common.previous_page"), flow.previous_page, "", "page_previous")
        nxt = make_button(t("common.next_page") + " ▶", flow.next_page, "primary", "page_next")
        prev.setEnabled(page.has_previous)
        nxt.setEnabled(page.has_next)
        where = self.say(self.t("common.page", page=page.number + 1, pages=page.count))
        where.setAlignment(Qt.AlignmentFlag.AlignCenter)
        where.setProperty("testName", "page_number")
        row.addWidget(prev, 2)
        row.addWidget(where, 1)
        row.addWidget(nxt, 2)
        layout.addLayout(row)

    @staticmethod
    def centred(label: QLabel) -> QLabel:
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        return label

    def finish_list(self, page: QWidget, layout: QVBoxLayout, listing: PageOf[Any],
                    *extra: QWidget) -> QWidget:
        """Close a list page: space, the pager, any notice, extra buttons, then back/home."""
        layout.addStretch(1)
        self.pager(layout, listing)
        self.notice(layout)
        for widget in extra:
            layout.addWidget(widget)
        self.nav(layout)
        return page

    def when(self, start: dt.datetime, end: dt.datetime) -> str:
        return f"{self.tr.datetime(start)}–{self.tr.time(end)}"

    def order_facts(self, layout: QVBoxLayout, order: OrderView, *, masked: bool = True,
                    reference: bool = True) -> None:
        """Service, appointment, place and order number: the same facts, in the same words, everywhere."""
        layout.addWidget(self.say(self.t("order.service", service=self.tr.text(order.subject))))
        appointment = self.flow.appointment(order)
        if appointment is not None:
            label = self.say(self.t("order.appointment", time=self.when(*appointment)))
            label.setProperty("testName", "appointment")
            layout.addWidget(label)
        if order.address is not None:
            label = self.say(self.t("order.place", place=self.tr.place(order.address, masked=masked)))
            label.setProperty("testName", "place")
            layout.addWidget(label)
        if reference:
            label = self.say(self.t("order.reference", reference=order.reference))
            label.setProperty("testName", "reference")
            layout.addWidget(label)

    def order_card(self, order: OrderView) -> QFrame:
        """One order in "my orders": its facts and state; one not yet paid has a "pay now" button."""
        card = QFrame()
        card.setObjectName("card")
        card.setProperty("testName", f"order:{order.id}")
        col = QVBoxLayout(card)
        col.setContentsMargins(24, 16, 24, 16)
        col.setSpacing(6)
        col.addWidget(self.say(self.tr.text(order.subject), "title"))
        appointment = self.flow.appointment(order)
        if appointment is not None:
            col.addWidget(self.say(self.t("order.appointment", time=self.when(*appointment))))
        if order.address is not None:
            col.addWidget(self.say(self.t("order.place", place=self.tr.place(order.address, masked=True))))
        col.addWidget(self.say(self.t("order.reference", reference=order.reference)))
        row = QHBoxLayout()
        state = self.say(self.t("lookup.state", state=self.t(f"state.{order.state.value}")))
        state.setProperty("testName", f"state:{order.id}")
        row.addWidget(state, 1)
        if order.state is OrderState.AWAITING_PAYMENT and order.payment is not None:
            pay = make_button(self.t("orders.pay_now") + " ▶", partial(self.flow.resume_payment, order.id),
                              "primary", f"pay:{order.id}")
            row.addWidget(pay, 1)
        col.addLayout(row)
        return card

    def find_order_button(self) -> QWidget:
        return make_button(self.t("orders.find_other"), self.flow.open_lookup, "", "find_order")

    def receipt_code(self, layout: QVBoxLayout, order: OrderView) -> None:
        """The order's status page as a QR a phone opens (and the kiosk's scanner reads back)."""
        layout.addWidget(qr_label(receipt_link(order), 480, "receipt_qr"))
        layout.addWidget(self.centred(make_label(self.t("receipt.keep"), "muted")))

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
        """Every category as a large tile with its icon, a page at a time, like the government
        service terminals residents know; case progress and "my orders" below."""
        page, layout = self.page("home.title")
        self.notice(layout)
        catalogue = self.flow.state.catalogue
        if catalogue is None:
            waiting = self.say(self.t("common.loading" if self.flow.state.catalogue_loading
                                      else "offline.no_catalogue"), "notice")
            waiting.setProperty("testName", "notice")
            layout.addWidget(waiting)
            layout.addStretch(1)
        else:
            cats = self.flow.category_page()
            tiles = QWidget()
            grid = QGridLayout(tiles)
            grid.setContentsMargins(0, 0, 0, 0)
            grid.setSpacing(16)
            columns, rows = self.theme.grid_columns, self.theme.grid_rows
            p = self.theme.palette
            for i, cat in enumerate(cats.items):
                name = self.tr.text(cat.name)
                tile = ContentButton(partial(self.flow.open_category, cat.id), "tile", f"category:{cat.id}")
                tile.box.addStretch(1)
                tile.add(icon_label(category_icon(cat.id, name, self.theme.icon_px, p.primary, p.on_primary)),
                         alignment=Qt.AlignmentFlag.AlignHCenter)
                tile.add(self.centred(self.say(name, "tileName")))
                tile.box.addStretch(1)
                policy = tile.sizePolicy()
                policy.setVerticalPolicy(QSizePolicy.Policy.Expanding)
                tile.setSizePolicy(policy)
                grid.addWidget(tile, i // columns, i % columns)
            for r in range(rows):  # every row the same height, however many tiles this page has
                grid.setRowStretch(r, 1)
            for c in range(columns):
                grid.setColumnStretch(c, 1)
            layout.addWidget(tiles, 1)
            self.pager(layout, cats)
        row = QHBoxLayout()
        row.setSpacing(16)
        for key, on_tap, name in (("case.title", self.flow.open_cases, "cases"),
                                  ("orders.title", self.flow.open_my_orders, "my_order")):
            tile = ContentButton(on_tap, "tile", name)
            tile.add(self.centred(self.say(self.t(key), "tileName")))
            tile.setMinimumHeight(int(self.theme.touch_px * 1.4))
            row.addWidget(tile, 1)
        layout.addLayout(row)
        return page

    def _category(self) -> QWidget:
        cat = self.flow.category
        page, layout = self.page("category.title", category=self.tr.text(cat.name) if cat else "")
        services = self.flow.service_page()
        if not services.items:
            layout.addWidget(self.say(self.t("category.empty")))
        for s in services.items:
            card = ContentButton(partial(self.flow.open_service, s.id), "card", f"service:{s.id}",
                                 vertical=False)
            pixmap = self.images(s.id)
            if pixmap is not None:
                card.add(icon_label(pixmap.scaled(200, 150, Qt.AspectRatioMode.KeepAspectRatio,
                                                  Qt.TransformationMode.SmoothTransformation)))
            text = QWidget()
            col = QVBoxLayout(text)
            col.setContentsMargins(0, 0, 0, 0)
            col.setSpacing(4)
            col.addWidget(self.say(self.tr.text(s.name), "title"))
            col.addWidget(self.say(self.t("service.price", price=format_money(s.price_minor, s.currency))))
            provider = self.t("service.provider", provider=self.tr.text(s.provider_name))
            col.addWidget(make_label(provider, "muted"))
            rating = (self.t("service.rating", rating=f"{s.rating:.1f}") if s.rating is not None
                      else self.t("service.no_rating"))
            col.addWidget(make_label(rating, "muted"))
            card.add(text, 1)
            card.add(make_label(self.t("service.choose") + " ▶", "action", wrap=False),
                     alignment=Qt.AlignmentFlag.AlignVCenter)
            layout.addWidget(card)
        return self.finish_list(page, layout, services)

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
        slots = self.flow.slot_page()
        if not slots.items:
            layout.addWidget(self.say(self.t("slot.none")))
        for slot in slots.items:
            full = slot.remaining <= 0
            extra = self.t("slot.full") if full else self.t("slot.remaining", remaining=slot.remaining)
            pick = partial(self.flow.pick_slot, slot.id)
            b = make_button(f"{self.when(slot.start, slot.end)}    {extra}", pick, "" if full else "primary",
                            f"slot:{slot.id}")
            b.setEnabled(not full)
            layout.addWidget(b)
        return self.finish_list(page, layout, slots)

    def _address(self) -> QWidget:
        state, required = self.flow.state, self.flow.address_required
        page, layout = self.page("address.title_home" if required else "address.title_optional")
        hint = "address.hint_home" if required else "address.hint_optional"
        layout.addWidget(self.say(self.t(hint), "muted"))
        grid = QGridLayout()
        grid.setHorizontalSpacing(20)
        grid.setVerticalSpacing(12)
        for row, which in enumerate(AddressField):
            grid.addWidget(self.say(self.t(f"address.{which.value}")), row, 0)
            tap = partial(self.flow.select_address_field, which)
            grid.addWidget(self.field(getattr(state, which.value), state.address_field is which,
                                      f"address_{which.value}", tap), row, 1)
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)
        self.notice(layout)
        layout.addWidget(keypad(DIGITS, self.flow.key, "⌫ " + self.t("common.delete"), self.flow.delete))
        layout.addWidget(make_button(self.t("common.next") + " ▶", self.flow.address_next, "primary",
                                     "address_next"))
        if not required:
            layout.addWidget(make_button(self.t("address.skip"), self.flow.skip_address, "", "address_skip"))
        layout.addStretch(1)
        self.nav(layout)
        return page

    def _phone(self) -> QWidget:
        page, layout = self.page("phone.title")
        layout.addWidget(make_label(self.t("phone.hint"), "muted"))
        phone = self.flow.state.phone
        shown = " ".join(filter(None, [phone[:3], phone[3:7], phone[7:]]))
        layout.addWidget(self.field(shown, True, "phone_field"))
        self.notice(layout)
        layout.addWidget(keypad(DIGITS, self.flow.key, "⌫ " + self.t("common.delete"), self.flow.delete))
        layout.addWidget(make_button(self.t("common.next") + " ▶", self.flow.phone_next, "primary",
                                     "phone_next"))
        layout.addStretch(1)
        self.nav(layout)
        return page

    def _confirm(self) -> QWidget:
        page, layout = self.page("confirm.title")
        s, slot, phone = self.flow.service, self.flow.slot, self.flow.state.phone
        if s is not None and slot is not None:
            lines = [self.t("order.service", service=self.tr.text(s.name)),
                     self.t("order.appointment", time=self.when(slot.start, slot.end))]
            address = self.flow.address()
            if address is not None:  # in full: the resident checks what they typed
                lines.append(self.t("order.place", place=self.tr.place(address)))
            lines += [self.t("confirm.phone", phone=f"{phone[:3]}****{phone[-4:]}"),
                      self.t("order.amount", amount=format_money(s.price_minor, s.currency))]
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
            self.order_facts(layout, order, reference=False)
            if order.state in (OrderState.PAID, OrderState.FULFILLED):
                self.receipt_code(layout, order)
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
        if state.confirming_cancel and state.order is not None:
            return self._confirm_cancel(state.order)
        page, layout = self.page("pay.title")
        order, pending = state.order, state.pending
        qr_size = 560 if self.theme.touch_px > 100 else 600
        if order is not None and order.payment is not None:
            layout.addWidget(qr_label(order.payment.qr_payload, qr_size, "pay_qr"))
            layout.addWidget(self.say(self.t("order.amount", amount=format_money(order.amount_minor,
                                                                                order.currency)), "title"))
            self.order_facts(layout, order, masked=False)
            provider = self.t("service.provider", provider=self.tr.text(order.merchant_name))
            layout.addWidget(make_label(provider, "muted"))
            layout.addWidget(make_label(self.t("pay.waiting"), "muted"))
        elif pending is not None and pending.offline_pay_url:
            layout.addWidget(qr_label(pending.offline_pay_url, 900, "pay_qr"))  # long token: bigger code
            amount = format_money(pending.amount_minor)
            layout.addWidget(self.say(self.t("order.amount", amount=amount), "title"))
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
            layout.addWidget(make_button("◀ " + self.t("pay.keep"), self.flow.keep_order, "", "keep_order"))
            layout.addWidget(make_button("✖ " + self.t("pay.cancel"), self.flow.ask_cancel, "danger",
                                         "cancel"))
        else:
            layout.addWidget(make_button(self.t("receipt.done"), self.flow.home, "primary", "done"))
        return page

    def _confirm_cancel(self, order: OrderView) -> QWidget:
        """"Cancel this order?" in large type, over the payment: nothing is cancelled by one tap."""
        page, layout = self.page()
        layout.addStretch(1)
        card = QFrame()
        card.setObjectName("dialog")
        card.setProperty("testName", "cancel_dialog")
        col = QVBoxLayout(card)
        col.setContentsMargins(40, 40, 40, 40)
        col.setSpacing(20)
        col.addWidget(self.say(self.t("cancel.title"), "dialogTitle"))
        self.order_facts(col, order, masked=False)
        amount = format_money(order.amount_minor, order.currency)
        col.addWidget(self.say(self.t("order.amount", amount=amount)))
        col.addWidget(self.say(self.t("cancel.consequence"), "notice"))
        t, flow = self.t, self.flow
        col.addWidget(make_button("◀ " + t("cancel.no"), flow.keep_paying, "primary", "cancel_no"))
        col.addWidget(make_button("✖ " + t("cancel.yes"), flow.cancel_payment, "danger", "cancel_yes"))
        layout.addWidget(card)
        layout.addStretch(1)
        return page

    def _receipt(self) -> QWidget:
        order = self.flow.state.order
        page, layout = self.page("receipt.title")
        if order is not None:
            layout.addWidget(self.say("✔ " + self.t("order.reference", reference=order.reference), "title"))
            self.order_facts(layout, order, reference=False)
            layout.addWidget(self.say(self.t("order.amount", amount=format_money(order.amount_minor,
                                                                                order.currency))))
            self.receipt_code(layout, order)
        layout.addStretch(1)
        layout.addWidget(make_button(self.t("receipt.done"), self.flow.home, "primary", "done"))
        return page

    def _orders(self) -> QWidget:
        page, layout = self.page("orders.title")
        orders = self.flow.order_page()
        for order in orders.items:
            layout.addWidget(self.order_card(order))
        return self.finish_list(page, layout, orders, self.find_order_button())

    def _lookup(self) -> QWidget:
        state = self.flow.state
        page, layout = self.page("lookup.title")
        result = state.lookup_result
        if result is not None:  # the order found, in place of the keypad
            layout.addWidget(self.order_card(result))
            layout.addStretch(1)
            self.notice(layout)
            layout.addWidget(self.find_order_button())
            self.nav(layout)
            return page
        layout.addWidget(make_label(self.t("lookup.hint"), "muted"))
        layout.addWidget(self.field(state.lookup_reference, True, "reference_field"))
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
        if status.next_step is not None:
            nxt = self.say(self.t("case.next_step", text=self.tr.text(status.next_step)), "title")
            nxt.setProperty("testName", "next_step")
            layout.addWidget(nxt)
        events = self.flow.event_page()
        for i, event in enumerate(events.items, start=events.first_index):
            current = i == 0  # newest first: the current step leads
            item = QWidget()
            item.setProperty("testName", f"event:{i}")
            row = QHBoxLayout(item)
            row.setContentsMargins(0, 0, 0, 0)
            marker = make_label("●" if current else "○", wrap=False)
            marker.setFixedWidth(48)
            row.addWidget(marker, alignment=Qt.AlignmentFlag.AlignTop)
            col = QVBoxLayout()
            col.setSpacing(4)
            name = self.t(f"case_state.{event.state.value}")
            heading = f"{name}  ·  {self.t('case.current')}" if current else name
            head = self.say(heading, "current" if current else "")
            head.setProperty("testName", f"timeline:{event.state.value}")
            col.addWidget(head)
            col.addWidget(make_label(self.tr.datetime(event.at), "muted"))
            if event.note is not None:
                col.addWidget(self.say(self.tr.text(event.note)))
            if event.missing_documents:
                docs = self.t("case.list_separator").join(event.missing_documents)
                col.addWidget(self.say(self.t("case.missing", docs=docs)))
            if event.deadline is not None:
                col.addWidget(self.say(self.t("case.deadline", date=self.tr.date(event.deadline))))
            row.addLayout(col, 1)
            layout.addWidget(item)
        layout.addStretch(1)
        self.pager(layout, events)
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
        devices = ", ".join(f"{t(f'peripheral.{p.kind.value}')}: {p.name}" for p in info.peripherals) or none
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
