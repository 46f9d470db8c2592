"""The kiosk's flow without Qt: booking, payment, offline outbox, idle reset, cases, maintenance."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk_app.api import FakeKioskApi
from kiosk_app.flow import (
    ORDERS_TOPIC,
    AddressField,
    CaseField,
    FlowSettings,
    KioskFlow,
    Screen,
    local_reference,
)
from kiosk_app.jobs import ImmediateRunner, ManualRunner, Runner
from kiosk_app.offline_pay import DeviceKeySigner
from kiosk_app.operator import OperatorPin
from kiosk_app.qr import qr_matrix
from kiosk_app.store import CaseMemory, CatalogueStore
from schedules.clock import MovableClock
from schedules.protocol.kiosk import OrderState
from signage_player.outbox import Outbox
from tests.kiosk_app.conftest import PIN, PIN_HASH


def make_flow(tmp_path: Path, api: FakeKioskApi, clock: MovableClock, runner: Runner | None = None,
              outbox: Outbox | None = None) -> KioskFlow:
    return KioskFlow(
        api, runner or ImmediateRunner(), outbox or Outbox(tmp_path / "outbox.sqlite3"),
        CatalogueStore(tmp_path / "catalogue"), CaseMemory(tmp_path / "cases"),
        DeviceKeySigner(Ed25519PrivateKey.generate(), "http://server.test"),
        OperatorPin(PIN_HASH), clock.now(), FlowSettings(kiosk_id="kiosk-1"),
    )


def booked_flow(tmp_path: Path, api: FakeKioskApi, clock: MovableClock,
                runner: Runner | None = None) -> KioskFlow:
    """A flow whose resident has just pressed "confirm booking"."""
    flow = make_flow(tmp_path, api, clock, runner)
    book_until_confirm(flow)
    flow.confirm_booking(clock.now())
    return flow


def book_until_confirm(flow: KioskFlow, service: str = "meal", slot: str = "meal-0",
                       phone: str = "13812345678", address: tuple[str, ...] = ("3", "2", "1203")) -> None:
    flow.start()
    if isinstance(flow.runner, ManualRunner):
        flow.runner.run_all()  # the catalogue arrives
    cat = next(s.category_id for s in flow.state.catalogue.services if s.id == service)  # type: ignore[union-attr]
    flow.open_category(cat)
    flow.open_service(service)
    flow.book()
    flow.pick_slot(slot)
    enter_address(flow, *address)
    flow.address_next()
    for ch in phone:
        flow.key(ch)
    flow.phone_next()


def enter_address(flow: KioskFlow, building: str, unit: str, room: str) -> None:
    """Tap each field of the address and type its digits on the keypad."""
    for which, digits in zip(AddressField, (building, unit, room), strict=True):
        flow.select_address_field(which)
        for ch in digits:
            flow.key(ch)


def enter_case(flow: KioskFlow, number: str, last4: str) -> None:
    """Type a case number, move to the ID field, type the last ID digits (as a resident would)."""
    for ch in number:
        flow.key(ch)
    flow.select_case_field(CaseField.LAST4)
    for ch in last4:
        flow.key(ch)


def test_browse_book_and_pay_shows_paid_only_when_the_server_confirms(tmp_path: Path, fake_api: FakeKioskApi,
                                                                      clock: MovableClock) -> None:
    flow = make_flow(tmp_path, fake_api, clock)
    book_until_confirm(flow)
    assert flow.state.screen is Screen.CONFIRM
    flow.confirm_booking(clock.now())
    assert flow.state.screen is Screen.PAY
    order = flow.state.order
    assert order is not None and order.payment is not None and order.local_reference
    assert flow.outbox.count(ORDERS_TOPIC) == 0  # handed over and acknowledged
    for _ in range(5):  # polls keep saying "awaiting": the kiosk keeps waiting
        flow.tick(clock.advance(3))
    assert flow.state.screen is Screen.PAY and flow.state.pay_seconds_left == 15 * 60 - 15
    fake_api.mark_paid(order.id)
    flow.tick(clock.advance(3))
    assert flow.state.screen is Screen.RECEIPT
    assert flow.state.order is not None and flow.state.order.state is OrderState.PAID
    assert fake_api.create_calls == 1


def test_payment_polls_every_two_to_three_seconds(
    tmp_path: Path, fake_api: FakeKioskApi, clock: MovableClock,
) -> None:
    runner = ManualRunner()
    flow = booked_flow(tmp_path, fake_api, clock, runner)
    runner.run_all()
    polls = 0
    for _ in range(30):  # 30 s, one tick a second
        flow.tick(clock.advance(1))
        polls += runner.run_all()
    assert 10 <= polls <= 15


def test_expired_payment_is_never_shown_as_paid(
    tmp_path: Path, fake_api: FakeKioskApi, clock: MovableClock,
) -> None:
    flow = make_flow(tmp_path, fake_api, clock)
    book_until_confirm(flow)
    flow.confirm_booking(clock.now())
    fake_api.online = False  # the server goes silent: no confirmation can arrive
    for _ in range(15 * 60 // 30 + 2):
        flow.touched(clock.now())  # resident still standing there
        flow.tick(clock.advance(30))
    assert flow.state.screen is Screen.ORDER
    assert flow.state.order is not None and flow.state.order.state is OrderState.EXPIRED
    assert flow.state.notice is not None and flow.state.notice.key == "pay.expired"


def test_cancel_returns_the_servers_answer(
    tmp_path: Path, fake_api: FakeKioskApi, clock: MovableClock,
) -> None:
    flow = make_flow(tmp_path, fake_api, clock)
    book_until_confirm(flow)
    flow.confirm_booking(clock.now())
    flow.ask_cancel()
    assert fake_api.orders["o1"].state is OrderState.AWAITING_PAYMENT  # asking cancels nothing
    flow.cancel_payment()
    assert flow.state.screen is Screen.ORDER
    assert flow.state.notice is not None and flow.state.notice.key == "pay.cancelled"
    assert next(iter(fake_api.orders.values())).state is OrderState.CANCELLED


def test_bad_phone_is_refused_with_a_message_and_kept(
    tmp_path: Path, fake_api: FakeKioskApi, clock: MovableClock,
) -> None:
    flow = make_flow(tmp_path, fake_api, clock)
    book_until_confirm(flow, phone="1281234567")
    assert flow.state.screen is Screen.PHONE
    assert flow.state.notice is not None and flow.state.notice.key == "phone.invalid"
    assert flow.state.phone == "1281234567"


def test_full_slot_cannot_be_picked(
    tmp_path: Path, fake_api: FakeKioskApi, clock: MovableClock,
) -> None:
    flow = make_flow(tmp_path, fake_api, clock)
    flow.start()
    flow.open_category("elderly_care")
    flow.open_service("meal")
    flow.book()
    flow.pick_slot("meal-1")  # remaining 0
    assert flow.state.screen is Screen.SLOT and flow.state.slot_id is None


def test_a_late_answer_from_before_the_drop_does_not_say_online(tmp_path: Path, fake_api: FakeKioskApi,
                                                                 clock: MovableClock) -> None:
    """A catalogue refresh answered just before the network dropped, handled after a booking that
    then failed: the banner keeps saying offline; the next answer that is sent later says online."""
    runner = ManualRunner()
    flow = make_flow(tmp_path, fake_api, clock, runner)
    book_until_confirm(flow)
    flow.refresh_catalogue()
    refresh = runner.queue.pop(0)
    answer = refresh.job()  # the server answered; the reply is still on its way to the GUI thread
    fake_api.online = False
    flow.confirm_booking(clock.now())
    runner.run_all()
    assert flow.state.online is False and flow.outbox.count(ORDERS_TOPIC) == 1
    refresh.done(answer)
    assert flow.state.online is False
    fake_api.online = True
    flow.refresh_catalogue()
    runner.run_all()
    assert flow.state.online is True


def test_an_outbox_pass_that_sends_nothing_does_not_say_online(tmp_path: Path, fake_api: FakeKioskApi,
                                                                clock: MovableClock) -> None:
    """The background delivery runs while the only queued booking is still in flight: it sends
    nothing, so it must not contradict the booking's own failure."""
    runner = ManualRunner()
    flow = make_flow(tmp_path, fake_api, clock, runner)
    book_until_confirm(flow)
    fake_api.online = False
    flow.confirm_booking(clock.now())
    flow.tick(clock.advance(1))  # the outbox pass starts, skipping the booking in flight
    assert len(runner.queue) == 2
    runner.run_all()
    assert flow.state.online is False and flow.outbox.count(ORDERS_TOPIC) == 1


