"""What a screen tells the server: heartbeats, proof of play, and screenshots when asked.

The GUI thread takes a :class:`Snapshot` of what is on screen every few seconds (a hash of the
picture tells the server a frozen screen from a moving one); heartbeats and uploads run on
worker threads and read only that snapshot and the content's :class:`ContentFacts`. A heartbeat
reply that asks for a screenshot makes the GUI thread grab the screen and a worker upload it;
one that names a newer manifest emits :attr:`Reporter.newer_manifest` (the player syncs at once).

What is reported comes from a :class:`ScreenSource`: for the player, its playback and window
(:class:`PlaybackScreen`); the kiosk has its own (its page, peripherals and catalogue, and a
screenshot that never shows a resident's data). Any :class:`~signage_player.device.Device` with
a source can report.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import resource
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget

from schedules.protocol.device import Heartbeat, HeartbeatReply, PeripheralStatus, PlayBatch, PlayRecord
from signage_player.device import Device
from signage_player.device_api import ClientError, Unauthorized
from signage_player.files import atomic_write
from signage_player.playback import Playback
from signage_player.playloop import PLAYS_TOPIC
from signage_player.updater.runner import UpdateRunner
from signage_player.workers import Workers

log = logging.getLogger(__name__)
SNAPSHOT_MS = 5000


def average_hash(image: QImage) -> str:
    """64-bit average hash of the picture: equal for a frozen screen, different when it moves."""
    small = image.scaled(8, 8, Qt.AspectRatioMode.IgnoreAspectRatio,
                         Qt.TransformationMode.SmoothTransformation).convertToFormat(QImage.Format.Format_Grayscale8)
    values = [small.pixelColor(x, y).value() for y in range(8) for x in range(8)]
    mean = sum(values) / 64
    bits = 0
    for v in values:
        bits = (bits << 1) | (v >= mean)
    return f"{bits:016x}"


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")  # type: ignore[call-overload]  # the stubs say bytes; the binding wants str
    buf.close()
    return bytes(data.data())


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass(frozen=True)
class Snapshot:
    """What the GUI thread last saw, read by the heartbeat thread."""

    current_item_id: str | None = None
    screen_hash: str | None = None
    failed_items: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    taken_at: dt.datetime | None = None
    page: str | None = None  # kiosks: the page on show (its name only)
    peripherals: tuple[PeripheralStatus, ...] = ()


@dataclass(frozen=True)
class ContentFacts:
    """The screen's content as its sync left it (read on worker threads)."""

    live_version: str | None = None  # the manifest in play
    missing: tuple[str, ...] = ()
    last_sync_at: dt.datetime | None = None
    errors: tuple[str, ...] = ()
    cache_bytes: int = 0
    catalogue_version: str | None = None  # kiosks: the service catalogue in use
    catalogue_synced_at: dt.datetime | None = None
    syncs_manifest: bool = True  # False: no signage content here, a newer manifest means nothing


class ScreenSource(Protocol):
    """What a reporter reads about one screen."""

    def snapshot(self, now: dt.datetime) -> Snapshot:
        """GUI thread: what is on screen now."""
        ...

    def content(self) -> ContentFacts:
        """Any thread: the content's sync state."""
        ...

    def screenshot(self) -> QImage:
        """GUI thread: the picture an operator may see of this screen."""
        ...


class PlaybackScreen:
    """The player's screen: its playback (loop, view, sync, cache) shown in ``window``."""

    def __init__(self, playback: Playback, window: QWidget) -> None:
        self.playback, self.window = playback, window

    def snapshot(self, now: dt.datetime) -> Snapshot:
        loop = self.playback.loop
        cur = loop.current
        return Snapshot(
            current_item_id=cur.item.id if cur else None,
            screen_hash=average_hash(self.playback.view.picture()),
            failed_items=tuple(sorted(loop.failed_items))[:200],
            errors=tuple(loop.errors[-20:]),
            taken_at=now,
        )

    def content(self) -> ContentFacts:
        st = self.playback.syncer.status
        return ContentFacts(live_version=st.live_version, missing=st.missing[:500],
                            last_sync_at=st.last_sync_at, errors=tuple(st.errors),
                            cache_bytes=self.playback.cache.usage_bytes())

    def screenshot(self) -> QImage:
        return self.window.grab().toImage()


