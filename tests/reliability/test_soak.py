"""Soak, short: ``bench/soak.py`` with 1,500 player switches and 150 kiosk sessions, within its bounds.

The same code as the long run (``.venv/bin/python bench/soak.py``, 50,000 switches and 5,000
sessions), in two child processes; here the run is short enough for CI (about a minute).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import soak

pytestmark = [pytest.mark.slow, pytest.mark.vlc]

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(1560)  # about a minute on a quiet machine; over eight beside four other suites
def test_player_and_kiosk_do_not_grow_over_a_short_soak() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), "--switches", "1500", "--sessions", "150",
         "--player-warmup", "700", "--kiosk-warmup", "40"],
        cwd=ROOT, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, capture_output=True, text=True,
        timeout=1500,
    )
    detail = run.stderr[-4000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["switches"] == 1500 and result["kiosk_sessions"] == 150, detail
    for app in ("player", "kiosk"):
        assert result[f"{app}_rss_growth_mb"] <= soak.RSS_GROWTH_MB, detail
        assert result[f"{app}_fd_growth"] <= soak.FD_GROWTH, detail
        assert result[f"{app}_thread_growth"] <= soak.THREAD_GROWTH, detail
    assert result["ok"] and run.returncode == 0, detail