def test_offline_booking_survives_a_restart_and_is_delivered_once(tmp_path: Path, fake_api: FakeKioskApi,
                                                                  clock: MovableClock) -> None:
    flow = make_flow(tmp_path, fake_api, clock)
    book_until_confirm(flow)
    fake_api.online = False
    flow.confirm_booking(clock.now())
    state = flow.state
    assert state.online is False
    assert state.pending is not None and state.pending.order.local_reference
    assert state.screen is Screen.PAY and state.pending.offline_pay_url  # signed offline token QR
    assert state.pending.offline_pay_url.startswith("http://server.test/pay/offline/")
    assert flow.outbox.count(ORDERS_TOPIC) == 1
    flow.outbox.close()  # the kiosk is switched off

    reborn = make_flow(tmp_path, fake_api, clock)
    assert reborn.outbox.count(ORDERS_TOPIC) == 1
    reborn.tick(clock.advance(1))  # still offline: stays queued
    assert reborn.outbox.count(ORDERS_TOPIC) == 1
    fake_api.online = True
    for _ in range(3):
        reborn.tick(clock.advance(31))
    assert reborn.outbox.count(ORDERS_TOPIC) == 0
    assert len(fake_api.orders) == 1
    delivered = next(iter(fake_api.orders.values()))
    assert delivered.local_reference == state.pending.order.local_reference
    assert [o.id for o in reborn.delivered] == [delivered.id]


