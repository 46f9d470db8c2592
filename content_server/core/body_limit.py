"""How big a request body may be: each route declares its own limit; 1 MiB for all the others.

(FastAPI's own ``max_body_size`` takes a constant per route; upload limits are settings, so the
marker here resolves them against ``Settings`` at start-up.) A route that takes more (an upload
streamed to the store) says so where it is declared::

    @router.post("/media", dependencies=[max_body(lambda s: s.max_upload_bytes)])

At start-up :func:`collect_limits` reads those markers from ``app.routes`` into a table the
:class:`BodyLimit` middleware consults: a body declared (``Content-Length``) or found (chunked)
to be larger than its route's limit gets ``413`` with a JSON reason, whatever the handler was
doing with it. A test fails when a handler that reads the raw stream has no declared limit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, params
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from content_server.core.errors import TooLarge
from content_server.core.settings import Settings

DEFAULT_MAX_BODY = 1024 * 1024  # JSON bodies and forms


class MaxBody:
    """Route marker (a dependency that does nothing): this route accepts bodies up to ``limit``."""

    def __init__(self, limit: int | Callable[[Settings], int]) -> None:
        self.limit = limit

    def resolve(self, settings: Settings) -> int:
        return self.limit(settings) if callable(self.limit) else self.limit

    def __call__(self) -> None:
        return None


def max_body(limit: int | Callable[[Settings], int]) -> params.Depends:
    """Declare a route's body limit: ``dependencies=[max_body(...)]``."""
    marker: params.Depends = Depends(MaxBody(limit))
    return marker


def raw_body(media_type: str) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its body raw (an upload): documents it as binary."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {"requestBody": {"required": True, "content": {media_type: binary}}}


def declared_limit(route: APIRoute) -> MaxBody | None:
    """The route's own body limit marker, if it declares one."""
    for dependency in route.dependencies:
        if isinstance(dependency.dependency, MaxBody):
            return dependency.dependency
    return None


@dataclass(frozen=True)
class RouteLimit:
    methods: frozenset[str]
    path: re.Pattern[str]
    max_bytes: int


def api_routes(app: FastAPI) -> list[tuple[RouteContext, APIRoute]]:
    """Every JSON route of ``app`` with its effective (prefixed) path, included routers opened."""
    return [
        (context, context.original_route)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    ]


def collect_limits(app: FastAPI, settings: Settings) -> tuple[RouteLimit, ...]:
    """Every declared limit in ``app.routes``, resolved against ``settings``."""
    limits = []
    for context, route in api_routes(app):
        if (marker := declared_limit(route)) is not None:
            methods = frozenset(context.methods or ())
            limits.append(RouteLimit(methods, context.path_regex, marker.resolve(settings)))
    return tuple(limits)


def route_limit(limits: tuple[RouteLimit, ...], scope: Scope, default_bytes: int = DEFAULT_MAX_BODY) -> int:
    """The body limit of the request in ``scope``: its route's declared one, else the default
    (the one rule; the device fast path reads no more than this either)."""
    for rule in limits:
        if scope["method"] in rule.methods and rule.path.match(scope["path"]):
            return rule.max_bytes
    return default_bytes


class BodyLimit:
    """Refuse bodies over their route's limit with 413 (JSON), before or while they arrive."""

    def __init__(self, app: ASGIApp, default_bytes: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.default_bytes = default_bytes

    def limit_for(self, scope: Scope) -> int:
        app = scope["app"]
        limits: tuple[RouteLimit, ...] | None = getattr(app.state, "body_limits", None)
        if limits is None:  # collected at start-up; an app served without its lifespan collects now
            limits = app.state.body_limits = collect_limits(app, app.state.settings)
        return route_limit(limits, scope, self.default_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _too_large(send, limit)
                return
        seen = 0
        over = started = False

        async def counting_receive() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    raise TooLarge(f"request body over the limit of {limit} bytes")
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:  # whatever the app makes of the cut-off body (a 400 from a parser), 413 it is
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except TooLarge:
            if not over:
                raise
        if over and not started:
            await _too_large(send, limit)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body over the limit of {limit} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
