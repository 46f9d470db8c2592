"""Load: a simulated fleet of screens and kiosks against PostgreSQL + two servers behind nginx.

Brings up the production layout on loopback (``tests/reliability/stack.py``), registers the
screens and kiosks (each with its own device key) and, through nginx, in one event loop:

1. **costs**: drives one kind of request at a time (a screen's first manifest, a 304 poll, a
   heartbeat, a proof-of-play batch, the kiosk catalogue with and without its ETag, an order, an
   order poll) at the fleet's request rate and charges each kind the CPU seconds the server
   processes used (from ``/proc``: CPU time, not wall time, because the machine is shared), net
   of what they use idle; PostgreSQL's, nginx's and the driver's are given beside;
2. **the fleet**: ``--screens`` screens and ``--kiosks`` kiosks for ``--seconds`` (the fleet of
   ``tests/reliability/fleet.py``): screens poll manifests (ETag), send heartbeats and
   proof-of-play batches; kiosks browse, book, have a phone pay and wait for "paid". Latencies
   are reported after the first ``--warmup`` seconds (every screen's first manifest) and for the
   warm-up apart; the server's play report and paid orders are read back;
3. **capacity**: the steady fleet again at each of ``--capacity-steps`` fleet sizes (new screens
   fetch their first manifest first) for ``--step-seconds``; ``capacity_rps`` is the highest
   request rate at which every endpoint's p99 stayed at or under 200 ms.

The last line printed is one JSON object::

    {"bench": "load_fleet", "screens": 2000, "kiosks": 50, "seconds": S, "requests": N, "errors": E,
     "endpoints": {"manifest": {"n": .., "errors": .., "p50_ms": .., "p99_ms": ..}, ...},
     "warmup_endpoints": {...}, "plays_sent": A, "plays_accepted": A2, "plays_counted": B,
     "orders_created": O, "orders_paid": C, "orders_confirmed": D, "server_log_errors": L,
     "cpu_s": {"driver": .., "servers": .., "postgres": .., "nginx": ..}, "driver_cores": ..,
     "server_cpu_ms_per_request": {"heartbeat": .., "plays": .., "manifest_304": .., ...},
     "costs": {kind: {"n", "servers_ms", "postgres_ms", "nginx_ms", "driver_ms", "p99_ms"}},
     "capacity_rps": R, "capacity_steps": [{"screens", "requests_per_s", "worst_p99_ms", "errors"}],
     "told_to_wait": {endpoint: 503s with Retry-After}, "first_manifest_s_p50": .,
     "first_manifest_s_max": ., "screens_without_manifest": .}

``--cold-start S`` replaces the cost phases with every screen's first call within S seconds
(after a power cut or an upgrade): screens told 503 with ``Retry-After`` come back at that
time, as the player does; it exits 1 unless every screen has its first manifest within 5
minutes. Exits 1 if any request failed, the server logged an error, or sent != counted or
paid != confirmed. ``--py-spy DIR`` records a profile of the first server process during each
cost phase (``DIR/<kind>.txt``: collapsed stacks, and ``DIR/<kind>.top.txt``: the functions
that took the most samples). Usage:
``.venv/bin/python bench/load_fleet.py [--screens 2000] [--kiosks 50] [--seconds 180]``
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.reliability.fleet import (  # noqa: E402
    Fleet,
    FleetConfig,
    FleetResult,
    measure_costs,
    run_fleet,
    run_in_own_loop,
    seed_stack,
)
from tests.reliability.stack import NGINX_BIN, PG_BIN, Stack  # noqa: E402

P99_TARGET_MS = 200.0


class Profiler:
    """py-spy on the first server process for the length of each cost phase."""

    def __init__(self, out: Path, pid: int) -> None:
        self.out = out
        self.pid = pid
        self.proc: subprocess.Popen[bytes] | None = None
        out.mkdir(parents=True, exist_ok=True)

    def __call__(self, kind: str, started: bool) -> None:
        if started:
            self.proc = subprocess.Popen(
                ["py-spy", "record", "--pid", str(self.pid), "--rate", "250", "--gil", "--format", "raw",
                 "--output", str(self.out / f"{kind}.txt"), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(0.5)  # attached before the first request
            return
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(30)
            self.proc = None
            summarise(self.out / f"{kind}.txt")


def summarise(collapsed: Path, top: int = 40) -> None:
    """The functions on the most sampled stacks (inclusive) and at their tops (self)."""
    if not collapsed.exists():
        return
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if frames and frames[0].startswith("process "):
            frames = frames[1:]
        if frames and frames[0].startswith("thread "):
            frames = frames[1:]
        total += n
        for frame in set(frames):
            inclusive[frame] += n
        if frames:
            own[frames[-1]] += n
    with (collapsed.parent / (collapsed.stem + ".top.txt")).open("w") as f:
        f.write(f"{total} samples\n\n-- inclusive --\n")
        for frame, n in inclusive.most_common(top):
            f.write(f"{100 * n / total:5.1f}%  {frame}\n")
        f.write("\n-- self --\n")
        for frame, n in own.most_common(top):
            f.write(f"{100 * n / total:5.1f}%  {frame}\n")


async def capacity(
    stack: Stack, fleet: Fleet, steps: list[int], kiosks: int, seconds: float, warmup_s: float, rate: float
) -> tuple[float, list[dict[str, Any]]]:
    """Step the fleet size; the highest request rate whose p99s all stay within the target."""
    best = 0.0
    out = []
    for screens in steps:
        new = [s for s in fleet.screens[:screens] if s.etag is None]
        await fleet.paced([lambda s=s: fleet.manifest(s) for s in new], rate)  # first fetches, apart
        result = await run_fleet(stack, fleet, screens, kiosks, seconds, warmup_s)
        rps = result.requests / result.elapsed_s if result.elapsed_s else 0.0
        passed = result.errors == 0 and result.worst_p99_ms <= P99_TARGET_MS
        out.append(
            {
                "screens": screens,
                "requests_per_s": round(rps, 1),
                "worst_p99_ms": result.worst_p99_ms,
                "errors": result.errors,
                "servers_cores": round(result.cpu_s["servers"] / result.elapsed_s, 2),
                "driver_cores": round(result.cpu_s["driver"] / result.elapsed_s, 2),
                "ok": passed,
            }
        )
        print("capacity step:", json.dumps(out[-1]), file=sys.stderr)
        if not passed:
            break
        best = max(best, rps)
    return best, out


COLD_START_LIMIT_S = 300.0  # issue 15: no screen waits longer than 5 minutes for its first manifest


def main() -> int:
    defaults = FleetConfig()
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--screens", type=int, default=defaults.screens)
    ap.add_argument("--kiosks", type=int, default=defaults.kiosks)
    ap.add_argument("--seconds", type=float, default=defaults.seconds)
    ap.add_argument("--warmup", type=float, default=defaults.warmup_s, help="seconds reported apart")
    ap.add_argument("--manifest-every", type=float, default=defaults.manifest_every_s, help="seconds")
    ap.add_argument("--heartbeat-every", type=float, default=defaults.heartbeat_every_s, help="seconds")
    ap.add_argument("--plays-every", type=float, default=defaults.plays_every_s, help="seconds")
    ap.add_argument("--no-costs", action="store_true", help="skip the per-request CPU phases")
    ap.add_argument(
        "--cold-start",
        type=float,
        metavar="SECONDS",
        help="every screen's first call within SECONDS of the start (skips the cost phases, which "
        "would fetch the first manifests); exit 1 unless each screen has one within 5 minutes",
    )
    ap.add_argument("--capacity-steps", default="500,1000,1500,3000,4000,6000",
                    help="fleet sizes to step through after the main run (empty: skip)")  # fmt: skip
    ap.add_argument("--step-seconds", type=float, default=60.0)
    ap.add_argument(
        "--py-spy",
        type=Path,
        help="record a profile (samples holding the GIL) of each cost phase into this directory",
    )
    args = ap.parse_args()
    if not (PG_BIN / "initdb").exists() or not Path(NGINX_BIN).exists():
        sys.exit(f"needs PostgreSQL 15 in {PG_BIN} and nginx (apt-get install postgresql-15 nginx-light)")
    if args.py_spy is not None and shutil.which("py-spy") is None:
        sys.exit("--py-spy needs py-spy on the PATH (pip install py-spy)")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    config = FleetConfig(
        screens=args.screens,
        kiosks=args.kiosks,
        seconds=args.seconds,
        warmup_s=args.warmup,
        manifest_every_s=args.manifest_every,
        heartbeat_every_s=args.heartbeat_every,
        plays_every_s=args.plays_every,
        cold_start_s=args.cold_start,
    )
    steps = [int(n) for n in args.capacity_steps.split(",") if n.strip()]
    t0 = time.monotonic()
    with Stack(servers=2, nginx_workers=2) as stack:  # = worker_processes auto on 2 cores
        print(f"stack up in {time.monotonic() - t0:.1f} s at {stack.front.url}", file=sys.stderr)
        seeded = seed_stack(stack, max([config.screens, *steps]), config.kiosks)
        rate = config.screen_rps

        async def run() -> tuple[FleetResult, dict[str, Any]]:
            fleet = Fleet(stack.front.url, seeded, config)
            extra: dict[str, Any] = {}
            try:
                if not args.no_costs and config.cold_start_s is None:
                    profiler = Profiler(args.py_spy, stack.server_pids()[0]) if args.py_spy else None
                    costs = await measure_costs(
                        stack, fleet, screens=config.screens, rate=rate, on_phase=profiler
                    )
                    extra["server_cpu_ms_per_request"] = {k: c.servers_ms for k, c in costs.items()}
                    extra["costs"] = {k: c.as_json() for k, c in costs.items()}
                    print("costs:", json.dumps(extra["costs"]), file=sys.stderr)
                    for kind, c in costs.items():
                        for sample in c.error_samples:
                            print(f"error in cost phase {kind}:", sample, file=sys.stderr)
                result = await run_fleet(
                    stack, fleet, config.screens, config.kiosks, config.seconds, config.warmup_s
                )
                print("fleet:", json.dumps(result.as_json()), file=sys.stderr)
                if steps:
                    best, table = await capacity(
                        stack,
                        fleet,
                        steps,
                        config.kiosks,
                        args.step_seconds,
                        min(20.0, args.step_seconds / 3),
                        rate,
                    )
                    main_rps = result.requests / result.elapsed_s if result.elapsed_s else 0.0
                    main_ok = result.errors == 0 and result.worst_p99_ms <= P99_TARGET_MS
                    extra["capacity_rps"] = round(max(best, main_rps if main_ok else 0.0), 1)
                    extra["capacity_steps"] = table
                return result, extra
            finally:
                fleet.close()

        result, extra = run_in_own_loop(run)
    for sample in result.error_samples:
        print("error:", sample, file=sys.stderr)
    print(json.dumps(result.as_json() | extra | {"cores": os.cpu_count()}))
    slowest_first = max(result.first_manifest_s, default=0.0)
    cold_ok = config.cold_start_s is None or (
        result.screens_without_manifest == 0 and slowest_first <= COLD_START_LIMIT_S
    )
    return 0 if result.ok and cold_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
