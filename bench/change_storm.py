"""Benchmark: a change storm. Screens poll their manifests while a change lands every second.

Seeds ``--screens`` screens in ``--groups`` targeting groups (a building each; every tenth screen
on UTC, the rest on Asia/Shanghai), a campaign and an announcement per group, and starts the
server (uvicorn, SQLite, production settings) on a clock that runs in real time and can be moved
(this script with ``--serve``: ``SIGUSR1`` steps its wall clock to two seconds before the next
UTC midnight). Then, in one event loop (the load fleet's HTTP client):

1. every screen fetches its first manifest;
2. **the storm**: for ``--seconds``, every screen polls with its ETag every ``--interval`` s
   (jittered ±20 %), while once a second another process (this one, through the ORM with the
   server's change tracker, as a second server would) edits one group's campaign, announcement
   or data-source announcement in turn;
3. every screen polls once more (the storm's last changes); then **the day change**: the
   server's clock is moved to just before UTC midnight and the screens poll for one more
   interval, without changes.

The server's counters (``/metrics``: manifests built, screens given a new manifest, 304s from
memory) and CPU (``/proc``) are read around each phase. The same storm then runs against the
old design (``SIGNAGE_TARGETED_CHANGES=0``: one global counter, the UTC day, no sharing; the same
code otherwise, so the comparison isolates the design) for ``speedup``. The last line printed::

    {"bench": "change_storm", "screens": N, "groups": G, "changes": C, "poll_p99_ms": P,
     "rebuilds_per_change": R, "screens_affected_per_change": A, "shared_builds_per_change": B,
     "untouched_polls": U, "untouched_200s": 0, "memory_304s": M, "server_cpu_s_per_min": S,
     "day_change": {...}, "old": {...}, "speedup": X, "errors": E, "told_to_wait": W}

``told_to_wait`` counts polls answered 503 with ``Retry-After`` (the screens' queue was full,
``content_server/signage/device_lane.py``); they are not errors, and a first fetch comes back
when told, as the player does.

Usage: ``.venv/bin/python bench/change_storm.py [--screens 10000] [--groups 200] [--seconds 300]``
(``--no-old`` skips the comparison run).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bench.server_poll import wait_http  # noqa: E402
from content_server.core.changes import ChangeTracker  # noqa: E402
from content_server.core.db import make_engine, make_sessionmaker  # noqa: E402
from content_server.core.migrate import upgrade  # noqa: E402
from content_server.core.store import MediaStore  # noqa: E402
from content_server.signage.models import AnnouncementRow, CampaignRow  # noqa: E402
from content_server.signage.services import manifest  # noqa: E402
from schedules.clock import MovableClock, SystemClock  # noqa: E402
from signage_player.client import retry_after  # noqa: E402  (the player's reading of it)
from tests.fixtures.seeding import Picture, add_grouped_screens, add_signage  # noqa: E402
from tests.fixtures.server import free_port  # noqa: E402
from tests.reliability import cpu  # noqa: E402
from tests.reliability.fleet import _png, run_in_own_loop  # noqa: E402
from tests.reliability.http1 import ClientError, Connection  # noqa: E402

# 01:00 in Shanghai: the storm ends no day; the step to UTC midnight ends only the UTC screens'
START = dt.datetime(2026, 11, 25, 17, 0, tzinfo=dt.UTC)
SECRET = "bench-secret-" + "x" * 20
METRICS_TOKEN = "bench-metrics-token-0123456789"
MANIFEST = "/api/v1/device/manifest"
CONNECTIONS = 128
KINDS = ("campaign", "announcement", "data_source")


@dataclass
class Seeded:
    keys: tuple[str, ...]
    groups: tuple[str, ...]  # each screen's group
    group_names: tuple[str, ...]


def seed(data_dir: Path, screens: int, groups: int) -> Seeded:
    engine = make_engine(f"sqlite:///{data_dir / 'signage.db'}")
    upgrade(engine)
    store = MediaStore(data_dir / "media")
    names = tuple(f"g{n:03d}" for n in range(groups))
    with make_sessionmaker(engine)() as s:
        picture: Picture = _png(1)
        found = add_signage(
            s,
            store,
            prefix="",
            filler=picture,
            ad=_png(2),
            groups=names,
            campaign_groups=names[:1],
            now=START,
        )
        first = s.get(CampaignRow, found.campaign_id)
        assert first is not None
        for g in names[1:]:  # a campaign on every group
            s.add(
                CampaignRow(
                    advertiser_id=first.advertiser_id,
                    name=f"Shop {g}",
                    category=f"c{g}",
                    media_ids=list(first.media_ids),
                    flight_start=first.flight_start,
                    flight_end=first.flight_end,
                    targeting={"groups": [g]},
                    share_percent=10,
                    state="approved",
                    submitted_at=START,
                    updated_at=START,
                )
            )
        keys, of = add_grouped_screens(s, prefix="s", count=screens, groups=names, now=START)
        s.commit()
    engine.dispose()
    return Seeded(keys, of, names)


# ---- the server, on a clock this script can move ----------------------------------------------


def serve() -> None:
    """``--serve``: the content server as ``signage-server serve`` runs it, on a movable clock."""
    import uvicorn

    from content_server.app import create_app
    from content_server.core.settings import Settings

    clock = MovableClock(START, running=True)

    def to_midnight(_sig: int, _frame: object) -> None:
        now = clock.now()
        midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
        clock.step_wall((midnight - now).total_seconds() - 2)

    signal.signal(signal.SIGUSR1, to_midnight)
    settings = Settings()
    app = create_app(settings, clock=clock)
    uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=settings.port,
            log_level="warning",
            access_log=False,
            server_header=False,
        )
    ).run()


def start_server(data_dir: Path, targeted: bool) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNAGE_")}
    env.update(
        SIGNAGE_DATA_DIR=str(data_dir),
        SIGNAGE_SECRET_KEY=SECRET,
        SIGNAGE_PORT=str(port),
        SIGNAGE_LOG_LEVEL="WARNING",
        SIGNAGE_SCHEDULER_ENABLED="1",  # the counters reach /metrics through the scheduler's flush
        SIGNAGE_METRICS_TOKEN=METRICS_TOKEN,
        SIGNAGE_TARGETED_CHANGES="1" if targeted else "0",
        # the alert rules judge 10,000 silent screens in seconds of CPU: not what is measured here
        SIGNAGE_FLEET_EVALUATE_EVERY_S="300",
    )
    proc = subprocess.Popen([sys.executable, __file__, "--serve"], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/api/v1/health")
    return proc, base


def read_counters(base: str) -> dict[str, float]:
    import httpx

    text = httpx.get(base + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    out = {}
    for name in ("manifest_builds", "manifest_entries", "manifest_304_memory", "device_polls"):
        m = re.search(rf"^signage_{name}_total (\S+)$", text, re.M)
        out[name] = float(m.group(1)) if m else 0.0
    return out


# ---- the fleet ----------------------------------------------------------------------------------


@dataclass
class Storm:
    base: str
    seeded: Seeded
    interval_s: float
    etags: list[str | None] = field(default_factory=list)
    conns: list[Connection] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    told_to_wait: int = 0  # 503 with Retry-After (the screens' queue was full): no error, asked later
    changed_at: dict[str, float] = field(default_factory=dict)  # group -> last change (monotonic)
    untouched_polls: int = 0
    untouched_200s: int = 0
    record: bool = False

    def __post_init__(self) -> None:
        self.etags = [None] * len(self.seeded.keys)
        self.conns = [Connection(self.base, 60.0) for _ in range(CONNECTIONS)]

    async def poll(self, i: int, since: float) -> float | None:
        """One poll; the server's ``Retry-After`` when it sent the screen away, else None."""
        headers = {"Authorization": f"Bearer {self.seeded.keys[i]}"}
        if self.etags[i]:
            headers["If-None-Match"] = self.etags[i] or ""
        t0 = time.perf_counter()
        try:
            r = await self.conns[i % CONNECTIONS].request("GET", MANIFEST, headers)
        except ClientError:
            self.errors += 1
            return None
        took = time.perf_counter() - t0
        wait = retry_after(r.headers.get("retry-after")) if r.status_code == 503 else None
        if wait is not None:
            self.told_to_wait += 1
            return wait
        if r.status_code not in (200, 304):
            self.errors += 1
            return None
        if r.status_code == 200:
            self.etags[i] = r.headers.get("etag")
        if self.record:
            self.latencies.append(took)
            self.statuses[r.status_code] = self.statuses.get(r.status_code, 0) + 1
            # a screen whose group no change touched since its last poll (and 2 s before: a
            # change reaches the server's view within its poll_cache_s) must get a 304
            if self.changed_at.get(self.seeded.groups[i], -1e9) < since - 2.0:
                self.untouched_polls += 1
                self.untouched_200s += r.status_code == 200
        return None

    async def first_fetch(self, i: int) -> None:
        """A screen's first manifest, coming back when the server says (as the player does)."""
        while (wait := await self.poll(i, 0.0)) is not None:
            await asyncio.sleep(wait)

    async def first_fetches(self, rate: float) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        pending = []
        for i in range(len(self.seeded.keys)):
            await asyncio.sleep(max(0.0, t0 + i / rate - loop.time()))
            pending.append(asyncio.create_task(self.first_fetch(i)))
        await asyncio.gather(*pending)

    async def screens(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        rng = random.Random(7)

        async def screen(i: int, r: random.Random) -> None:
            last = loop.time()
            await asyncio.sleep(r.uniform(0, self.interval_s))
            while loop.time() < deadline:
                before, last = last, loop.time()
                await self.poll(i, before)
                await asyncio.sleep(self.interval_s * r.uniform(0.8, 1.2))

        await asyncio.gather(*(screen(i, random.Random(rng.random())) for i in range(len(self.seeded.keys))))

    def close(self) -> None:
        for c in self.conns:
            c.close()


class Changer:
    """Another process editing content: one change a second, through the ORM with the tracker."""

    def __init__(self, data_dir: Path, groups: tuple[str, ...]) -> None:
        self.engine = make_engine(f"sqlite:///{data_dir / 'signage.db'}")
        self.sessions = make_sessionmaker(self.engine)
        tracker = ChangeTracker(SystemClock())
        manifest.watch_inputs(tracker)
        tracker.install(self.sessions)
        self.groups = groups
        self.rng = random.Random(11)
        self.n = 0

    def change(self) -> str:
        """One edit of a random group's rows; returns the group."""
        group = self.rng.choice(self.groups)
        kind = KINDS[self.n % len(KINDS)]
        self.n += 1
        target = {"groups": [group]}
        with self.sessions() as s:
            if kind == "campaign":
                row = s.scalars(select(CampaignRow).where(CampaignRow.name == f"Shop {group}")).first()
                if row is None:  # the first group's campaign is the seed's
                    row = s.scalars(select(CampaignRow).where(CampaignRow.name == "Bakery")).one()
                row.share_percent = 10 + self.n % 5
            else:
                rows = s.scalars(select(AnnouncementRow)).all()
                row = next(a for a in rows if a.targeting == target)
                if kind == "announcement":
                    row.text = {"zh": f"通知 {self.n}", "en": f"Notice {self.n}"}
                else:  # a data source's refresh: its announcement's ticker (studio ``_publish``)
                    row.ticker_text = {"zh": f"气温 {self.n % 40} °C"}
            s.commit()
        return group

    async def run(self, seconds: float, storm: Storm) -> int:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        done = 0
        while loop.time() - t0 < seconds:
            group = await asyncio.to_thread(self.change)
            storm.changed_at[group] = loop.time()
            done += 1
            await asyncio.sleep(max(0.0, t0 + done - loop.time()))
        return done

    def close(self) -> None:
        self.engine.dispose()


def _p99(values: list[float]) -> float:
    if len(values) < 2:
        return round(1000 * (values[0] if values else 0.0), 1)
    return round(1000 * statistics.quantiles(values, n=100)[98], 1)


def run_storm(data_dir: Path, seeded: Seeded, args: argparse.Namespace, *, targeted: bool) -> dict[str, Any]:
    proc, base = start_server(data_dir, targeted)
    flush_s = 6.0  # the counters reach the database every 5 s (core.runtime.METRICS_FLUSH_S)
    try:
        storm = Storm(base, seeded, args.interval)
        changer = Changer(data_dir, seeded.group_names)

        async def main() -> dict[str, Any]:
            t0 = time.monotonic()
            await storm.first_fetches(args.first_rate)
            print(f"first manifests in {time.monotonic() - t0:.0f} s", file=sys.stderr)
            await asyncio.sleep(flush_s)
            before, cpu0 = read_counters(base), cpu.cpu_s(proc.pid)
            storm.record = True
            started = time.monotonic()
            _, changes = await asyncio.gather(storm.screens(args.seconds), changer.run(args.seconds, storm))
            elapsed = time.monotonic() - started
            cpu1 = cpu.cpu_s(proc.pid)
            storm.record = False
            await storm.screens(args.interval * 1.2 + 1)  # every screen sees the last changes
            await asyncio.sleep(flush_s)
            after = read_counters(base)
            # the day change: the server's wall clock to just before UTC midnight, one more interval
            proc.send_signal(signal.SIGUSR1)
            day_polls = dict(storm.statuses)
            await storm.screens(args.interval * 1.2 + 3)
            await asyncio.sleep(flush_s)
            day = read_counters(base)
            delta = {k: after[k] - before[k] for k in after}
            day_delta = {k: day[k] - after[k] for k in day}
            affected = len(seeded.keys) / len(seeded.group_names)
            return {
                "screens": len(seeded.keys),
                "groups": len(seeded.group_names),
                "seconds": round(elapsed, 1),
                "changes": changes,
                "polls": sum(day_polls.values()),
                "errors": storm.errors,
                "told_to_wait": storm.told_to_wait,
                "poll_p99_ms": _p99(storm.latencies),
                "poll_p50_ms": round(1000 * statistics.median(storm.latencies), 1)
                if storm.latencies
                else 0.0,
                "rebuilds_per_change": round(delta["manifest_entries"] / max(changes, 1), 2),
                "screens_affected_per_change": round(affected, 2),
                "shared_builds_per_change": round(delta["manifest_builds"] / max(changes, 1), 2),
                "memory_304s": int(delta["manifest_304_memory"]),
                "untouched_polls": storm.untouched_polls,
                "untouched_200s": storm.untouched_200s,
                "server_cpu_s_per_min": round((cpu1 - cpu0) / elapsed * 60, 2),
                "day_change": {
                    "screens_rebuilt": int(day_delta["manifest_entries"]),
                    "shared_builds": int(day_delta["manifest_builds"]),
                    "screens_whose_day_ended": sum(1 for i in range(len(seeded.keys)) if i % 10 == 0),
                },
            }

        try:
            return dict(run_in_own_loop(main))
        finally:
            storm.close()
            changer.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    if "--serve" in sys.argv:
        serve()
        return
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--screens", type=int, default=10_000)
    ap.add_argument("--groups", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=300.0, help="length of the storm")
    ap.add_argument("--interval", type=float, default=30.0, help="seconds between a screen's polls")
    ap.add_argument("--first-rate", type=float, default=400.0, help="first fetches per second")
    ap.add_argument("--no-old", action="store_true", help="skip the run against the old design")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-storm-"))
    try:
        template = tmp / "seed"
        template.mkdir()
        t0 = time.monotonic()
        seeded = seed(template, args.screens, args.groups)
        print(f"seeded {args.screens} screens in {time.monotonic() - t0:.0f} s", file=sys.stderr)
        runs = {}
        for name, targeted in (("new", True), ("old", False)):
            if name == "old" and args.no_old:
                continue
            data_dir = tmp / name
            shutil.copytree(template, data_dir)
            runs[name] = run_storm(data_dir, seeded, args, targeted=targeted)
            print(f"{name}: {json.dumps(runs[name])}", file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result: dict[str, Any] = {"bench": "change_storm", **runs["new"]}
    if "old" in runs:
        result["old"] = runs["old"]
        result["speedup"] = round(
            runs["old"]["server_cpu_s_per_min"] / max(runs["new"]["server_cpu_s_per_min"], 1e-9), 2
        )
    result["cores"] = os.cpu_count()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
