"""ORM tables of the kiosk back end, on the server's shared ``Base`` (Alembic branch ``kiosk``).

Amounts are integer minor units (fen). Personal data of residents (names, ID numbers, phones,
service addresses) lives only in ``kiosk_cases`` and ``kiosk_orders``; kiosk routes mask it before
it leaves, and a provider sees its own orders' contact details only on a page that audits the view.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column

from content_server.core.audit.services import AuditLog
from content_server.core.models import Base, UTCDateTime, new_id
from content_server.kiosk.identity import mask_id_number, mask_name, mask_phone


class ServiceCategoryRow(Base):
    __tablename__ = "kiosk_categories"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    icon: Mapped[str] = mapped_column(String(64), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Its services are carried out at the resident's home: kiosks then require building and room
    # (ServiceOffer.at_home); false for services at the provider's place, where the address is optional.
    at_home: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())


class ProviderRow(Base):
    """A merchant or service provider; its portal account is a user with role ``provider``."""

    __tablename__ = "kiosk_providers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), unique=True, nullable=True
    )
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(20), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ServiceRow(Base):
    __tablename__ = "kiosk_services"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    provider_id: Mapped[str] = mapped_column(ForeignKey("kiosk_providers.id", ondelete="CASCADE"), index=True)
    category_id: Mapped[str] = mapped_column(ForeignKey("kiosk_categories.id"), index=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    description_zh: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    price_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    duration_minutes: Mapped[int] = mapped_column(Integer)
    image_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class SlotRow(Base):
    __tablename__ = "kiosk_slots"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(ForeignKey("kiosk_services.id", ondelete="CASCADE"), index=True)
    start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    end: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)  # held by unpaid + paid orders


class OrderRow(Base):
    __tablename__ = "kiosk_orders"
    __table_args__ = (Index("ix_kiosk_orders_state_expires", "state", "expires_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(36), unique=True)
    request_sha256: Mapped[str] = mapped_column(String(64))
    kiosk_id: Mapped[str] = mapped_column(String(32), index=True)
    offline_nonce: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    service_id: Mapped[str] = mapped_column(ForeignKey("kiosk_services.id"), index=True)
    slot_id: Mapped[str] = mapped_column(ForeignKey("kiosk_slots.id"), index=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("kiosk_providers.id"), index=True)
    phone: Mapped[str] = mapped_column(String(20))
    # where a home service happens (empty when the kiosk did not ask); personal data like the phone
    building: Mapped[str] = mapped_column(String(32), default="", server_default="")
    unit: Mapped[str] = mapped_column(String(32), default="", server_default="")
    room: Mapped[str] = mapped_column(String(32), default="", server_default="")
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    subject_zh: Mapped[str] = mapped_column(String(200))
    subject_en: Mapped[str] = mapped_column(String(200))
    merchant_zh: Mapped[str] = mapped_column(String(200))
    merchant_en: Mapped[str] = mapped_column(String(200))
    local_reference: Mapped[str | None] = mapped_column(String(32), nullable=True)
    state: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # unpaid orders expire then
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    payment_provider: Mapped[str] = mapped_column(String(32))
    qr_payload: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    provider_trade_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    booking_state: Mapped[str] = mapped_column(String(16), default="pending")  # accepted | done | cancelled
    cancel_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    refund_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class PaymentNotificationRow(Base):
    """Every notification id seen, so a replay or duplicate is recognised (and what we did with it)."""

    __tablename__ = "kiosk_payment_notifications"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)  # "<provider>:<notification id>"
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(32))


class CaseRow(Base):
    __tablename__ = "kiosk_cases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_number: Mapped[str] = mapped_column(String(32), unique=True)
    case_type: Mapped[str] = mapped_column(String(32))
    applicant_name: Mapped[str] = mapped_column(String(100))
    id_number: Mapped[str] = mapped_column(String(18))
    phone: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(32))
    due_by: Mapped[dt.date] = mapped_column(Date)  # legal time limit


class CaseEventRow(Base):
    __tablename__ = "kiosk_case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("kiosk_cases.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(24))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    clerk_id: Mapped[str] = mapped_column(String(32))
    note_zh: Mapped[str] = mapped_column(Text, default="")
    note_en: Mapped[str] = mapped_column(Text, default="")
    missing_documents: Mapped[list[str]] = mapped_column(JSON, default=list)
    deadline: Mapped[dt.date | None] = mapped_column(Date, nullable=True)


class CommunityPayTrade(Base):
    """The built-in "community pay" provider's own ledger (a real provider keeps this on its side)."""

    __tablename__ = "community_pay_trades"

    token: Mapped[str] = mapped_column(String(43), primary_key=True)
    out_trade_no: Mapped[str] = mapped_column(String(64), unique=True)
    trade_no: Mapped[str] = mapped_column(String(32), unique=True)
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    subject: Mapped[str] = mapped_column(String(200))
    merchant_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    refunded_minor: Mapped[int] = mapped_column(Integer, default=0)
    refund_ids: Mapped[list[str]] = mapped_column(JSON, default=list)


def audit_inputs(audit: AuditLog) -> None:
    """Which kiosk tables the audit trail follows, personal data masked as kiosk screens mask it.

    Order and case state changes are recorded by their services with the state machine's own
    action names; the column diffs of the same rows give way to those. Case timelines, payment
    notification ids, lookup failures and community pay's own ledger are records of their own.
    """
    audit.watch(ServiceCategoryRow, entity="category")
    audit.watch(ProviderRow, entity="provider", mask={"phone": mask_phone})
    audit.watch(ServiceRow, entity="service", ignore=("updated_at",))
    audit.watch(SlotRow, entity="slot", ignore=("booked",))
    audit.watch(OrderRow, entity="order", ignore=("updated_at",), mask={"phone": mask_phone})
    personal = {"applicant_name": mask_name, "id_number": mask_id_number, "phone": mask_phone}
    audit.watch(CaseRow, entity="case", mask=personal)
