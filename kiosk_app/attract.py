"""The attract loop: the community's signage for the ``kiosk`` screen class, played by the player's code.

The :class:`~signage_player.Playback` (manifest sync, verified cache, play loop and view)
is the player's; the kiosk adds only when it plays (on the attract screen, paused behind the
service pages) and runs each sync on its worker runner.
"""

from __future__ import annotations

import logging

from kiosk_app.flow import KioskState, Screen
from kiosk_app.jobs import Runner
from signage_player import Playback

log = logging.getLogger(__name__)
CACHE_BYTES = 2 * 1024**3


class AttractLoop:
    def __init__(self, playback: Playback, runner: Runner) -> None:
        self.playback = playback
        self.runner = runner
        self.active = False
        self.screen_off = False  # an operator switched the screen off: nobody sees it, nothing plays
        self._on_attract = False
        self._syncing = False

    def on_state(self, state: KioskState) -> None:
        """Play only while the attract screen shows (video decoding costs CPU behind the pages, and
        a play nobody could see must not count in an advertiser's report)."""
        self._on_attract = state.screen is Screen.ATTRACT
        self._apply()

    def set_screen_off(self, off: bool) -> None:
        self.screen_off = off
        self._apply()

    def _apply(self) -> None:
        wanted = self._on_attract and not self.screen_off
        if wanted and not self.active:
            self.playback.loop.start()
        elif not wanted and self.active:
            self.playback.loop.stop()  # the play in progress is recorded as cut short
        self.active = wanted

    def sync(self) -> None:
        """A periodic sync on the runner (skipped while one is running)."""
        if self._syncing:
            return
        self._syncing = True
        self.runner.submit(self.playback.sync_now, self._on_synced, self._on_sync_failed)

    def _on_synced(self, went_live: bool) -> None:
        self._syncing = False
        live = self.playback.syncer.live
        if went_live and live is not None:  # the playback switched to it already
            log.info("attract content %s is live", live.version)

    def _on_sync_failed(self, exc: Exception) -> None:
        self._syncing = False
        log.warning("attract content sync failed (showing what is cached): %s", exc)

    def close(self) -> None:
        self.playback.loop.stop()
