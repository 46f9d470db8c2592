"""Signage pages: the media library (upload with progress; operators pick the default slides)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from content_server.core.deps import NowDep, SessionDep
from content_server.portal.page import Csrf, MediaPage, OperatorPage
from content_server.signage.services import library

router = APIRouter()


@router.get("/media")
def media_page(page: MediaPage, session: SessionDep) -> Response:
    """Advertisers see their library; operators theirs plus the community's default slides."""
    user = page.user
    assert user is not None
    media = [m for m in library.list_for(session, user) if m.owner_id == user.id or m.filler]
    context = {
        "section": "media",
        "media": media,
        "operator": user.role == "operator",
        "upload_endpoint": "/api/v1/media",
        "max_mb": page.settings.max_upload_bytes // (1024 * 1024),
    }
    return page.render("media.html", context, title_key="media.title")


@router.post("/media/{media_id}/filler")
def set_filler(
    page: OperatorPage,
    session: SessionDep,
    now: NowDep,
    media_id: str,
    filler: Annotated[bool, Form()] = False,
    csrf_token: Csrf = "",
) -> Response:
    """Operators choose the community's default slides: what screens show when nothing is booked."""
    page.require_csrf(csrf_token)
    assert page.user is not None
    library.edit(session, page.user, media_id, title=None, duration_s=None, filler=filler, now=now)
    return page.redirect("/portal/media", notice="filler_saved")
