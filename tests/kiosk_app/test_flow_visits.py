"""The flow without Qt, for what issue 14's residents ran into: lists a page at a time, the service
address, a cancel that asks first, an order kept for later, the facts after paying."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from kiosk_app.api import FakeKioskApi, text
from kiosk_app.flow import AddressField, KioskFlow, Screen, receipt_link
from kiosk_app.paging import page_count, page_of
from kiosk_app.sample import sample_catalogue
from kiosk_app.scan import ScanKind, parse_scan
from kiosk_app.theme import LARGE, NORMAL
from schedules.clock import MovableClock
from schedules.protocol.kiosk import (
    OfflineOrderClaims,
    OrderState,
    ServiceAddress,
    ServiceCatalogue,
    ServiceCategory,
    ServiceOffer,
    TimeSlot,
    split_offline_token,
)
from tests.kiosk_app.test_flow import book_until_confirm, booked_flow, make_flow


def crowded_catalogue(now: dt.datetime, categories: int = 19, services: int = 11,
                      slots: int = 23) -> ServiceCatalogue:
    """More of everything than one screen holds at either text size."""
    base = sample_catalogue(now)
    day = now + dt.timedelta(days=1)
    cats = tuple(ServiceCategory(id=f"cat{i:02d}", name=text(f"类别{i}", f"Category {i}"))
                 for i in range(categories))
    offers = tuple(
        ServiceOffer(id=f"svc{i:02d}", category_id="cat00", provider_name=text("服务站", "Station"),
                     name=text(f"服务{i}", f"Service {i}"), description=text("说明", "About"),
                     price_minor=100 * i, duration_minutes=30, at_home=i % 2 == 0,
                     slots=tuple(TimeSlot(id=f"svc{i:02d}-{k}", start=day + dt.timedelta(minutes=30 * k),
                                          end=day + dt.timedelta(minutes=30 * k + 25), capacity=3,
                                          remaining=3) for k in range(slots)))
        for i in range(services)
    )
    return base.model_copy(update={"categories": base.categories + cats, "services": base.services + offers,
                                   "version": '"crowded"'})


def test_pages_are_whole_and_clamped() -> None:
    items = list(range(10))
    pages = [page_of(items, n, 4) for n in range(page_count(len(items), 4))]
    assert [p.items for p in pages] == [(0, 1, 2, 3), (4, 5, 6, 7), (8, 9)]
    assert not pages[0].has_previous and pages[0].has_next and pages[2].has_previous and not pages[2].has_next
    assert page_of(items, 99, 4).number == 2 and page_of([], 0, 4).count == 1  # clamped; empty has page 1


def test_every_list_is_reached_a_page_at_a_time_at_both_text_sizes(tmp_path: Path, fake_api: FakeKioskApi,
                                                                   clock: MovableClock) -> None:
    fake_api.catalogue_doc = crowded_catalogue(clock.now())
    flow = make_flow(tmp_path, fake_api, clock)
    flow.start()
    for large in (False, True):
        if flow.state.large_text is not large:
            flow.toggle_large_text()
        theme = LARGE if large else NORMAL
        seen = walk_pages(flow, flow.category_page)
        assert seen == [c.id for c in fake_api.catalogue_doc.categories]  # every one, once, in order
        assert flow.category_page().per_page == theme.grid_columns * theme.grid_rows
        flow.open_category("cat00")
        assert walk_pages(flow, flow.service_page) == [f"svc{i:02d}" for i in range(11)]
        assert flow.service_page().per_page == theme.service_rows
        flow.open_service("svc03")
        flow.book()
        assert len(walk_pages(flow, flow.slot_page)) == 23 and flow.slot_page().per_page == theme.slot_rows
        flow.home()


def walk_pages(flow: KioskFlow, page: object) -> list[str]:
    """Press "previous" back to page 1, then "next" until the last page, collecting every item."""
    while page().has_previous:  # type: ignore[operator]
        flow.previous_page()
    seen = [item.id for item in page().items]  # type: ignore[operator]
    while page().has_next:  # type: ignore[operator]
        flow.next_page()
        seen += [item.id for item in page().items]  # type: ignore[operator]
    flow.next_page()  # past the end: nothing happens
    assert not page().has_next  # type: ignore[operator]
    return seen


def test_larger_text_keeps_the_first_item_seen_and_back_returns_to_the_page(
        tmp_path: Path, fake_api: FakeKioskApi, clock: MovableClock) -> None:
    fake_api.catalogue_doc = crowded_catalogue(clock.now())
    flow = make_flow(tmp_path, fake_api, clock)
    flow.start()
    flow.next_page()
    flow.next_page()  # normal text: categories 18.. on page 3
    first = flow.category_page().items[0]
    flow.toggle_large_text()
    assert first in flow.category_page().items
    flow.open_category("cat00")
    flow.next_page()
    flow.open_service("svc05")
    flow.back()
    assert flow.state.screen is Screen.CATEGORY and flow.service_page().number == 1  # where it was
    flow.back()
    flow.open_category("cat01")
    assert flow.service_page().number == 0  # another category starts at its first page


def test_a_home_service_needs_building_and_room(tmp_path: Path, fake_api: FakeKioskApi,
                                                clock: MovableClock) -> None:
    flow = make_flow(tmp_path, fake_api, clock)
    flow.start()
    flow.open_category("elderly_care")
    flow.open_service("bath")  # help with bathing: at home
    flow.book()
    flow.pick_slot("bath-0")
    assert flow.state.screen is Screen.ADDRESS and flow.address_required
    flow.skip_address()
    assert flow.state.screen is Screen.ADDRESS and flow.state.notice is not None
    assert flow.state.notice.key == "address.required"
    flow.address_next()
    assert flow.state.notice.key == "address.missing_building"
    assert flow.state.address_field is AddressField.BUILDING
    for ch in "12345":  # building numbers are at most four digits
        flow.key(ch)
    assert flow.state.building == "1234"
    flow.address_next()
    assert flow.state.notice.key == "address.missing_room"
    assert flow.state.address_field is AddressField.ROOM  # the missing field is the one being typed
    for ch in "1203":
        flow.key(ch)
    flow.delete()
    flow.key("3")
    flow.address_next()
    assert flow.state.screen is Screen.PHONE
    for ch in "13812345678":
        flow.key(ch)
    flow.phone_next()
    flow.confirm_booking(clock.now())
    pending = flow.state.pending  # the booking as the kiosk sent it
    assert pending is not None
    assert pending.order.address == ServiceAddress(building="1234号楼", unit="", room="1203")
    assert fake_api.orders["o1"].address == pending.order.address


def test_a_service_away_from_home_may_skip_the_address(tmp_path: Path, fake_api: FakeKioskApi,
                                                       clock: MovableClock) -> None:
    flow = make_flow(tmp_path, fake_api, clock)
    flow.start()
    flow.open_category("health")
    flow.open_service("bp")  # at the health station
    flow.book()
    flow.pick_slot("bp-0")
    assert flow.state.screen is Screen.ADDRESS and not flow.address_required
    flow.key("7")
    flow.skip_address()
    assert flow.state.screen is Screen.PHONE and flow.address() is None and flow.state.building == ""


def test_the_address_travels_in_an_offline_booking_too(tmp_path: Path, fake_api: FakeKioskApi,
                                                       clock: MovableClock) -> None:
    flow = make_flow(tmp_path, fake_api, clock)
    book_until_confirm(flow, service="clean", slot="clean-0", address=("12", "", "501"))
    fake_api.online = False
    flow.confirm_booking(clock.now())
    pending = flow.state.pending
    assert pending is not None and pending.offline_pay_url is not None
    _, claims, _ = split_offline_token(pending.offline_pay_url.rsplit("/", 1)[-1])
    assert isinstance(claims, OfflineOrderClaims)
    assert claims.address == ServiceAddress(building="12号楼", unit="", room="501")
    assert pending.order.address == claims.address


def test_cancel_asks_first_and_no_keeps_paying(tmp_path: Path, fake_api: FakeKioskApi,
                                               clock: MovableClock) -> None:
    flow = booked_flow(tmp_path, fake_api, clock)
    flow.ask_cancel()
    assert flow.state.screen is Screen.PAY and flow.state.confirming_cancel
    flow.tick(clock.advance(3))  # the payment is still watched while the question shows
    flow.keep_paying()
    assert flow.state.screen is Screen.PAY and not flow.state.confirming_cancel
    assert fake_api.orders["o1"].state is OrderState.AWAITING_PAYMENT
    flow.ask_cancel()
    fake_api.mark_paid("o1")  # paid on the phone while the question was on screen
    flow.tick(clock.advance(3))
    assert flow.state.screen is Screen.RECEIPT and not flow.state.confirming_cancel


def test_an_order_kept_for_later_is_paid_from_my_orders(tmp_path: Path, fake_api: FakeKioskApi,
                                                        clock: MovableClock) -> None:
    flow = booked_flow(tmp_path, fake_api, clock)
    reference = fake_api.orders["o1"].reference
    flow.keep_order()
    assert flow.state.screen is Screen.HOME and flow.state.order is None
    assert flow.state.notice is not None and flow.state.notice.key == "order.kept"
    assert dict(flow.state.notice.values)["reference"] == reference
    assert fake_api.orders["o1"].state is OrderState.AWAITING_PAYMENT  # kept, still payable
    book_until_confirm(flow, service="bp", slot="bp-0")  # a second booking on this visit (free)
    flow.confirm_booking(clock.now())
    flow.home()
    flow.open_my_orders()
    assert flow.state.screen is Screen.ORDERS
    assert [o.id for o in flow.order_page().items] == ["o2", "o1"]  # newest first
    flow.resume_payment("o1")
    assert flow.state.screen is Screen.PAY and flow.state.order is not None and flow.state.order.id == "o1"
    fake_api.mark_paid("o1")
    flow.tick(clock.advance(3))
    assert flow.state.screen is Screen.RECEIPT
    flow.home()
    flow.open_my_orders()
    assert flow.order_page().items[0].state is OrderState.PAID
    flow.reset()  # the resident left: nothing of theirs stays
    assert flow.state.my_orders == []
    flow.start()
    flow.open_my_orders()
    assert flow.state.screen is Screen.LOOKUP  # no orders on this visit: find one by its number


def test_the_pay_screens_back_and_home_keep_the_order(tmp_path: Path, fake_api: FakeKioskApi,
                                                      clock: MovableClock) -> None:
    for leave in (KioskFlow.back, KioskFlow.home):
        flow = make_flow(tmp_path / leave.__name__, fake_api, clock)
        book_until_confirm(flow)
        flow.confirm_booking(clock.now())
        leave(flow)
        assert flow.state.screen is Screen.HOME and flow.state.notice is not None
        assert flow.state.notice.key == "order.kept" and len(flow.state.my_orders) == 1
    assert all(o.state is OrderState.AWAITING_PAYMENT for o in fake_api.orders.values())


def test_after_paying_the_facts_are_the_appointment_place_and_status_link(
        tmp_path: Path, fake_api: FakeKioskApi, clock: MovableClock) -> None:
    flow = make_flow(tmp_path, fake_api, clock)
    book_until_confirm(flow, service="bath", slot="bath-0")
    flow.confirm_booking(clock.now())
    fake_api.now = clock.advance(200)  # paid minutes later: the receipt still shows the booked time
    fake_api.mark_paid("o1")
    flow.touched(clock.now())
    flow.tick(clock.now())
    order = flow.state.order
    assert flow.state.screen is Screen.RECEIPT and order is not None
    slot = fake_api.catalogue_doc.services[1].slots[0]
    assert flow.appointment(order) == (slot.start, slot.end) and order.paid_at != slot.start
    link = receipt_link(order)
    assert link == order.status_url and link.endswith(f"/{order.reference}")
    code = parse_scan(link)  # the kiosk's own scanner reads the receipt back as the order
    assert code is not None and (code.kind, code.value) == (ScanKind.ORDER, order.reference)


def test_an_older_servers_order_still_shows_its_time_and_a_scannable_code(
        tmp_path: Path, fake_api: FakeKioskApi, clock: MovableClock) -> None:
    flow = booked_flow(tmp_path, fake_api, clock)
    view = flow.state.order
    assert view is not None
    old = view.model_copy(update={"appointment_start": None, "appointment_end": None, "status_url": None})
    slot = fake_api.catalogue_doc.services[0].slots[0]
    assert flow.appointment(old) == (slot.start, slot.end)  # from the catalogue
    code = parse_scan(receipt_link(old))
    assert code is not None and code.value == old.reference


def test_reading_a_receipt_link_anywhere_finds_the_order(tmp_path: Path, fake_api: FakeKioskApi,
                                                         clock: MovableClock) -> None:
    flow = booked_flow(tmp_path, fake_api, clock)
    link = fake_api.orders["o1"].status_url
    assert link is not None
    flow.reset()
    flow.start()
    flow.scanned(link)
    result = flow.state.lookup_result
    assert flow.state.screen is Screen.LOOKUP and result is not None and result.id == "o1"
    assert [o.id for o in flow.state.my_orders] == ["o1"]

