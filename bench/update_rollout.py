"""Software-update rollout benchmark: a fleet taken to a good release, then a broken one is stopped.

Starts ``signage-server serve`` on loopback with simulated devices seeded in its database, sets up
the TUF repository through the operator API (temporary offline keys), publishes three releases
(1.0.0 that every device runs, 1.1.0 good, 1.2.0 broken) and rolls out 1.1.0 (canary group, then
10 %, 50 %, 100 %) and then 1.2.0. Each simulated device heartbeats with its update report, fetches
what it is assigned through the real TUF client (``signage_player.updater.fetch``: every file
verified against the signed metadata) and then runs the device's own state machine
(``signage_player.updater.state``) on a simulated install: a good release reports healthy, a broken
one exits three times at start and is rolled back by the device. Finally every attack in
``tests/fixtures/update_attacks.py`` is made on the server's repository and tried by a device.

The last line is one JSON object::

    {"bench": "update_rollout", "devices": 200, "seconds_to_all_updated": …, "bricked": 0,
     "got_broken": …, "rolled_back_of_broken": …, "attacks_tried": 9, "attacks_refused": 9, …}

Usage: ``.venv/bin/python bench/update_rollout.py [--devices 200] [--threads 16]``
(the machine is shared with other work: the timings are of this run, on this machine).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from content_server.core.db import make_engine, make_sessionmaker  # noqa: E402
from content_server.core.migrate import upgrade  # noqa: E402
from content_server.updates.repository import TufRepository  # noqa: E402
from schedules.protocol.release import UpdatePhase, running_platform  # noqa: E402
from signage_player.updater import state as sm  # noqa: E402
from signage_player.updater.fetch import FetchError, HttpFetcher, ReleaseFetcher, Source  # noqa: E402
from tests.fixtures.seeding import add_devices  # noqa: E402
from tests.fixtures.server import LiveServer, free_port  # noqa: E402
from tests.fixtures.update_attacks import ATTACKS, AttackBed, run_attack  # noqa: E402
from tests.fixtures.updates import ServerUpdates, UpdateRepo  # noqa: E402

GOOD, BROKEN, BASE = "1.1.0", "1.2.0", "1.0.0"
POLICY = sm.Policy(health_timeout=dt.timedelta(seconds=30), crash_window=dt.timedelta(seconds=60))


@dataclass
class SimDevice:
    """A device without a screen: real heartbeats, real TUF downloads, the real state machine."""

    id: str
    key: str
    work: Path
    state: sm.UpdateState = field(default_factory=lambda: sm.provisioned(BASE))
    got: set[str] = field(default_factory=set)  # versions it fetched and installed
    lock: threading.Lock = field(default_factory=threading.Lock)
    http_errors: int = 0

    def heartbeat(self, http: httpx.Client) -> str | None:
        body = {
            "sent_at": dt.datetime.now(dt.UTC).isoformat(),
            "player_version": self.state.running or "",
            "update": self.state.report(running_platform()).model_dump(mode="json"),
        }
        r = http.post("/api/v1/device/heartbeat", json=body, headers={"Authorization": f"Bearer {self.key}"})
        r.raise_for_status()
        update = r.json().get("update")
        return str(update["version"]) if update else None

    def step(self, http: httpx.Client, server_url: str, fetcher: ReleaseFetcher) -> None:
        """One cycle: report, and act on the answer as a real device would (simulated install)."""
        with self.lock:
            try:
                assigned = self.heartbeat(http)
            except httpx.HTTPError:  # as a real device: this cycle is lost, the next one tries again
                self.http_errors += 1
                return
            now = dt.datetime.now(dt.UTC)
            s = self.state
            if s.phase is UpdatePhase.PROBATION:  # the new version runs: it reports its marks
                broken = s.running == BROKEN
                if broken:  # exits at start, three times: the guard's verdict
                    for _ in range(POLICY.crash_exits):
                        s, verdict = sm.exited(s, 3, now, POLICY)
                    assert verdict is sm.Verdict.ROLL_BACK
                    s = sm.rolled_back(
                        sm.rolling_back(s, "crash_loop: exited 3 times", ["SystemExit: 3"], now)
                    )
                else:
                    for mark in POLICY.required_health:
                        s = sm.marked(s, mark, s.running or "", now)
                self.state = s
                return
            if assigned is None or sm.may_update_to(s, assigned) is not None:
                return
            s = sm.downloading(s, assigned)
            try:
                source = Source.server(
                    server_url, HttpFetcher(requests.Session(), {"Authorization": f"Bearer {self.key}"})
                )
                fetcher.fetch(source, assigned, running_platform())
            except FetchError:
                self.state = sm.fetch_failed(s)
                return
            self.got.add(assigned)
            s = sm.switched(sm.switching(sm.installed(s)), now, POLICY)
            self.state = sm.started(s, now, POLICY)


def seed(data_dir: Path, count: int) -> list[tuple[str, str]]:
    now = dt.datetime.now(dt.UTC)
    engine = make_engine(f"sqlite:///{data_dir / 'signage.db'}")
    upgrade(engine)
    with make_sessionmaker(engine)() as s:
        canary_keys, canary_ids = add_devices(
            s, prefix="c", count=5, kind="player", groups=("canary",), now=now
        )
        keys, ids = add_devices(
            s, prefix="b", count=count - 5, kind="player", groups=("lobby", "hall"), now=now
        )
        s.commit()
    engine.dispose()
    return list(zip(canary_ids + ids, canary_keys + keys, strict=True))


def run(devices_n: int, threads: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-updates-"))
    try:
        data = work / "server"
        data.mkdir()
        pairs = seed(data, devices_n)
        server = LiveServer(data_dir=data, port=free_port(), extra_env={"SIGNAGE_UPDATE_CHECK_S": "0.5"})
        server.create_operator()
        server.start()
        try:
            return _measure(server, pairs, work, threads)
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(server: LiveServer, pairs: list[tuple[str, str]], work: Path, threads: int) -> dict[str, Any]:
    http = httpx.Client(base_url=server.url, timeout=30, limits=httpx.Limits(max_connections=threads * 2))
    ops = ServerUpdates(http, server.auth(server.operator), work)
    ops.set_up()
    ur = UpdateRepo(TufRepository(server.data_dir / "updates"), ops.root_key, ops.targets_key, work)
    bed = AttackBed(
        ur, Source.server(server.url, HttpFetcher(requests.Session(), {})), work / "attack-devices"
    )
    for version in (BASE, GOOD, BROKEN):
        ops.publish(bed.release(version))
    fleet = [SimDevice(i, k, work / "devices" / i) for i, k in pairs]
    fetchers = {
        d.id: ReleaseFetcher(d.work / "tuf", d.work / "wheels", d.work / "releases", ur.root_bytes())
        for d in fleet
    }
    pool = ThreadPoolExecutor(threads)

    def cycle() -> None:
        list(pool.map(lambda d: d.step(http, server.url, fetchers[d.id]), fleet))

    cycle()  # every device reports 1.0.0
    waves = [
        {"name": "canary", "groups": ["canary"]},
        {"name": "10%", "percent": 10},
        {"name": "50%", "percent": 50},
        {"name": "all", "percent": 100},
    ]
    t0 = time.monotonic()
    ops.start_rollout(GOOD, waves, max_failure_share=0.2)
    while not all(d.state.running == GOOD and d.state.phase is UpdatePhase.HEALTHY for d in fleet):
        if time.monotonic() - t0 > 600:
            raise SystemExit("the good release did not reach every device within 10 minutes")
        cycle()
    seconds_to_all = time.monotonic() - t0

    ops.start_rollout(BROKEN, waves, max_failure_share=0.2)
    t1 = time.monotonic()
    paused = False
    while time.monotonic() - t1 < 300:
        cycle()
        rollouts = http.get("/api/v1/updates/rollouts", headers=ops.headers).json()
        paused = rollouts[0]["state"] == "paused"
        if paused and all(d.state.phase is not UpdatePhase.PROBATION for d in fleet):
            break
    for _ in range(3):  # the fleet keeps heartbeating after the pause: nobody else may get 1.2.0
        cycle()
    got_broken = [d for d in fleet if BROKEN in d.got]
    rolled_back = [
        d
        for d in got_broken
        if d.state.running == GOOD and d.state.failure is not None and d.state.failure.version == BROKEN
    ]
    bricked = [d for d in fleet if d.state.running != GOOD or d.state.phase is UpdatePhase.PROBATION]
    counts = {r["version"]: r for r in http.get("/api/v1/updates/releases", headers=ops.headers).json()}

    results = []
    for name in sorted(ATTACKS):  # on a fresh repository each, on the same server
        for part in ("metadata", "targets"):
            shutil.rmtree(server.data_dir / "updates" / part, ignore_errors=True)
        attacker_ops = ServerUpdates(http, ops.headers, work)
        attacker_ops.set_up()
        attack_repo = UpdateRepo(
            TufRepository(server.data_dir / "updates"),
            attacker_ops.root_key,
            attacker_ops.targets_key,
            work / f"attack-{name}",
        )
        attack_repo.scratch.mkdir()
        device_key = pairs[0][1]
        source = Source.server(
            server.url, HttpFetcher(requests.Session(), {"Authorization": f"Bearer {device_key}"})
        )
        results.append(run_attack(name, AttackBed(attack_repo, source, work / f"attack-{name}" / "devices")))
    pool.shutdown()
    http.close()
    return {
        "bench": "update_rollout",
        "devices": len(fleet),
        "real_devices": 0,
        "seconds_to_all_updated": round(seconds_to_all, 1),
        "bricked": len(bricked),
        "got_broken": len(got_broken),
        "rolled_back_of_broken": len(rolled_back),
        "rollout_paused": paused,
        "heartbeat_errors_retried": sum(d.http_errors for d in fleet),
        "running_good": counts[GOOD]["running"],
        "attacks_tried": len(results),
        "attacks_refused": sum(r.refused for r in results),
        "attacks": {r.name: r.error for r in results},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    result = run(max(args.devices, 10), args.threads)
    print(json.dumps(result))
    ok = (
        result["bricked"] == 0
        and result["got_broken"] == result["rolled_back_of_broken"]
        and result["attacks_refused"] == result["attacks_tried"] >= 5
        and result["rollout_paused"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
