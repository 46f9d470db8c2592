"""Wiring of software updates into a running server: the repository, the heartbeat hook, the job.

``prepare`` runs in ``create_app`` (the repository under ``<data dir>/updates``; signage's heartbeat
asks :func:`services.on_heartbeat` what each device should run), ``start`` once the database is
ready (one job, every ``update_check_s``: re-sign snapshot/timestamp when due, move rollouts past
passed health gates, pause failing ones). Nothing happens on import.
"""

from __future__ import annotations

import datetime as dt
import logging

from content_server.core import leases
from content_server.core.api import ContentServer
from content_server.updates import services
from content_server.updates.repository import TufRepository

log = logging.getLogger(__name__)


def prepare(app: ContentServer) -> None:
    app.state.update_repository = TufRepository(app.state.settings.updates_dir)
    app.state.update_hook = services.on_heartbeat


LEASE = "updates"


def tick(app: ContentServer) -> None:
    """The job: keep the repository's online metadata fresh, then move rollouts on; in one process
    at a time (two re-signing the shared repository at once would each publish a different
    timestamp of the same version, and both would record a rollout's pause)."""
    now = app.state.clock.now()
    ttl = dt.timedelta(seconds=3 * app.state.settings.update_check_s + 10)
    try:
        with app.state.sessions() as session:
            held = leases.try_hold(session, LEASE, app.state.process, now=now, ttl=ttl)
            session.commit()
    except Exception:  # boundary, as below
        log.exception("update lease check failed")
        return
    if not held:
        return
    try:
        app.state.update_repository.refresh(now)
    except Exception:  # boundary: a scheduler job must log, never kill the scheduler thread
        log.exception("update repository refresh failed")
    try:
        with app.state.sessions() as session:
            services.advance_rollouts(session, now, dt.timedelta(seconds=app.state.settings.offline_after_s))
    except Exception:  # boundary, as above
        log.exception("rollout step failed")


def start(app: ContentServer) -> None:
    settings = app.state.settings
    app.state.scheduler.add_job(
        tick,
        "interval",
        args=[app],
        seconds=settings.update_check_s,
        id="updates",
        max_instances=1,
        coalesce=True,
    )
