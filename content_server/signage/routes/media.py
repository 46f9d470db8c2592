"""Content library routes: streaming upload, listing, edit, delete, downloads; device asset downloads."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from content_server.core.blobs import serve_blob
from content_server.core.body_limit import max_body, raw_body
from content_server.core.deps import (
    ClockDep,
    NowDep,
    Operator,
    OperatorOrAdvertiser,
    SessionDep,
    SettingsDep,
    StoreDep,
    client_address,
)
from content_server.core.errors import NotFound
from content_server.signage.deps import CurrentDevice
from content_server.signage.models import Media
from content_server.signage.services import library
from schedules.model import ItemKind

router = APIRouter(tags=["media"])


class MediaOut(BaseModel):
    id: str
    sha256: str
    size: int
    media_type: str
    kind: str
    width: int
    height: int
    duration_s: float
    codec: str
    filename: str
    title: str
    filler: bool
    created_at: dt.datetime
    thumbnail_url: str
    content_url: str
    status: str  # ready | processing (a transcoding job runs: see progress) | failed (see problem)
    progress: float
    problem: dict[str, str]  # {"zh", "en"} when failed
    needs: list[str]  # why it is (or was) transcoded: codec, resolution, variable_frame_rate, ...
    upload_sha256: str | None  # the bytes as uploaded; sha256 is the file screens and browsers get
    screen_classes: list[str] | None  # classes big enough for it (None: every class)
    url: str | None = None  # a web page's or live stream's address (it has no file)
    allowed_hosts: list[str] | None = None  # a web page's
    load_timeout_s: float | None = None  # a web page's

    @classmethod
    def of(cls, m: Media) -> MediaOut:
        return cls(
            id=m.id,
            sha256=m.sha256,
            size=m.size,
            media_type=m.media_type,
            kind=m.kind,
            width=m.width,
            height=m.height,
            duration_s=m.duration_s,
            codec=m.codec,
            filename=m.filename,
            title=m.title,
            filler=m.filler,
            created_at=m.created_at,
            thumbnail_url=f"/api/v1/media/{m.id}/thumbnail",
            content_url=f"/api/v1/media/{m.id}/content",
            status=m.status,
            progress=m.progress,
            problem=dict(m.problem or {}),
            needs=list(m.needs or []),
            upload_sha256=m.source_sha256,
            screen_classes=m.screen_classes,
            url=m.url,
            allowed_hosts=m.allowed_hosts,
            load_timeout_s=m.load_timeout_s,
        )


class LiveMediaIn(BaseModel):
    """An operator's web page or live stream (``schedules.liveitems`` checks the address)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["web", "stream"]
    url: str = Field(max_length=2000)
    allowed_hosts: list[str] = Field(default_factory=list, max_length=20)  # a page's, beyond its own
    load_timeout_s: float | None = None  # a page's; 15 s when not given
    title: str = Field("", max_length=200)
    duration_s: float = Field(30.0, ge=5, le=3600)


class MediaPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, max_length=200)
    duration_s: float | None = Field(None, ge=1, le=3600)
    filler: bool | None = None


@router.post(
    "/media",
    response_model=MediaOut,
    status_code=201,
    dependencies=[max_body(lambda settings: settings.max_upload_bytes)],
    openapi_extra=raw_body("application/octet-stream"),
)
async def upload(
    request: Request,
    response: Response,
    store: StoreDep,
    settings: SettingsDep,
    clock: ClockDep,
    user: OperatorOrAdvertiser,
    filename: Annotated[str, Query(max_length=255)] = "upload",
    title: Annotated[str, Query(max_length=200)] = "",
) -> MediaOut:
    """Upload the raw file as the request body: streamed to disk (never held in memory), then
    checked and recorded on a worker thread with its own short database session."""
    row, created = await library.upload(
        request.stream(),
        request.app.state.sessions,
        store,
        settings,
        user,
        filename=filename,
        title=title,
        now=clock.now(),
        address=client_address(request),
        jobs=request.app.state.transcoder,
    )
    if not created:
        response.status_code = 200
    return MediaOut.of(row)


@router.post("/media/live", response_model=MediaOut, status_code=201)
def add_live(
    body: LiveMediaIn, response: Response, session: SessionDep, now: NowDep, user: Operator
) -> MediaOut:
    """A web page or live stream for screens: operators only (a page or camera feed an advertiser
    could point anywhere is the operator's to vouch for); 200 with the first for the same address."""
    row, created = library.add_live(
        session,
        user,
        ItemKind(body.kind),
        body.url,
        allowed_hosts=body.allowed_hosts,
        load_timeout_s=body.load_timeout_s,
        title=body.title,
        duration_s=body.duration_s,
        now=now,
    )
    if not created:
        response.status_code = 200
    return MediaOut.of(row)


@router.get("/media", response_model=list[MediaOut])
def list_media(session: SessionDep, user: OperatorOrAdvertiser) -> list[MediaOut]:
    return [MediaOut.of(m) for m in library.list_for(session, user)]


@router.get("/media/{media_id}", response_model=MediaOut)
def get_media(media_id: str, session: SessionDep, user: OperatorOrAdvertiser) -> MediaOut:
    return MediaOut.of(library.visible(session, user, media_id))


@router.patch("/media/{media_id}", response_model=MediaOut)
def edit_media(
    media_id: str, body: MediaPatch, session: SessionDep, now: NowDep, user: OperatorOrAdvertiser
) -> MediaOut:
    row = library.edit(
        session, user, media_id, title=body.title, duration_s=body.duration_s, filler=body.filler, now=now
    )
    return MediaOut.of(row)


@router.delete("/media/{media_id}", status_code=204)
def delete_media(media_id: str, session: SessionDep, now: NowDep, user: OperatorOrAdvertiser) -> Response:
    library.delete(session, user, media_id, now=now)
    return Response(status_code=204)


@router.get("/media/{media_id}/content", response_class=Response)
@router.head("/media/{media_id}/content", response_class=Response, include_in_schema=False)
def download(
    media_id: str, request: Request, session: SessionDep, store: StoreDep, user: OperatorOrAdvertiser
) -> Response:
    row = library.servable(session, user, media_id)
    return serve_blob(request, store, row.sha256, row.media_type, private=True)


@router.get("/media/{media_id}/thumbnail", response_class=Response)
@router.head("/media/{media_id}/thumbnail", response_class=Response, include_in_schema=False)
def thumbnail(
    media_id: str, request: Request, session: SessionDep, store: StoreDep, user: OperatorOrAdvertiser
) -> Response:
    row = library.visible(session, user, media_id)
    if row.thumbnail_sha256 is None:
        raise NotFound("no thumbnail")
    return serve_blob(request, store, row.thumbnail_sha256, "image/png", private=True)


@router.get("/assets/{sha256}", response_class=Response)
@router.head("/assets/{sha256}", response_class=Response, include_in_schema=False)
def asset(
    sha256: str,
    request: Request,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    device: CurrentDevice,
) -> Response:
    """Device download of an asset of its current or previous manifest by SHA-256 (Range, ETag,
    If-None-Match, HEAD); any other stored file is unknown to it (``asset_access``). Behind nginx
    (``SIGNAGE_ACCEL_REDIRECT_PREFIX``) nginx sends the bytes once this has allowed them."""
    media_type = library.device_asset_type(session, device, sha256)
    return serve_blob(request, store, sha256, media_type, accel_prefix=settings.accel_redirect_prefix)
