"""Content library: ingest checked uploads into the store, list/edit/delete with owner isolation."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from content_server.core.audit.services import Actor, act_as
from content_server.core.errors import Conflict, Invalid, NotFound, UnsupportedMedia
from content_server.core.models import User
from content_server.core.settings import Settings
from content_server.core.store import MediaStore, StagedFile
from content_server.signage import media_check as media
from content_server.signage.models import AnnouncementRow, CampaignRow, Media

log = logging.getLogger(__name__)
SAFE_NAME_MAX = 200


def clean_filename(name: str) -> str:
    """Keep only the last path component, printable and short (names are labels, never paths)."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in "\x00")
    return name.strip().lstrip(".")[:SAFE_NAME_MAX] or "upload"


async def upload(
    chunks: AsyncIterator[bytes],
    sessions: sessionmaker[Session],
    store: MediaStore,
    settings: Settings,
    owner: User,
    *,
    filename: str,
    title: str,
    now: dt.datetime,
    images_only: bool = False,
    address: str = "",
) -> tuple[Media, bool]:
    """An upload's body streamed to the store on the event loop, then :func:`ingest` on a worker
    thread: the loop never waits for the database or the media checks."""
    staged = await store.stage_stream(chunks, settings.max_upload_bytes)
    return await run_in_threadpool(
        ingest,
        sessions,
        store,
        settings,
        owner,
        staged,
        filename=filename,
        title=title,
        now=now,
        images_only=images_only,
        address=address,
    )


def ingest(
    sessions: sessionmaker[Session],
    store: MediaStore,
    settings: Settings,
    owner: User,
    staged: StagedFile,
    *,
    filename: str,
    title: str,
    now: dt.datetime,
    images_only: bool = False,
    address: str = "",
) -> tuple[Media, bool]:
    """Inspect a staged upload, store it content-addressed, record it; (media, created).

    Blocking (inspection, files, database): run it on a worker thread. It opens its own short
    session, so the upload's streaming never holds a database connection.
    """
    try:
        info = media.inspect(
            staged.path,
            max_pixels=settings.max_image_pixels,
            ffprobe=settings.ffprobe_path,
            ffmpeg=settings.ffmpeg_path,
        )
        if images_only and info.kind != "image":
            raise UnsupportedMedia("a service picture must be an image")
    except BaseException:
        staged.discard()
        raise
    with sessions() as session:
        act_as(session, Actor.of_user(owner, address))  # the uploader, in the audit trail
        existing = session.scalar(
            select(Media).where(Media.owner_id == owner.id, Media.sha256 == staged.sha256)
        )
        if existing is not None:
            staged.commit()
            return existing, False
        try:
            thumb_sha = store.put_bytes(info.thumbnail_png)  # first: a full disk then leaves no asset behind
        except BaseException:
            staged.discard()
            raise
        staged.commit()
        row = Media(
            owner_id=owner.id,
            sha256=staged.sha256,
            size=staged.size,
            media_type=info.media_type,
            kind=info.kind,
            width=info.width,
            height=info.height,
            duration_s=info.duration_s,
            codec=info.codec,
            filename=clean_filename(filename),
            title=(title or clean_filename(filename))[:200],
            thumbnail_sha256=thumb_sha,
            created_at=now,
        )
        session.add(row)
        session.commit()
    log.info("stored %s %s (%d bytes) for %s", info.kind, staged.sha256[:12], staged.size, owner.username)
    return row, True


def add_rendered(
    session: Session,
    store: MediaStore,
    owner: User,
    png: bytes,
    thumbnail_png: bytes,
    *,
    width: int,
    height: int,
    title: str,
    duration_s: float,
    now: dt.datetime,
) -> Media:
    """A picture the server drew itself (a designed slide, a PDF page): stored and recorded as an
    upload is, so it goes through the same approval, scheduling and proof of play. The caller commits."""
    sha = store.put_bytes(png)
    existing = session.scalar(select(Media).where(Media.owner_id == owner.id, Media.sha256 == sha))
    if existing is not None:
        existing.duration_s = duration_s
        return existing
    row = Media(
        owner_id=owner.id,
        sha256=sha,
        size=len(png),
        media_type="image/png",
        kind="image",
        width=width,
        height=height,
        duration_s=duration_s,
        codec="",
        filename=clean_filename(f"{title or 'slide'}.png"),
        title=(title or "slide")[:200],
        thumbnail_sha256=store.put_bytes(thumbnail_png),
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def visible(session: Session, user: User, media_id: str) -> Media:
    """The media row if this user may see it; otherwise 404 (never reveal others' media)."""
    row = session.get(Media, media_id)
    if row is None or (user.role != "operator" and row.owner_id != user.id):
        raise NotFound("unknown media")
    return row


def list_for(session: Session, user: User) -> list[Media]:
    q = select(Media).order_by(Media.created_at.desc(), Media.id)
    if user.role != "operator":
        q = q.where(Media.owner_id == user.id)
    return list(session.scalars(q))


def edit(
    session: Session,
    user: User,
    media_id: str,
    *,
    title: str | None,
    duration_s: float | None,
    filler: bool | None,
    now: dt.datetime,
) -> Media:
    row = visible(session, user, media_id)
    if title is not None:
        row.title = title
    if duration_s is not None:
        if row.kind == "video":
            raise Invalid("duration_s: a video plays for its real length")
        row.duration_s = duration_s
    if filler is not None:
        if user.role != "operator":
            raise NotFound("unknown media")
        row.filler = filler
    session.commit()
    return row


def delete(session: Session, user: User, media_id: str, *, now: dt.datetime) -> None:
    """Delete a library entry unless a live campaign or announcement still uses it (bytes stay: dedup)."""
    row = visible(session, user, media_id)
    live_campaigns = session.scalars(
        select(CampaignRow).where(CampaignRow.state.in_(("pending", "approved", "paused")))
    )
    if any(media_id in c.media_ids for c in live_campaigns):
        raise Conflict("this media is used by a pending or running campaign")
    live_ann = session.scalars(select(AnnouncementRow).where(AnnouncementRow.state.in_(("active", "paused"))))
    if any(media_id in a.media_ids for a in live_ann):
        raise Conflict("this media is used by an announcement")
    session.delete(row)
    session.commit()
