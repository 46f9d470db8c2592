"""Studio pages: the template picker, the editor with a live preview of both orientations, PDF notices,
and the operators' live data sources (register, watch, refresh now, delete)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from content_server.core.deps import ClockDep, NowDep, SessionDep, StoreDep
from content_server.core.errors import ServerError
from content_server.portal import forms
from content_server.portal.page import Csrf, MediaPage, OperatorPage, PortalError, problem_text
from content_server.portal.shell import NavLink
from content_server.signage.services import library
from content_server.studio.datamap import PRESETS
from content_server.studio.designs import AUTHORED_DESIGNS, BILINGUAL_KINDS, DESIGNS, FieldKind
from content_server.studio.models import PdfDocument
from content_server.studio.palette import PALETTES
from content_server.studio.routes import PDF_LIMITS, BookDep
from content_server.studio.services import datasources, notices, slides
from content_server.studio.sources import SourceKind, SourceSpec
from schedules.model import Targeting

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
NAV = (
    NavLink("advertiser", "studio", "nav.studio", "/portal/studio"),
    NavLink("operator", "studio", "nav.studio", "/portal/studio"),
)
router = APIRouter()
LANGUAGE_KEYS = (("both", "studio.lang_both"), ("zh", "studio.lang_zh"), ("en", "studio.lang_en"))
IN_LANGUAGE_KEYS = (("zh", "studio.in_zh"), ("en", "studio.in_en"))
CHOICE_KEYS = {c: f"studio.choice_{c}" for c in ("found", "lost", "volunteer", "job")}


@router.get("/studio")
def studio_page(page: MediaPage, session: SessionDep) -> Response:
    """Pick a template, see the designed slides made so far, upload a PDF notice."""
    assert page.user is not None
    docs = notices.list_for(session, page.user)
    context = {
        "section": "studio",
        "designs": [DESIGNS[k] for k in AUTHORED_DESIGNS],
        "slides": [(row, slides.media_of(session, row)) for row in slides.list_for(session, page.user)],
        "max_pdf_mb": PDF_LIMITS.max_bytes // (1024 * 1024),
        "max_pdf_pages": notices.limits_for(page.user, PDF_LIMITS).max_pages,
        "pdfs": [(doc, notices.pages(session, doc)[:1]) for doc in docs],
    }
    if page.user.role != "operator":  # an ad's pages, every shape, ready ticked in a new campaign's form
        context["campaign_links"] = {doc.id: _campaign_link(session, doc) for doc in docs}
    return page.render("studio.html", context, title_key="studio.title")


def _campaign_link(session: Any, doc: PdfDocument) -> str:
    pages = notices.pages(session, doc)
    media = [("media", mid) for p in pages for mid in p.media_ids.values()]
    return "/portal/campaigns/new?" + urlencode([("name", doc.title or "PDF"), *media])


def _editor(page: MediaPage, session: SessionDep, design_key: str, slide_id: str | None) -> Response:
    assert page.user is not None
    design = DESIGNS.get(design_key)
    if design is None or design.data:
        raise PortalError("studio.unknown_design", 404)
    values: dict[str, str] = {}
    palette, language, title, photo_id = design.palette, "both", "", ""
    if slide_id is not None:
        row = slides.visible(session, page.user, slide_id)
        values, palette, language, title = (
            dict(row.fields),
            row.palette or design.palette,
            row.language,
            row.title,
        )
        photo_id = row.photo_media_id or ""
    photos = [
        m for m in library.list_for(session, page.user) if m.kind == "image" and m.owner_id == page.user.id
    ]
    context = {
        "section": "studio",
        "design": design,
        "bilingual": BILINGUAL_KINDS,
        "long_kinds": {FieldKind.LONG_TEXT, FieldKind.LIST},
        "values": values,
        "palettes": PALETTES,
        "palette": palette,
        "language": language,
        "slide_title": title,
        "slide_id": slide_id or "",
        "photos": photos if design.photo else [],
        "photo_id": photo_id,
        "language_keys": LANGUAGE_KEYS,
        "in_language_keys": IN_LANGUAGE_KEYS,
        "choice_keys": CHOICE_KEYS,
    }
    return page.render("studio_editor.html", context, title_key="studio.editor_title")


@router.get("/studio/new/{design_key}")
def new_slide(design_key: str, page: MediaPage, session: SessionDep) -> Response:
    return _editor(page, session, design_key, None)


@router.get("/studio/slides/{slide_id}")
def edit_slide(slide_id: str, page: MediaPage, session: SessionDep) -> Response:
    assert page.user is not None
    row = slides.visible(session, page.user, slide_id)
    return _editor(page, session, row.design, row.id)


@router.post("/studio/pdfs/{doc_id}/announce")
def announce_pdf(
    doc_id: str, page: OperatorPage, session: SessionDep, now: NowDep, csrf_token: Csrf = ""
) -> Response:
    """The whole PDF notice as one announcement, its pages in order, on every screen."""
    page.require_csrf(csrf_token)
    assert page.user is not None
    doc = notices.visible(session, page.user, doc_id)
    notices.announce(session, page.user, doc, title="", valid_until=None, targeting=Targeting(), now=now)
    return page.redirect("/portal/announcements", notice="announcement_published")


# ---- live data sources (operators) ----------------------------------------------------------------

Short = Annotated[str, Form(max_length=200)]
Url = Annotated[str, Form(max_length=2000)]
Num = Annotated[str, Form(max_length=8)]
SOURCE_FORM = {"name": "", "kind": "feed", "preset": "open_meteo_weather", "url": "", "every_min": "15",
               "ttl_min": "60", "allow": "", "headline_title": ""}  # fmt: skip


def _sources_page(
    page: OperatorPage,
    session: Any,
    now: Any,
    *,
    errors: list[str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "section": "studio",
        "sources": [datasources.view(session, row, now) for row in datasources.list_all(session)],
        "presets": list(PRESETS),
        "form": {**SOURCE_FORM, **(values or {})},
        "form_errors": errors or [],
    }
    return page.render("studio_sources.html", context, title_key="sources.title", status_code=status_code)


@router.get("/studio/sources")
def sources_page(page: OperatorPage, session: SessionDep, now: NowDep) -> Response:
    """Every live data source with its state; the form to register one."""
    return _sources_page(page, session, now)


def _minutes(value: str, field: str, low: int, high: int) -> int:
    number = forms.parse_number(value, field, low=low, high=high)
    if number is None:
        raise forms.FormError("sources.need_minutes", field=field)
    return round(number * 60)


@router.post("/studio/sources")
def register_source(
    page: OperatorPage, request: Request, session: SessionDep, now: NowDep,
    name: Short = "", kind: Annotated[str, Form(max_length=8)] = "feed", preset: Short = "", url: Url = "",
    every_min: Num = "", ttl_min: Num = "", allow: Annotated[str, Form(max_length=2000)] = "",
    headline_title: Short = "", csrf_token: Csrf = "",
) -> Response:  # fmt: skip
    page.require_csrf(csrf_token)
    assert page.user is not None
    values = {"name": name, "kind": kind, "preset": preset, "url": url, "every_min": every_min,
              "ttl_min": ttl_min, "allow": allow, "headline_title": headline_title}  # fmt: skip
    try:
        if kind not in {k.value for k in SourceKind}:
            raise forms.FormError("sources.bad_kind")
        spec = SourceSpec(
            name=name.strip(),
            kind=SourceKind(kind),
            url=url.strip(),
            every_s=_minutes(every_min, "every_s", 1, 1440),
            ttl_s=_minutes(ttl_min, "ttl_s", 1, 7 * 1440),
            preset=preset if kind == SourceKind.JSON else None,
            headline_title=headline_title.strip() if kind == SourceKind.FEED else "",
        )
        networks = [line.strip() for line in allow.replace(",", "\n").splitlines() if line.strip()]
        if len(networks) > 16:
            raise forms.FormError("sources.too_many_networks")
        jobs = getattr(request.app.state, "studio_sources", None)
        row = datasources.register(session, page.user, spec, networks, now=now, jobs=jobs)
    except (ServerError, ValidationError, ValueError) as exc:
        session.rollback()
        errors = [problem_text(page, exc)]
        return _sources_page(page, session, now, errors=errors, values=values, status_code=422)
    return page.redirect(f"/portal/studio/sources#source-{row.id}", notice="source_registered")


@router.post("/studio/sources/{source_id}/refresh")
def refresh_source(
    source_id: str, page: OperatorPage, request: Request, store: StoreDep, clock: ClockDep, book: BookDep,
    csrf_token: Csrf = "",
) -> Response:  # fmt: skip
    """Fetch now; the page then shows how it went (a failure is on the source's card)."""
    page.require_csrf(csrf_token)
    row = datasources.refresh_source(request.app.state.sessions, store, source_id, book, clock, page.tz)
    notice = "source_failed" if row.last_error else "source_refreshed"
    return page.redirect(f"/portal/studio/sources#source-{row.id}", notice=notice)


@router.post("/studio/sources/{source_id}/delete")
def delete_source(
    source_id: str, page: OperatorPage, request: Request, session: SessionDep, now: NowDep,
    confirm: Annotated[str, Form(max_length=8)] = "", csrf_token: Csrf = "",
) -> Response:  # fmt: skip
    """Delete after the confirmation box is ticked; its slides leave the screens (the announcement ends)."""
    page.require_csrf(csrf_token)
    if confirm != "yes":
        datasources.get(session, source_id)  # 404 for an unknown source, before asking again
        errors = [page.t("sources.delete_need_confirm")]
        return _sources_page(page, session, now, errors=errors, status_code=422)
    datasources.remove(session, source_id, getattr(request.app.state, "studio_sources", None))
    return page.redirect("/portal/studio/sources", notice="source_deleted")
