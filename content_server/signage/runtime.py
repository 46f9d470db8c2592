"""Wiring of the signage feature into a running server: caches, the change watch, jobs.

``prepare`` runs in ``create_app`` (objects the fast path needs from the first request),
``start`` once the database is ready, ``stop`` at shutdown. Nothing happens on import.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import event
from sqlalchemy.orm import Session

from content_server.signage.services.emergency import EmergencyNotifier
from content_server.signage.services.manifest import ManifestCache
from content_server.signage.services.screens import clean_up

log = logging.getLogger(__name__)


def prepare(app: FastAPI) -> None:
    settings = app.state.settings
    app.state.emergency = EmergencyNotifier()
    app.state.manifests = ManifestCache(settings.poll_cache_s)


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


def start(app: FastAPI) -> None:
    """Start-up hook (on the event loop, the database ready): watch commits, schedule jobs."""
    settings = app.state.settings
    _watch_commits(app)
    app.state.scheduler.add_job(_clean_up, "interval", args=[app], minutes=15, id="signage-clean-up")
    app.state.signage_refresher = (
        asyncio.get_running_loop().create_task(_refresh_generation(app, settings.poll_cache_s / 2))
        if settings.poll_cache_s > 0
        else None
    )


def stop(app: FastAPI) -> None:
    """Shutdown hook: stop the refresher and answer the emergency long-polls now."""
    refresher = getattr(app.state, "signage_refresher", None)
    if refresher is not None:
        refresher.cancel()
    app.state.emergency.close()
