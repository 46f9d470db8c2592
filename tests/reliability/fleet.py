"""A simulated fleet on loopback: screens poll, beat and report plays; kiosks browse, book and pay.

Shared by ``bench/load_fleet.py`` (2,000 screens, 50 kiosks) and ``tests/reliability/test_load.py``
(a small fleet), both against a :class:`~tests.reliability.stack.Stack` (PostgreSQL, two server
processes, nginx). One asyncio loop drives every actor over real HTTP through nginx:

- a screen, on its own connection, polls ``/device/manifest`` with ``If-None-Match``, sends
  ``/device/heartbeat`` and posts ``/device/plays`` batches of uuid records, each on a jittered
  interval (the player's defaults; the test compresses them); an unacknowledged batch is resent
  as the player's outbox does, so retries test idempotency;
- a kiosk fetches the catalogue (ETag), creates an order with an idempotency key (every fourth one
  twice at once, as after a lost reply), the "phone" opens the QR's pay page and confirms, and the
  kiosk polls the order until it is paid.

Afterwards the server's own numbers are read back (the play report through the API, paid orders
from the database) and set against what the fleet sent. Screens are registered straight into the
database, each with its own device key (pairing 2,000 through the API would take minutes).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import random
import ssl
import statistics
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from PIL import Image
from sqlalchemy import func, select

from content_server.core.db import make_engine, make_sessionmaker
from content_server.core.store import MediaStore
from content_server.kiosk.models import OrderRow, ServiceRow
from content_server.signage.services.catalogue import media_item_id
from signage_demo.kiosk_catalogue import seed_demo_catalogue
from tests.fixtures.seeding import Picture, add_devices, add_open_slot, add_signage
from tests.reliability.stack import Stack

GROUPS = ("north", "south", "east", "west")
PHONE = "13812345678"


class FleetError(RuntimeError):
    """The fleet could not be set up (seeding, or the stack is not running)."""


@dataclass(frozen=True)
class FleetConfig:
    """How big the fleet is, how long it runs and how often each actor calls."""

    screens: int = 2000
    kiosks: int = 50
    seconds: float = 60.0
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
    """One run: what was asked, what the fleet saw and what the server counted."""

    screens: int
    kiosks: int
    seconds: float
    elapsed_s: float  # until the last in-flight order and batch finished
    requests: int
    errors: int
    endpoints: dict[str, EndpointStats]
    plays_sent: int
    plays_accepted: int
    plays_counted: int
    orders_created: int
    orders_paid: int
    orders_confirmed: int
    server_log_errors: int
    server_log_warnings: int
    error_samples: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return (
            self.errors == 0
            and self.server_log_errors == 0
            and self.plays_sent == self.plays_counted == self.plays_accepted
            and self.orders_paid == self.orders_confirmed
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "bench": "load_fleet",
            "screens": self.screens,
            "kiosks": self.kiosks,
            "seconds": self.seconds,
            "elapsed_s": self.elapsed_s,
            "requests": self.requests,
            "requests_per_s": round(self.requests / self.elapsed_s, 1) if self.elapsed_s else 0.0,
            "errors": self.errors,
            "endpoints": {
                name: {"n": s.n, "errors": s.errors, "p50_ms": s.p50_ms, "p99_ms": s.p99_ms}
                for name, s in self.endpoints.items()
            },
            "plays_sent": self.plays_sent,
            "plays_accepted": self.plays_accepted,
            "plays_counted": self.plays_counted,
            "orders_created": self.orders_created,
            "orders_paid": self.orders_paid,
            "orders_confirmed": self.orders_confirmed,
            "server_log_errors": self.server_log_errors,
            "server_log_warnings": self.server_log_warnings,
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
                (service.id, add_open_slot(s, service.id, now, capacity=1_000_000).id)
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
                screen_ids,
            )
    finally:
        engine.dispose()


@dataclass
class _Tally:
    """Latencies and errors per endpoint, and the counts the fleet checks against the server."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    requests: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: list[str] = field(default_factory=list)
    plays_sent: int = 0
    plays_accepted: int = 0
    orders_created: int = 0
    orders_paid: int = 0

    def error(self, endpoint: str, what: str) -> None:
        self.errors[endpoint] += 1
        if len(self.samples) < 20:
            self.samples.append(f"{endpoint}: {what}")

    async def call(
        self,
        client: httpx.AsyncClient,
        endpoint: str,
        method: str,
        url: str,
        ok: tuple[int, ...] = (200,),
        **kw: Any,
    ) -> httpx.Response | None:
        """One request; a transport error or an unexpected status is an error (None)."""
        self.requests[endpoint] += 1
        t0 = time.perf_counter()
        try:
            r = await client.request(method, url, **kw)
        except httpx.HTTPError as exc:
            self.error(endpoint, f"{type(exc).__name__}: {exc}")
            return None
        self.latencies[endpoint].append(time.perf_counter() - t0)
        if r.status_code not in ok:
            self.error(endpoint, f"HTTP {r.status_code}: {r.text[:200]}")
            return None
        return r

    def stats(self) -> dict[str, EndpointStats]:
        out = {}
        for name in sorted(self.requests):
            lat = sorted(self.latencies.get(name, []))
            p50 = statistics.median(lat) if lat else 0.0
            p99 = statistics.quantiles(lat, n=100)[98] if len(lat) > 1 else p50
            out[name] = EndpointStats(
                self.requests[name], self.errors.get(name, 0), round(p50 * 1000, 1), round(p99 * 1000, 1)
            )
        return out


