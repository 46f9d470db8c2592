"""Serving immutable content-addressed files: strong ETag = SHA-256, If-None-Match -> 304, Range;
behind nginx, the bytes are nginx's to send (``X-Accel-Redirect``)."""

from __future__ import annotations

import mmap
import os

from fastapi import Request, Response
from fastapi.responses import FileResponse
from starlette.types import Send

from content_server.core.conditional import IMMUTABLE, PRIVATE_IMMUTABLE, conditional, strong_etag
from content_server.core.errors import NotFound
from content_server.core.store import MediaStore


class BlobResponse(FileResponse):
    """A whole-file GET is sent from a read-only memory map, without a thread hop per chunk.

    Starlette reads each chunk on a worker thread and copies it; here the socket is fed
    slices of the page cache. Safe because store files are immutable (written once, then
    renamed into place; removal unlinks and never truncates), so a mapping cannot shrink
    under a transfer. Range requests keep Starlette's reader, 1 MiB at a time.
    """

    chunk_size = 1024 * 1024
    map_chunk = 4 * 1024 * 1024

    async def _handle_simple(self, send: Send, send_header_only: bool, send_pathsend: bool) -> None:
        if send_header_only or send_pathsend:
            return await super()._handle_simple(send, send_header_only, send_pathsend)
        with open(self.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else None
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        if mapped is None:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        mapped.madvise(mmap.MADV_SEQUENTIAL)
        view = memoryview(mapped)  # slices still queued in the transport keep the map alive
        for start in range(0, size, self.map_chunk):
            end = min(start + self.map_chunk, size)
            await send({"type": "http.response.body", "body": view[start:end], "more_body": end < size})


def serve_blob(
    request: Request,
    store: MediaStore,
    sha256: str,
    media_type: str,
    *,
    private: bool = False,
    accel_prefix: str | None = None,
) -> Response:
    if not store.exists(sha256):
        raise NotFound("unknown asset")
    inm = request.headers.get("if-none-match")
    return blob_response(inm, store, sha256, media_type, private=private, accel_prefix=accel_prefix)


def blob_response(
    if_none_match: str | None,
    store: MediaStore,
    sha256: str,
    media_type: str,
    *,
    private: bool = False,
    accel_prefix: str | None = None,
) -> Response:
    """304 when the client has it, else the file (whole, or the ``Range`` asked for).

    With ``accel_prefix`` (``SIGNAGE_ACCEL_REDIRECT_PREFIX``, behind nginx) the same answer's
    headers come with an empty body and ``X-Accel-Redirect: <prefix>/ab/cd/<sha256>``: nginx sends
    the bytes from the store (Range, sendfile) and keeps this Content-Type, Cache-Control and
    ETag (deploy/nginx/signage.conf). The 304 is still the app's: nginx never compares tags.
    The type is the server's own knowledge of the file, and ``nosniff`` tells browsers to keep
    to it: a stored picture is never run as a script or shown as a page.
    """

    def answer(headers: dict[str, str]) -> Response:
        headers = {**headers, **BLOB_HEADERS}
        if accel_prefix is None:
            return BlobResponse(store.path_for(sha256), media_type=media_type, headers=headers)
        headers[ACCEL_REDIRECT] = f"{accel_prefix}/{store.relative_path(sha256)}"
        return Response(media_type=media_type, headers=headers)

    cache_control = PRIVATE_IMMUTABLE if private else IMMUTABLE
    return conditional(if_none_match, strong_etag(sha256), cache_control, answer)


BLOB_HEADERS = {"X-Content-Type-Options": "nosniff"}
ACCEL_REDIRECT = "X-Accel-Redirect"
