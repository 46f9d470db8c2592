"""The ``community-kiosk`` command line: PIN hashing, refusing bad settings, screenshot mode end to end."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kiosk_app.operator import OperatorPin
from tests.fixtures.server import LiveServer
from tests.fixtures.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "import sys; from kiosk_app.main import main; sys.exit(main())"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, **(env or {})})


def test_hash_pin_prints_a_hash_the_kiosk_accepts() -> None:
    out = run("--hash-pin", "135790")
    assert out.returncode == 0
    import datetime as dt

    assert OperatorPin(out.stdout.strip()).verify("135790", dt.datetime.now(dt.UTC)) is True


def test_bad_settings_are_refused_clearly(tmp_path: Path) -> None:
    out = run("--server", "ftp://example", "--data-dir", str(tmp_path))
    assert out.returncode == 2 and "server_url must start with http" in out.stderr
    out = run("--data-dir", str(tmp_path), env={"KIOSK_OPERATOR_PIN_HASH": "1234"})
    assert out.returncode == 2 and "operator PIN hash is malformed" in out.stderr


@pytest.mark.slow
def test_new_kiosk_shows_its_pairing_code_then_runs_once_claimed(live_server: LiveServer,
                                                                 tmp_path: Path) -> None:
    import re

    import httpx

    log_path, shots, data = tmp_path / "kiosk.log", tmp_path / "shots", tmp_path / "data"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # systemd's side of sd_notify
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(0.2)
    told: list[str] = []

    def systemd() -> None:  # reads like systemd does, all the time
        with contextlib.suppress(OSError):
            while True:
                with contextlib.suppress(TimeoutError):
                    told.append(notify.recv(256).decode())

    threading.Thread(target=systemd, daemon=True).start()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "NOTIFY_SOCKET": str(tmp_path / "notify"),
           "WATCHDOG_USEC": "1000000"}  # WatchdogSec=1: a ping every 0.5 s
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen([*CLI, "--server", live_server.url, "--data-dir", str(data),
                                 "--screenshot-dir", str(shots)], cwd=ROOT, stdout=log_file, stderr=log_file,
                                env=env)
    try:
        code = eventually(lambda: re.search(r"pairing code (\S+)", log_path.read_text()), 30, "a code")
        claim = {"code": code.group(1), "name": "lobby kiosk", "screen_class": "kiosk",
                 "orientation": "portrait", "width": 1080, "height": 1920, "groups": [], "tags": [],
                 "timezone": "Asia/Shanghai"}
        r = httpx.post(live_server.api + "/screens/claim", json=claim,
                       headers=live_server.auth(live_server.operator))
        assert r.status_code == 201, r.text
        try:
            eventually(lambda: "kiosk running as" in log_path.read_text(), 30, "the kiosk to run")
            eventually(lambda: (shots / "attract-zh-normal.png").exists(), 30, "the attract screen")
            # the catalogue is fetched with the new device key and cached for offline use
            eventually(lambda: (data / "catalogue" / "catalogue.json").exists(), 30, "the catalogue")
            # still running, not just started and gone: its event loop keeps pinging the watchdog
            pings = told.count("WATCHDOG=1")
            eventually(lambda: told.count("WATCHDOG=1") >= pings + 2, 10, "two more watchdog pings")
        except AssertionError as exc:
            raise AssertionError(log_path.read_text()[-3000:]) from exc
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert proc.returncode == 0, log_path.read_text()[-2000:]
    eventually(lambda: told and told[-1] == "STOPPING=1", 5, "STOPPING=1 to reach our socket")
    notify.close()
    assert told[0] == "READY=1" and told[-1] == "STOPPING=1", told  # ready while still pairing
    assert told.count("WATCHDOG=1") >= 4, told  # pinged from the event loop all along
    assert "kiosk stopped" in log_path.read_text()  # SIGTERM: a clean stop
    from signage_player.identity import DeviceIdentity

    stored = DeviceIdentity.load(data)
    assert stored is not None and stored.paired

