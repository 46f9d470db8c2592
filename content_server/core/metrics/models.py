"""Tables of the shared counters: district-wide totals, and each process's latest gauges."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Float, String
from sqlalchemy.orm import Mapped, mapped_column

from content_server.core.models import Base, UTCDateTime


class MetricTotal(Base):
    """A counter's total over every process since the database was made."""

    __tablename__ = "metric_totals"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class ProcessGauge(Base):
    """One process's latest value of a gauge; stale rows (a stopped process) are not counted."""

    __tablename__ = "metric_gauges"

    process: Mapped[str] = mapped_column(String(120), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
