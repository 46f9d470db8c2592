"""Pairing: an unpaired device shows its code large and as a QR of the claim URL, then polls.

One pairing for both apps. :class:`PairingFlow` is plain Python (runs on a worker thread, time
and sleep injected); :class:`Pairing` runs it for a :class:`~signage_player.device.Device` and
brings its news to the GUI thread; :class:`PairingScreen` only draws what it reports. The player
shows the screen inside its window; the kiosk, which pairs before it starts, uses
:func:`pair_on_screen`.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import threading
from collections.abc import Callable
from pathlib import Path

import qrcode
from PySide6.QtCore import QEventLoop, QObject, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

from schedules.protocol.device import PairingStarted
from signage_player.device import Device
from signage_player.device_api import ClientError, DeviceApi
from signage_player.identity import DeviceIdentity
from signage_player.texts import tr
from signage_player.view import CJK_FAMILY, text_font
from signage_player.workers import Workers

log = logging.getLogger(__name__)


def qr_image(data: str) -> QImage:
    """A crisp black-on-white QR code as a QImage (scaled without smoothing when drawn)."""
    qr = qrcode.QRCode(border=2, box_size=1, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(data)
    qr.make(fit=True)
    buf = io.BytesIO()
    qr.make_image(fill_color="black", back_color="white").save(buf, format="PNG")
    img = QImage()
    img.loadFromData(buf.getvalue(), "PNG")
    return img


class PairingFlow:
    """Start pairing, poll until claimed (restarting when the code expires), store the key."""

    def __init__(self, client: DeviceApi, identity: DeviceIdentity, data_dir: Path, version: str,
                 now: Callable[[], dt.datetime], device_kind: str = "player", poll_s: float = 3.0) -> None:
        self.client = client
        self.identity = identity
        self.data_dir = data_dir
        self.version = version
        self.now = now
        self.device_kind = device_kind
        self.poll_s = poll_s

    def run(self, on_code: Callable[[PairingStarted], None], stop: threading.Event,
            on_error: Callable[[str], None] | None = None) -> DeviceIdentity | None:
        """Blocks until paired (returns the stored identity) or ``stop`` is set (returns None)."""
        started: PairingStarted | None = None
        failures = 0
        while not stop.is_set():
            try:
                if started is None or self.now() >= started.expires_at:
                    started = self.client.start_pairing(self.device_kind, self.version,
                                                        self.identity.public_key_b64)
                    on_code(started)
                status = self.client.poll_pairing(started.pairing_id, started.poll_secret)
                failures = 0
            except ClientError as exc:
                failures += 1
                if on_error is not None:
                    on_error(str(exc))
                log.warning("pairing: %s", exc)
                stop.wait(min(60.0, self.poll_s * 2 ** min(failures, 5)))
                if failures > 2:
                    started = None
                continue
            if status.claimed and status.device_id and status.device_key:
                ident = self.identity.with_pairing(
                    status.device_id, status.device_key, status.server_public_key
                )
                ident.save(self.data_dir)
                log.info("paired as device %s", status.device_id)
                return ident
            stop.wait(self.poll_s)
        return None


class Pairing(QObject):
    """Pairs ``device`` as ``kind`` (player, kiosk): the flow on a worker thread, news on the GUI thread."""

    started = Signal(object)  # PairingStarted: a code to show
    message = Signal(str)  # a problem reaching the server
    paired = Signal(object)  # DeviceIdentity, once the device uses it
    _claimed = Signal(object)  # DeviceIdentity, from the worker thread

    def __init__(self, device: Device, version: str, kind: str, workers: Workers, screen: PairingScreen,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.device, self.version, self.kind = device, version, kind
        self.workers = workers
        self.poll_s = 3.0  # how often to ask whether an operator claimed the code
        self.started.connect(screen.set_started)
        self.message.connect(screen.set_message)
        self._claimed.connect(self._on_claimed)

    def start(self) -> None:
        flow = PairingFlow(self.device.api, self.device.identity, self.device.data_dir, self.version,
                           self.device.clock.now, device_kind=self.kind, poll_s=self.poll_s)

        def run() -> None:
            ident = flow.run(self._on_code, self.workers.stopping, self.message.emit)
            if ident is not None:
                self._claimed.emit(ident)

        self.workers.spawn(run, "pairing")

    def _on_code(self, started: PairingStarted) -> None:
        log.info("pairing code %s (claim at %s)", started.code, started.claim_url)
        self.started.emit(started)

    def _on_claimed(self, ident: DeviceIdentity) -> None:
        self.device.adopt(ident)
        self.paired.emit(ident)


def pair_on_screen(device: Device, version: str, kind: str, stop: threading.Event,
                   show: Callable[[QWidget], None], poll_s: float = 3.0) -> bool:
    """Show the pairing screen until an operator claims ``device`` (True) or ``stop`` is set (False).

    For an app that pairs before it builds anything else (the kiosk): a local event loop, so
    the application's own loop is started once, for the app.
    """
    screen = PairingScreen()
    workers = Workers()
    pairing = Pairing(device, version, kind, workers, screen)
    pairing.poll_s = poll_s
    waiting = QEventLoop()
    pairing.paired.connect(lambda _ident: waiting.quit())
    poll = QTimer()
    poll.timeout.connect(lambda: waiting.quit() if stop.is_set() else None)  # SIGTERM while pairing
    poll.start(200)
    show(screen)
    pairing.start()
    log.info("waiting for an operator to claim this %s", kind)
    waiting.exec()
    poll.stop()
    workers.stop(join_s=10)
    screen.close()
    return device.paired


class PairingScreen(QWidget):
    """Code in very large digits, QR of the claim URL beside it, a one-line hint."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.code = ""
        self.claim_url = ""
        self.message = tr("connecting")
        self._qr: QImage | None = None

    def set_started(self, started: PairingStarted) -> None:
        self.code = started.code
        self.claim_url = started.claim_url
        self._qr = qr_image(started.claim_url)
        self.message = tr("pair_hint")
        self.update()

    def set_message(self, message: str) -> None:
        self.message = message
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        r = self.rect()
        p.fillRect(r, QColor("#0b1d33"))
        landscape = r.width() >= r.height()
        if landscape:
            code_box = QRect(r.x(), r.y(), r.width() * 3 // 5, r.height() * 4 // 5)
            qr_side = min(r.width() * 2 // 5, r.height() * 4 // 5) - 40
            qr_box = QRect(r.width() * 3 // 5 + 20, (r.height() * 4 // 5 - qr_side) // 2, qr_side, qr_side)
        else:
            code_box = QRect(r.x(), r.y(), r.width(), r.height() * 2 // 5)
            qr_side = min(r.width(), r.height() * 2 // 5) - 40
            qr_box = QRect((r.width() - qr_side) // 2, r.height() * 2 // 5 + 20, qr_side, qr_side)
        if self.code:
            p.setPen(QColor("white"))
            p.setFont(text_font(self.code, code_box.adjusted(40, 40, -40, -40).size(), max_px=600))
            p.drawText(code_box, int(Qt.AlignmentFlag.AlignCenter), self.code)
        if self._qr is not None:
            p.fillRect(qr_box.adjusted(-10, -10, 10, 10), QColor("white"))
            p.drawImage(qr_box, self._qr)  # no smoothing: modules stay sharp
        hint = QRect(r.x() + 20, r.height() * 4 // 5 if landscape else r.height() * 5 // 6, r.width() - 40,
                     r.height() // 6)
        font = QFont(CJK_FAMILY)
        font.setPixelSize(max(12, min(hint.height() // 3, r.width() // 45)))
        p.setFont(font)
        p.setPen(QColor("#cfd8e3"))
        p.drawText(hint, int(Qt.AlignmentFlag.AlignCenter) | int(Qt.TextFlag.TextWordWrap), self.message)
        p.end()
