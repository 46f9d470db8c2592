"""PDF notices: streamed to disk, checked and rendered on a worker thread, its pages stored as media.

The PDF itself is never kept or served (rebuilt, not trusted): a refused file leaves nothing behind,
and an accepted one becomes one picture per page and orientation with the page's dwell as its
display time, in page order.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from content_server.core.errors import NotFound
from content_server.core.models import User
from content_server.core.store import MediaStore, StagedFile
from content_server.signage.models import AnnouncementRow
from content_server.signage.services import bookings
from content_server.signage.services.bookings import AnnouncementIn
from content_server.studio.fonts import FontBook
from content_server.studio.models import PdfDocument, PdfPageRow
from content_server.studio.pdf_notice import PdfLimits, render_notice
from content_server.studio.services import shapes
from schedules.bilingual import Bilingual
from schedules.model import Targeting

log = logging.getLogger(__name__)


AD_PAGES = Bilingual("一个广告", "an ad")


def limits_for(user: User, limits: PdfLimits) -> PdfLimits:
    """The limits for ``user``'s PDF. An advertiser's PDF can only go into a campaign, whose spots
    rotate through at most ``bookings.MAX_CAMPAIGN_SLIDES`` pictures a screen: a longer one is
    refused (413, in both languages) before anything is rendered or stored, rather than stored as
    pages no campaign can hold. An operator's notice plays whole as one announcement (60 pages)."""
    if user.role == "operator":
        return limits
    return replace(limits, max_pages=min(limits.max_pages, bookings.MAX_CAMPAIGN_SLIDES), pages_for=AD_PAGES)


async def upload(
    chunks: AsyncIterator[bytes],
    sessions: sessionmaker[Session],
    store: MediaStore,
    user: User,
    *,
    title: str,
    book: FontBook,
    limits: PdfLimits,
    now: dt.datetime,
) -> PdfDocument:
    staged = await store.stage_stream(chunks, limits.max_bytes)
    return await run_in_threadpool(
        ingest, sessions, store, user, staged, title=title, book=book, limits=limits, now=now
    )


def ingest(
    sessions: sessionmaker[Session],
    store: MediaStore,
    user: User,
    staged: StagedFile,
    *,
    title: str,
    book: FontBook,
    limits: PdfLimits,
    now: dt.datetime,
) -> PdfDocument:
    limits = limits_for(user, limits)
    with sessions() as session:
        sizes = shapes.canvases(session)
    work = Path(tempfile.mkdtemp(prefix="studio-pdf-"))
    try:
        notice = render_notice(
            staged.path,
            work / "pages",
            [(c.width, c.height) for c in sizes],
            title=Bilingual(title, "") if title else None,
            limits=limits,
            book=book,
        )
        with sessions() as session:
            doc = PdfDocument(
                owner_id=user.id,
                title=title[:200],
                upload_sha256=staged.sha256,
                page_count=notice.page_count,
                created_at=now,
            )
            session.add(doc)
            session.flush()
            for page in notice.pages:
                thumb = (notice.folder / page.thumbnail).read_bytes()
                drawings = [
                    (cv, (notice.folder / page.slides[f"{cv.width}x{cv.height}"]).read_bytes(), thumb)
                    for cv in sizes
                ]
                media_ids = shapes.store_variants(
                    session,
                    store,
                    user,
                    drawings,
                    title=f"{title or 'PDF'} p{page.number}",
                    duration_s=page.dwell_s,
                    now=now,
                )
                session.add(
                    PdfPageRow(
                        document_id=doc.id,
                        number=page.number,
                        dwell_s=page.dwell_s,
                        text_chars=page.text_chars,
                        thumbnail_sha256=store.put_bytes(thumb),
                        media_ids=media_ids,
                    )
                )
            session.commit()
            session.refresh(doc)
        log.info("PDF notice %s: %d pages for %s", doc.id, doc.page_count, user.username)
        return doc
    finally:
        staged.discard()  # the PDF's own bytes are never kept
        shutil.rmtree(work, ignore_errors=True)


def visible(session: Session, user: User, doc_id: str) -> PdfDocument:
    row = session.get(PdfDocument, doc_id)
    if row is None or (user.role != "operator" and row.owner_id != user.id):
        raise NotFound("unknown PDF notice")
    return row


def list_for(session: Session, user: User) -> list[PdfDocument]:
    q = select(PdfDocument).order_by(PdfDocument.created_at.desc(), PdfDocument.id)
    if user.role != "operator":
        q = q.where(PdfDocument.owner_id == user.id)
    return list(session.scalars(q))


def pages(session: Session, doc: PdfDocument) -> list[PdfPageRow]:
    return list(
        session.scalars(
            select(PdfPageRow).where(PdfPageRow.document_id == doc.id).order_by(PdfPageRow.number)
        )
    )


def announce(
    session: Session,
    op: User,
    doc: PdfDocument,
    *,
    title: str,
    valid_until: dt.datetime | None,
    targeting: Targeting,
    now: dt.datetime,
) -> AnnouncementRow:
    """The whole notice as one announcement: every page in order (each in all its shapes; a screen
    plays the one nearest its own), each for its dwell. Goes through the announcements' own rules."""
    media_ids = [mid for page in pages(session, doc) for mid in page.media_ids.values()]
    body = AnnouncementIn(
        title=(title or doc.title or "PDF")[:200],
        media_ids=media_ids,
        valid_until=valid_until,
        targeting=targeting,
    )
    return bookings.create_announcement(session, op, body, now=now)
