"""Wiring of the signage feature into a running server: caches, change watching, the fast path, jobs.

``prepare`` runs in ``create_app`` (it declares what feeds the caches and builds them), ``start``
once the database is ready (jobs, the poll fast path), ``stop`` at shutdown. Nothing happens on
import.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from fastapi.concurrency import run_in_threadpool

from content_server.core.api import ContentServer
from content_server.core.changes import CachedGenerations, ChangeTracker
from content_server.signage.fastpath import PollFastPath
from content_server.signage.proof_of_play import PlayPolicy
from content_server.signage.screenshots import ScreenshotPolicy
from content_server.signage.services import manifest
from content_server.signage.services.devices import DeviceKeys
from content_server.signage.services.emergency import EmergencyNotifier
from content_server.signage.services.manifest import ManifestCache
from content_server.signage.services.screens import clean_up
from content_server.signage.services.transcoding import TranscodeJobs

log = logging.getLogger(__name__)


def prepare(app: ContentServer) -> None:
    """Declare the manifests' inputs to the change tracker; build the caches that watch them."""
    settings, clock = app.state.settings, app.state.clock
    tracker: ChangeTracker = app.state.changes
    generations = CachedGenerations(clock, settings.poll_cache_s)
    emergency = EmergencyNotifier(clock, upcoming=manifest.next_emergency_change)
    app.state.generations = generations
    app.state.device_keys = DeviceKeys(generations)
    app.state.manifests = ManifestCache(generations)
    app.state.emergency = emergency
    # what proof of play and screenshots are judged by (proof_of_play.py, screenshots.py)
    app.state.play_policy = PlayPolicy(offline_window=dt.timedelta(days=settings.manifest_days))
    every = dt.timedelta(seconds=settings.screenshot_every_s) if settings.screenshot_every_s else None
    app.state.screenshot_policy = ScreenshotPolicy(every=every)
    manifest.watch_inputs(tracker)

    def changed(is_emergency: bool) -> None:
        generations.invalidate()
        if is_emergency:
            emergency.invalidate()

    tracker.on_commit(changed)


def _clean_up(app: ContentServer) -> None:
    """Scheduler job: forget stale pairings, tokens, counters and served manifests (``clean_up``)."""
    try:
        with app.state.sessions() as session:
            removed = clean_up(session, now=app.state.clock.now())
    except Exception:  # boundary: a scheduler job must log, never kill the scheduler thread
        log.exception("clean-up job failed")
        return
    if removed:
        log.info("clean-up removed %d stale row(s)", removed)


async def _refresh_generation(app: ContentServer, every_s: float) -> None:
    """Keep the fast path's view of the change counter fresh, so polls never wait for it."""
    generations: CachedGenerations = app.state.generations

    def read() -> None:
        with app.state.sessions() as session:
            generations.read(session)

    while True:
        await asyncio.sleep(every_s)
        try:
            await run_in_threadpool(read)
        except Exception:  # boundary: a failed read only makes polls take the normal route
            log.exception("could not refresh the change counter")


def start(app: ContentServer) -> None:
    """Start-up hook (on the event loop, the database ready): the fast path, jobs, the refresher."""
    settings, state = app.state.settings, app.state
    state.scheduler.add_job(_clean_up, "interval", args=[app], minutes=15, id="signage-clean-up")
    state.transcoder = TranscodeJobs(state.sessions, state.store, settings, state.clock)
    resumed = state.transcoder.resume()
    if resumed:
        log.info("resumed %d transcoding job(s)", resumed)
    if settings.poll_cache_s > 0:
        fast = PollFastPath(state.device_keys, state.manifests, state.store, state.clock)
        app.front_answers = (*app.front_answers, fast)
        state.signage_refresher = asyncio.get_running_loop().create_task(
            _refresh_generation(app, settings.poll_cache_s / 2)
        )


def stop(app: ContentServer) -> None:
    """Shutdown hook: stop the refresher and answer the emergency long-polls now."""
    refresher = getattr(app.state, "signage_refresher", None)
    if refresher is not None:
        refresher.cancel()
    app.state.transcoder.stop()
    app.state.emergency.close()
