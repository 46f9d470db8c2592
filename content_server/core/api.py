"""The JSON API's shared shell: error answers, the documented error shape, and ``/health``.

Services raise :class:`~content_server.core.errors.ServerError` subclasses; the handlers here turn
them (and validation errors, integrity conflicts, the unexpected) into ``{"detail": ...}`` JSON.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from content_server.core.errors import ServerError

log = logging.getLogger(__name__)

router = APIRouter(tags=["system"])

FrontAnswer = Callable[[Scope], ASGIApp | None]


class ContentServer(FastAPI):
    """FastAPI, letting features answer a request before its layers (``front_answers``).

    A front answer sees the raw scope and returns an ASGI app to answer with, or None to let
    FastAPI handle the request as usual. Signage's poll fast path is one (``signage.fastpath``).
    """

    front_answers: tuple[FrontAnswer, ...] = ()
    request_counter: Callable[[Scope], None] | None = None  # counts polls, downloads (core.metrics)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.request_counter is not None:
            self.request_counter(scope)
        for front in self.front_answers:
            answer = front(scope)
            if answer is not None:
                await answer(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def behind_front(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI's handling, for a front answer that hands a request on after reading its body."""
        await super().__call__(scope, receive, send)


class Health(BaseModel):
    status: str
    version: str


@router.get("/health", response_model=Health)
def health() -> Health:
    """Health check for load balancers, fixtures and the demo launcher."""
    return Health(status="ok", version="1")


def install(app: FastAPI) -> None:
    """JSON error answers for every ``ServerError``, validation error and unexpected exception."""
    _install_error_handlers(app)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServerError)
    async def _server_error(_request: Request, exc: ServerError) -> JSONResponse:
        headers = {}
        if exc.retry_after_s is not None:  # whole seconds, never 0 (RFC 9110 delay-seconds)
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
        if exc.status_code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        body: dict[str, object] = {"detail": str(exc)}
        if exc.texts:
            body["reason"] = exc.texts
        if exc.details:
            body.update(exc.details)
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    @app.exception_handler(IntegrityError)
    async def _integrity(_request: Request, exc: IntegrityError) -> JSONResponse:
        # a concurrent request created the same thing first (services check before inserting)
        log.info("integrity conflict: %s", exc.orig)
        return JSONResponse({"detail": "conflicts with existing data; reload and try again"}, status_code=409)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems: list[dict[str, object]] = []
        messages: list[str] = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()))
            messages.append(f"{where}: {err.get('msg', 'invalid')}")
            problems.append({"loc": [str(p) for p in err.get("loc", ())], "msg": messages[-1]})
        summary = "; ".join(messages[:5]) or "invalid request"
        return JSONResponse({"detail": summary, "errors": problems}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal server error"}, status_code=500)


def document_error_shape(app: FastAPI) -> None:
    """The served OpenAPI describes the 422 body the error handler really sends.

    FastAPI documents its default ``{"detail": [ValidationError]}``; ours is one readable
    ``detail`` string plus the list of ``errors`` (see ``_install_error_handlers``).
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            shapes = schema.get("components", {}).get("schemas", {})
            if "HTTPValidationError" in shapes:
                shapes["HTTPValidationError"] = {
                    "title": "HTTPValidationError",
                    "type": "object",
                    "required": ["detail"],
                    "properties": {
                        "detail": {"type": "string", "title": "Detail"},
                        "errors": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/ValidationError"},
                        },
                    },
                }
                shapes["ValidationError"] = {
                    "title": "ValidationError",
                    "type": "object",
                    "required": ["loc", "msg"],
                    "properties": {
                        "loc": {"type": "array", "items": {"type": "string"}},
                        "msg": {"type": "string"},
                    },
                }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
