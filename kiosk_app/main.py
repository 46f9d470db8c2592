"""``community-kiosk``: start the touch kiosk against a content server.

Start-up order (each step logged): settings → Qt → identity → on-screen pairing when new
(the player's pairing flow and screen) → API client → outbox and caches → window → attract
loop → timers. SIGTERM / Ctrl+C stop it cleanly; queued bookings stay in the outbox.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication, QWidget

    from kiosk_app.app import KioskApp
    from kiosk_app.attract import AttractLoop
    from kiosk_app.settings import KioskSettings
    from signage_player.client import ServerClient
    from signage_player.identity import DeviceIdentity

log = logging.getLogger(__name__)
KIOSK_VERSION = "0.1.0"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="community-kiosk", description=__doc__.splitlines()[0])
    parser.add_argument("--server", help="content server base URL (else KIOSK_SERVER_URL)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--window", action="store_true", help="run in a 1080x1920 window, not full screen")
    mode.add_argument("--screenshot-dir", type=Path, help="save a PNG of every screen shown into DIR")
    parser.add_argument("--data-dir", type=Path, help="identity, outbox and caches (else KIOSK_DATA_DIR)")
    parser.add_argument("--hash-pin", metavar="PIN",
                        help="print the hash for KIOSK_OPERATOR_PIN_HASH and exit")
    return parser.parse_args(argv)


def _show(widget: QWidget, settings: KioskSettings) -> None:
    widget.resize(1080, 1920)
    if settings.window or settings.screenshot_dir:
        widget.show()
    else:
        widget.showFullScreen()


def _pair_on_screen(settings: KioskSettings, identity: DeviceIdentity,
                    stop: threading.Event) -> DeviceIdentity | None:
    """Show the pairing code and QR until an operator claims this kiosk (or we are stopped)."""
    from PySide6.QtCore import QEventLoop, QObject, QTimer, Signal

    from schedules.clock import SystemClock
    from signage_player.client import ServerClient
    from signage_player.pairing import PairingFlow, PairingScreen

    class Bridge(QObject):
        started = Signal(object)
        message = Signal(str)
        finished = Signal(object)

    screen, bridge = PairingScreen(), Bridge()
    result: list[DeviceIdentity | None] = []

    waiting = QEventLoop()  # a local loop: the application's own loop is started once, for the kiosk

    def on_finished(ident: DeviceIdentity | None) -> None:
        result.append(ident)
        waiting.quit()

    bridge.started.connect(screen.set_started)
    bridge.started.connect(lambda s: log.info("pairing code %s (claim at %s)", s.code, s.claim_url))
    bridge.message.connect(screen.set_message)
    bridge.finished.connect(on_finished)
    flow = PairingFlow(ServerClient(settings.server_url), identity, Path(settings.data_dir), KIOSK_VERSION,
                       SystemClock().now, device_kind="kiosk")
    done_pairing = threading.Event()
    worker = threading.Thread(target=lambda: bridge.finished.emit(flow.run(bridge.started.emit, done_pairing,
                                                                           bridge.message.emit)),
                              name="pairing", daemon=True)
    _show(screen, settings)
    worker.start()
    log.info("waiting for an operator to claim this kiosk")
    poll = QTimer()
    poll.timeout.connect(lambda: waiting.quit() if stop.is_set() else None)  # SIGTERM while pairing
    poll.start(200)
    waiting.exec()
    poll.stop()
    done_pairing.set()
    worker.join(timeout=10)
    screen.close()
    return result[0] if result and result[0] is not None else None


def _attract_loop(client: ServerClient, settings: KioskSettings, kiosk: KioskApp) -> AttractLoop | None:
    """The signage attract loop (libVLC for video); without it the attract screen still works."""
    from PySide6.QtCore import QTimer

    from kiosk_app.attract import AttractLoop
    from schedules.clock import SystemClock
    from signage_player.errors import PlayerError
    from signage_player.media import VlcBackend

    try:
        backend = VlcBackend()
    except PlayerError as exc:
        log.error("no video back end, attract loop without signage content: %s", exc)
        return None
    attract = AttractLoop(client, Path(settings.data_dir), backend, kiosk.runner, SystemClock())
    kiosk.window.attract.set_content(attract.view)
    kiosk.flow.subscribe(attract.on_state)
    attract.on_state(kiosk.flow.state)
    timer = QTimer(kiosk.window)
    timer.setInterval(300_000)
    timer.timeout.connect(attract.sync)
    timer.start()
    attract.sync()
    log.info("attract loop started")
    return attract


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.hash_pin:
        from kiosk_app.operator import hash_pin

        print(hash_pin(args.hash_pin))
        return 0
    from pydantic import ValidationError

    from kiosk_app.settings import KioskSettings

    overrides: dict[str, object] = {}
    if args.server:
        overrides["server_url"] = args.server
    if args.data_dir:
        overrides["data_dir"] = args.data_dir
    if args.window:
        overrides["window"] = True
    if args.screenshot_dir:
        overrides["screenshot_dir"] = args.screenshot_dir
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        settings = KioskSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        print(f"community-kiosk: bad settings:\n{exc}", file=sys.stderr)
        return 2
    log.info("settings loaded: server %s, data %s", settings.server_url, settings.data_dir)

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from signage_player.allocator import pin_mmap_threshold
    from signage_player.errors import PlayerError
    from signage_player.identity import DeviceIdentity
    from signage_player.watchdog import Watchdog

    pin_mmap_threshold()  # the attract loop plays video through libVLC, as the player does
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)  # closing the pairing screen must not end the kiosk
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        stop.set()
        app.quit()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    wake = QTimer()
    wake.timeout.connect(lambda: None)  # lets Python run its signal handlers while Qt waits
    wake.start(250)
    watchdog = Watchdog()
    watchdog.start()  # READY=1, then pings from the GUI thread (pairing included): systemd restarts a hang
    try:
        try:
            identity: DeviceIdentity | None = DeviceIdentity.load_or_create(Path(settings.data_dir))
        except (PlayerError, OSError) as exc:
            print(f"community-kiosk: {exc}", file=sys.stderr)
            return 1
        assert identity is not None
        if not identity.paired:
            identity = _pair_on_screen(settings, identity, stop)
            if identity is None or stop.is_set():
                log.info("stopped before pairing")
                return 0
        return _run_kiosk(app, settings, identity, stop)
    finally:
        watchdog.stop()


def _run_kiosk(app: QApplication, settings: KioskSettings, identity: DeviceIdentity,
               stop: threading.Event) -> int:
    from kiosk_app.app import build_app
    from kiosk_app.http_api import HttpKioskApi
    from kiosk_app.offline_pay import DeviceKeySigner
    from kiosk_app.peripherals import UdevPeripherals
    from kiosk_app.speech import EspeakSpeaker

    api = HttpKioskApi(settings.server_url, identity.device_key, timeout=settings.request_timeout_s)
    kiosk = build_app(settings, api, EspeakSpeaker(), UdevPeripherals(), device_id=identity.device_id,
                      signer=DeviceKeySigner(identity.private_key, settings.server_url))
    attract = _attract_loop(api, settings, kiosk)
    _show(kiosk.window, settings)
    kiosk.window.start_timers()
    log.info("kiosk running as %s", identity.device_id)
    try:
        return 0 if stop.is_set() else app.exec()
    finally:
        if attract is not None:
            attract.close()
        kiosk.close()
        api.close()
        log.info("kiosk stopped")


if __name__ == "__main__":
    sys.exit(main())
