"""Fast path for the fleet's most frequent requests: manifest polls and asset downloads.

When the bearer key's cached manifest is known current (``ManifestCache.fresh_manifest``), the
app answers an unchanged poll (304) and a download of one of that manifest's own assets before
FastAPI's layers (telemetry checks, error and body-limit middleware, routing, dependency
injection, a worker-thread hop) and without a database round trip: for these requests those
layers cost more CPU than the answer. The fast path is stricter than the routes it shortcuts (a
key unknown here, or an asset not in the key's manifest, goes through the normal route), so
authorisation and error answers stay the routes' own.
"""

from __future__ import annotations

import hashlib
import json

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from content_server.core.blobs import blob_response, etag_matches
from content_server.core.errors import TooLarge

MANIFEST_PATH = "/api/v1/device/manifest"
ASSET_PREFIX = "/api/v1/assets/"


class SignageApp(FastAPI):
    """FastAPI, answering unchanged manifest polls and manifest asset downloads itself."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = self._fast_answer(scope)
        if answer is None:
            await super().__call__(scope, receive, send)
        else:
            await answer(scope, receive, send)

    def _fast_answer(self, scope: Scope) -> ASGIApp | None:
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        path: str = scope["path"]
        if path != MANIFEST_PATH and not path.startswith(ASSET_PREFIX):
            return None
        auth = inm = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                auth = value
            elif name == b"if-none-match":
                inm = value.decode("latin-1")
        if auth is None or auth[:7].lower() != b"bearer ":
            return None
        state = self.state
        key_hash = hashlib.sha256(auth[7:].strip()).hexdigest()
        manifest = state.manifests.fresh_manifest(key_hash, state.clock.now())
        if manifest is None:
            return None
        if path == MANIFEST_PATH:
            etag = f'"{manifest.version}"'
            return _NotModified(etag.encode()) if inm is not None and etag_matches(inm, etag) else None
        sha = path[len(ASSET_PREFIX) :]
        ref = next((a for a in manifest.assets if a.sha256 == sha), None)
        file = state.store.path_for(sha) if ref is not None else None
        if ref is None or file is None or not file.is_file():
            return None
        return blob_response(inm, file, sha, ref.media_type)


class _NotModified:
    """The bare 304 for an unchanged poll (Starlette's Response costs more than the answer)."""

    def __init__(self, etag: bytes) -> None:
        self.headers = [(b"etag", etag), (b"cache-control", b"private, no-cache")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 304, "headers": self.headers})
        await send({"type": "http.response.body", "body": b""})


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
