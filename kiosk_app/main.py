"""``community-kiosk``: start the touch kiosk against a content server.

Start-up order (each step logged): settings → Qt → the device (identity, API client with its
key, outbox) → on-screen pairing when new (the player's pairing and its screen) → caches →
window and attract loop → timers, heartbeats, long-polls. SIGTERM / Ctrl+C stop it cleanly;
queued bookings stay in the outbox. A remote restart ends it with exit code 75 (the service
manager starts it again).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication, QWidget

    from kiosk_app.app import KioskApp
    from kiosk_app.http_api import HttpKioskApi
    from kiosk_app.settings import KioskSettings
    from signage_player import Device, MediaBackend

log = logging.getLogger(__name__)


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


def _media_backend() -> MediaBackend | None:
    """libVLC for the attract loop's video; without it the kiosk runs with no signage content."""
    from signage_player import PlayerError, VlcBackend

    try:
        return VlcBackend(wait=False)
    except PlayerError as exc:
        log.error("no video back end, attract loop without signage content: %s", exc)
        return None


def main(argv: list[str] | None = None, *, started: Callable[[KioskApp], None] | None = None) -> int:
    """``started`` (embedding: a benchmark's resident who taps through the pages) is called on the
    GUI thread once the kiosk runs, with the app the command line built."""
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

    from kiosk_app.app import open_device
    from kiosk_app.http_api import HttpKioskApi
    from kiosk_app.maintenance import app_version
    from schedules.clock import SystemClock
    from signage_player import PlayerError, Watchdog, pair_on_screen, prepare_process

    prepare_process()  # the attract loop plays video through libVLC, as the player does
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
    api = HttpKioskApi(settings.server_url, timeout=settings.request_timeout_s)
    try:
        try:
            device = open_device(settings, api, SystemClock())
        except (PlayerError, OSError) as exc:
            print(f"community-kiosk: {exc}", file=sys.stderr)
            api.close()
            return 1
        if not device.paired and not pair_on_screen(device, app_version(), "kiosk", stop,
                                                     lambda w: _show(w, settings)):
            log.info("stopped before pairing")
            device.close()
            return 0
        return _run_kiosk(app, settings, device, api, stop, started)
    finally:
        watchdog.stop()


def _run_kiosk(app: QApplication, settings: KioskSettings, device: Device, api: HttpKioskApi,
               stop: threading.Event, started: Callable[[KioskApp], None] | None = None) -> int:
    from kiosk_app.app import build_app
    from kiosk_app.maintenance import app_version
    from kiosk_app.peripherals import UdevPeripherals
    from kiosk_app.speech import EspeakSpeaker
    from signage_player import Restart, updates_for_device

    restart = Restart()  # an installed update ends the app for the guard to start the new version
    updates = updates_for_device(device, settings.server_url, app_version(), restart.requested.emit,
                                 settings.update_restart_cmd)
    kiosk = build_app(settings, device, api, EspeakSpeaker(), UdevPeripherals(), backend=_media_backend(),
                      updates=updates)
    _show(kiosk.window, settings)
    kiosk.start()  # timers, heartbeats, proof of play, the emergency and command long-polls
    log.info("kiosk running as %s", device.identity.device_id)
    if started is not None:
        started(kiosk)
    try:
        return 0 if stop.is_set() else app.exec()
    finally:
        kiosk.close()  # closes the device: its outbox and the API client
        log.info("kiosk stopped")


if __name__ == "__main__":
    sys.exit(main())
