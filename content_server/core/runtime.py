"""Core's background parts in a running server: the audit log's hooks, the delivery worker, the counters.

``prepare`` (in ``create_app``) makes the parts features declare things to (the audit log's
watches, the request counter's paths); ``start`` (database ready, before the features' start-up
hooks) installs them on the sessions and schedules core's jobs; ``started`` (after the features
registered their senders) starts the delivery worker; ``stop`` at shutdown. Nothing on import.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import Engine

from content_server.core import leases
from content_server.core.api import ContentServer
from content_server.core.audit import services as audit
from content_server.core.audit.services import AuditLog
from content_server.core.change_notify import ChangeListener, Told
from content_server.core.changes import ALL, KEYS, Change, ChangeTracker, forget_stamps_before
from content_server.core.delivery import services as deliveries
from content_server.core.delivery.policy import RetryPolicy
from content_server.core.delivery.worker import DeliveryWorker
from content_server.core.metrics import services as metrics
from content_server.core.metrics.counters import Counters, RequestCounter
from content_server.core.settings import Settings

log = logging.getLogger(__name__)

METRICS_FLUSH_S = 5.0
DELIVERED_KEPT = dt.timedelta(days=30)
STAMPS_KEPT = dt.timedelta(
    days=1
)  # every process has read a stamp within seconds (changes.forget_stamps_before)
RETENTION_LEASE = "core-retention"


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.delivery_max_attempts,
        first_retry=dt.timedelta(seconds=settings.delivery_first_retry_s),
        max_retry=dt.timedelta(seconds=settings.delivery_max_retry_s),
    )


def prepare(app: ContentServer) -> None:
    """The parts features declare to: the audit log and the counters (with the request counter)."""
    app.state.audit = AuditLog(app.state.clock)
    app.state.counters = Counters()
    app.state.process = leases.process_name()
    app.request_counter = RequestCounter(app.state.counters)


def change_origin(app: ContentServer, engine: Engine) -> str | None:
    """This process's name for the changes it tells the others, when it tells them (PostgreSQL)."""
    if app.state.settings.change_notify and engine.dialect.name == "postgresql":
        origin: str = app.state.process
        return origin
    return None


def _listen_for_changes(app: ContentServer) -> ChangeListener | None:
    """The thread that hands other processes' changes to this one's caches (``change_notify``)."""
    state = app.state
    origin = change_origin(app, state.engine)
    if origin is None:
        return None
    tracker: ChangeTracker = state.changes

    def told(message: Told) -> None:
        if message.scopes is None:  # too many to list: everything up to its generation
            tracker.changed_elsewhere(Change(((ALL, message.generation), (KEYS, message.generation)), True))
        else:
            tracker.changed_elsewhere(Change(message.scopes, message.emergency))

    def connected(generation: int) -> None:  # whatever was said while nobody listened
        tracker.changed_elsewhere(Change(((ALL, generation), (KEYS, generation)), True))

    conninfo = state.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    listener = ChangeListener(conninfo, origin, told, connected)
    listener.start()
    return listener


def start(app: ContentServer) -> None:
    """Database ready: hooks on the sessions, the delivery worker (not yet running), core's jobs,
    and on PostgreSQL the listener for other processes' changes."""
    state, settings = app.state, app.state.settings
    state.change_listener = _listen_for_changes(app)
    state.audit.install(state.sessions)
    worker = DeliveryWorker(
        state.sessions,
        state.clock,
        retry_policy(settings),
        owner=state.process,
        lease=dt.timedelta(seconds=settings.delivery_lease_s),
        poll_s=settings.delivery_poll_s,
        on_outcome=lambda _m, out: state.counters.add("deliveries_sent" if out.ok else "delivery_failures"),
    )
    worker.install(state.sessions)
    state.deliveries = worker
    scheduler = state.scheduler
    scheduler.add_job(
        _flush_metrics,
        "interval",
        args=[app],
        seconds=METRICS_FLUSH_S,
        id="core-metrics",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        _retention,
        "interval",
        args=[app],
        hours=6,
        id="core-retention",
        max_instances=1,
        coalesce=True,
        next_run_time=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1),
    )


def started(app: ContentServer) -> None:
    """The features have registered their senders: start sending (unless background work is off)."""
    if app.state.settings.scheduler_enabled:
        app.state.deliveries.start()


def stop(app: ContentServer) -> None:
    worker: DeliveryWorker | None = getattr(app.state, "deliveries", None)
    if worker is not None:
        worker.stop()
    listener: ChangeListener | None = getattr(app.state, "change_listener", None)
    if listener is not None:
        listener.stop()
    try:  # boundary: shutting down with the database gone must still shut down
        _flush_metrics(app)
        with app.state.sessions() as session:
            metrics.forget_process(session, app.state.process)
    except Exception:
        log.exception("could not store the last counts at shutdown")


def _flush_metrics(app: ContentServer) -> None:
    try:  # boundary: a scheduler job logs, never kills the scheduler thread
        with app.state.sessions() as session:
            metrics.flush(session, app.state.counters, process=app.state.process, now=app.state.clock.now())
    except Exception:
        log.exception("could not store the counters")


def _retention(app: ContentServer) -> None:
    """Audit retention, old delivered messages and old change stamps, in one process at a time."""
    settings, clock = app.state.settings, app.state.clock
    try:  # boundary: as above
        with app.state.sessions() as session:
            now = clock.now()
            if not leases.try_hold(
                session, RETENTION_LEASE, app.state.process, now=now, ttl=dt.timedelta(hours=1)
            ):
                session.rollback()
                return
            # the lease is committed with the first pruning below; two processes racing for an
            # unheld lease at worst both prune, which is safe (the audit head serialises them)
            if settings.audit_retention_days > 0:
                audit.prune(session, now=now, keep=dt.timedelta(days=settings.audit_retention_days))
            deliveries.prune(session, now=now, keep=DELIVERED_KEPT)
            forget_stamps_before(session, now - STAMPS_KEPT)
    except Exception:
        log.exception("retention job failed")
