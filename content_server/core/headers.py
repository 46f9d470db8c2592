"""Headers every answer carries: ``nosniff``, and ``Cache-Control: no-store`` unless the route chose.

Personal data (``/api/v1/cases``, the portal's pages, pay pages) must not stay in a browser's or a
proxy's cache; routes that rely on revalidation (device manifests and assets: ``private,
no-cache`` with an ETag; immutable media) set their own ``Cache-Control`` and keep it. The poll
fast path answers before this middleware and sets both itself (``core/blobs.py``, fast path).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NOSNIFF = (b"x-content-type-options", b"nosniff")
NO_STORE = (b"cache-control", b"no-store")
CACHEABLE_PREFIXES = ("/portal/static/", "/api/v1/docs-assets/")  # public files, never personal


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith(CACHEABLE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                names = {name.lower() for name, _ in headers}
                if b"x-content-type-options" not in names:
                    headers.append(NOSNIFF)
                if b"cache-control" not in names and not cacheable:
                    headers.append(NO_STORE)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
