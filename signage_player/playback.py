"""Signage playback as one part: verified cache, manifest sync, play loop and the view that shows it.

The player plays it full screen; the kiosk plays it as its attract loop. A manifest that goes
live (synced on a worker thread, imported from USB, or found on disk at start) arrives as
:attr:`Playback.manifest_live` on the GUI thread, where the loop switches to it.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from schedules.clock import Clock
from schedules.model import ScreenClass
from schedules.protocol.device import Manifest
from signage_player.cache import AssetCache
from signage_player.device_api import Backoff, ClientError, DeviceApi, Unauthorized
from signage_player.media import MediaBackend
from signage_player.outbox import Outbox
from signage_player.playloop import PlayLoop
from signage_player.program import ManifestProgram
from signage_player.sync import Syncer
from signage_player.view import DEFAULT_LANGS, SignageView

log = logging.getLogger(__name__)

BLANK_RETRY_CAP_S = 300.0  # a screen with no manifest yet asks at least this often (a busy server's
# Retry-After stays under it: content_server/signage/device_lane.py MAX_RETRY_S plus the jitter)


class Playback(QObject):
    manifest_live = Signal(object)  # Manifest, on the GUI thread

    def __init__(self, api: DeviceApi, root: Path, backend: MediaBackend, clock: Clock, *,
                 cache_bytes: int, screen_class: ScreenClass = ScreenClass.OUTDOOR_LARGE,
                 outbox: Outbox | None = None, langs: tuple[str, ...] = DEFAULT_LANGS,
                 crossfade_ms: int = 0, retry_s: float = 10.0, rand: random.Random | None = None,
                 parent: QObject | None = None) -> None:
        """``root`` holds the cache and the manifests; ``outbox`` takes proof of play (None: none kept)."""
        super().__init__(parent)
        self.clock = clock
        self.cache = AssetCache(Path(root) / "cache", cache_bytes)
        self.view = SignageView(backend, screen_class, crossfade_ms=crossfade_ms, langs=langs, clock=clock)
        self.loop = PlayLoop(self.view, self.cache.path_if_valid, clock=clock, outbox=outbox, langs=langs)
        # emitted on the syncing thread; Qt queues it to this object's (the GUI) thread
        self.syncer = Syncer(api, self.cache, Path(root), clock.now, on_live=self.manifest_live.emit)
        self.manifest_live.connect(self._on_manifest_live)
        self._backoff = Backoff(retry_s, 600, (rand or random.Random()).random)
        self._retry_at = 0.0
        if self.syncer.live is not None:
            self.loop.set_program(ManifestProgram(self.syncer.live))

    def show_stored(self) -> None:
        """At start: play the manifest kept on disk while the network is still being tried."""
        live = self.syncer.live
        if live is not None:
            log.info("playing the stored manifest %s while connecting", live.version[:12])
            self.manifest_live.emit(live)

    def sync_now(self, *, refetch: bool = False) -> bool:
        """One sync round on the calling thread; True when a new manifest went live.
        ``refetch`` clears the cache first and downloads everything again."""
        return self.syncer.sync_once(refetch=refetch)

    def sync_job(self) -> None:
        """The periodic sync: skipped while backing off after failures; a refused key propagates."""
        mono = self.clock.monotonic()
        if mono < self._retry_at:
            return
        try:
            self.sync_now()
            self._backoff.succeeded()
        except Unauthorized:
            raise
        except ClientError as exc:
            delay = self._backoff.failed(exc.retry_after_s)
            if self.syncer.live is None:  # nothing to play yet: never wait long for a first manifest
                delay = min(delay, BLANK_RETRY_CAP_S)
            self._retry_at = mono + delay
            self.syncer.status.note_error(str(exc))
            log.warning("sync failed (retry in %.0f s): %s", delay, exc)

    def verify_cache(self) -> None:
        """Re-hash what is cached (a worker thread at start): a damaged file is fetched again."""
        bad = self.cache.verify_all()
        self.cache.save_stamps()
        if bad:
            log.warning("%d cached assets failed verification and will be fetched again", len(bad))

    def _on_manifest_live(self, manifest: Manifest) -> None:
        self.view.set_screen_class(manifest.screen.screen_class)
        self.loop.set_program(ManifestProgram(manifest))
