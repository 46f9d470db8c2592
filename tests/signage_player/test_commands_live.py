"""Remote commands end to end: the operators' API on a live server, a real offscreen player process.

Identify paints the screen's name (read from the player's own screenshots), screen off blacks it
out, restart ends the process with the restart code (as systemd would, the test starts it again)
and the restarted player does not run the restart a second time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.fixtures.server import LiveServer, pair_device
from tests.fixtures.waiting import eventually
from tests.signage_player.serverkit import Operator, paired_data_dir

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "player"
pytestmark = pytest.mark.slow


def _start(server: LiveServer, data: Path, shots: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SIGNAGE_PLAYER_SCREENSHOT_EVERY_S": "0.3",
           "SIGNAGE_PLAYER_USB": "false", "SIGNAGE_PLAYER_COMMANDS_WAIT_S": "10",
           "SIGNAGE_PLAYER_WIDTH": "640", "SIGNAGE_PLAYER_HEIGHT": "360"}
    return subprocess.Popen([sys.executable, "-m", "signage_player.main", "--server", server.url,
                             "--screenshot-dir", str(shots), "--data-dir", str(data)],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _send(op: Operator, screen_id: str, kind: str, **params: Any) -> str:
    body = {"kind": kind, "selector": {"screen_ids": [screen_id]}, **params}
    sent = op.request("POST", "/commands", json=body)
    return str(sent["id"])


def _row(op: Operator, send_id: str) -> dict[str, Any]:
    row: dict[str, Any] = op.request("GET", f"/commands/{send_id}")["devices"][0]
    return row


def _pixel(shots: Path, at: tuple[int, int]) -> tuple[int, int, int] | None:
    try:
        with Image.open(shots / "screen.png") as im:
            px = im.convert("RGB").getpixel(at)
    except (OSError, SyntaxError):  # between two saves
        return None
    assert isinstance(px, tuple)
    return (px[0], px[1], px[2])


def test_identify_screen_off_and_restart_on_a_player_process(live_server: LiveServer, tmp_path: Path) -> None:
    device = pair_device(live_server, "player", name="南门 大屏", groups=["gate"])
    data, shots = paired_data_dir(tmp_path / "data", device), tmp_path / "shots"
    op = Operator(live_server)
    proc = _start(live_server, data, shots)
    try:
        eventually(lambda: (shots / "screen.png").exists(), 60, "the player's first screenshot")
        ident = _send(op, device.device_id, "identify")
        eventually(lambda: _row(op, ident)["state"] == "done", 30, "identify answered")
        eventually(lambda: _pixel(shots, (5, 5)) == (11, 61, 145), 10, "the identify banner on screen")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "identify_process.png").write_bytes((shots / "screen.png").read_bytes())

        restart = _send(op, device.device_id, "restart_app")
        assert proc.wait(60) == 75  # ended with the restart code: systemd (Restart=always) starts it again
        assert _row(op, restart)["state"] == "done" and _row(op, restart)["detail"] == "restarting the app"
    finally:
        if proc.poll() is None:
            proc.kill()
        out, _ = proc.communicate(timeout=30)
    assert "restarting the app (exit code 75)" in out

    again = _start(live_server, data, shots)  # what systemd does
    try:
        off = _send(op, device.device_id, "screen_power", screen_on=False)
        eventually(lambda: _row(op, off)["state"] == "done", 60, "screen off answered")
        assert again.poll() is None  # the restart was not run a second time
        eventually(lambda: _pixel(shots, (320, 180)) == (0, 0, 0), 10, "a black screen")
        sends = op.request("GET", "/commands")
        assert {s["kind"]: s["counts"]["done"] for s in sends} == {
            "identify": 1, "restart_app": 1, "screen_power": 1}
    finally:
        again.terminate()
        out, _ = again.communicate(timeout=30)
    assert "command" in out and again.returncode == 0
