"""systemd's watchdog from the Qt event loop: READY=1 once up, then WATCHDOG=1 every few seconds.

The pings come from a QTimer on the GUI thread, so a hung event loop (a frozen screen) stops
them and systemd (``WatchdogSec=``) restarts the service. Without ``NOTIFY_SOCKET`` (not run by
systemd) it does nothing. Shared by the player and the kiosk.
"""

from __future__ import annotations

import logging
import os
import socket

from PySide6.QtCore import QObject, QTimer

log = logging.getLogger(__name__)
PING_MS = 10_000  # when systemd does not say (WATCHDOG_USEC): well inside the units' WatchdogSec=45


def ping_interval_ms() -> int:
    """Half the watchdog timeout systemd gives in ``WATCHDOG_USEC``, as sd_watchdog_enabled advises."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    return max(100, int(usec) // 2000) if usec.isdigit() and int(usec) > 0 else PING_MS


def sd_notify(message: str) -> bool:
    """Send one sd_notify message; False when there is no socket or it failed (logged)."""
    addr = os.environ.get("NOTIFY_SOCKET", "")
    if not addr:
        return False
    if addr.startswith("@"):
        addr = "\0" + addr[1:]  # abstract namespace
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)  # never stall the GUI thread on a receiver that does not read
        try:
            sock.sendto(message.encode(), addr)
        except OSError as exc:
            log.warning("sd_notify %s failed: %s", message, exc)
            return False
    return True


class Watchdog(QObject):
    """Tells systemd the app is ready, then keeps pinging while the event loop runs."""

    def __init__(self, interval_ms: int | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms or ping_interval_ms())
        self._timer.timeout.connect(self._on_timeout)

    @property
    def enabled(self) -> bool:
        return bool(os.environ.get("NOTIFY_SOCKET"))

    def start(self) -> None:
        if not self.enabled:
            return
        self._timer.start()
        sd_notify("READY=1")

    def stop(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            sd_notify("STOPPING=1")

    def _on_timeout(self) -> None:
        sd_notify("WATCHDOG=1")
