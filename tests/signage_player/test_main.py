"""The CLI: settings validation, and a real offscreen run against a live server that exits cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from signage_player.config import PlayerSettings
from tests.fixtures.server import LiveServer
from tests.fixtures.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


def test_settings_refuse_plain_http_to_a_remote_server(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="plain HTTP"):
        PlayerSettings(server_url="http://signage.example.org", data_dir=tmp_path)
    assert PlayerSettings(server_url="http://127.0.0.1:8080/", data_dir=tmp_path).server_url.endswith(":8080")
    assert PlayerSettings(server_url="http://signage.lan", data_dir=tmp_path, allow_insecure_http=True)
    with pytest.raises(ValueError, match="not an http"):
        PlayerSettings(server_url="ftp://x", data_dir=tmp_path)


def test_cli_without_server_is_a_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNAGE_PLAYER_")}
    out = subprocess.run([sys.executable, "-m", "signage_player.main", "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert out.returncode == 2 and "server_url" in out.stderr


@pytest.mark.slow
def test_cli_offscreen_shows_the_pairing_screen_and_stops_on_sigterm(live_server: LiveServer,
                                                                      tmp_path: Path) -> None:
    shots = tmp_path / "shots"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SIGNAGE_PLAYER_SCREENSHOT_EVERY_S": "0.5",
           "SIGNAGE_PLAYER_USB": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "signage_player.main", "--server", live_server.url,
                             "--screenshot-dir", str(shots), "--data-dir", str(tmp_path / "data")],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        eventually(lambda: (shots / "screen.png").exists(), 30, "the first screenshot")
        assert (shots / "screen.png").stat().st_size > 1000
        assert (tmp_path / "data" / "identity.json").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "player started" in out and "player stopped" in out