@dataclass
class _KioskState:
    etag: str = ""  # of the last catalogue seen
    orders: int = 0


def _jitter(rng: random.Random, every_s: float) -> float:
    return every_s * rng.uniform(0.8, 1.2)


class _Fleet:
    """The actors of one run, sharing a tally; ``deadline`` is on the event loop's clock."""

    def __init__(self, base_url: str, seeded: Seeded, config: FleetConfig) -> None:
        if urlsplit(base_url).hostname != "127.0.0.1":
            raise FleetError(f"the fleet only targets loopback, not {base_url}")
        self.base = base_url.rstrip("/")
        self.api = self.base + "/api/v1"
        self.seeded = seeded
        self.config = config
        self.tally = _Tally()
        self.deadline = 0.0
        self.started = 0.0
        self.cut_at: dict[str, float] = {}  # screen key -> seconds into the run its network goes down
        self._tls = ssl.create_default_context()

    def _client(self) -> httpx.AsyncClient:
        """One device's own connection (two for a kiosk's doubled send), as a real one has.

        One shared pool for thousands of screens would cost the load generator more CPU than
        the servers spend (httpcore's pool bookkeeping grows with the requests waiting on it).
        """
        return httpx.AsyncClient(
            timeout=httpx.Timeout(self.config.timeout_s),
            limits=httpx.Limits(max_connections=2, max_keepalive_connections=2),
            verify=self._tls,  # built once: each client would otherwise load the CA bundle
        )

    async def run(self) -> float:
        cfg = self.config
        loop = asyncio.get_running_loop()
        start = loop.time()
        self.started = start
        self.deadline = start + cfg.seconds
        rng = random.Random(cfg.seed)
        actors = [self._screen(key, random.Random(rng.random())) for key in self.seeded.screen_keys]
        actors += [self._kiosk(key, random.Random(rng.random())) for key in self.seeded.kiosk_keys]
        await asyncio.gather(*actors)
        return loop.time() - start

    # --- screens ------------------------------------------------------------------------------

    async def _screen(self, key: str, rng: random.Random) -> None:
        async with self._client() as client:
            await self._screen_loop(client, key, rng)

    async def _screen_loop(self, client: httpx.AsyncClient, key: str, rng: random.Random) -> None:
        cfg, tally = self.config, self.tally
        loop = asyncio.get_running_loop()
        headers = {"Authorization": f"Bearer {key}"}
        etag: str | None = None
        now = loop.time()  # first calls spread over one interval, as a real fleet's are
        due = {
            "manifest": now + rng.uniform(0, cfg.manifest_every_s),
            "heartbeat": now + rng.uniform(0, cfg.heartbeat_every_s),
            "plays": now + rng.uniform(0, cfg.plays_every_s),
        }
        outbox: list[dict[str, Any]] = []  # the batch not yet acknowledged
        cut = self.started + self.cut_at[key] if key in self.cut_at else float("inf")
        # plays are believed only after a manifest was served, one after another (no overlaps)
        played_until: dt.datetime | None = None
        while True:
            what, at = min(due.items(), key=lambda kv: kv[1])
            if at >= cut:  # its network went down: it says nothing more
                await asyncio.sleep(max(0.0, self.deadline - loop.time()))
                return
            if at >= self.deadline:
                break
            await asyncio.sleep(max(0.0, at - loop.time()))
            if what == "manifest":
                h = {**headers, "If-None-Match": etag} if etag else headers
                r = await tally.call(
                    client, "manifest", "GET", self.api + "/device/manifest", (200, 304), headers=h
                )
                if r is not None:
                    etag = r.headers.get("etag") or etag
                    if played_until is None:
                        played_until = dt.datetime.now(dt.UTC)
                due["manifest"] = loop.time() + _jitter(rng, cfg.manifest_every_s)
            elif what == "heartbeat":
                beat = {
                    "sent_at": dt.datetime.now(dt.UTC).isoformat(),
                    "player_version": "load-1",
                    "manifest_version": etag.strip('"') if etag else None,
                    "current_item_id": self.seeded.item_id,
                    "cache_bytes": 1_000_000,
                    "free_disk_bytes": 10_000_000_000,
                    "outbox_length": len(outbox),
                }
                await tally.call(
                    client, "heartbeat", "POST", self.api + "/device/heartbeat", json=beat, headers=headers
                )
                due["heartbeat"] = loop.time() + _jitter(rng, cfg.heartbeat_every_s)
            else:
                if not outbox and played_until is not None:
                    outbox, played_until = self._plays(cfg.plays_per_batch, played_until)
                    tally.plays_sent += len(outbox)
                if outbox and await self._send_plays(client, headers, outbox):
                    outbox = []
                due["plays"] = loop.time() + _jitter(rng, cfg.plays_every_s)
        for _ in range(3):  # what is still in the outbox after the run: a few more tries
            if not outbox or await self._send_plays(client, headers, outbox):
                break
            await asyncio.sleep(1.0)

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

    async def _send_plays(
        self, client: httpx.AsyncClient, headers: dict[str, str], batch: list[dict[str, Any]]
    ) -> bool:
        r = await self.tally.call(
            client, "plays", "POST", self.api + "/device/plays", json={"records": batch}, headers=headers
        )
        if r is None:
            return False
        self.tally.plays_accepted += int(r.json()["accepted"])
        return True

    # --- kiosks -------------------------------------------------------------------------------

    async def _kiosk(self, key: str, rng: random.Random) -> None:
        async with self._client() as client, self._client() as phone:  # the residents' phones
            await self._kiosk_loop(client, phone, key, rng)

    async def _kiosk_loop(
        self, client: httpx.AsyncClient, phone: httpx.AsyncClient, key: str, rng: random.Random
    ) -> None:
        cfg = self.config
        loop = asyncio.get_running_loop()
        headers = {"Authorization": f"Bearer {key}"}
        seen = _KioskState()
        await asyncio.sleep(rng.uniform(0, cfg.kiosk_think_s[1]))
        while loop.time() < self.deadline:
            slot = await self._browse(client, headers, seen, rng)
            if slot is not None:
                await self._order(client, phone, headers, slot, twice=seen.orders % 4 == 3)
                seen.orders += 1
            await asyncio.sleep(rng.uniform(*cfg.kiosk_think_s))

    async def _browse(
        self, client: httpx.AsyncClient, headers: dict[str, str], seen: _KioskState, rng: random.Random
    ) -> tuple[str, str] | None:
        """Fetch the catalogue (304 if unchanged) and pick one of the load slots it offers."""
        h = {**headers, "If-None-Match": seen.etag} if seen.etag else headers
        r = await self.tally.call(
            client, "catalogue", "GET", self.api + "/kiosk/catalogue", (200, 304), headers=h
        )
        if r is None:
            return None
        if r.status_code == 200:
            seen.etag = r.headers.get("etag", "")
            offered = {
                (s["id"], t["id"]) for s in r.json()["services"] for t in s["slots"] if t["remaining"] > 0
            }
            missing = set(self.seeded.slots) - offered
            if missing:
                self.tally.error("catalogue", f"load slots missing from the catalogue: {sorted(missing)}")
                return None
        return rng.choice(self.seeded.slots)

    async def _order(
        self,
        client: httpx.AsyncClient,
        phone: httpx.AsyncClient,
        headers: dict[str, str],
        slot: tuple[str, str],
        *,
        twice: bool,
    ) -> None:
        """Order, pay on the phone, wait for "paid". ``twice``: the same order sent twice at once."""
        cfg, tally = self.config, self.tally
        loop = asyncio.get_running_loop()
        body = {
            "idempotency_key": str(uuid.uuid4()),
            "service_id": slot[0],
            "slot_id": slot[1],
            "phone": PHONE,
        }
        url = self.api + "/kiosk/orders"
        sends = [tally.call(client, "order_create", "POST", url, (200, 201), json=body, headers=headers)]
        if twice:
            sends.append(
                tally.call(client, "order_create", "POST", url, (200, 201), json=body, headers=headers)
            )
        replies = [r for r in await asyncio.gather(*sends) if r is not None]
        if len(replies) != len(sends):
            return
        orders = [r.json() for r in replies]
        created = [r.status_code for r in replies].count(201)
        if len({o["id"] for o in orders}) != 1 or created != 1:
            seen = [(r.status_code, o["id"]) for r, o in zip(replies, orders, strict=True)]
            tally.error("order_create", f"one idempotency key gave {seen}")
            return
        order = orders[0]
        tally.orders_created += 1
        qr = order["payment"]["qr_payload"]
        if urlsplit(qr).hostname != "127.0.0.1":
            tally.error("order_create", f"QR does not point at loopback: {qr}")
            return
        # the phone reaches the server through the front door, like a resident's would
        pay_url = self.base + urlsplit(qr).path
        page = await tally.call(phone, "pay_page", "GET", pay_url)
        if page is None:
            return
        if 'id="confirm"' not in page.text:
            tally.error("pay_page", "no confirm button on a fresh order's pay page")
            return
        done = await tally.call(phone, "pay_confirm", "POST", pay_url + "/confirm")
        if done is None:
            return
        if 'data-status="paid"' not in done.text:
            tally.error("pay_confirm", "the phone was not shown 'paid' after confirming")
            return
        tally.orders_paid += 1
        until = loop.time() + cfg.pay_wait_s
        while True:
            r = await tally.call(client, "order_poll", "GET", f"{url}/{order['id']}", headers=headers)
            if r is not None and r.json()["state"] == "paid":
                return
            if loop.time() >= until:
                tally.error(
                    "order_poll", f"order {order['id']} not paid {cfg.pay_wait_s:.0f} s after the phone paid"
                )
                return
            await asyncio.sleep(cfg.order_poll_s)


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


