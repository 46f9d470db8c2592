"""The kiosk's heartbeat, and its part in software updates: report, health gate, restart.

Every ``heartbeat_interval_s`` the kiosk sends the device heartbeat (the player's protocol). When
the update guard started it, the heartbeat carries its update report and the version the reply
assigns goes to the player's update runner (through ``signage_player``), as on a player. A new
version is healthy once the attract screen was shown, the catalogue came from the server in
this run and a heartbeat was accepted. After an update is installed the kiosk ends with the
restart code and the guard starts the new version.
"""

from __future__ import annotations

import datetime as dt
import logging

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

from kiosk_app.app import KioskApp
from kiosk_app.flow import Screen
from schedules.protocol.device import Heartbeat, HeartbeatReply
from signage_player import Device, UpdateRunner, updates_for_device

log = logging.getLogger(__name__)


class KioskUpdates(QObject):
    restart_requested = Signal()  # from the update thread; ends the event loop on the GUI thread

    def __init__(self, kiosk: KioskApp, device: Device, server_url: str, version: str, interval_s: float,
                 restart_cmd: str | None = None) -> None:
        super().__init__(kiosk.window)
        self.kiosk, self.device, self.version = kiosk, device, version
        self.updates: UpdateRunner | None = updates_for_device(device, server_url, version,
                                                               self.restart_requested.emit, restart_cmd)
        self.started_at = device.clock.now()
        self.attract_shown = False
        self._timer = QTimer(self)
        self._timer.setInterval(int(interval_s * 1000))
        self._timer.timeout.connect(self.beat)
        self.restart_requested.connect(self._on_restart_requested)
        kiosk.flow.subscribe(self._on_state)
        self._on_state(kiosk.flow.state)

    def start(self) -> None:
        self._timer.start()
        QTimer.singleShot(2000, self.beat)

    def stop(self) -> None:
        self._timer.stop()

    def _on_state(self, state: object) -> None:
        if getattr(state, "screen", None) is Screen.ATTRACT and self.kiosk.window.isVisible():
            self.attract_shown = True

    def beat(self) -> None:
        """GUI thread: note what the gate needs, then send the heartbeat off this thread."""
        state = self.kiosk.flow.state
        synced = state.catalogue_as_of is not None and state.catalogue_as_of >= self.started_at
        updates = self.updates
        beat = Heartbeat(sent_at=self.device.clock.now(), player_version=self.version,
                         update=updates.report() if updates is not None else None)
        painted = self.attract_shown
        self.kiosk.runner.submit(lambda: self._send(beat, painted, synced), self._on_reply, self._on_failed)

    def _send(self, beat: Heartbeat, painted: bool, synced: bool) -> HeartbeatReply:
        reply = self.device.api.heartbeat(beat)
        updates = self.updates
        if updates is not None:
            if painted:
                updates.mark(UpdateRunner.PAINTED)
            if synced:
                updates.mark(UpdateRunner.SYNCED)
            updates.mark(UpdateRunner.HEARTBEAT)
            updates.offer(reply.update)
        return reply

    def _on_reply(self, reply: HeartbeatReply) -> None:
        log.debug("heartbeat accepted at %s", reply.server_time.astimezone(dt.UTC).isoformat())

    def _on_failed(self, exc: Exception) -> None:
        log.info("heartbeat not delivered: %s", exc)

    def _on_restart_requested(self) -> None:
        log.info("restarting into the new version")
        QCoreApplication.exit(UpdateRunner.RESTART_EXIT_CODE)
