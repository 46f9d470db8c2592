"""The kiosk as a screen the server manages: what its heartbeats say and its screenshots show.

:class:`KioskScreen` is the player's :class:`~signage_player.ScreenSource` for a kiosk: the page on
show (its name only), the peripherals (scanner, printer, speaker: present and working), the
attract loop's content when there is one (a kiosk without libVLC has none), the service catalogue
in use and when the server last confirmed it. Its screenshot is the window's masked one
(:meth:`~kiosk_app.ui.window.KioskWindow.screenshot`): a page holding a resident's data is never
in it, and neither is it in the picture hash.
"""

from __future__ import annotations

import datetime as dt
import threading

from PySide6.QtGui import QImage

from kiosk_app.flow import KioskFlow, Screen
from kiosk_app.peripherals import PeripheralSource, statuses
from kiosk_app.speech import Speaker
from kiosk_app.store import CatalogueStore
from kiosk_app.ui.window import KioskWindow
from signage_player import ContentFacts, Playback, Snapshot, average_hash


class KioskScreen:
    def __init__(self, flow: KioskFlow, window: KioskWindow, playback: Playback | None,
                 peripherals: PeripheralSource, speaker: Speaker, store: CatalogueStore) -> None:
        self.flow, self.window, self.playback = flow, window, playback
        self.peripherals, self.speaker, self.store = peripherals, speaker, store
        self._lock = threading.Lock()
        self._catalogue: tuple[str | None, dt.datetime | None] = (None, None)  # as the GUI thread last saw

    def snapshot(self, now: dt.datetime) -> Snapshot:
        """GUI thread: page, peripherals, the attract loop's item while it shows, the picture's hash."""
        state = self.flow.state
        with self._lock:
            self._catalogue = (state.catalogue.version if state.catalogue else None, state.catalogue_as_of)
        loop = self.playback.loop if self.playback is not None else None
        current = loop.current if loop is not None and state.screen is Screen.ATTRACT else None
        return Snapshot(
            current_item_id=current.item.id if current else None,
            screen_hash=average_hash(self.screenshot()),
            failed_items=tuple(sorted(loop.failed_items))[:200] if loop else (),
            errors=tuple(loop.errors[-20:]) if loop else (),
            taken_at=now,
            page=state.screen.value,
            peripherals=statuses(self.peripherals.list(), self.speaker.available, self.speaker.failing),
        )

    def content(self) -> ContentFacts:
        """Any thread: the attract content's sync and the catalogue's, with what both keep on disk."""
        with self._lock:
            version, synced_at = self._catalogue
        catalogue_bytes = self.store.size_bytes()
        if self.playback is None:
            return ContentFacts(cache_bytes=catalogue_bytes, catalogue_version=version,
                                catalogue_synced_at=synced_at, syncs_manifest=False)
        st = self.playback.syncer.status
        return ContentFacts(live_version=st.live_version, missing=st.missing[:500],
                            last_sync_at=st.last_sync_at, errors=tuple(st.errors),
                            cache_bytes=self.playback.cache.usage_bytes() + catalogue_bytes,
                            catalogue_version=version, catalogue_synced_at=synced_at)

    def screenshot(self) -> QImage:
        return self.window.screenshot()
