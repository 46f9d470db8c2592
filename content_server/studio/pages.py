"""Studio pages: the template picker, the editor with a live preview of both orientations, PDF notices."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

from content_server.core.deps import SessionDep
from content_server.portal.page import MediaPage, PortalError
from content_server.portal.shell import NavLink
from content_server.signage.services import library
from content_server.studio.designs import AUTHORED_DESIGNS, BILINGUAL_KINDS, DESIGNS, FieldKind
from content_server.studio.palette import PALETTES
from content_server.studio.routes import PDF_LIMITS
from content_server.studio.services import slides

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
    context = {
        "section": "studio",
        "designs": [DESIGNS[k] for k in AUTHORED_DESIGNS],
        "slides": [(row, slides.media_of(session, row)) for row in slides.list_for(session, page.user)],
        "max_pdf_mb": PDF_LIMITS.max_bytes // (1024 * 1024),
    }
    return page.render("studio.html", context, title_key="studio.title")


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
