"""Studio tables (Alembic branch ``studio``): designed slides with the fields they were made from,
PDF notices and their pages, and live data sources. The pictures themselves are ordinary media rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from content_server.core.models import Base, UTCDateTime, new_id


class TemplateSlide(Base):
    """A designed slide: its design, palette, language and fields, kept to edit and re-render."""

    __tablename__ = "studio_templates"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    design: Mapped[str] = mapped_column(String(32))
    palette: Mapped[str] = mapped_column(String(32), default="")
    language: Mapped[str] = mapped_column(String(8), default="both")
    fields: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    photo_media_id: Mapped[str | None] = mapped_column(
        ForeignKey("media.id", ondelete="SET NULL"), nullable=True
    )
    media_ids: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # orientation -> media id
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class PdfDocument(Base):
    """An uploaded PDF notice. The PDF itself is not kept: only its rendered pages."""

    __tablename__ = "studio_pdfs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    upload_sha256: Mapped[str] = mapped_column(String(64))
    page_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class PdfPageRow(Base):
    __tablename__ = "studio_pdf_pages"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    document_id: Mapped[str] = mapped_column(ForeignKey("studio_pdfs.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1-based, document order
    dwell_s: Mapped[float] = mapped_column(Float)
    text_chars: Mapped[int] = mapped_column(Integer, default=0)
    thumbnail_sha256: Mapped[str] = mapped_column(String(64))
    media_ids: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # orientation -> media id


class DataSourceRow(Base):
    """A live data source an operator registered, with its last good result."""

    __tablename__ = "studio_sources"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)  # sources.SourceSpec
    allow_networks: Mapped[list[str]] = mapped_column(JSON, default=list)  # the operator's SSRF allow-list
    etag: Mapped[str | None] = mapped_column(String(256), nullable=True)
    last_modified: Mapped[str | None] = mapped_column(String(64), nullable=True)
    fetched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    failures: Mapped[int] = mapped_column(Integer, default=0)
    content: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # last good TemplateContent
    ticker: Mapped[str] = mapped_column(Text, default="")
    media_ids: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # orientation -> media id
    announcement_id: Mapped[str | None] = mapped_column(
        ForeignKey("announcements.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
