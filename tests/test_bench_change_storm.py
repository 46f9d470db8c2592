"""bench/change_storm.py, short: rebuilds follow what changed, untouched screens keep their 304s."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "change_storm.py"


def test_a_short_storm_rebuilds_only_what_changed() -> None:
    args = ["--screens", "200", "--groups", "20", "--seconds", "10", "--interval", "2", "--no-old"]
    run = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["errors"] == 0 and result["changes"] >= 5, result
    # every change reached the few screens of one group, once each at most
    assert 0 < result["rebuilds_per_change"] <= result["screens_affected_per_change"]
    assert result["shared_builds_per_change"] <= result["rebuilds_per_change"]
    # screens no change touched were answered 304 from memory, never with a new manifest
    assert result["untouched_polls"] > 0 and result["untouched_200s"] == 0
    assert result["memory_304s"] >= result["untouched_polls"] * 0.9
    # the UTC day ends for the UTC screens only (one in ten), not for the Shanghai ones
    day = result["day_change"]
    assert day["screens_rebuilt"] == day["screens_whose_day_ended"] == 20