def test_crash_between_send_and_ack_does_not_duplicate(
    tmp_path: Path, fake_api: FakeKioskApi, clock: MovableClock,
) -> None:
    runner = ManualRunner()
    flow = booked_flow(tmp_path, fake_api, clock, runner)
    job = runner.queue.pop(0)
    job.job()  # the server received it ... and the kiosk died before the answer
    flow.outbox.close()
    reborn = make_flow(tmp_path, fake_api, clock)
    reborn.sync_outbox(clock.now())
    assert reborn.outbox.count(ORDERS_TOPIC) == 0
    assert len(fake_api.orders) == 1 and fake_api.create_calls == 2


def test_idle_warning_then_reset_clears_personal_data(
    tmp_path: Path, fake_api: FakeKioskApi, clock: MovableClock,
) -> None:
    flow = make_flow(tmp_path, fake_api, clock)
    book_until_confirm(flow, service="bp", slot="bp-0")
    flow.confirm_booking(clock.now())  # a free booking: its reference QR is prepared
    assert qr_matrix.cache_info().currsize > 0
    flow.touched(clock.now())
    flow.tick(clock.advance(59))
    assert flow.state.idle_seconds_left is None
    flow.tick(clock.advance(2))
    assert flow.state.idle_seconds_left == 14
    flow.touched(clock.now())  # "more time"
    assert flow.state.idle_seconds_left is None
    flow.tick(clock.advance(61))
    flow.tick(clock.advance(15))
    s = flow.state
    assert s.screen is Screen.ATTRACT
    assert qr_matrix.cache_info().currsize == 0  # no pay URL or reference left in memory
    assert (s.phone, s.service_id, s.slot_id, s.order, s.pending, s.case_number, s.case_status) == (
        "", None, None, None, None, "", None)


