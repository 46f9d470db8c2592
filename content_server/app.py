"""Application factory: ``create_app(settings)`` wires DB, migrations, media store, keys and scheduler.

Nothing happens on import. Other packages add routers with one ``app.include_router`` line below
and jobs via ``app.state.scheduler`` (an APScheduler BackgroundScheduler started in the lifespan).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from content_server.api.fastpath import BodyLimit, SignageApp
from content_server.core import migrate
from content_server.core.auth import LoginLimiter, RateLimited
from content_server.core.db import make_engine, make_sessionmaker
from content_server.core.errors import ServerError
from content_server.core.keys import load_or_create_server_key
from content_server.core.settings import Settings
from content_server.core.store import MediaStore
from content_server.events import EmergencyNotifier
from content_server.services.manifest import ManifestCache
from schedules.clock import Clock, SystemClock

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServerError)
    async def _server_error(_request: Request, exc: ServerError) -> JSONResponse:
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(int(exc.retry_after_s + 0.999))
        if exc.status_code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse({"detail": str(exc)}, status_code=exc.status_code, headers=headers)

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


def _watch_commits(app: FastAPI) -> None:
    """After a commit that bumped the change counters, drop this process's cached generations."""

    @event.listens_for(app.state.sessions, "after_commit")
    def _after_commit(session: Session) -> None:
        if session.info.pop("manifests_changed", False):
            app.state.manifests.invalidate()
        if session.info.pop("emergency_changed", False):
            app.state.emergency.invalidate()

    @event.listens_for(app.state.sessions, "after_rollback")
    def _after_rollback(session: Session) -> None:
        session.info.pop("manifests_changed", None)
        session.info.pop("emergency_changed", None)


def _clean_up(app: FastAPI) -> None:
    """Scheduler job: forget stale pairing requests and expired tokens."""
    from content_server.services.screens import clean_up

    try:
        with app.state.sessions() as session:
            removed = clean_up(session, now=app.state.clock.now())
            session.commit()
    except Exception:  # boundary: a scheduler job must log, never kill the scheduler thread
        log.exception("clean-up job failed")
        return
    if removed:
        log.info("clean-up removed %d stale pairing(s)/token(s)", removed)


async def _refresh_generation(app: FastAPI, every_s: float) -> None:
    """Keep the poll fast path's view of the change counter fresh, so polls never wait for it."""

    def read() -> None:
        with app.state.sessions() as session:
            app.state.manifests.generation(session)

    while True:
        await asyncio.sleep(every_s)
        try:
            await run_in_threadpool(read)
        except Exception:  # boundary: a failed read only makes polls take the normal route
            log.exception("could not refresh the change counter")


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """Build the app on ``clock`` (the system clock unless a test passes a movable one)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("starting content server (data dir %s)", settings.data_dir)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.effective_database_url)
        log.info("database %s", engine.url.render_as_string(hide_password=True))
        migrate.upgrade(engine)
        app.state.engine = engine
        app.state.sessions = make_sessionmaker(engine)
        _watch_commits(app)
        app.state.store = MediaStore(settings.media_dir)
        app.state.server_key = load_or_create_server_key(settings.data_dir)
        scheduler = BackgroundScheduler(timezone="UTC")
        app.state.scheduler = scheduler
        scheduler.add_job(_clean_up, "interval", args=[app], minutes=15, id="signage-clean-up")
        for hook in app.state.startup_hooks:
            hook(app)
        if settings.scheduler_enabled:
            scheduler.start()
            log.info("background scheduler started with %d job(s)", len(scheduler.get_jobs()))
        refresher = (
            asyncio.create_task(_refresh_generation(app, settings.poll_cache_s / 2))
            if settings.poll_cache_s > 0
            else None
        )
        try:
            yield
        finally:
            log.info("stopping content server")
            if refresher is not None:
                refresher.cancel()
            app.state.emergency.close()
            if scheduler.running:
                scheduler.shutdown(wait=False)
            engine.dispose()

    app = SignageApp(
        title="Community signage content server",
        version="1",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    app.state.limiter = LoginLimiter(settings.login_max_failures, settings.login_window_s)
    app.state.emergency = EmergencyNotifier()
    app.state.manifests = ManifestCache(settings.poll_cache_s)
    app.state.startup_hooks = []  # callables(app) run after DB/store are ready, before the scheduler starts
    _install_error_handlers(app)
    app.add_middleware(BodyLimit)

    from content_server.api.routes import register_api

    register_api(app, API_PREFIX)
    from content_server.kiosk.routes import register as register_kiosk  # the kiosk back end (issue 7)

    register_kiosk(app)
    from content_server.portal.web import register as register_portal  # the web portal (issue 5)

    register_portal(app)
    _document_error_shape(app)
    return app


def _document_error_shape(app: FastAPI) -> None:
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