def _counted_plays(stack: Stack, campaign_id: str) -> int:
    front = stack.front
    rows = httpx.get(
        front.api + "/reports/plays",
        params={"campaign_id": campaign_id},
        headers=front.auth(front.operator),
        timeout=120,
    )
    rows.raise_for_status()
    return sum(int(row["plays"]) for row in rows.json())


def _paid_orders(database_url: str, kiosk_ids: tuple[str, ...]) -> int:
    engine = make_engine(database_url)
    paid = select(func.count()).select_from(OrderRow).where(OrderRow.state == "paid")
    try:
        with make_sessionmaker(engine)() as s:
            return int(s.scalar(paid.where(OrderRow.kiosk_id.in_(kiosk_ids))) or 0)
    finally:
        engine.dispose()


def _run_in_own_loop(main: Callable[[], Coroutine[Any, Any, float]]) -> float:
    """``asyncio.run`` on a thread of its own: the caller's thread may already run a loop
    (Playwright's sync API keeps one in pytest's main thread for the browser tests)."""
    out: list[float] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            out.append(asyncio.run(main()))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name="fleet")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return out[0]


def run_load(stack: Stack, config: FleetConfig) -> FleetResult:
    """Seed the running stack, drive the fleet through nginx for ``config.seconds``, count back."""
    db_url = stack.servers[0].database_url if stack.servers else None
    if db_url is None or stack.nginx is None:
        raise FleetError("start the stack first")
    log_start = _log_size(stack)
    seeded = seed(db_url, stack.data_dir / "media", config.screens, config.kiosks)
    fleet = _Fleet(stack.front.url, seeded, config)
    elapsed = _run_in_own_loop(fleet.run)
    tally = fleet.tally
    log_errors = _server_log(stack, log_start, "ERROR", "CRITICAL")
    log_warnings = _server_log(stack, log_start, "WARNING")
    return FleetResult(
        screens=config.screens,
        kiosks=config.kiosks,
        seconds=config.seconds,
        elapsed_s=round(elapsed, 1),
        requests=sum(tally.requests.values()),
        errors=sum(tally.errors.values()),
        endpoints=tally.stats(),
        plays_sent=tally.plays_sent,
        plays_accepted=tally.plays_accepted,
        plays_counted=_counted_plays(stack, seeded.campaign_id),
        orders_created=tally.orders_created,
        orders_paid=tally.orders_paid,
        orders_confirmed=_paid_orders(db_url, seeded.kiosk_ids),
        server_log_errors=len(log_errors),
        server_log_warnings=len(log_warnings),
        error_samples=tuple(tally.samples + log_errors[:10] + log_warnings[:10]),
    )