def test_an_answer_arriving_after_the_reset_is_dropped(
    tmp_path: Path, fake_api: FakeKioskApi, clock: MovableClock,
) -> None:
    runner = ManualRunner()
    flow = make_flow(tmp_path, fake_api, clock, runner)
    flow.start()
    flow.open_cases()
    enter_case(flow, "GA20261101", "123X")
    flow.submit_case(clock.now())
    flow.reset()
    runner.run_all()
    assert flow.state.screen is Screen.ATTRACT and flow.state.case_status is None


def test_case_lookup_then_offline_shows_last_seen_status_dated(tmp_path: Path, fake_api: FakeKioskApi,
                                                              clock: MovableClock) -> None:
    flow = make_flow(tmp_path, fake_api, clock)
    flow.start()
    flow.scanned("https://gov.example/case?case=ga20261101")
    assert flow.state.case_number == "GA20261101" and flow.state.case_field is CaseField.LAST4
    for ch in "123x":
        flow.key(ch)
    flow.submit_case(clock.now())
    assert flow.state.screen is Screen.CASE_RESULT and flow.state.case_seen_at is None
    assert flow.state.case_status is not None and flow.state.case_status.id_masked.startswith("110***")
    seen_at = clock.now()
    flow.home()
    fake_api.online = False
    clock.advance(3600)
    flow.open_cases()
    enter_case(flow, "GA20261101", "123X")
    flow.submit_case(clock.now())
    assert flow.state.screen is Screen.CASE_RESULT and flow.state.case_seen_at == seen_at
    flow.back()
    flow.clear_field()
    for ch in "9999":
        flow.key(ch)
    flow.submit_case(clock.now())  # a case this kiosk never saw
    assert flow.state.notice is not None and flow.state.notice.key == "case.offline_none"


def test_wrong_answers_get_the_same_message_then_a_lockout(tmp_path: Path, fake_api: FakeKioskApi,
                                                          clock: MovableClock) -> None:
    flow = make_flow(tmp_path, fake_api, clock)
    flow.start()
    flow.open_cases()
    enter_case(flow, "GA20261101", "")
    keys = []
    for _ in range(6):
        flow.clear_field()
        for ch in "0000":
            flow.key(ch)
        flow.submit_case(clock.now())
        keys.append(flow.state.notice.key if flow.state.notice else None)
    assert keys[:5] == ["case.not_found"] * 5 and keys[5] == "case.locked"
    # the idle reset starts a new session: the next resident is not slowed by these mistakes
    flow.reset()
    flow.open_cases()
    enter_case(flow, "GA20261101", "")
    for ch in "0000":
        flow.key(ch)
    flow.submit_case(clock.now())
    assert flow.state.notice is not None and flow.state.notice.key == "case.not_found"


def test_keypad_refuses_what_does_not_fit(
    tmp_path: Path, fake_api: FakeKioskApi, clock: MovableClock,
) -> None:
    flow = make_flow(tmp_path, fake_api, clock)
    book_until_confirm(flow, phone="138123456789999")
    assert flow.state.phone == "13812345678"  # 11 digits at most
    flow.back()
    flow.key("a")
    assert flow.state.phone == "13812345678"


def test_maintenance_needs_the_pin_and_locks_after_wrong_tries(tmp_path: Path, fake_api: FakeKioskApi,
                                                               clock: MovableClock) -> None:
    flow = make_flow(tmp_path, fake_api, clock)
    flow.open_maintenance_pin()
    for _ in range(5):
        for ch in "0000":
            flow.key(ch)
        flow.submit_pin(clock.now())
    assert flow.state.screen is Screen.MAINT_PIN and flow.state.notice.key == "maint.pin_wrong"  # type: ignore[union-attr]
    for ch in PIN:
        flow.key(ch)
    flow.submit_pin(clock.now())
    assert flow.state.notice is not None and flow.state.notice.key == "maint.pin_locked"
    clock.advance(301)
    for ch in PIN:
        flow.key(ch)
    flow.submit_pin(clock.now())
    assert flow.state.screen is Screen.MAINTENANCE and flow.state.pin == ""


