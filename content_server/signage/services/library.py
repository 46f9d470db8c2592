"""Content library: ingest checked uploads into the store, list/edit/delete with owner isolation."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import shutil
import tempfile
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from content_server.core.audit.services import Actor, act_as
from content_server.core.errors import Conflict, Invalid, NotFound, UnsupportedMedia
from content_server.core.models import User
from content_server.core.settings import Settings
from content_server.core.store import SHA256_RE, MediaStore, StagedFile
from content_server.signage.asset_access import AssetGrant, may_download
from content_server.signage.media_intake import intake
from content_server.signage.media_rebuild import MediaRefused
from content_server.signage.models import AnnouncementRow, CampaignRow, Device, Media
from content_server.signage.services.transcoding import TranscodeJobs
from schedules.liveitems import AddressError, check_live
from schedules.model import ItemKind

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
    jobs: TranscodeJobs | None = None,
) -> tuple[Media, bool]:
    """An upload's body streamed to the store on the event loop, then :func:`ingest` on a worker
    thread: the loop never waits for the database or the media checks. A video that needs
    transcoding is handed to ``jobs``."""
    staged = await store.stage_stream(chunks, settings.max_upload_bytes)
    row, created = await run_in_threadpool(
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
    if created and row.status == "processing" and jobs is not None:
        jobs.submit(row.id)
    return row, created


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
    """Rebuild or check a staged upload (``media_intake``), store what may be served, record it.

    Blocking (decoding, ffmpeg, files, database): run it on a worker thread. It opens its own
    short session, so the upload's streaming never holds a database connection. A picture is
    stored rebuilt; a video players decode well as it came; any other video is kept aside and
    recorded ``processing`` for a transcoding job (``transcoding.TranscodeJobs``). Returns
    (media, created); the same upload again by the same owner returns the first.
    """
    with sessions() as session:
        existing = _same_upload(session, owner, staged.sha256)
    if existing is not None:
        staged.discard()
        return existing, False
    work = Path(tempfile.mkdtemp(dir=store.tmp, prefix="intake-"))
    try:
        try:
            taken = intake(
                staged.path, work, max_pixels=settings.max_image_pixels,
                ffmpeg=settings.ffmpeg_path, ffprobe=settings.ffprobe_path,
            )  # fmt: skip
        except MediaRefused as exc:
            error = UnsupportedMedia if exc.status == 415 else Invalid
            raise error(exc.text.en).in_both(exc.text.zh, exc.text.en) from exc
        if images_only and taken.kind != "image":
            raise UnsupportedMedia("a service picture must be an image").in_both(
                "服务图片必须是图片。", "A service picture must be an image."
            )
        thumb_sha = store.put_bytes(taken.thumbnail_png)  # first: a full disk then leaves no asset behind
        if taken.path == staged.path:  # a video kept as it came (or kept aside to be transcoded)
            kept = staged.commit()
            sha, size = staged.sha256, kept.stat().st_size
        else:
            stored = store.put_file(taken.path)
            sha, size = stored.sha256, stored.size
    finally:
        staged.discard()
        shutil.rmtree(work, ignore_errors=True)
    with sessions() as session:
        act_as(session, Actor.of_user(owner, address))  # the uploader, in the audit trail
        row = Media(
            owner_id=owner.id,
            sha256=sha,
            source_sha256=staged.sha256,
            size=size,
            media_type=taken.media_type,
            kind=taken.kind,
            width=taken.width,
            height=taken.height,
            duration_s=taken.duration_s,
            codec=taken.codec,
            filename=clean_filename(filename),
            title=(title or clean_filename(filename))[:200],
            thumbnail_sha256=thumb_sha,
            created_at=now,
            status="processing" if taken.needs_transcode else "ready",
            progress=0.0 if taken.needs_transcode else 1.0,
            needs=list(taken.needs_transcode),
            screen_classes=sorted(c.value for c in taken.screen_classes),
            problem={},
        )
        session.add(row)
        session.commit()
    log.info(
        "stored %s %s (%d bytes, upload %s) for %s%s", taken.kind, sha[:12], size, staged.sha256[:12],
        owner.username, f"; transcoding: {', '.join(taken.needs_transcode)}" if taken.needs_transcode else "",
    )  # fmt: skip
    return row, True


def _same_upload(session: Session, owner: User, upload_sha256: str) -> Media | None:
    """This owner's earlier upload of exactly these bytes (by the upload's hash, or the stored one)."""
    return session.scalar(
        select(Media)
        .where(
            Media.owner_id == owner.id,
            or_(Media.source_sha256 == upload_sha256, Media.sha256 == upload_sha256),
        )
        .limit(1)
    )


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
    variant_of: str | None = None,
) -> Media:
    """A picture the server drew itself (a designed slide, a PDF page): stored and recorded as an
    upload is, so it goes through the same approval, scheduling and proof of play. The caller commits.

    ``variant_of``: the key shared by the drawings of one slide for different screen shapes."""
    sha = store.put_bytes(png)
    existing = session.scalar(select(Media).where(Media.owner_id == owner.id, Media.sha256 == sha))
    if existing is not None:
        existing.duration_s = duration_s
        existing.variant_of = variant_of
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
        variant_of=variant_of,
    )
    session.add(row)
    session.flush()
    return row


def add_live(
    session: Session,
    owner: User,
    kind: ItemKind,
    url: str,
    *,
    allowed_hosts: list[str],
    load_timeout_s: float | None,
    title: str,
    duration_s: float,
    now: dt.datetime,
) -> tuple[Media, bool]:
    """An operator's web page or live stream: no file, an address (checked by
    :func:`schedules.liveitems.check_live`, 422 when refused) that screens open themselves. It is
    then approved, scheduled and counted as any media. The same address again returns the first
    (created False)."""
    try:
        checked = check_live(kind, url, allowed_hosts, load_timeout_s)
    except AddressError as exc:
        raise Invalid(str(exc)).in_both(exc.zh, exc.en) from exc
    spec = json.dumps([checked.kind.value, checked.url, checked.allowed_hosts, checked.load_timeout_s])
    sha = hashlib.sha256(spec.encode()).hexdigest()
    existing = session.scalar(select(Media).where(Media.owner_id == owner.id, Media.sha256 == sha).limit(1))
    if existing is not None:
        return existing, False
    host = urllib.parse.urlsplit(checked.url).hostname or ""
    row = Media(
        owner_id=owner.id,
        sha256=sha,
        size=0,
        media_type=_live_media_type(checked.url),
        kind=checked.kind.value,
        width=0,
        height=0,
        duration_s=duration_s,
        codec="",
        filename=clean_filename(host or checked.kind.value),
        title=(title.strip() or host)[:200],
        created_at=now,
        url=checked.url,
        allowed_hosts=list(checked.allowed_hosts) or None,
        load_timeout_s=checked.load_timeout_s,
    )
    session.add(row)
    session.commit()
    log.info("added %s %s for %s", checked.kind.value, checked.url, owner.id)
    return row, True


def _live_media_type(url: str) -> str:
    """What the address serves, for the library's listing (nothing is downloaded from it)."""
    if url.startswith(("rtsp://", "rtsps://")):
        return "application/x-rtsp"
    path = urllib.parse.urlsplit(url).path.lower()
    return "application/vnd.apple.mpegurl" if path.endswith(".m3u8") else "text/html"