class Reporter(QObject):
    screenshot_requested = Signal()  # the server asked (heartbeat thread -> GUI thread grabs)
    newer_manifest = Signal()  # the server has a manifest this screen does not play yet

    def __init__(self, device: Device, source: ScreenSource, version: str, workers: Workers,
                 *, screenshot_file: Path | None = None, screenshot_every_s: float = 10.0,
                 emergency_version: Callable[[], str | None] = lambda: None,
                 updates: UpdateRunner | None = None, parent: QObject | None = None) -> None:
        """``source`` says what is on screen; ``screenshot_file`` (headless runs) is kept current;
        ``emergency_version`` tells the emergency state in play (the operator's delivery count);
        ``updates`` (when the update guard started the app) rides on the heartbeats."""
        super().__init__(parent)
        self.device, self.source = device, source
        self.updates = updates
        self.version = version
        self.emergency_version = emergency_version
        self.workers = workers
        self.screenshot_file = screenshot_file
        self.snapshot = Snapshot()
        self._timers: list[QTimer] = []
        self._every(SNAPSHOT_MS, self.take_snapshot)
        if screenshot_file is not None:
            self._every(int(screenshot_every_s * 1000), self.save_screenshot)
        self.screenshot_requested.connect(self._on_screenshot_requested)

    def start(self) -> None:
        if self.screenshot_file is not None:
            self.screenshot_file.parent.mkdir(parents=True, exist_ok=True)
        for t in self._timers:
            t.start()

    def stop(self) -> None:
        for t in self._timers:
            t.stop()

    # -- GUI thread --------------------------------------------------------------------------

    def take_snapshot(self) -> None:
        self.snapshot = self.source.snapshot(self.device.clock.now())

    def screenshot_png(self) -> bytes:
        """GUI thread: what an operator may see of the screen now, as PNG."""
        return png_bytes(self.source.screenshot())

    def save_screenshot(self) -> None:
        if self.screenshot_file is not None:
            atomic_write(self.screenshot_file, self.screenshot_png(), 0o644)

    def _on_screenshot_requested(self) -> None:
        png = self.screenshot_png()
        self.workers.spawn(lambda: self.send_screenshot(png), "screenshot")

    # -- worker threads ----------------------------------------------------------------------

    def beat(self) -> Heartbeat:
        """The heartbeat as of now: the last snapshot plus sync, cache, disk, memory and outbox."""
        snap = self.snapshot
        facts = self.source.content()
        return Heartbeat(
            sent_at=self.device.clock.now(),
            player_version=self.version,
            manifest_version=facts.live_version,
            current_item_id=snap.current_item_id,
            missing_assets=facts.missing[:500],
            failed_items=snap.failed_items,
            cache_bytes=facts.cache_bytes,
            free_disk_bytes=shutil.disk_usage(self.device.data_dir).free,
            rss_bytes=rss_bytes(),
            last_sync_at=facts.last_sync_at,
            page=snap.page,
            peripherals=snap.peripherals,
            catalogue_version=facts.catalogue_version,
            catalogue_synced_at=facts.catalogue_synced_at,
            screen_hash=snap.screen_hash,
            errors=tuple([*facts.errors, *snap.errors][-50:]),
            outbox_length=self.device.outbox.count(),
            emergency_version=self.emergency_version(),
            update=self.updates.report() if self.updates is not None else None,
        )

    def heartbeat(self) -> HeartbeatReply | None:
        """Send one heartbeat and act on the reply; None when it was not delivered (logged)."""
        try:
            reply = self.device.api.heartbeat(self.beat())
        except Unauthorized:
            raise
        except ClientError as exc:
            log.info("heartbeat not delivered: %s", exc)
            return None
        if reply.screenshot_requested:
            self.screenshot_requested.emit()
        facts = self.source.content()
        if facts.syncs_manifest and reply.manifest_version not in (facts.live_version, None):
            self.newer_manifest.emit()
        if self.updates is not None:
            self.report_health(self.updates)
            self.updates.offer(reply.update)
        return reply

    def report_health(self, updates: UpdateRunner) -> None:
        """A new version's health gate: a frame painted, a manifest synced, a heartbeat accepted
        (this one). A version already past its gate ignores them."""
        snap, facts = self.snapshot, self.source.content()
        if snap.screen_hash is not None and (snap.current_item_id is not None or snap.page is not None):
            updates.mark(UpdateRunner.PAINTED)  # a player's item or a kiosk's page on screen
        synced = facts.last_sync_at if facts.syncs_manifest else facts.catalogue_synced_at
        if synced is not None:
            updates.mark(UpdateRunner.SYNCED)  # its manifest (a player) or its catalogue (a kiosk)
        updates.mark(UpdateRunner.HEARTBEAT)

    def upload_plays(self, limit: int = 500) -> int:
        """Send waiting play records in batches until none are left; returns how many were delivered."""
        outbox, sent = self.device.outbox, 0
        while not self.workers.stopping.is_set():
            entries = outbox.pending(PLAYS_TOPIC, limit)
            if not entries:
                break
            records = [PlayRecord.model_validate_json(e.payload) for e in entries]
            keys = [e.key for e in entries]
            try:
                self.device.api.send_plays(PlayBatch(records=records))
            except ClientError:
                outbox.record_attempt(PLAYS_TOPIC, keys)
                raise
            outbox.ack(PLAYS_TOPIC, keys)  # accepted and duplicates alike: the server has them
            sent += len(keys)
        return sent

    def plays_job(self) -> None:
        try:
            n = self.upload_plays()
            if n:
                log.info("delivered %d play records", n)
        except Unauthorized:
            raise
        except ClientError as exc:
            log.info("play records kept for later: %s", exc)

    def send_screenshot(self, png: bytes) -> None:
        self.device.api.send_screenshot(png)
        log.info("screenshot sent (%d bytes)", len(png))

    def _every(self, ms: int, slot: Callable[[], None]) -> None:
        t = QTimer(self)
        t.setInterval(ms)
        t.timeout.connect(slot)
        self._timers.append(t)
