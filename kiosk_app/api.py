"""The kiosk's view of the server: the ``KioskApi`` interface, its errors and an in-memory fake.

The real implementation is :class:`kiosk_app.http_api.HttpKioskApi` (requests). Calls block,
so the UI only ever runs them on a worker thread (see :mod:`kiosk_app.worker`). This module
imports no HTTP library, so the flow and its tests stay pure.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import uuid
from dataclasses import dataclass, field
from typing import Protocol

from kiosk_app.errors import KioskError
from kiosk_app.scan import REFERENCE_ALPHABET
from schedules.protocol.kiosk import (
    CaseLookup,
    CaseStatus,
    LocalizedText,
    OrderCreate,
    OrderState,
    OrderView,
    PaymentView,
    ServiceCatalogue,
)


class KioskApiError(KioskError):
    """A kiosk API call failed."""


class ApiUnavailable(KioskApiError):
    """The server cannot be reached (or is failing): the kiosk works offline."""


class NotFound(KioskApiError):
    """No such order/case, or a wrong answer to a case lookup (the server does not say which)."""


class LockedOut(KioskApiError):
    """Too many wrong case lookups; retry after ``retry_after_s`` seconds."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"locked out for {retry_after_s} s")
        self.retry_after_s = retry_after_s


class Rejected(KioskApiError):
    """The server understood and refused (slot full, bad input, revoked key): retrying will not help."""

    def __init__(self, status: int, detail: str = "") -> None:
        super().__init__(f"HTTP {status}: {detail[:200]}")
        self.status = status


@dataclass(frozen=True)
class CatalogueResult:
    """``catalogue`` None means the kiosk's copy (``etag``) is current."""

    catalogue: ServiceCatalogue | None
    etag: str | None


class KioskApi(Protocol):
    def catalogue(self, etag: str | None = None) -> CatalogueResult: ...
    def create_order(self, order: OrderCreate) -> OrderView: ...
    def get_order(self, order_id: str) -> OrderView: ...
    def order_by_reference(self, reference: str) -> OrderView: ...
    def cancel_order(self, order_id: str) -> OrderView: ...
    def lookup_case(self, lookup: CaseLookup) -> CaseStatus: ...
    def fetch(self, url: str) -> bytes: ...


@dataclass
class FakeKioskApi:
    """In-memory ``KioskApi`` with the server's contract (idempotent orders, same 404 for wrong answers).

    Thread-safe; ``online = False`` makes every call raise :class:`ApiUnavailable`.
    """

    catalogue_doc: ServiceCatalogue
    cases: dict[tuple[str, str], CaseStatus] = field(default_factory=dict)
    online: bool = True
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    payment_ttl: dt.timedelta = dt.timedelta(minutes=15)
    orders: dict[str, OrderView] = field(default_factory=dict)
    create_calls: int = 0
    lockout_after: int = 5
    fail_with: Exception | None = None  # every call raises it (a revoked key, a server bug)
    status_base: str = "http://pay.invalid"  # where the orders' status pages are (``OrderView.status_url``)
    _by_key: dict[uuid.UUID, str] = field(default_factory=dict)
    _failures: dict[str | None, int] = field(default_factory=dict)  # per kiosk session, as the server
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def catalogue(self, etag: str | None = None) -> CatalogueResult:
        self._check()
        if etag == self.catalogue_doc.version:
            return CatalogueResult(None, etag)
        return CatalogueResult(self.catalogue_doc, self.catalogue_doc.version)

    def create_order(self, order: OrderCreate) -> OrderView:
        self._check()
        with self._lock:
            self.create_calls += 1
            if order.idempotency_key in self._by_key:
                return self.orders[self._by_key[order.idempotency_key]]
            service = next((s for s in self.catalogue_doc.services if s.id == order.service_id), None)
            slot = next((s for s in service.slots if s.id == order.slot_id), None) if service else None
            if service is None or slot is None or slot.remaining <= 0:
                raise Rejected(409, "slot not available")
            n = len(self.orders) + 1
            order_id = f"o{n}"
            reference = f"K{REFERENCE_ALPHABET[n // 29 % 29]}{REFERENCE_ALPHABET[n % 29]}-F4K"
            paying = service.price_minor > 0
            view = OrderView(
                id=order_id,
                reference=reference,
                state=OrderState.AWAITING_PAYMENT if paying else OrderState.PAID,
                service_id=service.id,
                slot_id=order.slot_id,
                subject=service.name,
                merchant_name=service.provider_name,
                amount_minor=service.price_minor,
                phone_masked=f"{order.phone[:3]}****{order.phone[-4:]}",
                created_at=self.now,
                paid_at=None if paying else self.now,
                payment=PaymentView(provider="fake", qr_payload=f"http://pay.invalid/pay/{order_id}",
                                    expires_at=self.now + self.payment_ttl) if paying else None,
                local_reference=order.local_reference,
                appointment_start=slot.start,
                appointment_end=slot.end,
                address=order.address,
                status_url=f"{self.status_base}/o/{_link_token(reference)}/{reference}",
            )
            self.orders[order_id] = view
            self._by_key[order.idempotency_key] = order_id
            return view

    def get_order(self, order_id: str) -> OrderView:
        self._check()
        try:
            return self.orders[order_id]
        except KeyError:
            raise NotFound(order_id) from None

    def order_by_reference(self, reference: str) -> OrderView:
        self._check()
        for view in self.orders.values():
            if reference in (view.reference, view.local_reference):
                return view
        raise NotFound(reference)

    def cancel_order(self, order_id: str) -> OrderView:
        view = self.get_order(order_id)
        if view.state is OrderState.AWAITING_PAYMENT:
            view = view.model_copy(update={"state": OrderState.CANCELLED})
            self.orders[order_id] = view
        return view

    def lookup_case(self, lookup: CaseLookup) -> CaseStatus:
        self._check()
        if self._failures.get(lookup.session, 0) >= self.lockout_after:
            raise LockedOut(60)
        found = self.cases.get((lookup.case_number, lookup.id_last4 or ""))
        if found is None:
            self._failures[lookup.session] = self._failures.get(lookup.session, 0) + 1
            raise NotFound("case")
        return found

    def fetch(self, url: str) -> bytes:
        self._check()
        raise NotFound(url)

    # -- what the phone and the clerk do --------------------------------------------------

    def mark_paid(self, order_id: str) -> None:
        self.orders[order_id] = self.orders[order_id].model_copy(
            update={"state": OrderState.PAID, "paid_at": self.now})

    def set_state(self, order_id: str, state: OrderState) -> None:
        self.orders[order_id] = self.orders[order_id].model_copy(update={"state": state})

    def _check(self) -> None:
        if not self.online:
            raise ApiUnavailable("fake server is offline")
        if self.fail_with is not None:
            raise self.fail_with


def _link_token(reference: str) -> str:
    """The capability part of a status link, like the server's (there an HMAC with its secret)."""
    return hashlib.sha256(reference.encode()).hexdigest()[:22]


def text(zh: str, en: str) -> LocalizedText:
    """Shorthand for building bilingual sample data."""
    return LocalizedText(zh=zh, en=en)
