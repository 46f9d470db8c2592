"""Wire format between the content server and the touch kiosks, version 1.

Kiosk routes (under ``/api/v1/kiosk``, ``Authorization: Bearer <device_key>`` of a paired
``kiosk`` device):

- ``GET  /catalogue`` -> :class:`ServiceCatalogue` with a strong ``ETag``; ``If-None-Match`` -> 304
- ``POST /orders`` body :class:`OrderCreate` -> :class:`OrderView` (201; a retry with the same
  ``idempotency_key`` returns the original order with 200; same key, different body -> 422)
- ``GET  /orders/{order_id}`` -> :class:`OrderView` (the kiosk polls it every 2-3 s while paying)
- ``GET  /orders/by-reference/{reference}`` -> :class:`OrderView`
- ``POST /orders/{order_id}/cancel`` -> :class:`OrderView`

Fields added after version 1 are optional with defaults (``address`` of an order, its
appointment and ``status_url``), so a kiosk that does not know them keeps working.
- ``POST /cases/lookup`` body :class:`CaseLookup` -> :class:`CaseStatus`; a wrong answer and an
  unknown case number both give the same 404; 429 with ``Retry-After`` while wrong answers must
  wait (growing delays per case and kiosk, per kiosk session, per case).

Phone side (no auth, opened from the QR): ``GET /pay/{token}`` (HTML), and for orders signed
offline by a kiosk, ``GET /pay/offline/{token}`` where the token is :func:`OfflineOrderToken`
encoded by the kiosk (see ``content_server`` docs/payments.md). ``GET /order/{order_id}/{token}``
(``OrderView.status_url``) is the order's status page the receipt's QR opens.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

KIOSK_PROTOCOL_VERSION = 1
PHONE_PATTERN = r"^1[3-9]\d{9}$"  # mainland China mobile number


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LocalizedText(_Wire):
    zh: str
    en: str


class ServiceCategory(_Wire):
    id: str  # elderly_care, housekeeping, repairs, property, merchants, health, gov_guides
    name: LocalizedText
    icon: str = ""  # asset sha256 or empty


class TimeSlot(_Wire):
    id: str
    start: dt.datetime
    end: dt.datetime
    capacity: int
    remaining: int


class ServiceOffer(_Wire):
    id: str
    category_id: str
    provider_name: LocalizedText
    name: LocalizedText
    description: LocalizedText
    price_minor: int = Field(ge=0)  # fen
    currency: str = "CNY"
    duration_minutes: int
    image_sha256: str | None = None
    image_url: str | None = None
    rating: float | None = None
    slots: tuple[TimeSlot, ...] = ()
    # Carried out at the resident's home (the kiosk asks for building and room and will not go on
    # without them); False: at the provider's place, the address is optional. Added in v1.1: a
    # server that does not say means at home, so a provider is never left without a place.
    at_home: bool = True


class ServiceCatalogue(_Wire):
    protocol_version: int = KIOSK_PROTOCOL_VERSION
    version: str  # equals the ETag
    generated_at: dt.datetime
    categories: tuple[ServiceCategory, ...]
    services: tuple[ServiceOffer, ...]


class OrderState(StrEnum):
    CREATED = "created"
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    FULFILLED = "fulfilled"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class ServiceAddress(_Wire):
    """Where a home service is carried out: building, unit and room as the resident typed them."""

    building: str = Field(min_length=1, max_length=32)
    unit: str = Field("", max_length=32)
    room: str = Field(min_length=1, max_length=32)


class OrderCreate(_Wire):
    idempotency_key: uuid.UUID
    service_id: str
    slot_id: str
    phone: str = Field(pattern=PHONE_PATTERN)
    local_reference: str | None = Field(None, max_length=32)  # shown to the resident while offline
    address: ServiceAddress | None = None  # a home service's place; kiosks before v1.1 send none


class PaymentView(_Wire):
    provider: str
    qr_payload: str  # URL the phone opens
    expires_at: dt.datetime


class OrderView(_Wire):
    id: str
    reference: str  # short, human-readable, e.g. "K7Q-4M2"
    state: OrderState
    service_id: str
    slot_id: str
    subject: LocalizedText
    merchant_name: LocalizedText
    amount_minor: int
    currency: str = "CNY"
    phone_masked: str  # 138****5678
    created_at: dt.datetime
    paid_at: dt.datetime | None = None
    payment: PaymentView | None = None
    local_reference: str | None = None
    # the booked appointment, where it happens, and the page the receipt's QR opens (added in v1.1)
    appointment_start: dt.datetime | None = None
    appointment_end: dt.datetime | None = None
    address: ServiceAddress | None = None
    status_url: str | None = None


class OfflineOrderClaims(_Wire):
    """Signed by the kiosk's Ed25519 device key when it cannot reach the server."""

    kiosk_id: str
    idempotency_key: uuid.UUID
    service_id: str
    slot_id: str
    phone: str = Field(pattern=PHONE_PATTERN)
    amount_minor: int
    currency: str = "CNY"
    issued_at: dt.datetime
    expires_at: dt.datetime
    nonce: str = Field(min_length=16, max_length=64)
    address: ServiceAddress | None = None  # added in v1.1; older kiosks sign claims without it


