"""Tables of the delivery queue: one row per outbound message, one per attempt to send it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from content_server.core.models import Base, UTCDateTime, new_id


class Delivery(Base):
    """An outbound message, its state and its lease (while a process is sending it)."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_state_due", "state", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(200), unique=True)  # idempotency key: one message per key
    sender: Mapped[str] = mapped_column(String(64))  # the registered sender that knows how to send it
    target: Mapped[str] = mapped_column(String(1000))  # where: a channel id, a notify URL
    topic: Mapped[str] = mapped_column(String(300), default="")  # what, for people reading the queue
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(32), index=True)  # the feature that made it
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16))  # policy.DeliveryState
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # in a row, since made or sent again
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(120), nullable=True)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(String(500), default="")


class DeliveryAttempt(Base):
    """One try: when, by which process, and what the receiver (or the network) answered."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)  # None: cut off
    worker: Mapped[str] = mapped_column(String(120))
    ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # None: in flight, or its process died
    detail: Mapped[str] = mapped_column(String(500), default="")
