"""A simulated fleet on loopback: screens poll, beat and report plays; kiosks browse, book and pay.

Shared by ``bench/load_fleet.py`` (2,000 screens, 50 kiosks) and ``tests/reliability/test_load.py``
(a small fleet), both against a :class:`~tests.reliability.stack.Stack` (PostgreSQL, two server
processes, nginx). One event loop (uvloop) drives every actor over real HTTP through nginx, each
device on its own keep-alive connection (:mod:`tests.reliability.http1`, cheap enough that the
driver is not what limits a run):

- a screen polls ``/device/manifest`` with ``If-None-Match``, sends ``/device/heartbeat`` and
  posts ``/device/plays`` batches of uuid records, each on a jittered interval (the player's
  defaults; the test compresses them); an unacknowledged batch is resent as the player's outbox
  does, so retries test idempotency. Plays start once a manifest was served and follow each
  other without overlapping, as a real player's do;
- a kiosk fetches the catalogue (ETag), creates an order with an idempotency key (every fourth one
  twice at once, as after a lost reply), the "phone" opens the QR's pay page and confirms, and the
  kiosk polls the order until it is paid.

Afterwards the server's own numbers are read back (the play report through the API, paid orders
from the database) and set against what the fleet sent. Screens are registered straight into the
database, each with its own device key (pairing 2,000 through the API would take minutes).

Besides the steady fleet, :meth:`Fleet.cost` drives one kind of request at a time at a given
rate, so the benchmark can charge the servers' CPU seconds to each kind (``tests/reliability/cpu.py``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import random
import statistics
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvloop
from PIL import Image
from sqlalchemy import func, select

from content_server.core.db import make_engine, make_sessionmaker
from content_server.core.store import MediaStore
from content_server.kiosk.models import OrderRow, ServiceRow
from content_server.signage.services.catalogue import media_item_id
from signage_demo.kiosk_catalogue import seed_demo_catalogue
from signage_player.client import retry_after  # the player's reading of it
from tests.fixtures.seeding import Picture, add_devices, add_open_slot, add_signage
from tests.reliability import cpu
from tests.reliability.http1 import ClientError, Connection, Reply
from tests.reliability.stack import Stack

GROUPS = ("north", "south", "east", "west")
PHONE = "13812345678"
API = "/api/v1"


class FleetError(RuntimeError):
    """The fleet could not be set up (seeding, or the stack is not running)."""


@dataclass(frozen=True)
class FleetConfig:
    """How big the fleet is, how long it runs and how often each actor calls."""

    screens: int = 2000
    kiosks: int = 50
    seconds: float = 180.0
    # requests started in the first warmup_s (every screen's first manifest, each process's
    # first sight of each device) are reported apart from the steady state
    warmup_s: float = 60.0
    # the player's defaults (signage_player/config.py); the test compresses them tenfold
    manifest_every_s: float = 30.0
    heartbeat_every_s: float = 60.0
    plays_every_s: float = 30.0
    plays_per_batch: int = 3  # 30 s of 10 s slides
    play_s: float = 10.0  # shorter: plays cut short (a burst of a few seconds still reports some)
    kiosk_think_s: tuple[float, float] = (1.0, 3.0)  # a resident reading the screen
    order_poll_s: float = 0.5  # how often the kiosk asks whether the order is paid
    pay_wait_s: float = 30.0  # longest a kiosk waits for "paid" before calling it an error
    timeout_s: float = 30.0
    seed: int = 1
    # every screen's first call within this many seconds of the start (a power cut's end, a
    # server upgrade); None: spread over one interval, as a running fleet's calls are
    cold_start_s: float | None = None
    retry_after_jitter: float = 0.2  # a screen told to come back stretches the time by up to this share

    @property
    def screen_rps(self) -> float:
        """Requests per second the screens ask for (the kiosks add a few)."""
        return self.screens * (
            1 / self.manifest_every_s + 1 / self.heartbeat_every_s + 1 / self.plays_every_s
        )


@dataclass(frozen=True)
class Seeded:
    """What the fleet needs to know about the content put in the database."""

    screen_keys: tuple[str, ...]
    kiosk_keys: tuple[str, ...]
    kiosk_ids: tuple[str, ...]
    campaign_id: str
    item_id: str
    slots: tuple[tuple[str, str], ...]  # (service_id, slot_id) with room for the whole run
    screen_ids: tuple[str, ...] = ()  # in the order of screen_keys (screen i is in building i % 40)


@dataclass(frozen=True)
class EndpointStats:
    n: int
    errors: int
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True)
class FleetResult:
    """One run: what was asked, what the fleet saw, what the server counted and what it cost."""

    screens: int
    kiosks: int
    seconds: float
    warmup_s: float
    elapsed_s: float  # until the last in-flight order and batch finished
    requests: int
    errors: int
    endpoints: dict[str, EndpointStats]  # requests started after the warm-up
    warmup_endpoints: dict[str, EndpointStats]  # requests started in the warm-up
    plays_sent: int
    plays_accepted: int
    plays_counted: int
    plays_refused: dict[str, int]
    orders_created: int
    orders_paid: int
    orders_confirmed: int
    server_log_errors: int
    server_log_warnings: int
    cpu_s: dict[str, float]  # CPU seconds during the run: driver, servers, postgres, nginx
    error_samples: tuple[str, ...] = ()
    told_to_wait: dict[str, int] = field(default_factory=dict)  # endpoint -> 503s with Retry-After
    first_manifest_s: tuple[float, ...] = ()  # per screen that got one: seconds from the start
    screens_without_manifest: int = 0  # screens that never got a first manifest in the run

    @property
    def ok(self) -> bool:
        return (
            self.errors == 0
            and self.server_log_errors == 0
            and self.plays_sent == self.plays_counted == self.plays_accepted
            and self.orders_paid == self.orders_confirmed
        )

    @property
    def worst_p99_ms(self) -> float:
        return max((s.p99_ms for s in self.endpoints.values()), default=0.0)

    def as_json(self) -> dict[str, Any]:
        per_request = {
            f"{who}_cpu_ms_per_request": round(1000 * s / self.requests, 3) if self.requests else 0.0
            for who, s in self.cpu_s.items()
        }
        return {
            "bench": "load_fleet",
            "screens": self.screens,
            "kiosks": self.kiosks,
            "seconds": self.seconds,
            "warmup_s": self.warmup_s,
            "elapsed_s": self.elapsed_s,
            "requests": self.requests,
            "requests_per_s": round(self.requests / self.elapsed_s, 1) if self.elapsed_s else 0.0,
            "errors": self.errors,
            "endpoints": _stats_json(self.endpoints),
            "warmup_endpoints": _stats_json(self.warmup_endpoints),
            "plays_sent": self.plays_sent,
            "plays_accepted": self.plays_accepted,
            "plays_counted": self.plays_counted,
            "plays_refused": self.plays_refused,
            "orders_created": self.orders_created,
            "orders_paid": self.orders_paid,
            "orders_confirmed": self.orders_confirmed,
            "server_log_errors": self.server_log_errors,
            "server_log_warnings": self.server_log_warnings,
            "cpu_s": {who: round(s, 2) for who, s in self.cpu_s.items()},
            "told_to_wait": self.told_to_wait,
            "first_manifest_s_p50": _quantile(self.first_manifest_s, 0.5),
            "first_manifest_s_max": round(max(self.first_manifest_s), 1) if self.first_manifest_s else None,
            "screens_without_manifest": self.screens_without_manifest,
            **per_request,
            "driver_cores": round(self.cpu_s.get("driver", 0.0) / self.elapsed_s, 3)
            if self.elapsed_s
            else 0.0,
        }


def _quantile(values: tuple[float, ...], q: float) -> float | None:
    return round(sorted(values)[min(len(values) - 1, int(q * len(values)))], 1) if values else None


def _stats_json(stats: dict[str, EndpointStats]) -> dict[str, dict[str, float]]:
    return {
        name: {"n": s.n, "errors": s.errors, "p50_ms": s.p50_ms, "p99_ms": s.p99_ms}
        for name, s in stats.items()
    }


def _png(seed: int) -> Picture:
    img = Image.new("RGB", (320, 180), (seed % 256, 90, 140))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return Picture(buf.getvalue(), "image/png", 320, 180, f"slide{seed}.png")


def seed(database_url: str, media_dir: Path, screens: int, kiosks: int) -> Seeded:
    """Filler, an approved campaign, announcements, the demo catalogue, and the devices.

    Names carry a fresh run tag, so one stack can take several runs.
    """
    now = dt.datetime.now(dt.UTC)
    run = "load" + uuid.uuid4().hex[:8] + "-"
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as s:
            signage = add_signage(
                s,
                MediaStore(media_dir),
                prefix=run,
                filler=_png(1),
                ad=_png(2),
                groups=GROUPS,
                campaign_groups=GROUPS,
                now=now,
            )
            screen_keys, screen_ids = add_devices(
                s, prefix=run, count=screens, kind="player", groups=GROUPS, now=now
            )
            kiosk_keys, kiosk_ids = add_devices(
                s, prefix=run, count=kiosks, kind="kiosk", groups=GROUPS, now=now
            )
            s.commit()
            seed_demo_catalogue(s, now)
            paid = s.scalars(select(ServiceRow).where(ServiceRow.price_minor > 0).order_by(ServiceRow.id))
            slots = tuple(
                (service.id, add_open_slot(s, service.id, now, capacity=10_000_000).id)
                for service in list(paid)[:4]  # room for every order of the run
            )
            s.commit()
            return Seeded(
                screen_keys,
                kiosk_keys,
                kiosk_ids,
                signage.campaign_id,
                media_item_id(signage.ad_id),
                slots,
                tuple(screen_ids),
            )
    finally:
        engine.dispose()


@dataclass
class _Tally:
    """Latencies and errors per endpoint, and the counts the fleet checks against the server.

    Each latency and error is kept with its start (seconds after ``t0``), so the warm-up can be
    told apart from the steady state.
    """

    t0: float = 0.0
    latencies: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    requests: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    errors: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    samples: list[str] = field(default_factory=list)
    told_to_wait: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    first_manifest_s: list[float] = field(default_factory=list)
    plays_sent: int = 0
    plays_accepted: int = 0
    plays_refused: dict[str, int] = field(default_factory=dict)  # reason -> records
    orders_created: int = 0
    orders_paid: int = 0

    def error(self, endpoint: str, what: str, started: float | None = None) -> None:
        self.errors[endpoint].append((time.perf_counter() if started is None else started) - self.t0)
        if len(self.samples) < 20:
            self.samples.append(f"{endpoint}: {what}")

    @property
    def error_count(self) -> int:
        return sum(len(v) for v in self.errors.values())

    async def call(
        self,
        conn: Connection,
        endpoint: str,
        method: str,
        target: str,
        ok: tuple[int, ...] = (200,),
        headers: dict[str, str] | None = None,
        json_body: Any = None,
        on_busy: Callable[[float], None] | None = None,
    ) -> Reply | None:
        """One request; a transport error or an unexpected status is an error (None). With
        ``on_busy``, a 503 with ``Retry-After`` is no error: it is counted and handed the wait."""
        self.requests[endpoint] += 1
        t0 = time.perf_counter()
        try:
            r = await conn.request(method, target, headers, json_body=json_body)
        except ClientError as exc:
            self.latencies[endpoint].append((t0 - self.t0, time.perf_counter() - t0))
            self.error(endpoint, str(exc), t0)
            return None
        self.latencies[endpoint].append((t0 - self.t0, time.perf_counter() - t0))
        wait = retry_after(r.headers.get("retry-after")) if r.status_code == 503 else None
        if on_busy is not None and wait is not None:
            self.told_to_wait[endpoint] += 1
            on_busy(wait)
            return None
        if r.status_code not in ok:
            self.error(endpoint, f"HTTP {r.status_code}: {r.text[:200]}", t0)
            return None
        return r

    def stats(self, since: float = 0.0, until: float = float("inf")) -> dict[str, EndpointStats]:
        """Per endpoint, the requests started between ``since`` and ``until`` (seconds after t0)."""
        out = {}
        for name in sorted(self.requests):
            lat = sorted(d for start, d in self.latencies.get(name, []) if since <= start < until)
            errors = sum(1 for start in self.errors.get(name, []) if since <= start < until)
            if not lat:
                continue
            p50 = statistics.median(lat)
            p99 = statistics.quantiles(lat, n=100)[98] if len(lat) > 1 else p50
            out[name] = EndpointStats(len(lat), errors, round(p50 * 1000, 1), round(p99 * 1000, 1))
        return out


def _keep_interval(_retry_after_s: float) -> None:
    """A heartbeat or a play batch told to come back: the player tries again at its own interval
    (the outbox keeps the plays); only the manifest poll waits for the server's time."""


