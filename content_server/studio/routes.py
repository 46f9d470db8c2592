"""Studio JSON API: designs, live previews, designed slides (create, edit, re-render), PDF notices."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from content_server.core.body_limit import max_body, raw_body
from content_server.core.deps import (
    ClockDep,
    NowDep,
    Operator,
    OperatorOrAdvertiser,
    SessionDep,
    SettingsDep,
    StoreDep,
)
from content_server.studio.canvas import canvas_for
from content_server.studio.designs import AUTHORED_DESIGNS, DESIGNS, TemplateContent
from content_server.studio.fonts import FontBook
from content_server.studio.models import DataSourceRow, PdfDocument, TemplateSlide
from content_server.studio.palette import PALETTES
from content_server.studio.pdf_notice import PdfLimits
from content_server.studio.services import datasources, notices, slides
from content_server.studio.sources import SourceSpec
from schedules.model import Orientation, ScreenClass, Targeting

router = APIRouter(prefix="/studio", tags=["studio"])
PDF_LIMITS = PdfLimits()


def get_book() -> FontBook:
    return FontBook.system()


BookDep = Annotated[FontBook, Depends(get_book)]


class FieldOut(BaseModel):
    key: str
    label: dict[str, str]
    kind: str
    required: bool
    max_chars: int
    choices: list[str]


class DesignOut(BaseModel):
    key: str
    name: dict[str, str]
    palette: str
    photo: bool
    fields: list[FieldOut]


class SlideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: TemplateContent
    title: str = Field("", max_length=200)
    photo_media_id: str | None = None


class SlideOut(BaseModel):
    id: str
    title: str
    content: TemplateContent
    photo_media_id: str | None
    media_ids: dict[str, str]
    updated_at: dt.datetime

    @classmethod
    def of(cls, row: TemplateSlide) -> SlideOut:
        return cls(
            id=row.id,
            title=row.title,
            photo_media_id=row.photo_media_id,
            media_ids=row.media_ids,
            updated_at=row.updated_at,
            content=TemplateContent(
                design=row.design,
                palette=row.palette,
                language=row.language,
                fields=row.fields,
            ),
        )


class PageOut(BaseModel):
    number: int
    dwell_s: float
    media_ids: dict[str, str]
    thumbnail_url: str


class NoticeOut(BaseModel):
    id: str
    title: str
    page_count: int
    pages: list[PageOut]


@router.get("/designs", response_model=list[DesignOut])
def designs(user: OperatorOrAdvertiser) -> list[DesignOut]:
    return [
        DesignOut(
            key=d.key,
            name={"zh": d.name[0], "en": d.name[1]},
            palette=d.palette,
            photo=d.photo,
            fields=[
                FieldOut(
                    key=f.key,
                    label={"zh": f.label[0], "en": f.label[1]},
                    kind=f.kind.value,
                    required=f.required,
                    max_chars=f.max_chars,
                    choices=list(f.choices),
                )
                for f in d.fields
            ],
        )
        for d in (DESIGNS[k] for k in AUTHORED_DESIGNS)
    ]


@router.get("/palettes")
def palettes(user: OperatorOrAdvertiser) -> dict[str, dict[str, str]]:
    return {
        k: {"zh": p.name_zh, "en": p.name_en, "accent": "#{:02x}{:02x}{:02x}".format(*p.accent)}
        for k, p in PALETTES.items()
    }


@router.post("/preview", response_class=Response)
def preview(
    body: SlideIn,
    session: SessionDep,
    store: StoreDep,
    book: BookDep,
    user: OperatorOrAdvertiser,
    screen_class: ScreenClass = ScreenClass.OUTDOOR_LARGE,
    orientation: Orientation = Orientation.LANDSCAPE,
    width: Annotated[int | None, Query(ge=160, le=3840)] = None,
) -> Response:
    """The slide as a PNG at the class's size (or ``width`` wide, for the editor's live preview)."""
    cv = canvas_for(screen_class, orientation)
    if width is not None:
        cv = canvas_for(screen_class, orientation, (width, round(width * cv.height / cv.width)))
    png = slides.preview(session, store, user, body.content, body.photo_media_id, cv, book)
    return Response(
        png,
        media_type="image/png",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


@router.post("/slides", response_model=SlideOut, status_code=201)
def create_slide(
    body: SlideIn,
    session: SessionDep,
    store: StoreDep,
    book: BookDep,
    now: NowDep,
    user: OperatorOrAdvertiser,
) -> SlideOut:
    return SlideOut.of(
        slides.create(session, store, user, body.content, body.photo_media_id, body.title, book, now)
    )


@router.get("/slides", response_model=list[SlideOut])
def list_slides(session: SessionDep, user: OperatorOrAdvertiser) -> list[SlideOut]:
    return [SlideOut.of(r) for r in slides.list_for(session, user)]


@router.get("/slides/{slide_id}", response_model=SlideOut)
def get_slide(slide_id: str, session: SessionDep, user: OperatorOrAdvertiser) -> SlideOut:
    return SlideOut.of(slides.visible(session, user, slide_id))


@router.put("/slides/{slide_id}", response_model=SlideOut)
def update_slide(
    slide_id: str,
    body: SlideIn,
    session: SessionDep,
    store: StoreDep,
    book: BookDep,
    now: NowDep,
    user: OperatorOrAdvertiser,
) -> SlideOut:
    return SlideOut.of(
        slides.update(
            session, store, user, slide_id, body.content, body.photo_media_id, body.title, book, now
        )
    )


def _notice_out(doc: PdfDocument, session: SessionDep) -> NoticeOut:
    return NoticeOut(
        id=doc.id,
        title=doc.title,
        page_count=doc.page_count,
        pages=[
            PageOut(
                number=p.number,
                dwell_s=p.dwell_s,
                media_ids=p.media_ids,
                thumbnail_url=f"/api/v1/media/{p.media_ids['portrait']}/thumbnail",
            )
            for p in notices.pages(session, doc)
        ],
    )


@router.post(
    "/pdfs",
    response_model=NoticeOut,
    status_code=201,
    dependencies=[max_body(PDF_LIMITS.max_bytes)],
    openapi_extra=raw_body("application/octet-stream"),  # a PDF; fuzzers send bytes
)
async def upload_pdf(
    request: Request,
    store: StoreDep,
    clock: ClockDep,
    book: BookDep,
    user: OperatorOrAdvertiser,
    title: Annotated[str, Query(max_length=200)] = "",
) -> NoticeOut:
    """The PDF as the raw request body: streamed to disk, then checked and rendered on a worker thread."""
    doc = await notices.upload(
        request.stream(),
        request.app.state.sessions,
        store,
        user,
        title=title,
        book=book,
        limits=PDF_LIMITS,
        now=clock.now(),
    )
    with request.app.state.sessions() as session:
        return _notice_out(session.merge(doc), session)


@router.get("/pdfs/{doc_id}", response_model=NoticeOut)
def get_pdf(doc_id: str, session: SessionDep, user: OperatorOrAdvertiser) -> NoticeOut:
    return _notice_out(notices.visible(session, user, doc_id), session)


class NoticeAnnounceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field("", max_length=200)  # the notice's own title when empty
    valid_until: dt.datetime | None = None
    targeting: Targeting = Targeting()


class AnnouncedOut(BaseModel):
    announcement_id: str
    media_ids: list[str]


@router.post("/pdfs/{doc_id}/announcement", response_model=AnnouncedOut, status_code=201)
def announce_pdf(
    doc_id: str, body: NoticeAnnounceIn, session: SessionDep, now: NowDep, op: Operator
) -> AnnouncedOut:
    """The whole notice as one announcement, its pages in order (operators publish announcements)."""
    doc = notices.visible(session, op, doc_id)
    row = notices.announce(
        session, op, doc, title=body.title, valid_until=body.valid_until, targeting=body.targeting, now=now
    )
    return AnnouncedOut(announcement_id=row.id, media_ids=row.media_ids)


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spec: SourceSpec
    allow_networks: list[str] = Field(default_factory=list, max_length=16)


class SourceOut(BaseModel):
    id: str
    spec: SourceSpec
    allow_networks: list[str]
    fetched_at: dt.datetime | None
    expires_at: dt.datetime | None
    last_error: str
    failures: int
    ticker: str
    media_ids: dict[str, str]
    announcement_id: str | None

    @classmethod
    def of(cls, row: DataSourceRow) -> SourceOut:
        spec = SourceSpec.model_validate(row.spec)
        expires = row.fetched_at + dt.timedelta(seconds=spec.ttl_s) if row.fetched_at else None
        return cls(
            id=row.id,
            spec=spec,
            allow_networks=row.allow_networks,
            fetched_at=row.fetched_at,
            expires_at=expires,
            last_error=row.last_error,
            failures=row.failures,
            ticker=row.ticker,
            media_ids=row.media_ids,
            announcement_id=row.announcement_id,
        )


@router.post("/sources", response_model=SourceOut, status_code=201)
def register_source(
    body: SourceIn, request: Request, session: SessionDep, now: NowDep, op: Operator
) -> SourceOut:
    jobs = getattr(request.app.state, "studio_sources", None)
    return SourceOut.of(datasources.register(session, op, body.spec, body.allow_networks, now=now, jobs=jobs))


@router.get("/sources", response_model=list[SourceOut])
def list_sources(session: SessionDep, op: Operator) -> list[SourceOut]:
    return [SourceOut.of(r) for r in datasources.list_all(session)]


@router.post("/sources/{source_id}/refresh", response_model=SourceOut)
def refresh_source(
    source_id: str,
    request: Request,
    store: StoreDep,
    clock: ClockDep,
    book: BookDep,
    op: Operator,
    settings: SettingsDep,
) -> SourceOut:
    """Fetch now (the schedule goes on as before); the answer says how it went."""
    sessions = request.app.state.sessions
    return SourceOut.of(
        datasources.refresh_source(sessions, store, source_id, book, clock, settings.community_tz)
    )


@router.delete("/sources/{source_id}", status_code=204)
def remove_source(source_id: str, request: Request, session: SessionDep, op: Operator) -> Response:
    datasources.remove(session, source_id, getattr(request.app.state, "studio_sources", None))
    return Response(status_code=204)
