"""The running player: wires identity, pairing, sync, play loop, reports, emergency and USB import.

Network work runs on APScheduler's background threads (sync, heartbeat, proof-of-play upload)
and one long-poll thread (emergency); results come back to the GUI thread as Qt signals.
Start-up and shutdown are explicit and logged step by step (:meth:`PlayerApp.start`,
:meth:`PlayerApp.shutdown`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import resource
import shlex
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QStackedWidget

from schedules.clock import Clock, SystemClock
from schedules.model import ContentItem
from schedules.protocol.device import Heartbeat, Manifest, PlayBatch, PlayRecord
from signage_player.cache import AssetCache
from signage_player.client import ServerClient
from signage_player.config import PlayerSettings
from signage_player.device_api import Backoff, ClientError, Unauthorized
from signage_player.files import atomic_write
from signage_player.identity import DeviceIdentity
from signage_player.media import MediaBackend, VlcBackend
from signage_player.outbox import Outbox
from signage_player.pairing import PairingFlow, PairingScreen
from signage_player.playloop import PLAYS_TOPIC, PlayLoop
from signage_player.program import ManifestProgram
from signage_player.sync import Syncer
from signage_player.usb import (
    BundleRefused,
    BundleWatcher,
    DirectoryWatcher,
    UdevWatcher,
    import_bundle,
    udev_available,
)
from signage_player.view import SignageView
from signage_player.watchdog import Watchdog

log = logging.getLogger(__name__)


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


@dataclass
class Snapshot:
    """What the GUI thread last saw, read by the heartbeat thread."""

    current_item_id: str | None = None
    screen_hash: str | None = None
    failed_items: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    taken_at: dt.datetime | None = None
    extra_errors: list[str] = field(default_factory=list)


class PlayerApp(QObject):
    manifest_live = Signal(object)  # Manifest
    emergency_changed = Signal(object)  # ContentItem | None
    screenshot_requested = Signal()
    pairing_started = Signal(object)  # PairingStarted
    pairing_message = Signal(str)
    paired = Signal(object)  # DeviceIdentity
    unpaired = Signal()
    bundle_refused = Signal(str)

    def __init__(self, settings: PlayerSettings, *, clock: Clock | None = None,
                 backend: MediaBackend | None = None, rand: random.Random | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.clock = clock or SystemClock()
        self.rand = rand or random.Random()
        self._backend = backend
        self.data_dir = settings.data_dir
        self.identity: DeviceIdentity | None = None
        self.client: ServerClient | None = None
        self.cache: AssetCache | None = None
        self.outbox: Outbox | None = None
        self.syncer: Syncer | None = None
        self.loop: PlayLoop | None = None
        self.view: SignageView | None = None
        self.window: QStackedWidget | None = None
        self.pairing_screen: PairingScreen | None = None
        self.scheduler: BackgroundScheduler | None = None
        self.watchers: list[BundleWatcher] = []
        self.snapshot = Snapshot()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sync_backoff = Backoff(min(10.0, settings.poll_interval_s), 600, self.rand.random)
        self._sync_retry_at = 0.0
        self._emergency_version: str | None = None
        self._timers: list[QTimer] = []
        self.watchdog = Watchdog(parent=self)
        self._started = False

    # -- start-up ----------------------------------------------------------------------------

    def start(self) -> None:
        s = self.settings
        log.info("player %s starting: server %s, data %s", s.version, s.server_url, s.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.identity = DeviceIdentity.load_or_create(self.data_dir)
        log.info("identity loaded (%s)", "paired" if self.identity.paired else "not paired")
        limit = s.download_limit_kb_s * 1000 if s.download_limit_kb_s else None
        self.client = ServerClient(s.server_url, self.identity.device_key, max_bytes_per_s=limit)
        self.cache = AssetCache(self.data_dir / "cache", s.cache_budget_bytes)
        self.outbox = Outbox(self.data_dir / "outbox.db")
        log.info("cache and outbox opened (%d plays waiting)", self.outbox.count(PLAYS_TOPIC))
        if self._backend is None:
            self._backend = VlcBackend(wait=False)
            log.info("libVLC started")
        self.window = QStackedWidget()
        self.window.setWindowTitle("signage-player")
        self.view = SignageView(self._backend, crossfade_ms=s.crossfade_ms, langs=s.langs,
                                clock=self.clock)
        self.pairing_screen = PairingScreen()
        self.window.addWidget(self.view)
        self.window.addWidget(self.pairing_screen)
        self.loop = PlayLoop(self.view, self._resolve, clock=self.clock, outbox=self.outbox, langs=s.langs)
        self.loop.screen_power.connect(self._on_screen_power)
        self.syncer = Syncer(self.client, self.cache, self.data_dir, self.clock.now,
                             on_live=self.manifest_live.emit)
        self.manifest_live.connect(self._on_manifest_live)
        self.emergency_changed.connect(self.loop.set_remote_emergency)
        self.screenshot_requested.connect(self._on_screenshot_requested)
        self.pairing_started.connect(self.pairing_screen.set_started)
        self.pairing_message.connect(self.pairing_screen.set_message)
        self.paired.connect(self._on_paired)
        self.unpaired.connect(self._on_unpaired)
        self._show_window()
        self._every(5000, self._take_snapshot)
        if s.screenshot_dir is not None:
            s.screenshot_dir.mkdir(parents=True, exist_ok=True)
            self._every(int(s.screenshot_every_s * 1000), self._save_screenshot)
        self.watchdog.start()  # READY=1, then WATCHDOG=1 from this thread (systemd restarts a hang)
        self.scheduler = BackgroundScheduler(timezone=dt.UTC)
        self.scheduler.start()
        self._start_watchers()
        self._started = True
        live = self.syncer.live
        if live is not None:
            log.info("playing the stored manifest %s while connecting", live.version[:12])
            self._on_manifest_live(live)
        self._thread(self._verify_cache, "verify-cache")
        if self.identity.paired:
            self._start_online()
        else:
            self._start_pairing()
        self.loop.start()
        log.info("player started")

    def _show_window(self) -> None:
        assert self.window is not None and self.view is not None
        s = self.settings
        self.window.resize(s.width, s.height)
        if s.window or s.screenshot_dir is not None:
            self.window.show()
        else:
            self.window.setCursor(Qt.CursorShape.BlankCursor)
            self.window.showFullScreen()

    def _start_pairing(self) -> None:
        assert self.window is not None and self.pairing_screen is not None
        self.window.setCurrentWidget(self.pairing_screen)
        assert self.client is not None and self.identity is not None
        flow = PairingFlow(self.client, self.identity, self.data_dir, self.settings.version, self.clock.now)

        def run() -> None:
            ident = flow.run(self.pairing_started.emit, self._stop, self.pairing_message.emit)
            if ident is not None:
                self.paired.emit(ident)

        self._thread(run, "pairing")

    def _on_paired(self, ident: DeviceIdentity) -> None:
        self.identity = ident
        assert self.client is not None
        self.client.device_key = ident.device_key
        self._start_online()

    def _on_unpaired(self) -> None:
        """The server refused our key (screen revoked): forget it and pair again."""
        if self.identity is None or not self.identity.paired:
            return
        log.warning("the server refused the device key: pairing again")
        self.identity = self.identity.forget_pairing()
        self.identity.save(self.data_dir)
        assert self.client is not None and self.scheduler is not None
        self.client.device_key = None
        for job in self.scheduler.get_jobs():
            job.remove()
        self._start_pairing()

    def _start_online(self) -> None:
        assert self.window is not None and self.view is not None and self.scheduler is not None
        self.window.setCurrentWidget(self.view)
        s = self.settings
        now = dt.datetime.now(dt.UTC)
        jobs = [
            ("sync", self._sync_job, s.poll_interval_s, s.poll_jitter_s, 0),
            ("heartbeat", self._heartbeat_job, s.heartbeat_interval_s, 5.0, 2),
            ("plays", self._plays_job, s.plays_interval_s, 5.0, 5),
        ]
        for job_id, func, every, jitter, first in jobs:
            self.scheduler.add_job(func, IntervalTrigger(seconds=every, jitter=jitter), id=job_id,
                                   next_run_time=now + dt.timedelta(seconds=first), max_instances=1,
                                   coalesce=True, replace_existing=True)
        self._thread(self._emergency_loop, "emergency")
        log.info("online services scheduled")

    def _start_watchers(self) -> None:
        s = self.settings
        if s.usb and udev_available():
            w: BundleWatcher = UdevWatcher(self._on_bundle)
            try:
                w.start()
                self.watchers.append(w)
                log.info("watching USB sticks through udev")
            except Exception as exc:  # udev present but unusable: fall back to the directory
                log.warning("udev watcher unavailable: %s", exc)
        if s.import_dir is not None:
            s.import_dir.mkdir(parents=True, exist_ok=True)
            d = DirectoryWatcher(s.import_dir, self._on_bundle)
            d.start()
            self.watchers.append(d)
            log.info("watching %s for bundles", s.import_dir)

    # -- shutdown ----------------------------------------------------------------------------

    def shutdown(self) -> None:
        if not self._started:
            return
        self._started = False
        log.info("player stopping")
        self._stop.set()
        self.watchdog.stop()
        for t in self._timers:
            t.stop()
        for w in self.watchers:
            w.stop()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
        for th in self._threads:
            th.join(timeout=2)  # a long-poll may still be waiting on the server: it is a daemon thread
        if self.loop is not None:
            self.loop.stop()  # records the play in progress as cut short
        if self.outbox is not None:
            self.outbox.close()
        if self.client is not None:
            self.client.close()
        if self._backend is not None:
            self._backend.close()
        if self.window is not None:
            self.window.close()
        log.info("player stopped")

    # -- GUI thread --------------------------------------------------------------------------

    def _resolve(self, sha256: str) -> Path | None:
        assert self.cache is not None
        return self.cache.path_if_valid(sha256)

    def _on_manifest_live(self, manifest: Manifest) -> None:
        assert self.loop is not None and self.view is not None
        screen = manifest.screen
        self.view.set_screen_class(screen.screen_class)
        self.loop.set_program(ManifestProgram(manifest))
        if manifest.emergency is not None and self._emergency_version is None:
            self.loop.set_remote_emergency(manifest.emergency.item if manifest.emergency.active else None)

    def _on_screen_power(self, on: bool) -> None:
        cmd = self.settings.backlight_on_cmd if on else self.settings.backlight_off_cmd
        if cmd:
            try:
                subprocess.Popen(shlex.split(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except OSError as exc:
                log.error("backlight command %r failed: %s", cmd, exc)

    def _take_snapshot(self) -> None:
        if self.view is None or self.loop is None:
            return
        cur = self.loop.current
        self.snapshot = Snapshot(
            current_item_id=cur.item.id if cur else None,
            screen_hash=average_hash(self.view.picture()),
            failed_items=tuple(sorted(self.loop.failed_items))[:200],
            errors=tuple(self.loop.errors[-20:]),
            taken_at=self.clock.now(),
        )

    def _save_screenshot(self) -> None:
        if self.window is None or self.settings.screenshot_dir is None:
            return
        png = png_bytes(self.window.grab().toImage())
        atomic_write(self.settings.screenshot_dir / "screen.png", png, 0o644)

    def _on_screenshot_requested(self) -> None:
        if self.window is None:
            return
        png = png_bytes(self.window.grab().toImage())
        self._thread(lambda: self._upload_screenshot(png), "screenshot")

    def _every(self, ms: int, slot: Callable[[], None]) -> None:
        t = QTimer(self)
        t.setInterval(ms)
        t.timeout.connect(slot)
        t.start()
        self._timers.append(t)

    # -- worker threads ----------------------------------------------------------------------

    def _thread(self, target: Callable[[], None], name: str) -> None:
        th = threading.Thread(target=self._guard(target, name), name=name, daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [th]
        th.start()

    def _guard(self, target: Callable[[], None], name: str) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except Unauthorized:
                self.unpaired.emit()
            except Exception:  # a worker boundary: log, the next run retries
                log.exception("%s failed", name)

        return run

    def _verify_cache(self) -> None:
        assert self.cache is not None
        bad = self.cache.verify_all()
        self.cache.save_stamps()
        if bad:
            log.warning("%d cached assets failed verification and will be fetched again", len(bad))

    def sync_now(self) -> bool:
        """One sync round on the calling thread (the scheduler's job, tests, and the heartbeat hint)."""
        assert self.syncer is not None
        return self.syncer.sync_once()

    def _sync_job(self) -> None:
        mono = self.clock.monotonic()
        if mono < self._sync_retry_at:
            return  # backing off after failures
        try:
            self.sync_now()
            self._sync_backoff.succeeded()
        except Unauthorized:
            self.unpaired.emit()
        except ClientError as exc:
            delay = self._sync_backoff.failed()
            self._sync_retry_at = mono + delay
            assert self.syncer is not None
            self.syncer.status.note_error(str(exc))
            log.warning("sync failed (retry in %.0f s): %s", delay, exc)

    def _heartbeat_job(self) -> None:
        assert self.client is not None and self.syncer is not None and self.cache is not None
        assert self.outbox is not None
        snap = self.snapshot
        st = self.syncer.status
        usage = shutil.disk_usage(self.data_dir)
        beat = Heartbeat(
            sent_at=self.clock.now(),
            player_version=self.settings.version,
            manifest_version=st.live_version,
            current_item_id=snap.current_item_id,
            missing_assets=st.missing[:500],
            failed_items=snap.failed_items,
            cache_bytes=self.cache.usage_bytes(),
            free_disk_bytes=usage.free,
            rss_bytes=rss_bytes(),
            last_sync_at=st.last_sync_at,
            screen_hash=snap.screen_hash,
            errors=tuple([*st.errors, *snap.errors][-50:]),
            outbox_length=self.outbox.count(PLAYS_TOPIC),
        )
        try:
            reply = self.client.heartbeat(beat)
        except Unauthorized:
            self.unpaired.emit()
            return
        except ClientError as exc:
            log.info("heartbeat not delivered: %s", exc)
            return
        if reply.screenshot_requested:
            self.screenshot_requested.emit()
        if reply.manifest_version not in (st.live_version, None) and self.scheduler is not None:
            job = self.scheduler.get_job("sync")
            if job is not None:
                job.modify(next_run_time=dt.datetime.now(dt.UTC))

    def upload_plays(self, limit: int = 500) -> int:
        """Send waiting play records in batches until none are left; returns how many were delivered."""
        assert self.client is not None and self.outbox is not None
        sent = 0
        while not self._stop.is_set():
            entries = self.outbox.pending(PLAYS_TOPIC, limit)
            if not entries:
                break
            records = [PlayRecord.model_validate_json(e.payload) for e in entries]
            keys = [e.key for e in entries]
            try:
                self.client.send_plays(PlayBatch(records=records))
            except ClientError:
                self.outbox.record_attempt(PLAYS_TOPIC, keys)
                raise
            self.outbox.ack(PLAYS_TOPIC, keys)  # accepted and duplicates alike: the server has them
            sent += len(keys)
        return sent

    def _plays_job(self) -> None:
        try:
            n = self.upload_plays()
            if n:
                log.info("delivered %d play records", n)
        except Unauthorized:
            self.unpaired.emit()
        except ClientError as exc:
            log.info("play records kept for later: %s", exc)

    def _emergency_loop(self) -> None:
        assert self.client is not None
        backoff = Backoff(base_s=2, cap_s=60, rand=self.rand.random)
        while not self._stop.is_set():
            try:
                state = self.client.emergency(self._emergency_version, self.settings.emergency_wait_s)
            except Unauthorized:
                self.unpaired.emit()
                return
            except ClientError as exc:
                log.debug("emergency poll: %s", exc)
                self._stop.wait(backoff.failed())
                continue
            backoff.succeeded()
            if state.version != self._emergency_version:
                self._emergency_version = state.version
                item: ContentItem | None = state.item if state.active else None
                log.info("emergency %s", "started" if item else "ended")
                self.emergency_changed.emit(item)

    def _upload_screenshot(self, png: bytes) -> None:
        assert self.client is not None
        self.client.send_screenshot(png)
        log.info("screenshot sent (%d bytes)", len(png))

    def _on_bundle(self, path: Path) -> None:
        """Watcher thread: verify and import a bundle, then let it go live."""
        assert self.cache is not None and self.syncer is not None
        ident = self.identity
        live = self.syncer.live
        screen_id = live.screen.id if live is not None else (ident.device_id if ident else None)
        try:
            if screen_id is None:
                raise BundleRefused("this player does not know its screen yet")
            manifest = import_bundle(path, ident.server_public_key if ident else None, screen_id, self.cache)
        except BundleRefused as exc:
            log.error("USB bundle refused: %s", exc)
            self.syncer.status.note_error(f"bundle refused: {exc}")
            self.bundle_refused.emit(str(exc))
            return
        self.syncer.install(manifest)


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


__all__ = ["PlayerApp", "average_hash", "png_bytes", "rss_bytes"]
