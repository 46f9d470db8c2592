"""Kiosk back end benchmark over loopback: catalogue (200/304), order → phone payment → paid, lookups.

Starts ``signage-server serve`` (uvicorn, SQLite, production settings) on a free port, seeds
the demo catalogue plus one service with a large slot, registers a kiosk, then measures
sequentially (latency) and with threads (order throughput). The last line is one JSON object::

    {"bench": "kiosk_orders", "catalogue_200_p95_ms": …, "catalogue_304_p95_ms": …,
     "order_create_p95_ms": …, "pay_to_paid_p95_ms": …, "orders_per_s_8_threads": …,
     "case_lookup_p95_ms": …, …}

Usage: ``.venv/bin/python bench/kiosk_orders.py [--orders 40] [--threads 8]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from content_server.core.db import make_engine, make_sessionmaker  # noqa: E402
from content_server.core.migrate import upgrade  # noqa: E402
from content_server.kiosk.models import ServiceRow  # noqa: E402
from signage_demo.kiosk_catalogue import seed_demo_catalogue  # noqa: E402
from tests.fixtures.seeding import add_devices, add_open_slot  # noqa: E402
from tests.fixtures.server import free_port  # noqa: E402

SECRET = "bench-secret-" + "y" * 20


def p95(samples: list[float]) -> float:
    return round(statistics.quantiles(samples, n=20)[-1] * 1000, 1) if len(samples) > 1 else 0.0


def seed(data_dir: Path) -> tuple[str, str, str, list[str]]:
    now = dt.datetime.now(dt.UTC)
    engine = make_engine(f"sqlite:///{data_dir / 'signage.db'}")
    upgrade(engine)
    with make_sessionmaker(engine)() as s:
        summary = seed_demo_catalogue(s, now)
        meal = s.query(ServiceRow).filter(ServiceRow.name_en == "Meal delivery").one()
        slot = add_open_slot(s, meal.id, now, capacity=100_000)
        (key,), _ = add_devices(s, prefix="bench", count=1, kind="kiosk", groups=("lobby",), now=now)
        s.commit()
        service_id, slot_id = meal.id, slot.id
    engine.dispose()
    return key, service_id, slot_id, list(summary.case_numbers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=40)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as tmp:
        data = Path(tmp)
        key, service_id, slot_id, cases = seed(data)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNAGE_")}
        env.update(
            SIGNAGE_DATA_DIR=str(data),
            SIGNAGE_SECRET_KEY=SECRET,
            SIGNAGE_PUBLIC_URL=base,
            SIGNAGE_PORT=str(port),
            SIGNAGE_LOG_LEVEL="WARNING",  # background work stays on: it sends the payment notifications
        )
        log = open(data / "server.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "content_server.main", "serve"], env=env, stdout=log, stderr=log, cwd=ROOT
        )
        try:
            for _ in range(400):
                try:
                    if requests.get(base + "/api/v1/health", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    time.sleep(0.05)
            kiosk = requests.Session()
            kiosk.headers["Authorization"] = f"Bearer {key}"
            api = base + "/api/v1/kiosk"

            def timed(fn: object) -> float:
                t = time.perf_counter()
                fn()  # type: ignore[operator]
                return time.perf_counter() - t

            first = kiosk.get(api + "/catalogue")
            etag = first.headers["ETag"]
            cat_200 = [timed(lambda: kiosk.get(api + "/catalogue").raise_for_status()) for _ in range(30)]
            cat_304 = [
                timed(lambda: kiosk.get(api + "/catalogue", headers={"If-None-Match": etag}))
                for _ in range(100)
            ]

            def body() -> dict[str, str]:
                return {
                    "idempotency_key": str(uuid.uuid4()),
                    "service_id": service_id,
                    "slot_id": slot_id,
                    "phone": "13812345678",
                }

            create, pay = [], []
            phone = requests.Session()
            for _ in range(args.orders):
                t0 = time.perf_counter()
                order = kiosk.post(api + "/orders", json=body()).json()
                t1 = time.perf_counter()
                phone.post(order["payment"]["qr_payload"] + "/confirm").raise_for_status()
                deadline = time.monotonic() + 30
                while kiosk.get(f"{api}/orders/{order['id']}").json()["state"] != "paid":
                    if time.monotonic() > deadline:
                        raise SystemExit(f"order {order['id']} not paid 30 s after the phone paid")
                create.append(t1 - t0)
                pay.append(time.perf_counter() - t1)

            per_thread = max(1, args.orders // args.threads)
            failures: list[int] = []

            def worker() -> None:
                s = requests.Session()
                s.headers["Authorization"] = f"Bearer {key}"
                for _ in range(per_thread):
                    r = s.post(api + "/orders", json=body())
                    if r.status_code != 201:
                        failures.append(r.status_code)

            threads = [threading.Thread(target=worker) for _ in range(args.threads)]
            t = time.perf_counter()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            throughput = per_thread * args.threads / (time.perf_counter() - t)

            lookups = [
                timed(
                    lambda: kiosk.post(
                        api + "/cases/lookup", json={"case_number": cases[1], "phone": "13987654321"}
                    )
                )
                for _ in range(30)
            ]
        finally:
            proc.terminate()
            proc.wait(10)
            log.close()
    print(
        json.dumps(
            {
                "bench": "kiosk_orders",
                "catalogue_200_p95_ms": p95(cat_200),
                "catalogue_304_p95_ms": p95(cat_304),
                "order_create_p95_ms": p95(create),
                "order_create_median_ms": round(statistics.median(create) * 1000, 1),
                "pay_to_paid_p95_ms": p95(pay),
                "orders_per_s_threads": round(throughput, 1),
                "threads": args.threads,
                "failed_concurrent_orders": len(failures),
                "case_lookup_p95_ms": p95(lookups),
                "orders": args.orders,
                "catalogue_bytes": len(first.content),
                "cpus": os.cpu_count(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
