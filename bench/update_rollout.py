"""Software-update rollout benchmark: a real player, a real kiosk and 200 simulated devices, one server.

Starts ``signage-server serve`` on loopback with the simulated devices seeded in its database and
runs the scenario of ``tests/fixtures/update_e2e.py``: three releases of this checkout built with
every dependency wheel (1.0.0; 2.0.0 with another welcome text; 3.0.0 whose apps exit at start),
published through the update API (temporary offline keys); a real player and a real kiosk on
1.0.0 under the update guard, offscreen, in the canary group with 5 simulated devices. Each
simulated device (``tests/fixtures/update_fleet.py``) heartbeats with its update report, fetches
what it is assigned through the real TUF client into a wheel cache that starts with 1.0.0's wheels
(so it downloads only the changed wheel, as the real devices do) and runs the device's own state
machine on a simulated install. Rolling out 2.0.0 (canary, 10 %, 50 %, 100 %) brings every device
to it; rolling out 3.0.0 crashes the canaries at start, each goes back to 2.0.0 by itself and the
rollout pauses. Finally every attack in ``tests/fixtures/update_attacks.py`` is made on the
server's repository and tried by a device. Every step is asserted; a failure exits 1.

The last line is one JSON object::

    {"bench": "update_rollout", "devices": 202, "real_devices": 2, "seconds_to_all_updated": …,
     "bricked": 0, "got_broken": 7, "rolled_back_of_broken": 7, "attacks_tried": 9,
     "attacks_refused": 9, …}

Usage: ``QT_QPA_PLATFORM=offscreen .venv/bin/python bench/update_rollout.py [--devices 200]
[--apps player,kiosk] [--threads 16]``. ``--apps none`` runs simulated devices alone, on synthetic
releases (no builds; the short run in ``tests/integration/test_update_bench.py``). The machine may
be shared with other work: the timings are of this run, on this machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

import httpx
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from content_server.updates.repository import TufRepository  # noqa: E402
from signage_player.updater.fetch import HttpFetcher, Source  # noqa: E402
from tests.fixtures.server import LiveServer, free_port  # noqa: E402
from tests.fixtures.update_attacks import ATTACKS, AttackBed, AttackResult, run_attack  # noqa: E402
from tests.fixtures.update_e2e import APPS, RolloutOutcome, update_and_roll_back  # noqa: E402
from tests.fixtures.update_fleet import seed  # noqa: E402
from tests.fixtures.updates import (  # noqa: E402
    FullReleaseFactory,
    ServerUpdates,
    SyntheticReleaseFactory,
    UpdateRepo,
)


def attacks(server: LiveServer, device_key: str, work: Path) -> list[AttackResult]:
    """Every attack, each on a fresh repository on the same server, tried by a device."""
    http = httpx.Client(base_url=server.url, timeout=60)
    headers = server.auth(server.operator)
    results = []
    try:
        for name in sorted(ATTACKS):
            for part in ("metadata", "targets"):
                shutil.rmtree(server.data_dir / "updates" / part, ignore_errors=True)
            ops = ServerUpdates(http, headers, work)
            ops.set_up()
            repo = UpdateRepo(
                TufRepository(server.data_dir / "updates"),
                ops.root_key,
                ops.targets_key,
                work / f"attack-{name}",
            )
            repo.scratch.mkdir(parents=True)
            source = Source.server(
                server.url, HttpFetcher(requests.Session(), {"Authorization": f"Bearer {device_key}"})
            )
            results.append(run_attack(name, AttackBed(repo, source, work / f"attack-{name}" / "devices")))
    finally:
        http.close()
    return results


def summary(outcome: RolloutOutcome, results: list[AttackResult]) -> dict[str, Any]:
    t = outcome.timings
    return {
        "bench": "update_rollout",
        "devices": outcome.devices,
        "real_devices": outcome.real_devices,
        "seconds_to_all_updated": round(t["update_s"], 1),
        "bricked": len(outcome.bricked),
        "got_broken": len(outcome.got_broken),
        "rolled_back_of_broken": len(outcome.rolled_back_of_broken),
        "real_got_broken": outcome.real_got_broken,
        "rollout_paused": outcome.paused,
        "sim_wheels_downloaded_per_update": outcome.sim_wheels_downloaded,
        "heartbeat_errors_retried": outcome.heartbeat_errors_retried,
        "attacks_tried": len(results),
        "attacks_refused": sum(r.refused for r in results),
        "attacks": {r.name: r.error for r in results},
        **{k: round(v, 1) for k, v in t.items() if k != "update_s"},
    }


def run(devices_n: int, apps: tuple[str, ...], threads: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-updates-"))
    views: list[Any] = []
    qt = None
    if apps:
        from PySide6.QtWidgets import QApplication

        qt = QApplication.instance() or QApplication([])
    try:
        data = work / "server"
        data.mkdir()
        pairs = seed(data, devices_n)
        server = LiveServer(data_dir=data, port=free_port(), extra_env={"SIGNAGE_UPDATE_CHECK_S": "0.5"})
        server.create_operator()
        server.start()
        try:
            factory = (FullReleaseFactory if apps else SyntheticReleaseFactory)(work / "releases")
            outcome = update_and_roll_back(
                server, factory, work / "devices", apps, keep=views.append, sims=pairs, threads=threads
            )
            return summary(outcome, attacks(server, pairs[0][1], work / "attacks"))
        except AssertionError as exc:
            traceback.print_exc()
            return {"bench": "update_rollout", "error": str(exc)}
        finally:
            server.stop()
    finally:
        for view in views:
            view.close()
        del qt
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=200, help="simulated devices (at least 10)")
    parser.add_argument("--apps", default=",".join(APPS), help="real devices: player and/or kiosk, or none")
    parser.add_argument("--threads", type=int, default=16, help="simulated devices heartbeating at once")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    apps = tuple(a for a in args.apps.split(",") if a and a != "none")
    result = run(max(args.devices, 10), apps, args.threads)
    print(json.dumps(result))
    ok = (
        "error" not in result
        and result["bricked"] == 0
        and result["got_broken"] == result["rolled_back_of_broken"] > 0
        and result["attacks_refused"] == result["attacks_tried"] >= 5
        and result["rollout_paused"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
