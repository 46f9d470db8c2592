"""Wiring of the fleet feature into a running server: its sender on the delivery queue, the evaluator job.

``prepare`` runs in ``create_app`` (the request counter learns the paths /metrics reports);
``start`` once the database is ready. Nothing happens on import.
"""

from __future__ import annotations

import logging

from content_server.core.api import ContentServer
from content_server.core.metrics.counters import RequestCounter
from content_server.fleet.services import evaluator
from content_server.fleet.services.channels import SENDER, ChannelSender
from content_server.fleet.services.directory import DeviceDirectory

log = logging.getLogger(__name__)

# what /metrics counts per request, before any other layer (the poll fast path included)
COUNTED = (
    ("GET", "/api/v1/device/manifest", "device_polls", False),
    ("GET", "/api/v1/assets/", "asset_downloads", True),
    ("POST", "/api/v1/device/heartbeat", "heartbeats", False),
    ("POST", "/api/v1/device/plays", "play_batches", False),
    ("GET", "/api/v1/device/emergency", "emergency_polls", False),
)


def prepare(app: ContentServer) -> None:
    counter = app.request_counter
    assert isinstance(counter, RequestCounter)
    for method, path, name, prefix in COUNTED:
        counter.count(method, path, name, prefix=prefix)
    app.state.counters.gauge("emergency_polls_waiting", lambda: app.state.emergency.waiting)


def evaluate(app: ContentServer) -> evaluator.PassSummary | None:
    """Scheduler job: one evaluation pass, if this process holds the evaluator's lease."""
    state = app.state
    try:  # boundary: a failing pass is logged; the next one decides again from the facts
        with state.sessions() as session:
            summary = evaluator.evaluate_all(
                session,
                now=state.clock.now(),
                settings=state.settings,
                owner=state.process,
                last_run=state.fleet_last_run,
                monotonic=state.clock.monotonic(),
                directory=state.fleet_directory,
            )
    except Exception:
        log.exception("alert evaluation failed")
        return None
    every = state.settings.fleet_evaluate_every_s
    if summary.took_s > every:
        log.warning("alert pass took %.1f s, longer than its %.0f s interval", summary.took_s, every)
    if summary.notices:
        log.info(
            "alert pass: %d notice(s), %d message(s) queued, %d open",
            summary.notices,
            summary.messages,
            summary.open_incidents,
        )
    return summary


def start(app: ContentServer) -> None:
    """Start-up hook: the fleet's sender on the delivery queue and the evaluator's job."""
    state = app.state
    state.fleet_last_run = {}  # rule id -> when this process last evaluated it (monotonic)
    state.fleet_directory = DeviceDirectory()  # devices' settings between passes
    state.deliveries.register(SENDER, ChannelSender(state.sessions))
    state.scheduler.add_job(
        evaluate,
        "interval",
        args=[app],
        seconds=state.settings.fleet_evaluate_every_s,
        id="fleet-evaluate",
        max_instances=1,
        coalesce=True,
        replace_existing=True,
    )
