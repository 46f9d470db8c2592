"""Designed slides: preview, create and re-render, stored as ordinary media with their fields kept."""

from __future__ import annotations

import datetime as dt
import io
import logging

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from content_server.core.errors import Forbidden, Invalid, NotFound
from content_server.core.models import User
from content_server.core.store import MediaStore
from content_server.signage.models import Media
from content_server.signage.services import library
from content_server.studio.canvas import Canvas
from content_server.studio.designs import AUTHORED_DESIGNS, TemplateContent, resolve
from content_server.studio.fonts import FontBook
from content_server.studio.models import TemplateSlide
from content_server.studio.render import render, render_shapes
from content_server.studio.services import shapes

log = logging.getLogger(__name__)
THUMB = (320, 320)
SLIDE_DURATION_S = 10.0


def thumbnail(png: bytes) -> bytes:
    img = Image.open(io.BytesIO(png)).convert("RGB")
    img.thumbnail(THUMB)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def _photo(session: Session, store: MediaStore, user: User, media_id: str | None) -> Image.Image | None:
    if not media_id:
        return None
    row = library.visible(session, user, media_id)
    if row.kind != "image":
        raise Invalid("the photo must be a picture from your media library")
    with Image.open(store.path_for(row.sha256)) as img:  # re-encoded and checked when it was uploaded
        img.load()
        return img.convert("RGB")


def preview(
    session: Session,
    store: MediaStore,
    user: User,
    content: TemplateContent,
    photo_media_id: str | None,
    canvas: Canvas,
    book: FontBook,
) -> bytes:
    """The slide as it would be stored, at ``canvas``'s size; nothing is stored. FieldProblem (422) names
    the fields to fix."""
    if content.design not in AUTHORED_DESIGNS:
        raise Invalid(f"unknown template {content.design!r}")
    return render(resolve(content, book), canvas, book, _photo(session, store, user, photo_media_id))


def _render_all(
    session: Session,
    store: MediaStore,
    user: User,
    content: TemplateContent,
    photo_media_id: str | None,
    title: str,
    book: FontBook,
    now: dt.datetime,
) -> dict[str, str]:
    resolved = resolve(content, book)
    photo = _photo(session, store, user, photo_media_id)
    drawn = render_shapes(resolved, shapes.canvases(session), book, photo)
    return shapes.store_variants(
        session,
        store,
        user,
        [(cv, png, thumbnail(png)) for cv, png in drawn],
        title=title,
        duration_s=SLIDE_DURATION_S,
        now=now,
    )


def create(
    session: Session,
    store: MediaStore,
    user: User,
    content: TemplateContent,
    photo_media_id: str | None,
    title: str,
    book: FontBook,
    now: dt.datetime,
) -> TemplateSlide:
    if content.design not in AUTHORED_DESIGNS:
        raise Invalid(f"unknown template {content.design!r}")
    row = TemplateSlide(
        owner_id=user.id,
        title=title[:200],
        design=content.design,
        palette=content.palette,
        language=content.language,
        fields=dict(content.fields),
        photo_media_id=photo_media_id or None,
        media_ids=_render_all(session, store, user, content, photo_media_id, title, book, now),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.commit()
    log.info("designed slide %s (%s) for %s", row.id, row.design, user.username)
    return row


def visible(session: Session, user: User, slide_id: str) -> TemplateSlide:
    row = session.get(TemplateSlide, slide_id)
    if row is None or (user.role != "operator" and row.owner_id != user.id):
        raise NotFound("unknown designed slide")
    return row


def list_for(session: Session, user: User) -> list[TemplateSlide]:
    q = select(TemplateSlide).order_by(TemplateSlide.updated_at.desc(), TemplateSlide.id)
    if user.role != "operator":
        q = q.where(TemplateSlide.owner_id == user.id)
    return list(session.scalars(q))


def update(
    session: Session,
    store: MediaStore,
    user: User,
    slide_id: str,
    content: TemplateContent,
    photo_media_id: str | None,
    title: str,
    book: FontBook,
    now: dt.datetime,
) -> TemplateSlide:
    """Re-render with new fields. The new pictures are new media rows (what was approved stays as it was
    approved); campaigns and announcements that used the old ones keep them until the author swaps them."""
    row = visible(session, user, slide_id)
    if row.owner_id != user.id:
        raise Forbidden("only the author edits a designed slide")
    if content.design != row.design:
        raise Invalid("a designed slide keeps its template; start a new one for another template")
    row.media_ids = _render_all(session, store, user, content, photo_media_id, title, book, now)
    row.title, row.palette, row.language = title[:200], content.palette, content.language
    row.fields, row.photo_media_id, row.updated_at = dict(content.fields), photo_media_id or None, now
    session.commit()
    return row


def media_of(session: Session, row: TemplateSlide) -> list[Media]:
    return [m for mid in row.media_ids.values() if (m := session.get(Media, mid)) is not None]