class CaseLookup(_Wire):
    case_number: str = Field(min_length=4, max_length=32)
    id_last4: str | None = Field(None, pattern=r"^\d{3}[\dX]$")
    phone: str | None = Field(None, pattern=PHONE_PATTERN)
    # the kiosk's current resident session (new at each idle reset): the server slows wrong
    # answers per session, so the next resident never waits for the previous one's mistakes
    session: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{8,64}$")


class CaseState(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    MATERIALS_NEEDED = "materials_needed"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    DENIED = "denied"
    IN_PRODUCTION = "in_production"
    READY_FOR_PICKUP = "ready_for_pickup"
    CLOSED = "closed"


class CaseEvent(_Wire):
    state: CaseState
    at: dt.datetime
    note: LocalizedText | None = None  # public note (reason, where to pick up)
    missing_documents: tuple[str, ...] = ()
    deadline: dt.date | None = None


class CaseStatus(_Wire):
    case_number: str
    case_type: LocalizedText
    applicant_masked: str  # 张*三
    id_masked: str  # 110***********1234
    phone_masked: str  # 138****5678
    state: CaseState
    timeline: tuple[CaseEvent, ...]  # oldest first
    next_step: LocalizedText | None = None
    due_by: dt.date | None = None  # legal time limit
    as_of: dt.datetime


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def offline_token_payload(claims: OfflineOrderClaims) -> str:
    """The signed part of an offline order token: URL-safe base64 of the claims' JSON.

    The kiosk signs ``payload.encode("ascii")`` with its Ed25519 device key.
    """
    return _b64url(claims.model_dump_json().encode("utf-8"))


def encode_offline_token(claims: OfflineOrderClaims, signature: bytes) -> str:
    """``<payload>.<signature>``, both URL-safe base64 without padding (fits a QR URL path)."""
    return f"{offline_token_payload(claims)}.{_b64url(signature)}"


def split_offline_token(token: str) -> tuple[str, OfflineOrderClaims, bytes]:
    """Split a token into (signed payload, claims, signature); ValueError if malformed.

    The claims are NOT verified here: the server checks the signature with the kiosk's key.
    """
    payload, sep, sig = token.partition(".")
    if not sep or not payload or not sig or "." in sig:
        raise ValueError("offline order token must be <payload>.<signature>")
    try:
        raw, signature = _unb64url(payload), _unb64url(sig)
    except (ValueError, binascii.Error) as exc:
        raise ValueError("offline order token is not URL-safe base64") from exc
    return payload, OfflineOrderClaims.model_validate_json(raw), signature