def _jitter(rng: random.Random, every_s: float) -> float:
    return every_s * rng.uniform(0.8, 1.2)


@dataclass
class _Screen:
    """One screen's connection and memory: its manifest's ETag and its outbox of plays."""

    key: str
    conn: Connection
    etag: str | None = None
    outbox: list[dict[str, Any]] = field(default_factory=list)  # the batch not yet acknowledged
    played_until: dt.datetime | None = None  # plays follow a served manifest, one after another
    told_wait_s: float | None = None  # the server's Retry-After for the call just made
    has_manifest: bool = False

    def told_to_wait(self, seconds: float) -> None:
        self.told_wait_s = seconds

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class _Kiosk:
    key: str
    conn: Connection
    second: Connection  # the doubled send after a lost reply goes on a second connection
    phone: Connection  # the resident's phone, through the front door
    etag: str = ""  # of the last catalogue seen
    orders: int = 0

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


class Fleet:
    """The seeded devices, their connections and their requests, on one event loop."""

    def __init__(self, base_url: str, seeded: Seeded, config: FleetConfig) -> None:
        if urlsplit(base_url).hostname != "127.0.0.1":
            raise FleetError(f"the fleet only targets loopback, not {base_url}")
        self.base = base_url.rstrip("/")
        self.seeded = seeded
        self.config = config
        self.tally = _Tally()
        self.deadline = 0.0
        self.started = 0.0
        self.cut_at: dict[str, float] = {}  # screen key -> seconds into the run its network goes down
        timeout = config.timeout_s
        self.screens = [_Screen(key, Connection(self.base, timeout)) for key in seeded.screen_keys]
        self.kiosks = [
            _Kiosk(
                key,
                Connection(self.base, timeout),
                Connection(self.base, timeout),
                Connection(self.base, timeout),
            )
            for key in seeded.kiosk_keys
        ]

    def close(self) -> None:
        for s in self.screens:
            s.conn.close()
        for k in self.kiosks:
            for c in (k.conn, k.second, k.phone):
                c.close()

    # --- the steady fleet ---------------------------------------------------------------------

    async def run(self, screens: int, kiosks: int, seconds: float) -> float:
        """The first ``screens`` screens and ``kiosks`` kiosks for ``seconds``; returns the
        elapsed time (until the last in-flight order and batch finished)."""
        cfg = self.config
        loop = asyncio.get_running_loop()
        self.tally = _Tally(t0=time.perf_counter())
        start = loop.time()
        self.started = start
        self.deadline = start + seconds
        rng = random.Random(cfg.seed)
        actors = [self._screen_loop(s, random.Random(rng.random())) for s in self.screens[:screens]]
        actors += [self._kiosk_loop(k, random.Random(rng.random())) for k in self.kiosks[:kiosks]]
        await asyncio.gather(*actors)
        return loop.time() - start

    async def _screen_loop(self, screen: _Screen, rng: random.Random) -> None:
        cfg = self.config
        loop = asyncio.get_running_loop()
        now = loop.time()  # first calls spread over one interval, as a real fleet's are
        due = {
            "manifest": now + rng.uniform(0, cfg.cold_start_s or cfg.manifest_every_s),
            "heartbeat": now + rng.uniform(0, cfg.cold_start_s or cfg.heartbeat_every_s),
            "plays": now + rng.uniform(0, cfg.plays_every_s),
        }
        every = {
            "manifest": cfg.manifest_every_s,
            "heartbeat": cfg.heartbeat_every_s,
            "plays": cfg.plays_every_s,
        }
        calls: dict[str, Callable[[_Screen], Awaitable[object]]] = {
            "manifest": self.manifest,
            "heartbeat": self.heartbeat,
            "plays": self.plays,
        }
        cut = self.started + self.cut_at[screen.key] if screen.key in self.cut_at else float("inf")
        while True:
            what, at = min(due.items(), key=lambda kv: kv[1])
            if at >= cut:  # its network went down: it says nothing more
                await asyncio.sleep(max(0.0, self.deadline - loop.time()))
                return
            if at >= self.deadline:
                break
            await asyncio.sleep(max(0.0, at - loop.time()))
            await calls[what](screen)
            if screen.told_wait_s is not None:  # as the player does (signage_player Backoff)
                wait, screen.told_wait_s = screen.told_wait_s, None
                due[what] = loop.time() + wait * (1 + cfg.retry_after_jitter * rng.random())
            else:
                due[what] = loop.time() + _jitter(rng, every[what])
        for _ in range(3):  # what is still in the outbox after the run: a few more tries
            if not screen.outbox or await self._send_plays(screen):
                break
            await asyncio.sleep(1.0)

    # --- one request of each kind (the steady fleet and the cost phases) --------------------

    async def manifest(self, screen: _Screen) -> Reply | None:
        h = {**screen.headers, "If-None-Match": screen.etag} if screen.etag else screen.headers
        tally, target = self.tally, API + "/device/manifest"
        r = await tally.call(
            screen.conn, "manifest", "GET", target, (200, 304), h, on_busy=screen.told_to_wait
        )
        if r is not None:
            if not screen.has_manifest:
                screen.has_manifest = True
                tally.first_manifest_s.append(time.perf_counter() - tally.t0)
            screen.etag = r.headers.get("etag") or screen.etag
            if screen.played_until is None:
                screen.played_until = dt.datetime.now(dt.UTC)
        return r

    async def heartbeat(self, screen: _Screen) -> Reply | None:
        beat = {
            "sent_at": dt.datetime.now(dt.UTC).isoformat(),
            "player_version": "load-1",
            "manifest_version": screen.etag.strip('"') if screen.etag else None,
            "current_item_id": self.seeded.item_id,
            "cache_bytes": 1_000_000,
            "free_disk_bytes": 10_000_000_000,
            "outbox_length": len(screen.outbox),
        }
        return await self.tally.call(
            screen.conn,
            "heartbeat",
            "POST",
            API + "/device/heartbeat",
            headers=screen.headers,
            json_body=beat,
            on_busy=_keep_interval,
        )

    async def plays(self, screen: _Screen) -> bool:
        """Send the outbox, first filling it with the plays that ended since the last batch."""
        if not screen.outbox and screen.played_until is not None:
            screen.outbox, screen.played_until = self._plays(self.config.plays_per_batch, screen.played_until)
            self.tally.plays_sent += len(screen.outbox)
        if screen.outbox and await self._send_plays(screen):
            screen.outbox = []
            return True
        return False

    def _plays(self, n: int, since: dt.datetime) -> tuple[list[dict[str, Any]], dt.datetime]:
        """Up to ``n`` plays of the ad from ``since`` that have ended by now; and where they end."""
        length = self.config.play_s
        now = dt.datetime.now(dt.UTC)
        count = min(n, int((now - since).total_seconds() // length))
        plays = [
            {
                "id": str(uuid.uuid4()),
                "item_id": self.seeded.item_id,
                "campaign_id": self.seeded.campaign_id,
                "started_at": (since + dt.timedelta(seconds=length * i)).isoformat(),
                "duration_s": length,
                "completed": length >= 10,
            }
            for i in range(count)
        ]
        return plays, since + dt.timedelta(seconds=length * count)

    async def _send_plays(self, screen: _Screen) -> bool:
        r = await self.tally.call(
            screen.conn,
            "plays",
            "POST",
            API + "/device/plays",
            headers=screen.headers,
            json_body={"records": screen.outbox},
            on_busy=_keep_interval,
        )
        if r is None:
            return False
        reply = r.json()
        # a record the server already had (a batch resent after an answer that never arrived) is
        # acknowledged as a duplicate: once, as promised; the report's count checks it was kept once
        self.tally.plays_accepted += int(reply["accepted"]) + int(reply.get("duplicates", 0))
        for reason, n in (reply.get("refused_reasons") or {}).items():
            self.tally.plays_refused[reason] = self.tally.plays_refused.get(reason, 0) + int(n)
        return True

    # --- kiosks -------------------------------------------------------------------------------

    async def _kiosk_loop(self, kiosk: _Kiosk, rng: random.Random) -> None:
        cfg = self.config
        loop = asyncio.get_running_loop()
        await asyncio.sleep(rng.uniform(0, cfg.kiosk_think_s[1]))
        while loop.time() < self.deadline:
            if await self.browse(kiosk):
                await self.order(kiosk, rng.choice(self.seeded.slots), twice=kiosk.orders % 4 == 3)
                kiosk.orders += 1
            await asyncio.sleep(rng.uniform(*cfg.kiosk_think_s))

    async def browse(self, kiosk: _Kiosk, *, conditional: bool = True) -> bool:
        """Fetch the catalogue (304 if unchanged) and check it offers the load slots."""
        h = {**kiosk.headers, "If-None-Match": kiosk.etag} if kiosk.etag and conditional else kiosk.headers
        r = await self.tally.call(kiosk.conn, "catalogue", "GET", API + "/kiosk/catalogue", (200, 304), h)
        if r is None:
            return False
        if r.status_code == 200:
            kiosk.etag = r.headers.get("etag", "")
            offered = {
                (s["id"], t["id"]) for s in r.json()["services"] for t in s["slots"] if t["remaining"] > 0
            }
            missing = set(self.seeded.slots) - offered
            if missing:
                self.tally.error("catalogue", f"load slots missing from the catalogue: {sorted(missing)}")
                return False
        return True

    async def create_order(
        self, kiosk: _Kiosk, slot: tuple[str, str], *, twice: bool
    ) -> dict[str, Any] | None:
        """Order with a fresh idempotency key (``twice``: sent twice at once); the order, or None."""
        tally = self.tally
        body = {
            "idempotency_key": str(uuid.uuid4()),
            "service_id": slot[0],
            "slot_id": slot[1],
            "phone": PHONE,
        }
        url = API + "/kiosk/orders"
        sends = [tally.call(kiosk.conn, "order_create", "POST", url, (200, 201), kiosk.headers, body)]
        if twice:
            sends.append(
                tally.call(kiosk.second, "order_create", "POST", url, (200, 201), kiosk.headers, body)
            )
        replies = [r for r in await asyncio.gather(*sends) if r is not None]
        if len(replies) != len(sends):
            return None
        orders = [r.json() for r in replies]
        created = [r.status_code for r in replies].count(201)
        if len({o["id"] for o in orders}) != 1 or created != 1:
            seen = [(r.status_code, o["id"]) for r, o in zip(replies, orders, strict=True)]
            tally.error("order_create", f"one idempotency key gave {seen}")
            return None
        tally.orders_created += 1
        order: dict[str, Any] = orders[0]
        return order

    async def pay(self, kiosk: _Kiosk, order: dict[str, Any]) -> bool:
        """The resident's phone opens the QR's pay page and confirms."""
        tally = self.tally
        qr = order["payment"]["qr_payload"]
        if urlsplit(qr).hostname != "127.0.0.1":
            tally.error("order_create", f"QR does not point at loopback: {qr}")
            return False
        pay_url = urlsplit(qr).path  # the phone reaches the server through the front door
        page = await tally.call(kiosk.phone, "pay_page", "GET", pay_url)
        if page is None:
            return False
        if 'id="confirm"' not in page.text:
            tally.error("pay_page", "no confirm button on a fresh order's pay page")
            return False
        done = await tally.call(kiosk.phone, "pay_confirm", "POST", pay_url + "/confirm")
        if done is None:
            return False
        if 'data-status="paid"' not in done.text:
            tally.error("pay_confirm", "the phone was not shown 'paid' after confirming")
            return False
        tally.orders_paid += 1
        return True

    async def poll_order(self, kiosk: _Kiosk, order_id: str) -> bool:
        r = await self.tally.call(
            kiosk.conn, "order_poll", "GET", f"{API}/kiosk/orders/{order_id}", headers=kiosk.headers
        )
        return r is not None and r.json()["state"] == "paid"

    async def order(self, kiosk: _Kiosk, slot: tuple[str, str], *, twice: bool) -> None:
        """Order, pay on the phone, wait for "paid"."""
        cfg = self.config
        loop = asyncio.get_running_loop()
        order = await self.create_order(kiosk, slot, twice=twice)
        if order is None or not await self.pay(kiosk, order):
            return
        until = loop.time() + cfg.pay_wait_s
        while not await self.poll_order(kiosk, order["id"]):
            if loop.time() >= until:
                self.tally.error(
                    "order_poll", f"order {order['id']} not paid {cfg.pay_wait_s:.0f} s after the phone paid"
                )
                return
            await asyncio.sleep(cfg.order_poll_s)

    # --- cost phases: one kind of request at a time ------------------------------------------

    async def paced(self, jobs: list[Callable[[], Awaitable[object]]], rate: float) -> float:
        """Start ``jobs`` at ``rate`` per second (an open loop, as a fleet's requests arrive);
        returns the seconds until the last one finished."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        tasks = []
        for i, job in enumerate(jobs):
            delay = start + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(job()))
        await asyncio.gather(*tasks)
        return loop.time() - start


def _log_size(stack: Stack) -> int:
    log = stack.data_dir / "server.log"
    return log.stat().st_size if log.exists() else 0


def _server_log(stack: Stack, since: int, *levels: str) -> list[str]:
    """Lines the servers logged since byte ``since`` at these levels (uvicorn: "ERROR:", ours " ERROR ")."""
    log = stack.data_dir / "server.log"
    if not log.exists():
        return []
    with log.open("rb") as f:
        f.seek(since)
        lines = f.read().decode(errors="replace").splitlines()
    return [line for line in lines if any(line.startswith(f"{lv}:") or f" {lv} " in line for lv in levels)]


def counted_plays(stack: Stack, campaign_id: str) -> int:
    """Plays of the campaign the server's report counts (through nginx, as an operator)."""
    front = stack.front
    rows = httpx.get(
        front.api + "/reports/plays",
        params={"campaign_id": campaign_id},
        headers=front.auth(front.operator),
        timeout=120,
    )
    rows.raise_for_status()
    return sum(int(row["plays"]) for row in rows.json())


def paid_orders(database_url: str, kiosk_ids: tuple[str, ...]) -> int:
    engine = make_engine(database_url)
    paid = select(func.count()).select_from(OrderRow).where(OrderRow.state == "paid")
    try:
        with make_sessionmaker(engine)() as s:
            return int(s.scalar(paid.where(OrderRow.kiosk_id.in_(kiosk_ids))) or 0)
    finally:
        engine.dispose()


def run_in_own_loop(main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """``main()`` on a uvloop of its own thread: the caller's thread may already run a loop
    (Playwright's sync API keeps one in pytest's main thread for the browser tests)."""
    out: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                out.append(runner.run(main()))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name="fleet")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return out[0]


class CpuMeter:
    """CPU seconds of the stack's processes and of this one (the driver) between two readings."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    def read(self) -> dict[str, float]:
        st = self.stack
        return {
            "driver": cpu.self_cpu_s(),
            "servers": cpu.total_cpu_s(st.server_pids()),
            "postgres": cpu.tree_cpu_s(st.pg.pid()),
            "nginx": cpu.tree_cpu_s(st.nginx_pid()),
        }

    @staticmethod
    def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {k: after[k] - before[k] for k in before}


async def run_fleet(
    stack: Stack, fleet: Fleet, screens: int, kiosks: int, seconds: float, warmup_s: float
) -> FleetResult:
    """One run of the steady fleet on ``fleet``'s loop, counted back from the server."""
    db_url = stack.servers[0].database_url
    assert db_url is not None
    seeded = fleet.seeded
    log_start = _log_size(stack)
    plays_before = await asyncio.to_thread(counted_plays, stack, seeded.campaign_id)
    paid_before = await asyncio.to_thread(paid_orders, db_url, seeded.kiosk_ids)
    meter = CpuMeter(stack)
    before = meter.read()
    elapsed = await fleet.run(screens, kiosks, seconds)
    used = meter.delta(before, meter.read())
    tally = fleet.tally
    log_errors = _server_log(stack, log_start, "ERROR", "CRITICAL")
    log_warnings = _server_log(stack, log_start, "WARNING")
    return FleetResult(
        screens=screens,
        kiosks=kiosks,
        seconds=seconds,
        warmup_s=warmup_s,
        elapsed_s=round(elapsed, 1),
        requests=sum(tally.requests.values()),
        errors=tally.error_count,
        endpoints=tally.stats(since=warmup_s),
        warmup_endpoints=tally.stats(until=warmup_s) if warmup_s > 0 else {},
        plays_sent=tally.plays_sent,
        plays_accepted=tally.plays_accepted,
        plays_counted=await asyncio.to_thread(counted_plays, stack, seeded.campaign_id) - plays_before,
        plays_refused=dict(tally.plays_refused),
        orders_created=tally.orders_created,
        orders_paid=tally.orders_paid,
        orders_confirmed=await asyncio.to_thread(paid_orders, db_url, seeded.kiosk_ids) - paid_before,
        server_log_errors=len(log_errors),
        server_log_warnings=len(log_warnings),
        cpu_s=used,
        error_samples=tuple(tally.samples + log_errors[:10] + log_warnings[:10]),
        told_to_wait=dict(tally.told_to_wait),
        first_manifest_s=tuple(round(s, 2) for s in tally.first_manifest_s),
        screens_without_manifest=sum(1 for s in fleet.screens[:screens] if not s.has_manifest),
    )


def seed_stack(stack: Stack, screens: int, kiosks: int) -> Seeded:
    db_url = stack.servers[0].database_url if stack.servers else None
    if db_url is None or stack.nginx is None:
        raise FleetError("start the stack first")
    return seed(db_url, stack.data_dir / "media", screens, kiosks)


def run_load(stack: Stack, config: FleetConfig) -> FleetResult:
    """Seed the running stack, drive the fleet through nginx for ``config.seconds``, count back."""
    seeded = seed_stack(stack, config.screens, config.kiosks)

    async def main() -> FleetResult:
        fleet = Fleet(stack.front.url, seeded, config)
        try:
            return await run_fleet(
                stack, fleet, config.screens, config.kiosks, config.seconds, config.warmup_s
            )
        finally:
            fleet.close()

    result: FleetResult = run_in_own_loop(main)
    return result


# --- what each kind of request costs ----------------------------------------------------------


@dataclass(frozen=True)
class Cost:
    """CPU milliseconds per request of one kind, by process group, with the requests measured."""

    n: int
    errors: int
    servers_ms: float  # both content-server processes (what the targets are about)
    postgres_ms: float
    nginx_ms: float
    driver_ms: float
    p99_ms: float
    error_samples: tuple[str, ...] = ()

    def as_json(self) -> dict[str, float]:
        return {
            "n": self.n,
            "errors": self.errors,
            "servers_ms": self.servers_ms,
            "postgres_ms": self.postgres_ms,
            "nginx_ms": self.nginx_ms,
            "driver_ms": self.driver_ms,
            "p99_ms": self.p99_ms,
        }


COST_KINDS = (
    "manifest_first",
    "manifest_304",
    "heartbeat",
    "plays",
    "catalogue",
    "catalogue_304",
    "order_create",
    "order_poll",
)


async def measure_costs(
    stack: Stack,
    fleet: Fleet,
    *,
    screens: int,
    rate: float,
    settle_s: float = 6.0,
    idle_s: float = 10.0,
    cheap_idle_s: float = 60.0,
    rounds: int = 3,
    on_phase: Callable[[str, bool], None] | None = None,
) -> dict[str, Cost]:
    """CPU per request of each kind in :data:`COST_KINDS`, driven one kind at a time at ``rate``
    requests per second (an open loop, like a fleet's arrivals) from the first ``screens``
    screens and every kiosk.

    Each phase is charged the CPU seconds the processes used from its first request until
    ``settle_s`` after its last (work a request leaves behind, such as a write flushed a few
    seconds later, belongs to it), minus what they use idle over the same time, measured for
    ``idle_s`` right before the phase: the servers' background work (the alert passes every 5 s)
    costs what the fleet's state makes it cost at that moment, and a screen silent since the last
    phase is the alert pass's work, not the next request's. An alert pass more or less in a phase
    than in its idle window is a fixed error spread over the phase's requests, so the cheap kinds
    (a 304, a steady beat, a steady batch) are measured over ``rounds`` requests per screen, and
    their idle window is ``cheap_idle_s``, long enough to hold every periodic job (the alert
    pass every 5 s, the heartbeat rules every 30 s, the directory's 60 s age) at its own rate. The
    screens first beat once to every process, so the fleet is seen online as a running one is,
    and again once they play a manifest (their beats' news), so ``heartbeat`` is a steady fleet's
    beat. Screens must not have fetched a manifest yet for ``manifest_first`` to mean a first
    fetch. ``on_phase(kind, started)`` brackets each phase (the benchmark starts and stops a
    profiler there).
    """
    meter = CpuMeter(stack)
    loop = asyncio.get_running_loop()

    async def idle_rate(seconds: float) -> dict[str, float]:
        t = loop.time()
        before = meter.read()
        await asyncio.sleep(seconds)
        idle = {k: v / (loop.time() - t) for k, v in meter.delta(before, meter.read()).items()}
        idle["driver"] = 0.0  # the driver's own idle is this sleep: nothing to take off
        return idle

    fs = fleet.screens[:screens]
    kiosks = fleet.kiosks
    repeat = max(1, screens // max(1, 4 * len(kiosks)))  # enough kiosk requests to measure
    orders: list[tuple[_Kiosk, str]] = []

    async def create(k: _Kiosk, slot: tuple[str, str]) -> None:
        order = await fleet.create_order(k, slot, twice=False)
        if order is not None:
            orders.append((k, order["id"]))

    async def uncached_browse(k: _Kiosk) -> None:
        await fleet.browse(k, conditional=False)

    slots = fleet.seeded.slots
    Jobs = list[Callable[[], Awaitable[object]]]
    # Each server process's first sight of a device is not the steady state (its manifest is
    # built there, its first beat written): the warm-ups go to every process directly.
    direct = [[Connection(srv.url, fleet.config.timeout_s) for _ in range(50)] for srv in stack.servers]

    def everywhere(call: Callable[[_Screen], Awaitable[object]]) -> Jobs:
        return [
            lambda s=s, c=conns[i % len(conns)]: call(replace(s, conn=c))
            for conns in direct
            for i, s in enumerate(fs)
        ]

    phases: list[tuple[str, Callable[[], Jobs]]] = [
        ("heartbeat_warm", lambda: everywhere(fleet.heartbeat)),
        ("manifest_first", lambda: [lambda s=s: fleet.manifest(s) for s in fs]),
        ("manifest_warm", lambda: everywhere(fleet.manifest)),
        ("manifest_304", lambda: [lambda s=s: fleet.manifest(s) for s in fs] * rounds),
        # the screens now play a manifest: their next beat says so, news that is written at once
        # (a steady fleet's beats repeat what the last one said, as the measured phase's do)
        ("heartbeat_news_warm", lambda: everywhere(fleet.heartbeat)),
        ("heartbeat", lambda: [lambda s=s: fleet.heartbeat(s) for s in fs] * rounds),
        # a screen's first batch in a process reads its served manifests there; its later ones
        # are judged from that process's memory (the steady state, as the measured phase's are)
        ("plays_first", lambda: [lambda s=s: fleet.plays(s) for s in fs]),
        ("plays_warm", lambda: everywhere(fleet.plays)),
        ("plays", lambda: [lambda s=s: fleet.plays(s) for s in fs] * rounds),
        ("catalogue", lambda: [lambda k=k: uncached_browse(k) for k in kiosks] * repeat),
        ("catalogue_304", lambda: [lambda k=k: fleet.browse(k) for k in kiosks] * repeat),
        (
            "order_create",
            lambda: [lambda k=k, i=i: create(k, slots[i % len(slots)]) for i, k in enumerate(kiosks)] * 4,
        ),
        ("order_poll", lambda: [lambda k=k, o=o: fleet.poll_order(k, o) for k, o in orders]),
    ]
    out: dict[str, Cost] = {}
    for kind, make_jobs in phases:
        jobs = make_jobs()
        if not jobs:
            continue
        grouped = kind.startswith(("manifest", "heartbeat", "catalogue", "plays"))
        endpoint = kind.split("_")[0] if grouped else kind
        cheap = kind in ("manifest_304", "heartbeat", "plays")
        idle = {} if kind.endswith("_warm") else await idle_rate(cheap_idle_s if cheap else idle_s)
        fleet.tally = _Tally(t0=time.perf_counter())
        if on_phase is not None:
            on_phase(kind, True)
        t = loop.time()
        before = meter.read()
        await fleet.paced(jobs, rate)
        await asyncio.sleep(settle_s)
        used = meter.delta(before, meter.read())
        span = loop.time() - t
        if on_phase is not None:
            on_phase(kind, False)
        if kind.endswith("_warm"):
            for conns in direct:
                for c in conns:
                    c.close()
            continue
        n = len(jobs)
        stats = fleet.tally.stats().get(endpoint)
        net = {k: max(0.0, v - idle[k] * span) for k, v in used.items()}
        out[kind] = Cost(
            n=n,
            errors=fleet.tally.error_count,
            servers_ms=round(1000 * net["servers"] / n, 3),
            postgres_ms=round(1000 * net["postgres"] / n, 3),
            nginx_ms=round(1000 * net["nginx"] / n, 3),
            driver_ms=round(1000 * used["driver"] / n, 3),
            p99_ms=stats.p99_ms if stats else 0.0,
            error_samples=tuple(fleet.tally.samples),
        )
    return out
