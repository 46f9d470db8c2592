"""The kiosk's screens and what each touch does: a plain state machine with no Qt and no HTTP.

``KioskFlow`` holds one resident's session in :class:`KioskState`, turns touches into state
changes and blocking work handed to a :class:`~kiosk_app.jobs.Runner`, and notifies listeners
(the Qt window) after each change. Time is passed in (``tick(now)``). A reset bumps a
generation counter, so an answer that arrives after the resident left is dropped unseen.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import re
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from pydantic import ValidationError

from kiosk_app import qr
from kiosk_app.api import ApiUnavailable, CatalogueResult, KioskApi, LockedOut, NotFound, Rejected
from kiosk_app.jobs import Runner
from kiosk_app.paging import PageOf, page_count, page_holding, page_of
from kiosk_app.scan import REFERENCE_ALPHABET, ScanKind, parse_scan
from kiosk_app.store import CachedCatalogue, CaseMemory, CatalogueStore
from kiosk_app.theme import Theme, theme_for
from schedules.protocol.kiosk import (
    PHONE_PATTERN,
    CaseEvent,
    CaseLookup,
    CaseStatus,
    OfflineOrderClaims,
    OrderCreate,
    OrderState,
    OrderView,
    ServiceAddress,
    ServiceCatalogue,
    ServiceCategory,
    ServiceOffer,
    TimeSlot,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
ORDERS_TOPIC = "kiosk.orders"
LOCAL_ALPHABET = REFERENCE_ALPHABET  # local references read like the server's


class Screen(StrEnum):
    ATTRACT = "attract"
    HOME = "home"
    CATEGORY = "category"
    DETAIL = "detail"
    SLOT = "slot"
    ADDRESS = "address"
    PHONE = "phone"
    CONFIRM = "confirm"
    ORDER = "order"
    PAY = "pay"
    RECEIPT = "receipt"
    CASE_INPUT = "case_input"
    CASE_RESULT = "case_result"
    ORDERS = "orders"
    LOOKUP = "lookup"
    MAINT_PIN = "maint_pin"
    MAINTENANCE = "maintenance"


# Pages that show or collect what a resident typed or was told (address, phone, references, case data,
# payment QR codes, the operator's PIN): screenshots blank them, heartbeats name them only.
PRIVATE_SCREENS = frozenset({
    Screen.ADDRESS, Screen.PHONE, Screen.CONFIRM, Screen.ORDER, Screen.PAY, Screen.RECEIPT,
    Screen.CASE_INPUT, Screen.CASE_RESULT, Screen.ORDERS, Screen.LOOKUP, Screen.MAINT_PIN,
    Screen.MAINTENANCE,
})  # the home address (ADDRESS) and a resident's orders (ORDERS) came with main's i14


def in_session(state: KioskState) -> bool:
    """A resident is mid-flow: anything but the attract loop (what an emergency must not lose)."""
    return state.screen is not Screen.ATTRACT


class CaseField(StrEnum):
    NUMBER = "number"
    LAST4 = "last4"


class AddressField(StrEnum):
    """The parts of a home address the keypad fills: building and room needed, unit if there is one."""

    BUILDING = "building"
    UNIT = "unit"
    ROOM = "room"


# Digits only (a large 0-9 pad); lengths of real building, unit and room numbers.
ADDRESS_LIMITS = {AddressField.BUILDING: 4, AddressField.UNIT: 2, AddressField.ROOM: 5}


@dataclass(frozen=True)
class Notice:
    """A message for the resident: a translation key and its values (never raw text)."""

    key: str
    values: tuple[tuple[str, Any], ...] = ()

    def kwargs(self) -> dict[str, Any]:
        return dict(self.values)


@dataclass
class PendingBooking:
    """A booking the kiosk has written to its outbox; ``offline_pay_url`` set when signed offline."""

    order: OrderCreate
    amount_minor: int
    offline_pay_url: str | None = None
    offline_expires_at: dt.datetime | None = None


class OutboxLike(Protocol):
    def put(self, topic: str, key: str, payload: bytes, now: dt.datetime | None = None) -> bool: ...
    def pending(self, topic: str, limit: int = 500) -> list[Any]: ...
    def ack(self, topic: str, keys: Any) -> None: ...
    def record_attempt(self, topic: str, keys: Any) -> None: ...
    def count(self, topic: str | None = None) -> int: ...


class OfflineSigner(Protocol):
    def pay_url(self, claims: OfflineOrderClaims) -> str:
        """The phone's pay URL carrying ``claims`` signed with the kiosk's device key."""


class PinCheck(Protocol):
    def verify(self, pin: str, now: dt.datetime) -> bool | None:
        """True/False for right/wrong; None while locked out after too many wrong PINs."""


@dataclass(frozen=True)
class FlowSettings:
    idle_seconds: int = 60
    warning_seconds: int = 15
    pay_idle_seconds: int = 240  # the resident is busy on their phone
    poll_seconds: float = 2.5
    sync_seconds: float = 30.0
    offline_sync_seconds: float = 10.0
    catalogue_seconds: float = 300.0
    expiry_grace_seconds: int = 20
    offline_token_minutes: int = 30
    kiosk_id: str = "unpaired"


@dataclass
class KioskState:
    screen: Screen = Screen.ATTRACT
    history: list[Screen] = field(default_factory=list)
    online: bool = True
    catalogue: ServiceCatalogue | None = None
    catalogue_as_of: dt.datetime | None = None
    busy: bool = False  # waiting for the server on the resident's behalf
    catalogue_loading: bool = False
    notice: Notice | None = None
    large_text: bool = False
    idle_seconds_left: int | None = None  # set while the idle warning shows
    # The page each list screen shows. Replaced, never changed in place (so are the lists below):
    # the window compares a copy of the state with the last one it drew.
    list_pages: dict[Screen, int] = field(default_factory=dict)
    # -- personal data: everything below is wiped by reset() --
    category_id: str | None = None
    service_id: str | None = None
    slot_id: str | None = None
    phone: str = ""
    building: str = ""  # digits as typed; sent as "3号楼", "2单元", "1203" (ServiceAddress)
    unit: str = ""
    room: str = ""
    address_field: AddressField = AddressField.BUILDING
    pending: PendingBooking | None = None
    order: OrderView | None = None
    pay_seconds_left: int | None = None
    confirming_cancel: bool = False  # the pay screen asks "cancel this order?" before it does
    my_orders: list[OrderView] = field(default_factory=list)  # this visit's orders, newest first
    case_number: str = ""
    id_last4: str = ""
    case_field: CaseField = CaseField.NUMBER
    case_status: CaseStatus | None = None
    case_seen_at: dt.datetime | None = None  # set when shown from this kiosk's offline memory
    lookup_reference: str = ""
    lookup_result: OrderView | None = None
    pin: str = ""


class KioskFlow:
    """One kiosk's interaction logic; see the module docstring."""

    def __init__(
        self,
        api: KioskApi,
        runner: Runner,
        outbox: OutboxLike,
        catalogue_store: CatalogueStore,
        case_memory: CaseMemory,
        signer: OfflineSigner | None,
        pin_check: PinCheck | None,
        now: dt.datetime,
        settings: FlowSettings | None = None,
    ) -> None:
        self.api, self.runner, self.outbox = api, runner, outbox
        self.catalogue_store, self.case_memory = catalogue_store, case_memory
        self.signer, self.pin_check = signer, pin_check
        self.settings = settings or FlowSettings()
        self.state = KioskState()
        self._listeners: list[Callable[[KioskState], None]] = []
        self._generation = 0
        self._session = secrets.token_urlsafe(12)  # told to the server with case look-ups
        self._calls = itertools.count(1)  # every server call, numbered as it is sent
        self._answering: int | None = None  # the call whose answer is being handled
        self._heard_from = 0  # the latest-sent call whose answer set ``state.online``
        self._last_touch = now
        self._next_poll: dt.datetime | None = None
        self._poll_in_flight = False
        self._next_sync = now
        self._sync_in_flight = False
        self._next_catalogue = now
        self._in_flight_keys: set[str] = set()
        self._catalogue_waiters: list[Callable[[bool], None]] = []  # told when the refresh in flight ends
        self._now = now
        self.delivered: list[OrderView] = []  # orders the background sync handed over this run
        self.images_version = 0  # bumped when new service images reached the cache
        cached = catalogue_store.load()
        if cached is not None:
            self.state.catalogue, self.state.catalogue_as_of = cached.catalogue, cached.fetched_at
            self._etag: str | None = cached.etag
        else:
            self._etag = None

    # -- plumbing ----------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[KioskState], None]) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener(self.state)

    def _go(self, screen: Screen, remember: bool = True) -> None:
        """Show ``screen`` from its first page (going back returns to the page that was shown)."""
        s = self.state
        if remember and s.screen is not screen:
            s.history.append(s.screen)
        if s.screen is not screen:
            s.list_pages = {**s.list_pages, screen: 0}
        s.screen = screen
        s.notice = None
        s.confirming_cancel = False

    def _submit(self, job: Callable[[], T], done: Callable[[T], None],
                failed: Callable[[Exception], None]) -> None:
        """Run ``job`` for this session; drop its answer if the session was reset meanwhile."""
        generation = self._generation

        def on_done(result: T) -> None:
            if generation == self._generation:
                done(result)
                self._changed()

        def on_failed(exc: Exception) -> None:
            if generation == self._generation:
                failed(exc)
                self._changed()

        self._call(job, on_done, on_failed)

    def _call(self, job: Callable[[], T], done: Callable[[T], None],
              failed: Callable[[Exception], None]) -> None:
        """Run ``job`` on the runner, its answer handled knowing when it was sent (``_set_online``)."""
        number = next(self._calls)

        def answered(handle: Callable[[], None]) -> None:
            outer, self._answering = self._answering, number
            try:
                handle()
            finally:
                self._answering = outer

        self.runner.submit(job, lambda result: answered(lambda: done(result)),
                           lambda exc: answered(lambda: failed(exc)))

    def _set_online(self, reachable: bool) -> None:
        """Say whether the server answers. Answers land out of order (a refresh sent just before
        the network dropped can finish after a booking that failed), so only an answer to a call
        sent later than the last one heard from may change it."""
        if self._answering is None:
            self.state.online = reachable
        elif self._answering >= self._heard_from:
            self._heard_from = self._answering
            self.state.online = reachable

    def touched(self, now: dt.datetime) -> None:
        """Any touch: restart the idle clock and hide the idle warning."""
        self._last_touch = now
        self._now = now
        if self.state.idle_seconds_left is not None:
            self.state.idle_seconds_left = None
            self._changed()

    # -- lookups over the catalogue ---------------------------------------------------------

    @property
    def category(self) -> ServiceCategory | None:
        cat = self.state.catalogue
        if cat is None:
            return None
        return next((c for c in cat.categories if c.id == self.state.category_id), None)

    @property
    def service(self) -> ServiceOffer | None:
        cat = self.state.catalogue
        if cat is None:
            return None
        return next((s for s in cat.services if s.id == self.state.service_id), None)

    @property
    def slot(self) -> TimeSlot | None:
        service = self.service
        if service is None:
            return None
        return next((s for s in service.slots if s.id == self.state.slot_id), None)

    def services_in_category(self) -> list[ServiceOffer]:
        cat = self.state.catalogue
        if cat is None:
            return []
        return [s for s in cat.services if s.category_id == self.state.category_id]

    def appointment(self, view: OrderView) -> tuple[dt.datetime, dt.datetime] | None:
        """When the booked service happens: the server's word, else the slot in the catalogue."""
        if view.appointment_start is not None and view.appointment_end is not None:
            return view.appointment_start, view.appointment_end
        cat = self.state.catalogue
        slots = (slot for s in cat.services if s.id == view.service_id for slot in s.slots) if cat else ()
        slot = next((slot for slot in slots if slot.id == view.slot_id), None)
        return (slot.start, slot.end) if slot is not None else None

    # -- pages of the list screens ----------------------------------------------------------

    @property
    def theme(self) -> Theme:
        return theme_for(self.state.large_text)

    def category_page(self) -> PageOf[ServiceCategory]:
        cat = self.state.catalogue
        return self._page(Screen.HOME, cat.categories if cat else (), self.theme.grid_size)

    def service_page(self) -> PageOf[ServiceOffer]:
        return self._page(Screen.CATEGORY, self.services_in_category(), self.theme.service_rows)

    def slot_page(self) -> PageOf[TimeSlot]:
        service = self.service
        return self._page(Screen.SLOT, service.slots if service else (), self.theme.slot_rows)

    def order_page(self) -> PageOf[OrderView]:
        return self._page(Screen.ORDERS, self.state.my_orders, self.theme.order_rows)

    def event_page(self) -> PageOf[CaseEvent]:
        """The case's timeline newest first: the current step leads the first page."""
        status = self.state.case_status
        events = tuple(reversed(status.timeline)) if status else ()
        return self._page(Screen.CASE_RESULT, events, self.theme.event_rows)

    def _page(self, screen: Screen, items: Sequence[T], per_page: int) -> PageOf[T]:
        return page_of(items, self.state.list_pages.get(screen, 0), per_page)

    def current_page(self) -> PageOf[Any] | None:
        """The page the current screen shows, if it is a list screen."""
        pages: dict[Screen, Callable[[], PageOf[Any]]] = {
            Screen.HOME: self.category_page, Screen.CATEGORY: self.service_page, Screen.SLOT: self.slot_page,
            Screen.ORDERS: self.order_page, Screen.CASE_RESULT: self.event_page,
        }
        make = pages.get(self.state.screen)
        return make() if make is not None else None

    def next_page(self) -> None:
        self._turn(+1)

    def previous_page(self) -> None:
        self._turn(-1)

    def _turn(self, step: int) -> None:
        listing = self.current_page()
        if listing is None:
            return
        number = min(max(0, listing.number + step), page_count(listing.total, listing.per_page) - 1)
        if number != listing.number:
            s = self.state
            s.list_pages = {**s.list_pages, s.screen: number}
            s.notice = None
            self._changed()

    # -- navigation ---------------------------------------------------------------------------

    def start(self) -> None:
        """The resident touched the attract loop."""
        self._go(Screen.HOME, remember=False)
        self.state.history.clear()
        self.refresh_catalogue()
        self._changed()

    def back(self) -> None:
        if self.state.screen is Screen.PAY:
            return self.keep_order()
        if self.state.screen in (Screen.ORDER, Screen.RECEIPT):
            return self.home()  # a booking is never re-submitted by going back
        if self.state.history:
            self.state.screen = self.state.history.pop()
            self.state.notice = None
        else:
            self.state.screen = Screen.HOME
        self._changed()

    def home(self) -> None:
        """Back to the home tiles, forgetting this resident's inputs but not the language.

        This visit's orders stay in "my orders" (an unpaid one can still be paid) until the
        privacy reset. Leaving the pay screen this way keeps the order (``keep_order``).
        """
        if self.state.screen is Screen.PAY and self.state.order is not None:
            return self.keep_order()
        self._home()
        self._changed()

    def _home(self) -> None:
        self._clear_personal(keep_orders=True)
        self.state.history.clear()
        self._go(Screen.HOME, remember=False)

    def open_category(self, category_id: str) -> None:
        self.state.category_id = category_id
        self._go(Screen.CATEGORY)
        self._changed()

    def open_service(self, service_id: str) -> None:
        self.state.service_id = service_id
        self._go(Screen.DETAIL)
        self._changed()

    def book(self) -> None:
        self._go(Screen.SLOT)
        self._changed()

    def pick_slot(self, slot_id: str) -> None:
        service = self.service
        slot = next((s for s in service.slots if s.id == slot_id), None) if service else None
        if slot is None or slot.remaining <= 0:
            self.state.notice = Notice("slot.full")
        else:
            self.state.slot_id = slot_id
            self.state.address_field = self._first_missing() or AddressField.BUILDING
            self._go(Screen.ADDRESS)
        self._changed()

    def toggle_large_text(self) -> None:
        """Switch text size; a list stays on the page that holds the first item the resident saw."""
        s = self.state
        listing = self.current_page()
        s.large_text = not s.large_text
        after = self.current_page()
        if listing is not None and after is not None:
            s.list_pages = {**s.list_pages, s.screen: page_holding(listing.first_index, after.per_page)}
        self._changed()

    # -- keypad ---------------------------------------------------------------------------------

    def key(self, char: str) -> None:
        """One keypad (or keyboard) character into the field the current screen edits."""
        s = self.state
        char = char.upper()
        if s.screen is Screen.PHONE and char.isdigit() and len(s.phone) < 11:
            s.phone += char
        elif s.screen is Screen.ADDRESS and char.isdigit():
            which = s.address_field
            value = getattr(s, which.value)
            if len(value) >= ADDRESS_LIMITS[which]:
                return
            setattr(s, which.value, value + char)
        elif s.screen is Screen.CASE_INPUT:
            if s.case_field is CaseField.NUMBER and len(s.case_number) < 32 and _case_char(char):
                s.case_number += char
            elif s.case_field is CaseField.LAST4 and len(s.id_last4) < 4 and (
                    char.isdigit() or (char == "X" and len(s.id_last4) == 3)):
                s.id_last4 += char
        elif s.screen is Screen.LOOKUP and len(s.lookup_reference) < 12 and (
                char in LOCAL_ALPHABET or char == "-" or char.isdigit()):
            s.lookup_reference += char
        elif s.screen is Screen.MAINT_PIN and char.isdigit() and len(s.pin) < 12:
            s.pin += char
        else:
            return
        s.notice = None
        self._changed()

    def delete(self) -> None:
        s = self.state
        if s.screen is Screen.PHONE:
            s.phone = s.phone[:-1]
        elif s.screen is Screen.ADDRESS:
            setattr(s, s.address_field.value, getattr(s, s.address_field.value)[:-1])
        elif s.screen is Screen.CASE_INPUT and s.case_field is CaseField.NUMBER:
            s.case_number = s.case_number[:-1]
        elif s.screen is Screen.CASE_INPUT:
            s.id_last4 = s.id_last4[:-1]
        elif s.screen is Screen.LOOKUP:
            s.lookup_reference = s.lookup_reference[:-1]
        elif s.screen is Screen.MAINT_PIN:
            s.pin = s.pin[:-1]
        self._changed()

    def clear_field(self) -> None:
        s = self.state
        if s.screen is Screen.PHONE:
            s.phone = ""
        elif s.screen is Screen.ADDRESS:
            setattr(s, s.address_field.value, "")
        elif s.screen is Screen.CASE_INPUT and s.case_field is CaseField.NUMBER:
            s.case_number = ""
        elif s.screen is Screen.CASE_INPUT:
            s.id_last4 = ""
        elif s.screen is Screen.LOOKUP:
            s.lookup_reference = ""
        elif s.screen is Screen.MAINT_PIN:
            s.pin = ""
        self._changed()

    # -- booking --------------------------------------------------------------------------------

    @property
    def address_required(self) -> bool:
        """A service at the resident's home cannot be booked without building and room."""
        service = self.service
        return service is None or service.at_home

    def select_address_field(self, which: AddressField) -> None:
        self.state.address_field = which
        self._changed()

    def _first_missing(self) -> AddressField | None:
        s = self.state
        if not s.building:
            return AddressField.BUILDING
        return AddressField.ROOM if not s.room else None

    def address(self) -> ServiceAddress | None:
        """What the resident typed, as the order carries it; None when nothing was typed."""
        s = self.state
        if not s.building or not s.room:
            return None
        return ServiceAddress(building=f"{s.building}号楼", unit=f"{s.unit}单元" if s.unit else "",
                              room=s.room)

    def address_next(self) -> None:
        """On to the phone number once building and room are there (or nothing, when not at home)."""
        s = self.state
        nothing = not (s.building or s.unit or s.room)
        missing = self._first_missing()
        if missing is None or (nothing and not self.address_required):
            self._go(Screen.PHONE)
        else:
            s.address_field = missing
            s.notice = Notice("address.missing_building" if missing is AddressField.BUILDING
                              else "address.missing_room")
        self._changed()

    def skip_address(self) -> None:
        """No address for a service at the provider's place; refused for a home service."""
        s = self.state
        if self.address_required:
            s.notice = Notice("address.required")
        else:
            s.building = s.unit = s.room = ""
            self._go(Screen.PHONE)
        self._changed()

    def phone_next(self) -> None:
        if re.fullmatch(PHONE_PATTERN, self.state.phone):
            self._go(Screen.CONFIRM)
        else:
            self.state.notice = Notice("phone.invalid")
        self._changed()

    def confirm_booking(self, now: dt.datetime) -> None:
        """Write the booking to the durable outbox first, then try to hand it to the server."""
        self._now = now
        s, service = self.state, self.service
        if service is None or s.slot_id is None or s.busy:
            return
        key = uuid.uuid4()
        try:
            order = OrderCreate(idempotency_key=key, service_id=service.id, slot_id=s.slot_id,
                                phone=s.phone, local_reference=local_reference(key), address=self.address())
        except ValidationError:
            s.notice = Notice("phone.invalid")
            self._changed()
            return
        self.outbox.put(ORDERS_TOPIC, str(key), order.model_dump_json().encode(), now=now)
        s.pending = PendingBooking(order, service.price_minor)
        s.busy = True
        self._go(Screen.ORDER)
        self.state.history.clear()
        self._in_flight_keys.add(str(key))
        self._submit(lambda: _with_qr(self.api.create_order(order)),
                     lambda view: self._on_order_created(order, view),
                     lambda exc: self._on_order_failed(order, exc, now))
        self._changed()

    def _on_order_created(self, order: OrderCreate, view: OrderView) -> None:
        self._in_flight_keys.discard(str(order.idempotency_key))
        self.outbox.ack(ORDERS_TOPIC, [str(order.idempotency_key)])
        self.state.busy = False
        self._set_online(True)
        self._show_order(view)

    def _on_order_failed(self, order: OrderCreate, exc: Exception, now: dt.datetime) -> None:
        key = str(order.idempotency_key)
        self._in_flight_keys.discard(key)
        self.state.busy = False
        pending = self.state.pending
        if not refused_for_good(exc):  # offline, revoked key, a bug: keep it, say so, deliver later
            if not isinstance(exc, ApiUnavailable):
                log.error("booking %s kept in the outbox after an unexpected failure: %r", key, exc)
            self._set_online(False)
            self.outbox.record_attempt(ORDERS_TOPIC, [key])
            if pending is not None and pending.amount_minor > 0 and self.signer is not None:
                expires = now + dt.timedelta(minutes=self.settings.offline_token_minutes)
                claims = OfflineOrderClaims(
                    kiosk_id=self.settings.kiosk_id, idempotency_key=order.idempotency_key,
                    service_id=order.service_id, slot_id=order.slot_id, phone=order.phone,
                    amount_minor=pending.amount_minor, issued_at=now, expires_at=expires,
                    nonce=secrets.token_hex(12), address=order.address)
                pending.offline_pay_url = self.signer.pay_url(claims)
                pending.offline_expires_at = expires
                self._go(Screen.PAY, remember=False)
                self._tick_payment(now)
            self.state.notice = Notice("order.saved_offline")
            return
        # The server refused for good (slot taken meanwhile, bad data): do not retry forever.
        log.warning("order %s refused by the server: %s", key, exc)
        self.outbox.ack(ORDERS_TOPIC, [key])
        self.state.pending = None
        self.state.notice = Notice("slot.full" if isinstance(exc, Rejected) else "common.error")

    def _show_order(self, view: OrderView) -> None:
        self.state.order = view
        self._remember(view)
        if view.state is OrderState.AWAITING_PAYMENT and view.payment is not None:
            self._go(Screen.PAY, remember=False)
            self._next_poll = None
            self.state.pay_seconds_left = max(0, int((view.payment.expires_at - self._now).total_seconds()))
        elif view.state in (OrderState.PAID, OrderState.FULFILLED) and view.amount_minor > 0:
            self._go(Screen.RECEIPT, remember=False)
        else:
            self._go(Screen.ORDER, remember=False)
            if view.state is OrderState.EXPIRED:
                self.state.notice = Notice("pay.expired")
            elif view.state is OrderState.CANCELLED:
                self.state.notice = Notice("pay.cancelled")

    def _remember(self, view: OrderView) -> None:
        """Put ``view`` first in this visit's "my orders" (replacing an older view of it)."""
        s = self.state
        s.my_orders = [view, *(o for o in s.my_orders if o.id != view.id)]

    def ask_cancel(self) -> None:
        """The cancel button only asks: one tap must not throw away an order."""
        if self.state.screen is Screen.PAY and self.state.order is not None:
            self.state.confirming_cancel = True
            self._changed()

    def keep_paying(self) -> None:
        """The resident said no to "cancel this order?": back to the payment code."""
        self.state.confirming_cancel = False
        self._changed()

    def cancel_payment(self) -> None:
        """Cancel the order, once the resident confirmed it (``ask_cancel``)."""
        order = self.state.order
        if order is None:
            return self.home()
        if not self.state.confirming_cancel:
            return self.ask_cancel()
        self.state.confirming_cancel = False
        self.state.busy = True
        self._submit(lambda: self.api.cancel_order(order.id), self._on_cancelled, self._on_cancel_failed)
        self._changed()

    def _on_cancelled(self, view: OrderView) -> None:
        self.state.busy = False
        self._on_polled(view)

    def _on_cancel_failed(self, exc: Exception) -> None:
        self.state.busy = False
        self._on_poll_failed(exc)
        self.state.notice = Notice("pay.cancel_failed")

    def keep_order(self) -> None:
        """Leave the pay screen with the order kept: payable later from "my orders"."""
        order = self.state.order
        self._home()
        if order is not None:
            self.state.notice = Notice("order.kept", (("reference", order.reference),))
        self._changed()

    def open_my_orders(self) -> None:
        """This visit's orders with their state (refreshed); with none yet, the look-up by number."""
        if not self.state.my_orders:
            return self.open_lookup()
        self._go(Screen.ORDERS)
        ids = [o.id for o in self.state.my_orders]
        self._submit(lambda: _fetch_orders(self.api, ids), self._on_orders_refreshed,
                     lambda exc: self._set_online(not isinstance(exc, ApiUnavailable)))
        self._changed()

    def _on_orders_refreshed(self, views: list[OrderView]) -> None:
        self._set_online(True)
        fresh = {v.id: v for v in views}
        self.state.my_orders = [fresh.get(o.id, o) for o in self.state.my_orders]

    def resume_payment(self, order_id: str) -> None:
        """Pay an order kept earlier: fetch it (the code may have expired) and show what is due."""
        s = self.state
        if s.busy:
            return
        s.busy = True
        s.notice = None
        self._submit(lambda: _with_qr(self.api.get_order(order_id)), self._on_resumed, self._on_resume_failed)
        self._changed()

    def _on_resumed(self, view: OrderView) -> None:
        self.state.busy = False
        self._set_online(True)
        self.state.history.clear()
        self._show_order(view)

    def _on_resume_failed(self, exc: Exception) -> None:
        self.state.busy = False
        if isinstance(exc, ApiUnavailable):
            self._set_online(False)
            self.state.notice = Notice("lookup.offline")
        else:
            log.warning("resuming order failed: %s", exc)
            self.state.notice = Notice("lookup.not_found")

    def _on_polled(self, view: OrderView) -> None:
        self._poll_in_flight = False
        self._set_online(True)
        if self.state.order is None or view.id != self.state.order.id:
            return
        previous = self.state.order.state
        self.state.order = view
        self._remember(view)
        if view.state is not previous or self.state.screen is not Screen.PAY:
            self._show_order(view)

    def _on_poll_failed(self, exc: Exception) -> None:
        self._poll_in_flight = False
        if isinstance(exc, ApiUnavailable):
            self._set_online(False)
        else:
            log.warning("payment poll failed: %s", exc)

    # -- my order ---------------------------------------------------------------------------------

    def open_lookup(self) -> None:
        self.state.lookup_reference = ""
        self.state.lookup_result = None
        self._go(Screen.LOOKUP)
        self._changed()

    def submit_lookup(self) -> None:
        ref = self.state.lookup_reference.strip()
        if len(ref.replace("-", "")) < 6:
            self.state.notice = Notice("lookup.not_found")
            return self._changed()
        if "-" not in ref and len(ref) == 6:
            ref = f"{ref[:3]}-{ref[3:]}"
        self.state.busy = True
        self._submit(lambda: self.api.order_by_reference(ref), self._on_lookup_done, self._on_lookup_failed)
        self._changed()

    def _on_lookup_done(self, view: OrderView) -> None:
        self.state.busy = False
        self._set_online(True)
        self.state.lookup_result = view
        self._remember(view)

    def _on_lookup_failed(self, exc: Exception) -> None:
        self.state.busy = False
        self.state.lookup_result = None
        if isinstance(exc, ApiUnavailable):
            self._set_online(False)
            self.state.notice = Notice("lookup.offline")
        else:
            self.state.notice = Notice("lookup.not_found")

    # -- government-affairs progress ------------------------------------------------------------

    def open_cases(self) -> None:
        self._go(Screen.CASE_INPUT)
        self.state.case_field = CaseField.NUMBER
        self._changed()

    def select_case_field(self, which: CaseField) -> None:
        self.state.case_field = which
        self._changed()

    def scanned(self, text: str) -> None:
        """A USB scanner typed a receipt's QR: a case number (then ask for the ID digits) or an order.

        Text that is neither (a damaged code, a burst that arrived in parts and does not parse
        whole) asks for another scan: nothing is looked up, so nothing counts towards the lockout,
        and what the scanner typed into the field is cleared rather than left to be submitted.
        """
        code = parse_scan(text)
        s = self.state
        if code is None:
            if s.screen not in (Screen.CASE_INPUT, Screen.LOOKUP):
                self._go(Screen.CASE_INPUT)  # where the resident sees the request to scan again
            if s.screen is Screen.CASE_INPUT:
                s.case_number, s.id_last4, s.case_field = "", "", CaseField.NUMBER
            elif s.screen is Screen.LOOKUP:
                s.lookup_reference = ""
            s.notice = Notice("scan.retry")
        elif code.kind is ScanKind.ORDER:
            if s.screen is not Screen.LOOKUP:
                self._go(Screen.LOOKUP)
            s.lookup_reference = code.value
            self.submit_lookup()
            return
        else:
            if s.screen is not Screen.CASE_INPUT:
                self._go(Screen.CASE_INPUT)
            s.case_number, s.id_last4 = code.value, ""
            s.case_field = CaseField.LAST4
            s.notice = None
        self._changed()

    def submit_case(self, now: dt.datetime) -> None:
        s = self.state
        try:
            lookup = CaseLookup(case_number=s.case_number, id_last4=s.id_last4, session=self._session)
        except ValidationError:
            s.notice = Notice("case.invalid")
            return self._changed()
        s.busy = True
        self._submit(lambda: self.api.lookup_case(lookup),
                     lambda status: self._on_case(lookup, status, now),
                     lambda exc: self._on_case_failed(lookup, exc, now))
        self._changed()

    def _on_case(self, lookup: CaseLookup, status: CaseStatus, now: dt.datetime) -> None:
        self.state.busy = False
        self._set_online(True)
        self.state.case_status, self.state.case_seen_at = status, None
        self.case_memory.remember(lookup.case_number, lookup.id_last4 or "", status, now)
        self._go(Screen.CASE_RESULT)

    def _on_case_failed(self, lookup: CaseLookup, exc: Exception, now: dt.datetime) -> None:
        self.state.busy = False
        if isinstance(exc, ApiUnavailable):
            self._set_online(False)
            seen = self.case_memory.recall(lookup.case_number, lookup.id_last4 or "", now)
            if seen is None:
                self.state.notice = Notice("case.offline_none")
            else:
                self.state.case_status, self.state.case_seen_at = seen.status, seen.seen_at
                self._go(Screen.CASE_RESULT)
                self.state.notice = None
        elif isinstance(exc, LockedOut):
            self.state.notice = Notice("case.locked", (("minutes", max(1, -(-exc.retry_after_s // 60))),))
        elif isinstance(exc, NotFound):
            self.state.notice = Notice("case.not_found")
        else:
            log.warning("case lookup failed: %s", exc)
            self.state.notice = Notice("common.error")

    # -- maintenance ----------------------------------------------------------------------------

    def open_maintenance_pin(self) -> None:
        if self.pin_check is None:
            log.warning("maintenance gesture ignored: no operator PIN is configured")
            return
        self.state.pin = ""
        self._go(Screen.MAINT_PIN)
        self._changed()

    def submit_pin(self, now: dt.datetime) -> None:
        ok = self.pin_check.verify(self.state.pin, now) if self.pin_check else False
        self.state.pin = ""
        if ok:
            self._go(Screen.MAINTENANCE, remember=False)
        else:
            self.state.notice = Notice("maint.pin_locked" if ok is None else "maint.pin_wrong")
        self._changed()

    # -- time -------------------------------------------------------------------------------------

    def tick(self, now: dt.datetime) -> None:
        """Called about once a second: idle reset, payment countdown and polling, background sync."""
        self._now = now
        s = self.state
        changed = False
        if s.screen is not Screen.ATTRACT:
            limit = self.settings.pay_idle_seconds if s.screen is Screen.PAY else self.settings.idle_seconds
            idle = (now - self._last_touch).total_seconds()
            if idle >= limit + self.settings.warning_seconds:
                self.reset()
                return
            left = int(limit + self.settings.warning_seconds - idle) if idle >= limit else None
            if left != s.idle_seconds_left:
                s.idle_seconds_left, changed = left, True
        if s.screen is Screen.PAY:
            changed |= self._tick_payment(now)
        if now >= self._next_sync and not self._sync_in_flight:
            self.sync_outbox(now)
        if now >= self._next_catalogue and not self.state.catalogue_loading and s.screen in (
                Screen.ATTRACT, Screen.HOME):
            self.refresh_catalogue()
        if changed:
            self._changed()

    def _tick_payment(self, now: dt.datetime) -> bool:
        s = self.state
        expires = (s.order.payment.expires_at if s.order is not None and s.order.payment is not None
                   else s.pending.offline_expires_at if s.pending is not None else None)
        left = max(0, int((expires - now).total_seconds())) if expires is not None else None
        changed = left != s.pay_seconds_left
        s.pay_seconds_left = left
        order = s.order
        if order is None:
            return changed
        if expires is not None and (now - expires).total_seconds() > self.settings.expiry_grace_seconds:
            # The server has not confirmed a payment in time: show expiry, never "paid".
            s.order = order.model_copy(update={"state": OrderState.EXPIRED})
            self._show_order(s.order)
            return True
        if not self._poll_in_flight and (self._next_poll is None or now >= self._next_poll):
            self._poll_in_flight = True
            self._next_poll = now + dt.timedelta(seconds=self.settings.poll_seconds)
            self._submit(lambda: self.api.get_order(order.id), self._on_polled, self._on_poll_failed)
        return changed

    def reset(self) -> None:
        """Back to the attract loop with every personal datum gone (privacy)."""
        self._generation += 1
        self._session = secrets.token_urlsafe(12)  # the server's per-session counter starts again
        self._clear_personal()
        qr.forget()
        self._in_flight_keys.clear()  # their answers will be dropped: the outbox sync takes them over
        s = self.state
        s.history.clear()
        s.list_pages = {}
        s.screen = Screen.ATTRACT
        s.notice = None
        s.busy = False
        s.large_text = False
        s.idle_seconds_left = None
        self._poll_in_flight = False
        self._changed()

    def _clear_personal(self, keep_orders: bool = False) -> None:
        s = self.state
        s.category_id = s.service_id = s.slot_id = None
        s.phone = ""
        s.building = s.unit = s.room = ""
        s.address_field = AddressField.BUILDING
        s.pending = None
        s.order = None
        s.pay_seconds_left = None
        s.confirming_cancel = False
        if not keep_orders:
            s.my_orders = []
        s.case_number = s.id_last4 = ""
        s.case_field = CaseField.NUMBER
        s.case_status = None
        s.case_seen_at = None
        s.lookup_reference = ""
        s.lookup_result = None
        s.pin = ""
        s.busy = False
        self._next_poll = None

    # -- background work ------------------------------------------------------------------------

    def refresh_catalogue(self, then: Callable[[bool], None] | None = None) -> None:
        """Ask the server for the catalogue (a 304 when ours is current); ``then(ok)`` once it answered."""
        if then is not None:
            self._catalogue_waiters.append(then)
        if self.state.catalogue_loading:
            return
        self.state.catalogue_loading = True
        etag = self._etag
        self._call(lambda: self.api.catalogue(etag), self._on_catalogue, self._on_catalogue_failed)

    def forget_catalogue(self) -> None:
        """Drop the cached catalogue's files and ETag (an operator's "clear the cache"); the next
        refresh fetches it and its images whole. What a resident is looking at stays meanwhile."""
        self.catalogue_store.clear()
        self._etag = None
        self.images_version += 1

    def _tell_catalogue_waiters(self, ok: bool) -> None:
        waiters, self._catalogue_waiters = self._catalogue_waiters, []
        for then in waiters:
            then(ok)

    def _on_catalogue(self, result: CatalogueResult) -> None:
        self.state.catalogue_loading = False
        self._next_catalogue = self._now + dt.timedelta(seconds=self.settings.catalogue_seconds)
        self._set_online(True)
        fetched = result.catalogue or self.state.catalogue
        if fetched is not None:
            self._etag = result.etag
            self.state.catalogue, self.state.catalogue_as_of = fetched, self._now
            self.catalogue_store.save(CachedCatalogue(fetched, result.etag, self._now))
            if result.catalogue is not None:
                self.runner.submit(lambda: download_images(self.api, self.catalogue_store, fetched),
                                   self._on_images, lambda exc: log.warning("image download failed: %s", exc))
        self._changed()
        self._tell_catalogue_waiters(True)

    def _on_images(self, count: int) -> None:
        if count:
            self.images_version += 1
            self._changed()

    def _on_catalogue_failed(self, exc: Exception) -> None:
        self.state.catalogue_loading = False
        self._next_catalogue = self._now + dt.timedelta(seconds=self.settings.offline_sync_seconds)
        if isinstance(exc, ApiUnavailable):
            self._set_online(False)
        else:
            log.warning("catalogue refresh failed: %s", exc)
        self._changed()
        self._tell_catalogue_waiters(False)

    def sync_outbox(self, now: dt.datetime) -> None:
        """Deliver bookings written while offline (or before a restart), each exactly once."""
        if self.outbox.count(ORDERS_TOPIC) == 0:
            self._next_sync = now + dt.timedelta(seconds=self.settings.sync_seconds)
            return
        self._sync_in_flight = True
        skip = set(self._in_flight_keys)
        self._call(lambda: deliver_orders(self.api, self.outbox, skip),
                           self._on_synced, self._on_sync_failed)

    def _on_synced(self, result: tuple[list[OrderView], bool | None]) -> None:
        delivered, reachable = result
        self._sync_in_flight = False
        if reachable is not None:
            self._set_online(reachable)
        wait = self.settings.sync_seconds if self.state.online else self.settings.offline_sync_seconds
        self._next_sync = self._now + dt.timedelta(seconds=wait)
        self.delivered.extend(delivered)
        pending = self.state.pending
        for view in delivered:
            if pending is not None and view.local_reference == pending.order.local_reference:
                self._show_order(view)  # the resident is still here: show the server's answer
        self._changed()

    def _on_sync_failed(self, exc: Exception) -> None:
        self._sync_in_flight = False
        self._next_sync = self._now + dt.timedelta(seconds=self.settings.offline_sync_seconds)
        log.error("outbox delivery failed: %s", exc)


def deliver_orders(
    api: KioskApi, outbox: OutboxLike, skip: set[str]
) -> tuple[list[OrderView], bool | None]:
    """Send queued bookings oldest first; ack each the server accepted. Runs on a worker thread.

    Returns the orders delivered and whether the server was reachable (None when nothing was
    sent, e.g. the only booking queued is still in flight: that says nothing about the network).
    The server's idempotency key makes a repeat after a crash between send and ack harmless.
    """
    delivered: list[OrderView] = []
    sent = False
    for entry in outbox.pending(ORDERS_TOPIC, 100):
        if entry.key in skip:
            continue
        try:
            order = OrderCreate.model_validate_json(entry.payload)
        except ValidationError as exc:
            log.error("dropping an unreadable outbox entry %s: %s", entry.key, exc)
            outbox.ack(ORDERS_TOPIC, [entry.key])
            continue
        sent = True
        try:
            view = api.create_order(order)
        except (Rejected, NotFound) as exc:
            if not refused_for_good(exc):
                outbox.record_attempt(ORDERS_TOPIC, [entry.key])
                log.warning("queued booking %s not accepted now, kept: %s", entry.key, exc)
                return delivered, True
            log.error("server refused queued booking %s for good: %s", entry.key, exc)
            outbox.ack(ORDERS_TOPIC, [entry.key])
            continue
        except ApiUnavailable:
            outbox.record_attempt(ORDERS_TOPIC, [entry.key])
            return delivered, False
        outbox.ack(ORDERS_TOPIC, [entry.key])
        log.info("delivered queued booking %s as %s", entry.key, view.reference)
        delivered.append(view)
    return delivered, True if sent else None


def _with_qr(view: OrderView) -> OrderView:
    """Prepare the payment and receipt QR codes on the worker thread that fetched the order."""
    qr.warm(view.payment.qr_payload if view.payment else None)
    qr.warm(receipt_link(view))
    return view


def receipt_link(view: OrderView) -> str:
    """What the receipt's QR holds: the order's status page for a phone (the server's link), which
    the kiosk's scanner also reads (``scan.parse_scan``); ``ORDER:<reference>`` from an older server."""
    return view.status_url or f"ORDER:{view.reference}"


def _fetch_orders(api: KioskApi, ids: list[str]) -> list[OrderView]:
    """The current state of each order (worker thread); one that is gone is left out."""
    views = []
    for order_id in ids:
        try:
            views.append(api.get_order(order_id))
        except NotFound:
            continue
    return views


def download_images(api: KioskApi, store: CatalogueStore, catalogue: ServiceCatalogue) -> int:
    """Fetch service images not yet cached (worker thread); a failed image is skipped, not fatal."""
    fetched = 0
    for service in catalogue.services:
        if not service.image_url or store.image(service.id) is not None:
            continue
        try:
            store.save_image(service.id, api.fetch(service.image_url))
            fetched += 1
        except (ApiUnavailable, NotFound, Rejected) as exc:
            log.info("no image for %s: %s", service.id, exc)
    return fetched


def refused_for_good(exc: Exception) -> bool:
    """The server understood the booking and said no (slot gone, invalid): resending cannot help.

    A refused key (401/403, the kiosk was revoked) is not such an answer: the booking waits.
    """
    return isinstance(exc, NotFound) or (isinstance(exc, Rejected) and exc.status not in (401, 403))


def local_reference(key: uuid.UUID) -> str:
    """A short reference the resident can read while the server has not yet numbered the order."""
    n = key.int
    chars = []
    for _ in range(6):
        n, r = divmod(n, len(LOCAL_ALPHABET))
        chars.append(LOCAL_ALPHABET[r])
    return "L" + "".join(chars[:3]) + "-" + "".join(chars[3:])


def _case_char(char: str) -> bool:
    return len(char) == 1 and (char.isascii() and (char.isalnum() or char == "-"))
