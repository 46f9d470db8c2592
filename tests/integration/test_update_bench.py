"""``bench/update_rollout.py``, short: 20 simulated devices on synthetic releases, every attack.

The same code as the full run (a real player, a real kiosk and 200 simulated devices on real
builds, ``docs/updates.md``) without the real devices and so without builds: a good rollout in
waves reaches every device, a broken one is rolled back by each device that got it and pauses
the rollout, and every attack on the live server's repository is refused.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_the_rollout_bench_with_simulated_devices_alone() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "update_rollout.py"), "--devices", "20", "--apps", "none"],
        capture_output=True,
        text=True,
        timeout=280,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0, json.dumps(result) + "\n" + proc.stderr[-3000:]  # a str: shown whole
    assert result["devices"] == 20 and result["real_devices"] == 0
    assert result["bricked"] == 0
    assert result["got_broken"] == result["rolled_back_of_broken"] == 5  # the canaries, no later wave
    assert result["rollout_paused"]
    assert result["sim_wheels_downloaded_per_update"] == 1  # the changed wheel only
    assert result["attacks_tried"] == result["attacks_refused"] >= 5
    named = {"tampered_target", "rollback", "freeze", "mix_and_match", "oversized_target"}
    assert named <= set(result["attacks"])