def visible(session: Session, user: User, media_id: str) -> Media:
    """The media row if this user may see it; otherwise 404 (never reveal others' media)."""
    row = session.get(Media, media_id)
    if row is None or (user.role != "operator" and row.owner_id != user.id):
        raise NotFound("unknown media")
    return row


def servable(session: Session, user: User, media_id: str) -> Media:
    """The row if this user may download its file now: only a ready file is ever served."""
    row = visible(session, user, media_id)
    if row.url is not None:
        raise NotFound("a web page or live stream has no file").in_both(
            "网页或直播没有文件。", "A web page or live stream has no file."
        )
    if row.status != "ready":
        raise Conflict(f"the file is not ready ({row.status})").in_both(
            "文件尚未就绪（正在转码或转码失败）。",
            "The file is not ready yet (being converted, or the conversion failed).",
        )
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


LIVE_CAMPAIGNS = ("pending", "approved", "paused")


def users_of(session: Session, media_id: str) -> tuple[list[CampaignRow], list[AnnouncementRow]]:
    """The live campaigns and announcements that show ``media_id`` (what deleting it would break)."""
    campaigns = session.scalars(
        select(CampaignRow).where(CampaignRow.state.in_(LIVE_CAMPAIGNS)).order_by(CampaignRow.name)
    )
    announcements = session.scalars(
        select(AnnouncementRow)
        .where(AnnouncementRow.state.in_(("active", "paused")))
        .order_by(AnnouncementRow.title)
    )
    return (
        [c for c in campaigns if media_id in (c.media_ids or [])],
        [a for a in announcements if media_id in (a.media_ids or [])],
    )


