"""Load: a simulated fleet of screens and kiosks against PostgreSQL + two servers behind nginx.

Brings up the production layout on loopback (``tests/reliability/stack.py``), registers
``--screens`` screens and ``--kiosks`` kiosks (each with its own device key), and runs the
fleet of ``tests/reliability/fleet.py`` through nginx for ``--seconds``: screens poll manifests
(ETag), send heartbeats and proof-of-play batches; kiosks browse, book, have a phone pay and
wait for "paid". Then the server's play report and paid orders are read back. The last line
printed is one JSON object::

    {"bench": "load_fleet", "screens": 2000, "kiosks": 50, "seconds": S, "requests": N, "errors": E,
     "endpoints": {"manifest": {"n": .., "errors": .., "p50_ms": .., "p99_ms": ..}, ...},
     "plays_sent": A, "plays_accepted": A2, "plays_counted": B, "orders_created": O,
     "orders_paid": C, "orders_confirmed": D, "server_log_errors": L}

Exits 1 if any request failed, the server logged an error, or sent != counted or
paid != confirmed. Usage:
``.venv/bin/python bench/load_fleet.py [--screens 2000] [--kiosks 50] [--seconds 60]``
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.reliability.fleet import FleetConfig, run_load  # noqa: E402
from tests.reliability.stack import NGINX_BIN, PG_BIN, Stack  # noqa: E402


def main() -> int:
    defaults = FleetConfig()
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--screens", type=int, default=defaults.screens)
    ap.add_argument("--kiosks", type=int, default=defaults.kiosks)
    ap.add_argument("--seconds", type=float, default=defaults.seconds)
    ap.add_argument("--manifest-every", type=float, default=defaults.manifest_every_s, help="seconds")
    ap.add_argument("--heartbeat-every", type=float, default=defaults.heartbeat_every_s, help="seconds")
    ap.add_argument("--plays-every", type=float, default=defaults.plays_every_s, help="seconds")
    args = ap.parse_args()
    if not (PG_BIN / "initdb").exists() or not Path(NGINX_BIN).exists():
        sys.exit(f"needs PostgreSQL 15 in {PG_BIN} and nginx (apt-get install postgresql-15 nginx-light)")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    config = FleetConfig(
        screens=args.screens,
        kiosks=args.kiosks,
        seconds=args.seconds,
        manifest_every_s=args.manifest_every,
        heartbeat_every_s=args.heartbeat_every,
        plays_every_s=args.plays_every,
    )
    t0 = time.monotonic()
    with Stack(servers=2, nginx_workers=2) as stack:  # = worker_processes auto on 2 cores
        print(f"stack up in {time.monotonic() - t0:.1f} s at {stack.front.url}", file=sys.stderr)
        result = run_load(stack, config)
    for sample in result.error_samples:
        print("error:", sample, file=sys.stderr)
    print(json.dumps(result.as_json() | {"cores": os.cpu_count()}))
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
