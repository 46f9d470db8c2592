"""``community-kiosk``: start the touch kiosk against a content server.

Start-up order (each step logged): settings → identity (pairing when new) → API client →
outbox and caches → window → timers. Ctrl+C / SIGTERM close the outbox cleanly.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk_app.errors import KioskError

if TYPE_CHECKING:
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
    parser.add_argument("--pair-timeout", type=float, default=600.0, help="seconds to wait for an operator "
                        "to claim a new kiosk")
    parser.add_argument("--hash-pin", metavar="PIN",
                        help="print the hash for KIOSK_OPERATOR_PIN_HASH and exit")
    return parser.parse_args(argv)


def _pair(settings: KioskSettings, data_dir: Path, timeout_s: float) -> DeviceIdentity:
    """Load the identity; when new, show the pairing code on the console and wait for the claim."""
    from signage_player.client import Backoff, ClientError, ServerClient
    from signage_player.identity import DeviceIdentity

    identity = DeviceIdentity.load_or_create(data_dir)
    if identity.paired:
        return identity
    client = ServerClient(settings.server_url)
    started = client.start_pairing("kiosk", KIOSK_VERSION, identity.public_key_b64)
    print(f"Pairing code: {started.code}  (claim at {started.claim_url})", flush=True)  # CLI output
    deadline = time.monotonic() + timeout_s
    backoff = Backoff(base_s=2.0, cap_s=10.0)
    while time.monotonic() < deadline:
        try:
            status = client.poll_pairing(started.pairing_id, started.poll_secret)
        except ClientError as exc:
            log.warning("pairing poll failed: %s", exc)
            time.sleep(backoff.failed())
            continue
        if status.claimed and status.device_id and status.device_key:
            identity = identity.with_pairing(status.device_id, status.device_key, status.server_public_key)
            identity.save(data_dir)
            log.info("paired as %s", status.device_id)
            return identity
        time.sleep(2.0)
    raise KioskError("the kiosk was not claimed in time; run again to get a new code")


def _attract_loop(client: ServerClient, settings: KioskSettings, kiosk: KioskApp) -> AttractLoop | None:
    """The signage attract loop (libVLC for video); without it the attract screen still works."""
    from PySide6.QtCore import QTimer

    from kiosk_app.app import utc_now
    from kiosk_app.attract import AttractLoop
    from signage_player.errors import PlayerError
    from signage_player.media import VlcBackend

    try:
        backend = VlcBackend()
    except PlayerError as exc:
        log.error("no video back end, attract loop without signage content: %s", exc)
        return None
    attract = AttractLoop(client, Path(settings.data_dir), backend, kiosk.runner, utc_now)
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
    try:
        identity = _pair(settings, Path(settings.data_dir), args.pair_timeout)
    except (KioskError, OSError) as exc:
        print(f"community-kiosk: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        print(f"community-kiosk: cannot pair with {settings.server_url}: {exc}", file=sys.stderr)
        return 1

    from PySide6.QtWidgets import QApplication

    from kiosk_app.app import build_app
    from kiosk_app.http_api import HttpKioskApi
    from kiosk_app.offline_pay import DeviceKeySigner
    from kiosk_app.peripherals import UdevPeripherals
    from kiosk_app.speech import EspeakSpeaker

    app = QApplication(sys.argv[:1])
    stop_requested: list[int] = []

    def _on_signal(signum: int, _frame: object) -> None:
        stop_requested.append(signum)
        app.quit()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    from PySide6.QtCore import QTimer

    wake = QTimer()
    wake.timeout.connect(lambda: None)  # lets Python run its signal handlers while Qt waits
    wake.start(250)
    api = HttpKioskApi(settings.server_url, identity.device_key, timeout=settings.request_timeout_s)
    kiosk = build_app(settings, api, EspeakSpeaker(), UdevPeripherals(), device_id=identity.device_id,
                      signer=DeviceKeySigner(identity.private_key, settings.server_url))
    attract = _attract_loop(api, settings, kiosk)
    kiosk.window.resize(1080, 1920)
    if settings.window or settings.screenshot_dir:
        kiosk.window.show()
    else:
        kiosk.window.showFullScreen()
    kiosk.window.start_timers()
    log.info("kiosk running")
    try:
        return 0 if stop_requested else app.exec()
    finally:
        if attract is not None:
            attract.close()
        kiosk.close()
        api.close()
        log.info("kiosk stopped")


if __name__ == "__main__":
    sys.exit(main())
