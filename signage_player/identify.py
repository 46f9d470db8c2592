"""Identify: the screen's name and device id, large, over whatever it shows, for 30 seconds.

Someone standing in front of a row of screens can then tell which one the portal means. The
banner covers its host widget (the player's window, the kiosk's window), goes away on the
device's clock (tests move it), and is what screenshots show while it is up.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

from schedules.clock import Clock
from schedules.protocol.device import IDENTIFY_SECONDS
from signage_player.texts import TEXTS
from signage_player.view import draw_text_block, text_font

CHECK_MS = 500


class IdentifyBanner(QWidget):
    """Shows ``name`` and ``device_id`` over the host until ``IDENTIFY_SECONDS`` have passed."""

    def __init__(self, host: QWidget, clock: Clock) -> None:
        super().__init__(host)
        self.setObjectName("identify")
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.clock = clock
        self.name = ""
        self.device_id = ""
        self.until: float | None = None  # on the clock's monotonic time
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_MS)
        self._timer.timeout.connect(self._on_check)
        self.hide()

    def show_for(self, name: str, device_id: str, seconds: float = IDENTIFY_SECONDS) -> None:
        """Show (or show again, with the time restarted) over the whole host."""
        self.name, self.device_id = name, device_id
        self.until = self.clock.monotonic() + seconds
        host = self.parentWidget()
        if host is not None:
            self.setGeometry(host.rect())
        self.show()
        self.raise_()
        self.repaint()
        self._timer.start()

    def keep_on_top(self) -> None:
        """The host redrew its pages: stay above them while showing."""
        if self.isVisible():
            host = self.parentWidget()
            if host is not None:
                self.setGeometry(host.rect())
            self.raise_()

    def _on_check(self) -> None:
        if self.until is None or self.clock.monotonic() >= self.until:
            self.until = None
            self._timer.stop()
            self.hide()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        r = self.rect()
        p.fillRect(r, QColor("#0b3d91"))
        id_lines = "\n".join(TEXTS.text("identify_id", lang, id=self.device_id) for lang in ("zh", "en"))
        name_box = QRect(r.x(), r.y(), r.width(), r.height() * 2 // 3)
        id_box = QRect(r.x(), r.y() + r.height() * 2 // 3, r.width(), r.height() // 3)
        name = self.name or self.device_id
        draw_text_block(p, name_box, name, QColor("white"))  # as large as it fits
        small = QSize(id_box.width() * 4 // 5, id_box.height() * 3 // 5)
        draw_text_block(p, id_box, id_lines, QColor("#ffd54f"), text_font(id_lines, small, max_px=90))
        p.end()
