"""Fast path for the most frequent request: a screen polling an unchanged manifest (304).

Pure ASGI, in front of FastAPI: when the bearer key's cached manifest is known current (see
``ManifestCache.fresh_etag``) and ``If-None-Match`` matches, answer 304 without routing,
dependency injection or a database round trip. Anything else goes through the normal route.
"""

from __future__ import annotations

import hashlib

from starlette.types import ASGIApp, Receive, Scope, Send

from content_server.api.blobs import etag_matches

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
