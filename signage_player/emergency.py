"""Emergencies: the server's long-poll, and the one rule for which emergency state the screen shows.

The long-poll (:meth:`EmergencyWatch.run`, on a worker thread) learns a new emergency within a
second of the operator starting or ending it, with its loudness (full screen, or a banner over the
programme: a CAP alert's severity decides). Until the server has answered once, the
emergency written in the live manifest stands in (a screen starting offline still shows it);
after that, the server's answer wins. Changes arrive as :attr:`EmergencyWatch.changed` on the
GUI thread.
"""

from __future__ import annotations

import logging
import random
import threading

from PySide6.QtCore import QObject, Signal

from schedules.model import ContentItem
from schedules.protocol.device import Manifest
from signage_player.device_api import Backoff, ClientError, DeviceApi, Unauthorized

log = logging.getLogger(__name__)


class EmergencyWatch(QObject):
    changed = Signal(object, str)  # ContentItem | None (None: no emergency), its loudness

    def __init__(self, api: DeviceApi, wait_s: float, stopping: threading.Event,
                 rand: random.Random | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.wait_s = wait_s
        self.stopping = stopping
        self.version: str | None = None  # the server's last answer; None until it answered
        # the last answer's version and item, set together (one assignment) for slots on other threads
        self.latest: tuple[str | None, ContentItem | None] = (None, None)
        self._backoff = Backoff(base_s=2, cap_s=60, rand=(rand or random.Random()).random)

    def run(self) -> None:
        """Long-poll until ``stopping`` is set; a refused key (Unauthorized) ends it by propagating."""
        while not self.stopping.is_set():
            try:
                state = self.api.emergency(self.version, self.wait_s)
            except Unauthorized:
                raise
            except ClientError as exc:
                log.debug("emergency poll: %s", exc)
                self.stopping.wait(self._backoff.failed(exc.retry_after_s))
                continue
            self._backoff.succeeded()
            if state.version != self.version:
                item: ContentItem | None = state.item if state.active else None
                self.latest = (state.version, item)
                self.version = state.version
                log.info("emergency %s (%s)", "started" if item else "ended", state.loudness.value)
                self.changed.emit(item, state.loudness.value)

    def on_manifest(self, manifest: Manifest) -> None:
        """A manifest went live: its emergency stands in until the server has answered."""
        if manifest.emergency is not None and self.version is None:
            em = manifest.emergency
            self.changed.emit(em.item if em.active else None, em.loudness.value)
