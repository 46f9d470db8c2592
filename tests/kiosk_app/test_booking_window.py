"""A resident booking on the real offscreen kiosk: where the service happens, a payment they leave
and come back to, a cancel that asks first, and the facts after paying — in Chinese and English,
normal and large text, each step saved as a screenshot under test-artifacts/kiosk/."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtWidgets import QAbstractButton, QLabel

from kiosk_app.api import FakeKioskApi
from kiosk_app.app import KioskApp
from kiosk_app.flow import Screen
from kiosk_app.i18n import Language
from kiosk_app.scan import ScanKind, parse_scan
from kiosk_app.theme import theme_for
from schedules.clock import MovableClock
from schedules.protocol.kiosk import OrderState, ServiceAddress
from tests.kiosk_app.test_lists_window import MODES, mode_name, start_in
from tests.kiosk_app.test_window import (
    book,
    check_screen,
    decode_qr,
    find,
    scanner_types,
    shown,
    tap,
    type_address,
)


def texts(app: KioskApp) -> str:
    return " | ".join(w.text() for w in app.window.findChildren(QLabel) if w.isVisible() and w.text())


def said(app: KioskApp, key: str, **values: object) -> bool:
    """The screen shows this text (from the kiosk's one table, in the current language)."""
    return app.translator.t(key, **values) in texts(app)


@pytest.mark.parametrize("language,large", MODES)
def test_a_home_service_asks_where_with_a_large_keypad(qtbot, make_kiosk: Callable[..., KioskApp],  # type: ignore[no-untyped-def]
                                                       fake_api: FakeKioskApi, language: Language,
                                                       large: bool) -> None:
    app = make_kiosk()
    start_in(qtbot, app, language, large)
    theme, tag = theme_for(large), mode_name(language, large)
    for name in ("category:elderly_care", "service:bath", "book", "slot:bath-0"):
        tap(qtbot, app, name)
    assert app.flow.state.screen is Screen.ADDRESS
    assert said(app, "address.title_home") and not shown(app, "address_skip")  # at home: no way round it
    tap(qtbot, app, "address_next")
    assert said(app, "address.missing_building")
    for ch in "0123456789":
        key = find(app.window, f"key:{ch}")
        assert key.width() >= theme.key_px and key.height() >= theme.key_px
    type_address(qtbot, app, "3", "2", "1203")
    check_screen(app, f"address {tag}", "address_home")
    tap(qtbot, app, "address_next")
    for ch in "13812345678":
        tap(qtbot, app, f"key:{ch}")
    tap(qtbot, app, "phone_next")
    place = app.translator.place(ServiceAddress(building="3号楼", unit="2单元", room="1203"))
    assert said(app, "order.place", place=place)  # checked in full before it is sent
    assert place == ("3号楼 2单元 1203室" if language is Language.ZH else "Building 3, Unit 2, Room 1203")
    check_screen(app, f"confirm {tag}", "confirm_address")
    tap(qtbot, app, "confirm")
    order = next(iter(fake_api.orders.values()))
    assert order.address == ServiceAddress(building="3号楼", unit="2单元", room="1203")

    tap(qtbot, app, "keep_order")
    for name in ("category:health", "service:bp", "book", "slot:bp-0"):  # a check-up at the health station
        tap(qtbot, app, name)
    assert said(app, "address.title_optional")
    check_screen(app, f"address optional {tag}", "address_optional")
    tap(qtbot, app, "address_skip")
    assert app.flow.state.screen is Screen.PHONE and app.flow.address() is None


@pytest.mark.parametrize("language,large", MODES)
def test_cancel_asks_in_large_type_and_the_way_back_keeps_the_order(  # type: ignore[no-untyped-def]
        qtbot, make_kiosk: Callable[..., KioskApp], fake_api: FakeKioskApi, clock: MovableClock,
        language: Language, large: bool) -> None:
    app = make_kiosk()
    start_in(qtbot, app, language, large)
    theme, tag = theme_for(large), mode_name(language, large)
    book(qtbot, app, "elderly_care", "meal", "meal-0", "13812345678")
    assert app.flow.state.screen is Screen.PAY
    order = app.flow.state.order
    assert order is not None and order.payment is not None
    check_screen(app, f"pay {tag}", "pay_buttons")
    tap(qtbot, app, "cancel")
    assert fake_api.orders[order.id].state is OrderState.AWAITING_PAYMENT  # one tap cancels nothing
    question = find(app.window, "cancel_dialog").findChild(QLabel)
    assert question is not None and question.text() == app.translator.t("cancel.title")
    assert question.font().pointSizeF() >= theme.title_pt  # large type
    for name in ("cancel_no", "cancel_yes"):
        button = find(app.window, name)
        assert isinstance(button, QAbstractButton) and button.height() >= theme.touch_px
    assert said(app, "cancel.consequence") and said(app, "order.reference", reference=order.reference)
    check_screen(app, f"cancel dialog {tag}", "cancel_question")
    tap(qtbot, app, "cancel_no")
    assert app.flow.state.screen is Screen.PAY and shown(app, "pay_qr")

    tap(qtbot, app, "keep_order")  # the way back that keeps the order
    assert app.flow.state.screen is Screen.HOME
    assert said(app, "order.kept", reference=order.reference)
    check_screen(app, f"order kept {tag}", "home_order_kept")
    clock.advance(120)  # the resident looks around, then comes back to pay
    tap(qtbot, app, "my_order")
    assert app.flow.state.screen is Screen.ORDERS
    assert find(app.window, f"state:{order.id}").text() == app.translator.t(
        "lookup.state", state=app.translator.t("state.awaiting_payment"))
    check_screen(app, f"my orders {tag}", "orders_to_pay")
    tap(qtbot, app, f"pay:{order.id}")
    assert app.flow.state.screen is Screen.PAY
    assert find(app.window, "pay_qr").property("qrData") == order.payment.qr_payload  # the same order
    fake_api.mark_paid(order.id)
    app.flow.tick(clock.advance(3))
    assert app.flow.state.screen is Screen.RECEIPT
    tap(qtbot, app, "done")

    book(qtbot, app, "housekeeping", "clean", "clean-0", "13812345678")
    second = app.flow.state.order
    assert second is not None
    tap(qtbot, app, "cancel")
    tap(qtbot, app, "cancel_yes")
    assert fake_api.orders[second.id].state is OrderState.CANCELLED
    assert app.flow.state.screen is Screen.ORDER and said(app, "pay.cancelled")


@pytest.mark.parametrize("language,large", MODES)
def test_after_paying_the_receipt_and_my_orders_show_time_place_and_reference(  # type: ignore[no-untyped-def]
        qtbot, make_kiosk: Callable[..., KioskApp], fake_api: FakeKioskApi, clock: MovableClock,
        language: Language, large: bool) -> None:
    app = make_kiosk()
    start_in(qtbot, app, language, large)
    tag = mode_name(language, large)
    book(qtbot, app, "elderly_care", "bath", "bath-0", "13812345678", address=("12", "", "501"))
    order = app.flow.state.order
    assert order is not None
    fake_api.now = clock.advance(150)  # paid on the phone two and a half minutes later
    fake_api.mark_paid(order.id)
    app.flow.tick(clock.now())
    assert app.flow.state.screen is Screen.RECEIPT
    slot = next(s for s in fake_api.catalogue_doc.services if s.id == "bath").slots[0]
    appointment = f"{app.translator.datetime(slot.start)}–{app.translator.time(slot.end)}"
    paid_at = fake_api.orders[order.id].paid_at
    assert paid_at is not None and app.translator.datetime(paid_at) not in texts(app)  # not the payment time
    assert find(app.window, "appointment").text() == app.translator.t(  # type: ignore[attr-defined]
        "order.appointment", time=appointment)
    place = "12号楼 5*1室" if language is Language.ZH else "Building 12, Room 5*1"
    assert find(app.window, "place").text() == app.translator.t("order.place", place=place)  # type: ignore[attr-defined]
    assert said(app, "order.service", service=app.translator.text(order.subject))
    assert order.reference in texts(app)
    code = decode_qr(find(app.window, "receipt_qr"))  # what a phone camera reads off the screen
    assert code == order.status_url  # the order's status page, not the bare reference
    scanned = parse_scan(code)
    assert scanned is not None and (scanned.kind, scanned.value) == (ScanKind.ORDER, order.reference)
    check_screen(app, f"receipt {tag}", "receipt_facts")
    tap(qtbot, app, "done")

    tap(qtbot, app, "my_order")
    card = find(app.window, f"order:{order.id}")
    card_text = " | ".join(w.text() for w in card.findChildren(QLabel))
    for part in (app.translator.text(order.subject), appointment, place, order.reference,
                 app.translator.t("state.paid")):
        assert part in card_text, (part, card_text)
    check_screen(app, f"my orders {tag}", "orders_paid")
    app.flow.reset()  # the resident left; the next one scans the receipt they kept
    tap(qtbot, app, "start")
    scanner_types(app.window, code)  # the kiosk's USB scanner types the QR's text, then Enter
    assert app.flow.state.screen is Screen.LOOKUP
    assert find(app.window, f"order:{order.id}").isVisible()