def delete(session: Session, user: User, media_id: str, *, now: dt.datetime) -> None:
    """Delete a library entry unless a live campaign or announcement still uses it, naming them
    (bytes stay in the store: other entries may share them)."""
    row = visible(session, user, media_id)
    campaigns, announcements = users_of(session, media_id)
    if campaigns:
        raise Conflict(f"this media is used by campaigns: {', '.join(c.name or c.id for c in campaigns)}")
    if announcements:
        titles = ", ".join(a.title or a.id for a in announcements)
        raise Conflict(f"this media is used by announcements: {titles}")
    session.delete(row)
    session.commit()


# what a replacement takes over from the newly uploaded entry: the file and what was learnt from it
CONTENT_COLUMNS = ("sha256", "size", "media_type", "kind", "width", "height", "duration_s", "codec",
                   "filename", "thumbnail_sha256", "source_sha256", "status", "progress", "problem", "needs",
                   "screen_classes")  # fmt: skip


def replace(
    session: Session, user: User, media_id: str, upload_id: str, *, discard_upload: bool, now: dt.datetime
) -> list[CampaignRow]:
    """Put an uploaded file in place of ``media_id``'s: the entry keeps its id, title and uses, so
    every campaign and announcement showing it shows the new file. The upload's own entry goes when
    ``discard_upload`` (it was made for this) and nothing uses it.

    The approver must see everything that plays: an approved or paused campaign showing it goes
    back to the approval queue (returned, so the page can name them)."""
    row = visible(session, user, media_id)
    upload = visible(session, user, upload_id)
    if upload.id == row.id:
        raise Invalid("choose a new file to replace this one with")
    if row.url is not None or upload.url is not None:
        raise Invalid("a web page or live stream has no file to replace").in_both(
            "网页或直播没有可替换的文件。", "A web page or live stream has no file to replace."
        )
    if upload.owner_id != row.owner_id:
        raise NotFound("unknown media")
    if upload.status != "ready":  # a transcoding job still writes to the upload's own entry
        raise Conflict(f"the file is not ready ({upload.status})").in_both(
            "新文件尚未就绪（正在转码或转码失败），就绪后再替换。",
            "The new file is not ready yet (being converted, or the conversion failed); "
            "replace it once ready.",
        )
    for column in CONTENT_COLUMNS:
        setattr(row, column, getattr(upload, column))
    if discard_upload and not upload.filler and users_of(session, upload.id) == ([], []):
        session.delete(upload)
    running = session.scalars(select(CampaignRow).where(CampaignRow.state.in_(("approved", "paused"))))
    requeued = [c for c in running if media_id in (c.media_ids or [])]
    for c in requeued:
        c.state, c.reason, c.updated_at, c.submitted_at = "pending", "", now, now
        c.decided_at = c.decided_by = None
    session.commit()
    log.info("media %s replaced by %s's upload; %d campaign(s) back to approval", media_id, user.username,
             len(requeued))  # fmt: skip
    return requeued


def device_asset_type(session: Session, device: Device, sha256: str) -> str:
    """The media type of a stored file ``device`` may download (``asset_access``); else 404."""
    grant = AssetGrant.of(device.served_assets or (), device.previous_assets or ())
    if not SHA256_RE.match(sha256) or not may_download(grant, sha256):
        raise NotFound("unknown asset")
    media_type = session.scalar(select(Media.media_type).where(Media.sha256 == sha256).limit(1))
    if media_type is None:
        raise NotFound("unknown asset")
    return media_type
