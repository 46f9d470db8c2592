"""The fleet pages' own stylesheet and script, served from our origin (the portal's CSP allows only that)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from content_server.core.errors import NotFound

router = APIRouter()

STATIC = Path(__file__).resolve().parent.parent / "static"
ASSETS = {"fleet.css": "text/css", "fleet.js": "text/javascript"}


@functools.cache
def asset_url(name: str) -> str:
    """A fleet asset's URL, versioned by its content so a browser never keeps an old one."""
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
    return f"/portal/fleet/static/{name}?v={digest}"


@router.get("/fleet/static/{name}")
def static_asset(name: str) -> Response:
    if name not in ASSETS:
        raise NotFound("no such file")
    headers = {"Cache-Control": "public, max-age=31536000, immutable"}  # the URL changes with the content
    return FileResponse(STATIC / name, media_type=ASSETS[name], headers=headers)
