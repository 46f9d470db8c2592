"""Ending the app on purpose so that its service manager (or the update guard) starts it again."""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication, QObject, Signal

from signage_player.updater.state import RESTART_EXIT_CODE

log = logging.getLogger(__name__)


class Restart(QObject):
    """An installed update asks (from its thread) for the app to end, so the guard starts the new version."""

    requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.requested.connect(self._on_requested)

    def _on_requested(self) -> None:
        log.info("restarting into the new version")
        QCoreApplication.exit(RESTART_EXIT_CODE)
