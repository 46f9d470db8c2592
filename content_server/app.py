"""Application factory: ``create_app(settings)`` wires core and each feature, explicitly, in one place.

Core (database, migrations, the group-commit writer, store, keys, scheduler, error answers, body
limits, the portal's shell) comes first; then each feature adds its JSON routes (under
``/api/v1``), its portal pages and its start-up and shutdown hooks. Adding a feature is a few
lines here (docs/architecture.md, "Adding a feature"). Nothing happens on import.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from apscheduler.schedulers.background import BackgroundScheduler

from content_server.accounts import pages as accounts_pages
from content_server.accounts import routes as accounts_routes
from content_server.accounts import services as accounts_services
from content_server.core import api as core_api
from content_server.core import docs as core_docs
from content_server.core import migrate
from content_server.core import runtime as core_runtime
from content_server.core.api import ContentServer
from content_server.core.audit.services import AuditLog
from content_server.core.auth import LoginGuard
from content_server.core.body_limit import BodyLimit, collect_limits
from content_server.core.changes import ChangeTracker
from content_server.core.db import make_engine, make_sessionmaker
from content_server.core.group_commit import GroupCommit
from content_server.core.headers import SecurityHeaders
from content_server.core.keys import load_or_create_server_key
from content_server.core.login_guard import LoginPolicy
from content_server.core.settings import Settings
from content_server.core.store import MediaStore
from content_server.fleet import models as fleet_models
from content_server.fleet import pages as fleet_pages
from content_server.fleet import routes as fleet_routes
from content_server.fleet import runtime as fleet_runtime
from content_server.fleet.commands import models as command_models
from content_server.fleet.commands import pages as command_pages
from content_server.fleet.commands import routes as command_routes
from content_server.fleet.commands import runtime as command_runtime
from content_server.kiosk import models as kiosk_models
from content_server.kiosk import pages as kiosk_pages
from content_server.kiosk import routes as kiosk_routes
from content_server.kiosk import runtime as kiosk_runtime
from content_server.portal import shell as portal
from content_server.signage import models as signage_models
from content_server.signage import pages as signage_pages
from content_server.signage import routes as signage_routes
from content_server.signage import runtime as signage_runtime
from content_server.studio import pages as studio_pages
from content_server.studio import routes as studio_routes
from content_server.studio import runtime as studio_runtime
from content_server.updates import pages as updates_pages
from content_server.updates import routes as updates_routes
from content_server.updates import runtime as updates_runtime
from schedules.clock import Clock, SystemClock

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
# each feature's start-up hook (after the database is ready) and shutdown hook, in this order
STARTUP: tuple[Callable[[ContentServer], None], ...] = (
    signage_runtime.start,
    kiosk_runtime.start,
    studio_runtime.start,
    updates_runtime.start,
    fleet_runtime.start,
    command_runtime.start,
)
SHUTDOWN: tuple[Callable[[ContentServer], None], ...] = (signage_runtime.stop, command_runtime.stop)


def declare_audit(log_: AuditLog) -> None:
    """Each feature names the tables the audit trail follows (the app and the CLI both use this)."""
    accounts_services.audit_inputs(log_)
    signage_models.audit_inputs(log_)
    kiosk_models.audit_inputs(log_)
    fleet_models.audit_inputs(log_)
    command_models.audit_inputs(log_)


def create_app(settings: Settings, *, clock: Clock | None = None) -> ContentServer:
    """Build the app on ``clock`` (the system clock unless a test passes a movable one)."""

    @asynccontextmanager
    async def lifespan(app: ContentServer) -> AsyncIterator[None]:
        log.info("starting content server (data dir %s)", settings.data_dir)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.effective_database_url)
        log.info("database %s", engine.url.render_as_string(hide_password=True))
        migrate.upgrade(engine)
        app.state.engine = engine
        app.state.sessions = make_sessionmaker(engine)
        app.state.changes.install(app.state.sessions, origin=core_runtime.change_origin(app, engine))
        # the group-commit writer, on a connection of its own
        write_engine = make_engine(
            settings.effective_database_url, pool_size=1, max_overflow=0, pre_ping=False
        )
        app.state.writes = GroupCommit(write_engine)
        app.state.writes.start()
        app.state.body_limits = collect_limits(app, settings)
        app.state.store = MediaStore(settings.media_dir)
        app.state.server_key = load_or_create_server_key(settings.data_dir)
        scheduler = BackgroundScheduler(timezone="UTC")
        app.state.scheduler = scheduler
        core_runtime.start(app)  # audit hooks, the delivery worker, core's jobs
        for start in STARTUP:
            start(app)
        if settings.scheduler_enabled:
            scheduler.start()
            log.info("background scheduler started with %d job(s)", len(scheduler.get_jobs()))
        core_runtime.started(app)  # every feature's senders are registered: start sending
        try:
            yield
        finally:
            log.info("stopping content server")
            for stop in SHUTDOWN:
                stop(app)
            if scheduler.running:
                scheduler.shutdown(wait=False)
            app.state.writes.stop()
            write_engine.dispose()
            core_runtime.stop(app)
            engine.dispose()

    app = ContentServer(
        title="Community signage content server",
        version="1",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # served by core.docs from local files, under a CSP
        redoc_url=None,
    )
    # core: settings, clock, log-in throttling, change tracking, JSON errors, body limits, /health
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    app.state.login_guard = LoginGuard(
        settings.secret_key.encode(),
        LoginPolicy.scaled(settings.login_free_failures, settings.login_failures_per_hour),
    )
    app.state.changes = ChangeTracker(app.state.clock)
    core_runtime.prepare(app)  # the audit log and the counters, which features declare to
    declare_audit(app.state.audit)
    core_api.install(app)
    core_docs.install(app, API_PREFIX)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)  # nosniff; no-store unless a route chose (core/headers.py)
    # the routes a fleet calls all day come first: FastAPI tries routes in order, and each try costs
    app.include_router(signage_routes.device_router, prefix=API_PREFIX)
    app.include_router(kiosk_routes.device_router)
    app.include_router(core_api.router, prefix=API_PREFIX)
    portal.install(app)  # the portal's shell: static files, HTML error pages for /portal

    # accounts
    app.include_router(accounts_routes.router, prefix=API_PREFIX)
    portal.add_pages(app, accounts_pages.router, templates=accounts_pages.TEMPLATES)
    # signage (its caches declare what feeds them; the fast path is added at start-up)
    signage_runtime.prepare(app)
    app.include_router(signage_routes.router, prefix=API_PREFIX)
    portal.add_pages(app, signage_pages.router, templates=signage_pages.TEMPLATES, nav=signage_pages.NAV)
    # kiosk back end (its routers carry their own prefixes: /api/v1/kiosk, /pay, ...)
    app.include_router(studio_routes.router, prefix=API_PREFIX)
    portal.add_pages(app, studio_pages.router, templates=studio_pages.TEMPLATES, nav=studio_pages.NAV)
    app.include_router(kiosk_routes.router)
    portal.add_pages(app, kiosk_pages.router, templates=kiosk_pages.TEMPLATES, nav=kiosk_pages.NAV)
    # software updates (the TUF repository for devices; answers heartbeats' update reports)
    updates_runtime.prepare(app)
    app.include_router(updates_routes.router, prefix=API_PREFIX)
    portal.add_pages(app, updates_pages.router, templates=updates_pages.TEMPLATES, nav=updates_pages.NAV)
    # fleet operations: alerts and channels, deliveries, the audit trail, /metrics (its own token)
    fleet_runtime.prepare(app)
    app.include_router(fleet_routes.router, prefix=API_PREFIX)
    app.include_router(fleet_routes.metrics_router)
    portal.add_pages(app, fleet_pages.router, templates=fleet_pages.TEMPLATES, nav=fleet_pages.NAV)
    # fleet: remote commands (the devices' long-poll and the operators' sends)
    command_runtime.prepare(app)
    app.include_router(command_routes.router, prefix=API_PREFIX)
    portal.add_pages(app, command_pages.router, templates=command_pages.TEMPLATES, nav=command_pages.NAV)

    core_api.document_error_shape(app)
    return app
