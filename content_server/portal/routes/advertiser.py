"""Advertiser pages: media library with upload progress, campaigns, proof-of-play reports."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import Response

from content_server.api.deps import SessionDep
from content_server.portal.web import AdvertiserPage
from content_server.services import library

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/media")
def media_page(page: AdvertiserPage, session: SessionDep) -> Response:
    assert page.user is not None
    context = {
        "section": "media",
        "media": library.list_for(session, page.user),
        "upload_endpoint": "/api/v1/media",
        "max_mb": page.settings.max_upload_bytes // (1024 * 1024),
    }
    return page.render("media.html", context, title_key="media.title")
