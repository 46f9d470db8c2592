"""Conditional answers (ETag / If-None-Match / 304), written in one place for every path.

Manifests, the kiosk catalogue, content-addressed blobs and the poll fast path all validate a
cached copy the same way: a strong ``ETag``, a ``Cache-Control`` saying how the client may keep
it, and a bare ``304 Not Modified`` carrying those same two headers when ``If-None-Match``
matches. :func:`validator_headers` builds the headers; :func:`conditional` answers a request
with them; :class:`RawNotModified` is the same 304 as a bare ASGI answer for the fast path.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Response
from starlette.types import Receive, Scope, Send

PRIVATE_REVALIDATE = "private, no-cache"  # per-device answers: keep, but ask every time
REVALIDATE = "no-cache"  # shared answers (the kiosk catalogue): keep, but ask every time
IMMUTABLE = "public, max-age=31536000, immutable"  # content-addressed: never changes
PRIVATE_IMMUTABLE = "private, max-age=31536000, immutable"


def strong_etag(version: str) -> str:
    return f'"{version}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` value names ``etag`` (weak forms and ``*`` included)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return etag in (t.strip().removeprefix("W/") for t in if_none_match.split(","))


def validator_headers(etag: str, cache_control: str) -> dict[str, str]:
    """The headers a 200 and its 304 both carry (``nosniff`` too: the fast path answers before
    the middleware that adds it to everything else, core/headers.py)."""
    return {"ETag": etag, "Cache-Control": cache_control, "X-Content-Type-Options": "nosniff"}


def conditional(
    if_none_match: str | None,
    etag: str,
    cache_control: str,
    answer: Callable[[dict[str, str]], Response],
) -> Response:
    """304 when the client holds ``etag``; otherwise ``answer(headers)`` (the full response)."""
    headers = validator_headers(etag, cache_control)
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return answer(headers)


class RawNotModified:
    """The same 304 as a bare ASGI answer: for the poll fast path, where a Response costs more."""

    def __init__(self, etag: str, cache_control: str) -> None:
        self.headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in validator_headers(etag, cache_control).items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 304, "headers": self.headers})
        await send({"type": "http.response.body", "body": b""})
