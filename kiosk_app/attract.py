"""The attract loop: the community's signage for the ``kiosk`` screen class, via the player's code.

Reuses the player's manifest sync, verified asset cache, play loop and playback widget; the
kiosk adds only when it plays (on the attract screen, paused behind the service pages) and
runs each sync on a worker thread.
"""

from __future__ import annotations

import logging
from pathlib import Path

from kiosk_app.flow import KioskState, Screen
from kiosk_app.jobs import Runner
from schedules.clock import Clock
from schedules.model import ScreenClass
from signage_player.cache import AssetCache
from signage_player.client import ServerClient
from signage_player.media import MediaBackend
from signage_player.playloop import PlayLoop
from signage_player.program import ManifestProgram
from signage_player.sync import Syncer
from signage_player.view import SignageView

log = logging.getLogger(__name__)


class AttractLoop:
    def __init__(self, client: ServerClient, data_dir: Path, backend: MediaBackend, runner: Runner,
                 clock: Clock, cache_bytes: int = 2 * 1024**3) -> None:
        root = Path(data_dir) / "signage"
        self.cache = AssetCache(root / "cache", cache_bytes)
        self.view = SignageView(backend, ScreenClass.KIOSK, clock=clock)
        self.loop = PlayLoop(self.view, self.cache.path_if_valid, clock=clock)
        self.syncer = Syncer(client, self.cache, root, clock.now)
        self.runner = runner
        self.active = False
        self._syncing = False
        if self.syncer.live is not None:
            self.loop.set_program(ManifestProgram(self.syncer.live))

    def on_state(self, state: KioskState) -> None:
        """Play only while the attract screen shows (video decoding costs CPU behind the pages)."""
        wanted = state.screen is Screen.ATTRACT
        if wanted and not self.active:
            self.loop.start()
        elif not wanted and self.active:
            self.loop.stop()
        self.active = wanted

    def sync(self) -> None:
        if self._syncing:
            return
        self._syncing = True
        self.runner.submit(self.syncer.sync_once, self._on_synced, self._on_sync_failed)

    def _on_synced(self, went_live: bool) -> None:
        self._syncing = False
        if went_live and self.syncer.live is not None:
            log.info("attract content %s is live", self.syncer.live.version)
            self.loop.set_program(ManifestProgram(self.syncer.live))

    def _on_sync_failed(self, exc: Exception) -> None:
        self._syncing = False
        log.warning("attract content sync failed (showing what is cached): %s", exc)

    def close(self) -> None:
        self.loop.stop()
