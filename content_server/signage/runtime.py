"""Wiring of the signage feature into a running server: caches, change watching, the fast path, jobs.

``prepare`` runs in ``create_app`` (it declares what feeds the caches and builds them), ``start``
once the database is ready (jobs, the poll fast path, the heartbeats' memory and its flush),
``stop`` at shutdown (the last heartbeats written). Nothing happens on import.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from concurrent.futures import ThreadPoolExecutor

from content_server.core.api import ContentServer
from content_server.core.body_limit import route_limit
from content_server.core.changes import CachedGenerations, Change, ChangeTracker
from content_server.signage.device_lane import DeviceLane
from content_server.signage.fastpath import (
    HEARTBEAT_PATH,
    PLAYS_PATH,
    DeviceWriteFastPath,
    PollFastPath,
    play_batch,
    steady_beat,
)
from content_server.signage.models import Device
from content_server.signage.proof_of_play import PlayPolicy
from content_server.signage.screenshots import ScreenshotPolicy
from content_server.signage.services import manifest
from content_server.signage.services.devices import DeviceKeys
from content_server.signage.services.emergency import EmergencyNotifier
from content_server.signage.services.heartbeats import SCREENSHOT_COLUMNS, HeartbeatBook
from content_server.signage.services.manifest_cache import ManifestCache
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
    targeted = settings.targeted_changes
    app.state.device_keys = DeviceKeys(generations, targeted=targeted)
    app.state.manifests = ManifestCache(generations, app.state.counters.add, targeted=targeted)
    app.state.emergency = emergency
    # the screens' blocking work, apart from everyone else's
    lane = DeviceLane(max_wait_s=settings.device_queue_s, count=app.state.counters.add)
    app.state.device_lane = lane
    app.state.counters.gauge("device_lane_waiting", lambda: lane.waiting)
    app.state.update_hook = None  # the updates feature answers heartbeats' update reports (app.py)
    # what proof of play and screenshots are judged by (proof_of_play.py, screenshots.py)
    app.state.play_policy = PlayPolicy(offline_window=dt.timedelta(days=settings.manifest_days))
    every = dt.timedelta(seconds=settings.screenshot_every_s) if settings.screenshot_every_s else None
    app.state.screenshot_policy = ScreenshotPolicy(every=every)
    manifest.watch_inputs(tracker)

    def changed(change: Change) -> None:
        """A change committed here (or told by another process): its stamps, at once."""
        generations.learn(change)
        if not targeted:  # the old design: every cached answer waits for the next read
            generations.invalidate()
        if change.emergency:
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


async def _refresh_generation(app: ContentServer, every_s: float, thread: ThreadPoolExecutor) -> None:
    """Keep the fast path's view of the change counter fresh, so polls never wait for it.

    On a thread of its own: on the request threads, a busy server would read it late, its 304s
    and heartbeats would then miss the fast path and make the server busier still.
    """
    generations: CachedGenerations = app.state.generations
    loop = asyncio.get_running_loop()

    def read() -> None:
        with app.state.sessions() as session:
            generations.read(session)

    while True:
        await asyncio.sleep(every_s)
        try:
            await loop.run_in_executor(thread, read)
        except Exception:  # boundary: a failed read only makes polls take the normal route
            log.exception("could not refresh the change counter")


def start(app: ContentServer) -> None:
    """Start-up hook (on the event loop, the database ready): the fast path, jobs, the refresher,
    the heartbeats' memory and its flush."""
    settings, state = app.state.settings, app.state
    loop = asyncio.get_running_loop()
    state.scheduler.add_job(_clean_up, "interval", args=[app], minutes=15, id="signage-clean-up")
    state.transcoder = TranscodeJobs(state.sessions, state.store, settings, state.clock)
    resumed = state.transcoder.resume()
    if resumed:
        log.info("resumed %d transcoding job(s)", resumed)
    book = HeartbeatBook(
        state.writes,
        state.sessions,
        state.manifests,
        state.clock,
        state.screenshot_policy,
        state.device_lane,
        flush_s=settings.heartbeat_flush_s,
        manifest_days=settings.manifest_days,
        update_hook=state.update_hook,
    )
    state.heartbeats = book
    state.changes.on_row_change(Device, SCREENSHOT_COLUMNS, book.forget)
    state.signage_tasks = [loop.create_task(book.run())]
    state.signage_threads = []
    if settings.poll_cache_s > 0:
        fast = PollFastPath(
            state.device_keys, state.manifests, state.store, state.clock, settings.accel_redirect_prefix
        )
        writes = DeviceWriteFastPath(
            state.device_keys,
            state.clock,
            {HEARTBEAT_PATH: steady_beat(book), PLAYS_PATH: play_batch(state.writes, state.play_policy)},
            app.behind_front,
            functools.partial(route_limit, state.body_limits),
            state.counters.add,
        )
        app.front_answers = (*app.front_answers, fast, writes)
        thread = ThreadPoolExecutor(1, thread_name_prefix="generation-refresh")
        state.signage_threads.append(thread)
        refresh = _refresh_generation(app, settings.poll_cache_s / 2, thread)
        state.signage_tasks.append(loop.create_task(refresh))


def stop(app: ContentServer) -> None:
    """Shutdown hook: stop the background tasks, write the last heartbeats, answer the emergency
    long-polls now."""
    for task in getattr(app.state, "signage_tasks", []):
        task.cancel()
    for thread in getattr(app.state, "signage_threads", []):
        thread.shutdown(wait=False)
    book: HeartbeatBook | None = getattr(app.state, "heartbeats", None)
    if book is not None:
        try:
            book.flush_blocking()
        except Exception:  # boundary: a stop must finish; the beats are seconds of last-seen times
            log.exception("could not write the last heartbeats")
    transcoder = getattr(app.state, "transcoder", None)
    if transcoder is not None:
        transcoder.stop()
    app.state.emergency.close()