def test_catalogue_is_cached_and_used_offline_with_its_time(tmp_path: Path, fake_api: FakeKioskApi,
                                                            clock: MovableClock) -> None:
    flow = make_flow(tmp_path, fake_api, clock)
    flow.start()
    fetched_at = clock.now()
    flow.outbox.close()
    fake_api.online = False
    clock.advance(7200)
    reborn = make_flow(tmp_path, fake_api, clock)
    reborn.start()
    assert reborn.state.online is False
    assert reborn.state.catalogue is not None and reborn.state.catalogue_as_of == fetched_at


def test_local_reference_is_short_and_stable() -> None:
    import uuid

    key = uuid.UUID(int=123456789)
    assert local_reference(key) == local_reference(key)
    assert len(local_reference(key)) == 8 and local_reference(key).startswith("L")


@pytest.mark.parametrize("online", [True, False])
def test_my_order_lookup(tmp_path: Path, fake_api: FakeKioskApi, clock: MovableClock, online: bool) -> None:
    flow = make_flow(tmp_path, fake_api, clock)
    book_until_confirm(flow)
    flow.confirm_booking(clock.now())
    ref = flow.state.order.reference  # type: ignore[union-attr]
    flow.home()
    fake_api.online = online
    flow.open_lookup()
    for ch in ref.replace("-", "").lower():
        flow.key(ch)
    flow.submit_lookup()
    if online:
        assert flow.state.lookup_result is not None and flow.state.lookup_result.reference == ref
    else:
        assert flow.state.notice is not None and flow.state.notice.key == "lookup.offline"


def test_flow_imports_no_qt_or_http() -> None:
    import subprocess
    import sys

    code = ("import sys, kiosk_app.flow, kiosk_app.i18n, kiosk_app.theme, kiosk_app.scan;"
            "print([m for m in ('PySide6', 'requests') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


_ = dt


def test_a_booking_whose_resident_walked_away_is_still_delivered(
    tmp_path: Path, fake_api: FakeKioskApi, clock: MovableClock,
) -> None:
    runner = ManualRunner()
    flow = booked_flow(tmp_path, fake_api, clock, runner)
    fake_api.online = False
    flow.reset()  # idle reset while the booking was on its way
    runner.run_all()  # it failed (offline); the answer is dropped with the session
    assert flow.outbox.count(ORDERS_TOPIC) == 1 and flow.state.pending is None
    fake_api.online = True
    flow.tick(clock.advance(31))
    runner.run_all()
    assert flow.outbox.count(ORDERS_TOPIC) == 0 and len(fake_api.orders) == 1


def test_only_a_definite_refusal_drops_a_booking(
    tmp_path: Path, fake_api: FakeKioskApi, clock: MovableClock,
) -> None:
    from kiosk_app.api import Rejected
    from kiosk_app.flow import refused_for_good

    assert refused_for_good(Rejected(409, "slot full")) and refused_for_good(Rejected(422, "bad"))
    assert not refused_for_good(Rejected(401, "revoked")) and not refused_for_good(RuntimeError("bug"))
    flow = make_flow(tmp_path, fake_api, clock)
    book_until_confirm(flow)
    fake_api.fail_with = Rejected(403, "device key revoked")
    flow.confirm_booking(clock.now())
    assert flow.outbox.count(ORDERS_TOPIC) == 1 and flow.state.pending is not None
    flow.tick(clock.advance(31))
    assert flow.outbox.count(ORDERS_TOPIC) == 1  # still refused: still kept
    fake_api.fail_with = None
    flow.tick(clock.advance(31))
    assert flow.outbox.count(ORDERS_TOPIC) == 0 and len(fake_api.orders) == 1
