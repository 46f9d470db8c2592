"""Request and response models of the kiosk back end's staff APIs (clerks, providers, operators).

The kiosk-facing models are the shared wire format in ``schedules.protocol.kiosk``; these are
only spoken between the server and the portal (and its scripts), so they live here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schedules.protocol.kiosk import CaseState, CaseStatus, LocalizedText, OrderState


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseCreateBody(_Body):
    case_type: str = Field(max_length=32)
    applicant_name: str = Field(min_length=1, max_length=50)
    id_number: str = Field(min_length=15, max_length=20)
    phone: str = Field(max_length=20)


class CaseChangeBody(_Body):
    target: CaseState
    note_zh: str = Field("", max_length=500)
    note_en: str = Field("", max_length=500)
    missing_documents: list[str] = Field(default_factory=list, max_length=30)
    deadline: dt.date | None = None


class CaseEventView(BaseModel):
    state: CaseState
    at: dt.datetime
    clerk_id: str
    note_zh: str
    note_en: str
    missing_documents: list[str]
    deadline: dt.date | None


class CaseView(BaseModel):
    """The clerk's full view (unmasked personal data; staff only)."""

    case_number: str
    case_type: str
    case_type_name: LocalizedText
    applicant_name: str
    id_number: str
    phone: str
    state: CaseState
    created_at: dt.datetime
    due_by: dt.date
    allowed_targets: list[CaseState]
    timeline: list[CaseEventView]
    public: CaseStatus  # exactly what a kiosk would show


class CaseTypeView(BaseModel):
    code: str
    name: LocalizedText
    time_limit_days: int


class ProfileBody(_Body):
    name_zh: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    phone: str = Field("", max_length=20)


class ProfileView(BaseModel):
    id: str
    name_zh: str
    name_en: str
    phone: str
    approved: bool


class ProviderImageView(BaseModel):
    media_id: str
    sha256: str
    width: int
    height: int


class ServiceBody(_Body):
    category_id: str = Field(max_length=32)
    name_zh: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    description_zh: str = Field("", max_length=4000)
    description_en: str = Field("", max_length=4000)
    price_minor: int = Field(ge=0)
    duration_minutes: int = Field(ge=5, le=1440)
    image_sha256: str | None = Field(None, pattern="^[0-9a-f]{64}$")
    active: bool = True


class SlotBody(_Body):
    start: dt.datetime
    end: dt.datetime
    capacity: int = Field(ge=1, le=1000)


class SlotView(BaseModel):
    id: str
    start: dt.datetime
    end: dt.datetime
    capacity: int
    booked: int


class ServiceView(BaseModel):
    id: str
    category_id: str
    name_zh: str
    name_en: str
    description_zh: str
    description_en: str
    price_minor: int
    currency: str
    duration_minutes: int
    image_sha256: str | None
    active: bool
    slots: list[SlotView]


class BookingActionBody(_Body):
    reason: str = Field("", max_length=500)


class BookingView(BaseModel):
    order_id: str
    reference: str
    state: OrderState
    booking_state: str
    service_id: str
    slot_id: str
    slot_start: dt.datetime | None
    phone: str  # the provider needs it to contact the resident
    amount_minor: int
    paid_at: dt.datetime | None
    cancel_reason: str | None


class AuditView(BaseModel):
    at: dt.datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class ReconcileView(BaseModel):
    checked: int
    paid: int
    expired: int
