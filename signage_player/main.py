"""``signage-player`` command line: parse settings, set up logging once, start, run, shut down cleanly."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from pydantic import ValidationError

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="signage-player", description="Community signage player")
    p.add_argument("--server", help="content server base URL (or SIGNAGE_PLAYER_SERVER_URL)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--window", action="store_true", help="run in a window instead of full screen")
    mode.add_argument("--screenshot-dir", type=Path, help="no display: render offscreen, save screen.png")
    p.add_argument("--data-dir", type=Path, help="identity, cache, outbox (else SIGNAGE_PLAYER_DATA_DIR)")
    p.add_argument("--import-dir", type=Path, help="directory polled for signed bundles (no udev)")
    p.add_argument("--allow-insecure-http", action="store_true", help="plain HTTP to a non-loopback server")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides: dict[str, object] = {}
    if args.server:
        overrides["server_url"] = args.server
    if args.window:
        overrides["window"] = True
    for key in ("screenshot_dir", "data_dir", "import_dir"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    if args.allow_insecure_http:
        overrides["allow_insecure_http"] = True

    from signage_player.config import PlayerSettings

    try:
        settings = PlayerSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        print(f"signage-player: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    if settings.screenshot_dir is not None and not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from signage_player.device import prepare_process

    prepare_process()
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from schedules.clock import SystemClock
    from signage_player.app import build_player
    from signage_player.errors import PlayerError
    from signage_player.media import VlcBackend

    # Qt WebEngine (web-page items) needs shared GL contexts, set before the application exists
    QApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    qapp = QApplication(sys.argv[:1])
    try:
        backend = VlcBackend(wait=False)
    except PlayerError as exc:
        log.error("start-up failed: %s", exc)
        return 1
    log.info("libVLC started")
    try:
        player = build_player(settings, backend, SystemClock())
    except (PlayerError, OSError) as exc:  # an unreadable identity, an unwritable data directory
        log.error("start-up failed: %s", exc)
        backend.close()
        return 1
    qapp.aboutToQuit.connect(player.shutdown)

    def _quit(signum: int, _frame: object) -> None:
        log.info("signal %d: shutting down", signum)
        qapp.quit()

    signal.signal(signal.SIGINT, _quit)
    signal.signal(signal.SIGTERM, _quit)
    wake = QTimer()  # lets Python run its signal handlers while Qt waits
    wake.start(250)
    wake.timeout.connect(lambda: None)
    try:
        player.start()
    except Exception:
        log.exception("start-up failed")
        player.shutdown()
        return 1
    code = qapp.exec()
    player.shutdown()
    return int(code)


if __name__ == "__main__":
    raise SystemExit(main())
