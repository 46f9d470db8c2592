"""Serving immutable content-addressed files: strong ETag = SHA-256, If-None-Match -> 304, Range."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import FileResponse

from content_server.errors import NotFound
from content_server.store import MediaStore

IMMUTABLE = "public, max-age=31536000, immutable"


class BlobResponse(FileResponse):
    """File response reading 1 MiB at a time (Starlette's 64 KiB costs a thread hop per chunk)."""

    chunk_size = 1024 * 1024


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return etag in tags


def serve_blob(
    request: Request, store: MediaStore, sha256: str, media_type: str, *, private: bool = False
) -> Response:
    path = store.path_for(sha256)
    if not path.is_file():
        raise NotFound("unknown asset")
    etag = f'"{sha256}"'
    cache = "private, max-age=31536000, immutable" if private else IMMUTABLE
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": cache})
    return BlobResponse(path, media_type=media_type, headers={"ETag": etag, "Cache-Control": cache})
