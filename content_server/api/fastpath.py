"""Fast path for the most frequent request: a screen polling an unchanged manifest (304).

Pure ASGI, in front of FastAPI: when the bearer key's cached manifest is known current (see
``ManifestCache.fresh_etag``) and ``If-None-Match`` matches, answer 304 without routing,
dependency injection or a database round trip. Anything else goes through the normal route.
"""

from __future__ import annotations

import hashlib
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from content_server.api.blobs import etag_matches
from content_server.errors import TooLarge

MANIFEST_PATH = "/api/v1/device/manifest"


class ManifestPollFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == MANIFEST_PATH:
            auth = inm = None
            for name, value in scope["headers"]:
                if name == b"authorization":
                    auth = value
                elif name == b"if-none-match":
                    inm = value
            if auth is not None and inm is not None and auth[:7].lower() == b"bearer ":
                state = scope["app"].state
                key_sha = hashlib.sha256(auth[7:].strip()).hexdigest()
                version = state.manifests.fresh_etag(key_sha, state.clock())
                if version is not None and etag_matches(inm.decode("latin-1"), f'"{version}"'):
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 304,
                            "headers": [
                                (b"etag", f'"{version}"'.encode()),
                                (b"cache-control", b"private, no-cache"),
                            ],
                        }
                    )
                    await send({"type": "http.response.body", "body": b""})
                    return
        await self.app(scope, receive, send)


MAX_JSON_BODY = 1024 * 1024
STREAMED_PATHS = ("/api/v1/media", "/api/v1/device/screenshot")  # enforce their own, larger limits


class BodyLimit:
    """Refuse request bodies over 1 MiB (413, JSON) except on the streaming upload routes."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_JSON_BODY) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in STREAMED_PATHS:
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await _too_large(send, self.max_bytes)
                return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise TooLarge(f"request body over {self.max_bytes} bytes")
            return message

        await self.app(scope, counting_receive, send)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body over {limit} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
