"""Faults: kill -9 of the server and of the player's sync, a full disk, a PostgreSQL restart.

Bounded for CI (marked slow). ``RELIABILITY_LONG=1`` runs the long variants (100 player
kills instead of 10, more proof-of-play batches). Disk-full tests mount a small tmpfs, which
needs root; without it they skip and say so (no faked ENOSPC here).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from PIL import Image
from sqlalchemy import select

from content_server.core.db import make_engine
from content_server.signage.models import PlayRow
from schedules.protocol.device import Manifest
from signage_player.cache import AssetCache
from signage_player.client import ServerClient
from signage_player.sync import Syncer
from tests.fixtures.plays import backdate_served, believable_batches, campaign_play_batches, fetch_manifest
from tests.fixtures.server import LiveServer, PairedDevice, free_port, pair_device
from tests.fixtures.waiting import eventually
from tests.reliability.fleet import run_in_own_loop
from tests.reliability.http1 import ClientError, Connection
from tests.reliability.stack import PG_BIN, Postgres
from tests.signage_player.serverkit import Operator, paired_data_dir

pytestmark = pytest.mark.slow
LONG = os.environ.get("RELIABILITY_LONG") == "1"
MB = 1024 * 1024


def _noise_png(path: Path, side: int) -> Path:
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(path)
    return path


def _counted(server: LiveServer, campaign: str) -> int:
    rows = httpx.get(server.api + "/reports/plays", headers=server.auth(server.operator), timeout=30).json()
    return sum(r["plays"] for r in rows if r["campaign_id"] == campaign)


def _send_until_accepted(
    url: str, headers: dict[str, str], batch: list[dict[str, object]], refused: threading.Event | None = None
) -> int:
    """What a player's outbox does: resend the same batch until the server answers; returns tries.
    ``refused`` is set when an attempt fails (the outage was met)."""
    tries = 0
    while True:
        tries += 1
        try:
            r = httpx.post(url, json={"records": batch}, headers=headers, timeout=10)
            if r.status_code == 200:
                return tries
        except httpx.HTTPError:
            pass
        if refused is not None:
            refused.set()
        time.sleep(0.1)  # the outbox's retry pace


def test_kill_9_during_upload_leaves_no_partial_asset(live_server: LiveServer, tmp_path: Path) -> None:
    shop = live_server.auth(live_server.create_user("upload-shop", "advertiser"))
    body = _noise_png(tmp_path / "big.png", 1600).read_bytes()  # ~7.7 MB
    sha = hashlib.sha256(body).hexdigest()
    sent = threading.Event()

    def slow_body() -> Iterator[bytes]:
        for i in range(0, len(body), 256 * 1024):
            if i >= len(body) // 3:
                sent.set()
            yield body[i : i + 256 * 1024]
            time.sleep(0.02)  # the behaviour under test: a slow client, so the kill lands mid-upload

    errors: list[BaseException] = []

    def upload() -> None:
        try:
            httpx.post(
                live_server.api + "/media?filename=big.png", content=slow_body(), headers=shop, timeout=30
            )
        except httpx.HTTPError as exc:
            errors.append(exc)

    t = threading.Thread(target=upload)
    t.start()
    assert sent.wait(30)
    live_server.kill()
    t.join(30)
    assert errors, "the upload finished before the kill"
    live_server.start()
    store = live_server.data_dir / "media"
    assert not (store / sha[:2] / sha[2:4] / sha).exists()  # no partial asset under its hash
    assert httpx.get(live_server.api + "/media", headers=shop).json() == []
    r = httpx.post(live_server.api + "/media?filename=big.png", content=body, headers=shop, timeout=60)
    assert r.status_code == 201, r.text
    got = httpx.get(live_server.url + r.json()["content_url"], headers=shop, timeout=30)
    assert got.content == body
    leftovers = [p.name for p in (store / "tmp").iterdir()]
    # a killed upload's temp file is never visible, but only a restart sweep would remove it
    assert all(name.startswith("up-") for name in leftovers), leftovers


def test_kill_9_during_play_ingest_loses_and_doubles_nothing(
    live_server: LiveServer, media_dir: Path
) -> None:
    dev = pair_device(live_server)
    camp, batches = believable_batches(
        live_server, dev, media_dir / "small.jpg", count=60 if LONG else 20, size=100, name="Kill"
    )
    url = live_server.api + "/device/plays"
    done, refused = threading.Event(), threading.Event()
    tries: list[int] = []

    def sender() -> None:
        for batch in batches:
            tries.append(_send_until_accepted(url, dev.headers, batch, refused))
        done.set()

    t = threading.Thread(target=sender)
    t.start()
    eventually(lambda: len(tries) >= len(batches) // 3, 60, "a third of the batches accepted")
    live_server.kill()
    assert refused.wait(30), "the outbox never met the outage"
    live_server.start()
    assert done.wait(120)
    t.join()
    assert max(tries) > 1, "no batch was interrupted"
    # a batch whose reply was lost is sent again in full: counted once
    for batch in batches[:5]:
        again = httpx.post(url, json={"records": batch}, headers=dev.headers).json()
        assert again["accepted"] == 0 and again["duplicates"] == len(batch)
    assert _counted(live_server, camp) == sum(len(b) for b in batches)


class RecordingSession(requests.Session):
    """A real session that remembers the Range headers it sent."""

    def __init__(self) -> None:
        super().__init__()
        self.ranges: list[str] = []

    def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        rng = (kwargs.get("headers") or {}).get("Range")
        if rng:
            self.ranges.append(rng)
        return super().request(method, url, *args, **kwargs)


SYNC_CHILD = """
import sys, datetime as dt
from pathlib import Path
from signage_player.cache import AssetCache
from signage_player.client import ServerClient
from signage_player.sync import Syncer
url, key, data = sys.argv[1], sys.argv[2], Path(sys.argv[3])
client = ServerClient(url, key, max_bytes_per_s=400_000)
Syncer(client, AssetCache(data / "cache", 10**9), data, lambda: dt.datetime.now(dt.UTC)).sync_once()
"""


def test_kill_9_mid_download_resumes_and_never_plays_a_partial_file(
    live_server: LiveServer, tmp_path: Path
) -> None:
    device = pair_device(live_server, "player", screen_class="outdoor_large")
    op = Operator(live_server)
    big = op.upload(_noise_png(tmp_path / "noise.png", 1100), "noise")
    op.announce(device.device_id, media_ids=(big["id"],))
    data = tmp_path / "player"
    data.mkdir()
    child = subprocess.Popen([sys.executable, "-c", SYNC_CHILD, live_server.url, device.device_key,
                              str(data)])
    partial_dir = data / "cache" / "partial"

    def big_partials() -> list[Path]:
        return [p for p in partial_dir.glob("*.part") if p.stat().st_size > 300_000]

    try:
        parts = eventually(big_partials, 30, "the child's download to be under way")
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    sha = parts[0].name.removesuffix(".part")
    have = parts[0].stat().st_size
    cache = AssetCache(data / "cache", 10**9)
    assert cache.path_if_valid(sha) is None  # the half file is not playable
    assert not (data / "manifest.json").exists()  # nor was a half-fetched manifest switched to

    session = RecordingSession()
    syncer = Syncer(ServerClient(live_server.url, device.device_key, session=session), cache, data,
                    lambda: dt.datetime.now(dt.UTC))
    assert syncer.sync_once()
    assert f"bytes={have}-" in session.ranges or any(r.startswith("bytes=") for r in session.ranges)
    assert int(session.ranges[0].split("=")[1].rstrip("-")) >= have
    assert cache.path_if_valid(sha) is not None and (data / "manifest.json").exists()

    # a cached file corrupted on disk is detected, never played, and fetched again
    with open(cache.path(sha), "r+b") as fh:
        fh.seek(5000)
        fh.write(b"\xff" * 32)
    assert cache.path_if_valid(sha) is None
    assert syncer.sync_once() is False  # same manifest (304), but the asset is refetched
    assert cache.path_if_valid(sha) is not None


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_kill_9_mid_group_commit_keeps_every_acknowledged_play_and_counts_each_once(
    db: str, tmp_path: Path, media_dir: Path, request: pytest.FixtureRequest
) -> None:
    """Many devices' batches at once, so the server commits them in groups; kill -9 while groups
    are in flight. Every batch answered 200 before the kill is in the database right after it
    (a 2xx means durable); the batches cut off are resent after the restart, and every record is
    counted exactly once, those committed before the kill whose answer was lost included."""
    url = None
    if db == "postgres":
        from tests.fixtures.postgres import create_database

        url = create_database(request.getfixturevalue("postgres_url"))
    server = LiveServer(data_dir=tmp_path / "srv", port=free_port(), database_url=url)
    server.data_dir.mkdir()
    server.create_operator()
    server.start()
    try:
        devices = [pair_device(server) for _ in range(4)]
        lanes, per_lane = 32, 12 if not LONG else 40
        camp, pools = _believable_pools(server, devices, media_dir / "small.jpg", lanes // 4 * per_lane)
        # lane n sends batches [n * per_lane, (n + 1) * per_lane), as device n % 4
        batches = [
            batch
            for lane in range(lanes)
            for batch in pools[lane % 4][lane // 4 * per_lane : (lane // 4 + 1) * per_lane]
        ]
        assert len({rec["id"] for b in batches for rec in b}) == 5 * len(batches)
        acked: dict[int, int] = {}  # batch -> records the first 200 accepted
        tries = [0] * len(batches)
        report = _run_lanes_across_a_kill(server, devices, batches, lanes, acked, tries)
        assert report.durable_missing == [], (
            f"acknowledged before the kill, lost: {report.durable_missing[:5]}"
        )
        assert report.acked_at_kill and report.acked_at_kill < len(batches), "the kill missed the run"
        assert max(tries) > 1, "no batch was cut off by the kill"
        sent = sum(len(b) for b in batches)
        assert report.refused == 0, "a believable play was refused"
        assert _counted(server, camp) == sent  # each record once, in doubt or not
        for i in range(0, len(batches), len(batches) // 8):  # a resent batch adds nothing
            device = devices[(i // per_lane) % 4]
            again = httpx.post(
                server.api + "/device/plays", json={"records": batches[i]}, headers=device.headers
            ).json()
            assert (again["accepted"], again["duplicates"], again["refused"]) == (0, len(batches[i]), 0)
        assert _counted(server, camp) == sent
    finally:
        server.stop()


def _believable_pools(
    server: LiveServer, devices: list[PairedDevice], media: Path, count: int
) -> tuple[str, list[list[list[dict[str, Any]]]]]:
    """A campaign on every screen, and for each device ``count`` batches of 5 of its plays that
    the device's served manifest vouches for (the server refuses any other)."""
    camp, first = believable_batches(server, devices[0], media, count=count, size=5, name="Group")
    pools = [first]
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(days=2)
    for device in devices[1:]:
        manifest = fetch_manifest(httpx, device.headers, base=server.api)
        backdate_served(server.db_url, device.device_id, start - dt.timedelta(minutes=5))
        pools.append(campaign_play_batches(manifest, camp, start, now, count=count, size=5))
    return camp, pools


@dataclass
class _KillReport:
    acked_at_kill: int = 0
    durable_missing: list[str] = field(default_factory=list)
    refused: int = 0  # records any answer refused


def _run_lanes_across_a_kill(
    server: LiveServer,
    devices: list[PairedDevice],
    batches: list[list[dict[str, object]]],
    lanes: int,
    acked: dict[int, int],
    tries: list[int],
) -> _KillReport:
    """``lanes`` senders, each sending its share of ``batches`` back to back and resending what
    got no 200 (as the outbox does); the server is killed once a third is acknowledged, the
    database checked, and the server started again."""
    report = _KillReport()
    per_lane = len(batches) // lanes
    engine = make_engine(server.database_url or f"sqlite:///{server.data_dir / 'signage.db'}")

    async def lane(n: int) -> None:
        device = devices[n % len(devices)]
        conn = Connection(server.url, timeout_s=10)
        try:
            for i in range(n * per_lane, (n + 1) * per_lane):
                while True:
                    tries[i] += 1
                    try:
                        r = await conn.request(
                            "POST", "/api/v1/device/plays", device.headers, json_body={"records": batches[i]}
                        )
                        if r.status_code == 200:
                            acked[i] = int(r.json()["accepted"])
                            report.refused += int(r.json()["refused"])
                            break
                    except ClientError:
                        conn.close()
                    await asyncio.sleep(0.1)  # the outbox's retry pace
        finally:
            conn.close()

    def stored(ids: list[str]) -> set[str]:
        with engine.connect() as c:
            return set(c.execute(select(PlayRow.id).where(PlayRow.id.in_(ids))).scalars())

    async def killer() -> None:
        while len(acked) < len(batches) // 3:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(server.kill)
        answered = list(acked)  # nothing more can be answered: the process is gone
        report.acked_at_kill = len(answered)
        ids = [str(rec["id"]) for i in answered for rec in batches[i]]
        found = await asyncio.to_thread(stored, ids)
        report.durable_missing = [i for i in ids if i not in found]
        await asyncio.to_thread(server.start)

    async def main() -> None:
        await asyncio.gather(killer(), *(lane(n) for n in range(lanes)))

    try:
        run_in_own_loop(main)
    finally:
        engine.dispose()
    return report


def _cache_consistent(data: Path) -> Manifest | None:
    """Every cached file matches its name; a live manifest only names assets that are there."""
    assets = data / "cache" / "assets"
    if assets.exists():
        for p in assets.iterdir():
            if not p.name.startswith("."):
                assert hashlib.sha256(p.read_bytes()).hexdigest() == p.name, f"corrupt cache file {p.name}"
    for name in ("manifest.json", "pending.json"):
        if (data / name).exists():
            Manifest.model_validate_json((data / name).read_bytes())  # whole, never half-written
    live = data / "manifest.json"
    if not live.exists():
        return None
    m = Manifest.model_validate_json(live.read_bytes())
    for ref in m.assets:
        assert (assets / ref.sha256).exists(), f"live manifest names missing asset {ref.sha256[:12]}"
    return m


def _bytes_fetched(data: Path) -> int:
    """What a player's cache holds on disk: whole assets and partial downloads."""
    cache = data / "cache"
    return sum(p.stat().st_size for p in cache.rglob("*") if p.is_file()) if cache.exists() else 0


def test_kill_9_of_player_sync_at_random_points(live_server: LiveServer, tmp_path: Path) -> None:
    """Each kill lands at a random point of what the sync still has to fetch (a byte count
    reached on disk, or the start-up and manifest phase before any byte), so the points are
    spread over the sync however fast this machine is."""
    dev = pair_device(live_server, screen_class="outdoor_large")
    op = Operator(live_server)
    files = [_noise_png(tmp_path / f"n{i}.png", 420 + 10 * i) for i in range(4)]
    ids = [op.upload(f, f"n{i}")["id"] for i, f in enumerate(files)]
    total = sum(f.stat().st_size for f in files)
    op.announce(dev.device_id, media_ids=tuple(ids))
    rng = random.Random(9)
    reps = 100 if LONG else 10
    killed_mid_sync = 0
    for rep in range(reps):
        data = tmp_path / f"player{rep // 2}"  # two kills into each cache, then a fresh one
        data.mkdir(exist_ok=True)
        have = _bytes_fetched(data)
        early = rng.random() < 0.2  # one kill in five before the first byte: start-up, manifest
        target = have + 1 if early else have + rng.uniform(0.05, 0.95) * max(total - have, 0)
        child = subprocess.Popen(
            [sys.executable, "-c", SYNC_CHILD, live_server.url, dev.device_key, str(data)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while child.poll() is None and time.monotonic() < deadline:
            if (early and rng.random() < 0.1) or _bytes_fetched(data) >= target:
                break
            time.sleep(0.02)
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            killed_mid_sync += 1
        else:
            assert child.returncode == 0, "the sync child failed on its own"
        _cache_consistent(data)
    assert killed_mid_sync >= reps // 2, f"only {killed_mid_sync} of {reps} kills landed mid-sync"
    # after all that, one uninterrupted sync per cache ends complete and live
    for data in sorted(tmp_path.glob("player*")):
        client = ServerClient(live_server.url, dev.device_key)
        try:
            cache = AssetCache(data / "cache", 10**9)
            Syncer(client, cache, data, lambda: dt.datetime.now(dt.UTC)).sync_once()
        finally:
            client.close()
        m = _cache_consistent(data)
        assert m is not None and len(m.assets) == 4


def _player(server: LiveServer, data: Path, shots: Path, heartbeat_s: int = 60) -> subprocess.Popen[bytes]:
    """The real ``signage-player`` offscreen, downloading at 300 KB/s so kills land mid-transfer."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "SIGNAGE_PLAYER_SCREENSHOT_EVERY_S": "0.5",
        "SIGNAGE_PLAYER_USB": "false",
        "SIGNAGE_PLAYER_DOWNLOAD_LIMIT_KB_S": "300",
        "SIGNAGE_PLAYER_HEARTBEAT_INTERVAL_S": str(heartbeat_s),
    }
    cmd = [sys.executable, "-m", "signage_player.main", "--server", server.url]
    cmd += ["--screenshot-dir", str(shots), "--data-dir", str(data)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_kill_9_of_the_whole_player_process_mid_sync(live_server: LiveServer, tmp_path: Path) -> None:
    """The GUI process itself (Qt, libVLC, scheduler, sync threads) killed at random moments while
    it fetches 8 MB: each restart finds a consistent cache, and the last run plays it all."""
    dev = pair_device(live_server, screen_class="outdoor_large")
    op = Operator(live_server)
    ids = [op.upload(_noise_png(tmp_path / f"n{i}.png", 800 + 8 * i), f"n{i}")["id"] for i in range(4)]
    op.announce(dev.device_id, media_ids=tuple(ids))
    data, shots = tmp_path / "player", tmp_path / "shots"
    data.mkdir()
    paired_data_dir(data, dev)
    rng = random.Random(6)
    partial_seen = 0
    partial, live_file = data / "cache" / "partial", data / "manifest.json"

    def begun() -> bool:
        return any(partial.glob("*.part")) or live_file.exists()

    for _ in range(6 if not LONG else 30):
        proc = _player(live_server, data, shots)
        # the download begins (however slow the start; unless all is fetched already), then a random wait
        eventually(begun, 30, "the player's download to begin")
        time.sleep(rng.uniform(0.0, 2.5))  # the behaviour under test: a kill at a random moment
        partial_seen += any(partial.glob("*.part"))
        proc.kill()
        proc.wait()
        live = _cache_consistent(data)
        assert live is None or len(live.assets) == 4  # never a half-updated playlist
    assert partial_seen >= 4, f"only {partial_seen} kills landed mid-download"
    proc = _player(live_server, data, shots, heartbeat_s=1)
    try:
        def playing() -> dict[str, Any] | None:
            status: dict[str, Any] = op.request("GET", f"/screens/{dev.device_id}/status")
            in_sync = status["sync"] == "in_sync" and (status["heartbeat"] or {}).get("current_item_id")
            return status if in_sync else None

        status = eventually(playing, 60, "the server to see the screen in sync and playing")
        # the server sees the screen playing its newest manifest with nothing missing
        assert status["sync"] == "in_sync", status
        assert status["playing_manifest"] == status["latest_manifest"]
        assert status["heartbeat"]["missing_assets"] == []
        live = _cache_consistent(data)
        assert live is not None and len(live.assets) == 4
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


# -- disk full ----------------------------------------------------------------------------------


@contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    cmd = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]
    r = subprocess.run(cmd, capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs (needs root): {r.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _grow(path: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)


def test_server_storage_full(live_server_factory: object, tmp_path: Path) -> None:
    data = tmp_path / "server"
    with small_disk(data / "media", "3m"):
        server: LiveServer = live_server_factory(data_dir=data)  # type: ignore[operator]
        shop = server.auth(server.create_user("disk-shop", "advertiser"))
        body = _noise_png(tmp_path / "big.png", 1100).read_bytes()  # ~3.6 MB: does not fit
        r = httpx.post(server.api + "/media?filename=big.png", content=body, headers=shop, timeout=60)
        assert 400 <= r.status_code < 600 and r.status_code != 201
        clear = r.status_code in (507, 413, 503) and "space" in r.text.lower()
        assert httpx.get(server.api + "/media", headers=shop).json() == []
        assert [p for p in (data / "media").rglob("*") if p.is_file()] == []  # no partial file kept
        _grow(data / "media", "20m")
        r2 = httpx.post(server.api + "/media?filename=big.png", content=body, headers=shop, timeout=60)
        assert r2.status_code == 201, r2.text
        assert httpx.get(server.url + r2.json()["content_url"], headers=shop).content == body
        assert clear, f"disk full answered {r.status_code} {r.text[:200]!r}, not a clear 507"


def test_player_cache_full(live_server: LiveServer, tmp_path: Path) -> None:
    dev = pair_device(live_server, screen_class="outdoor_large")
    op = Operator(live_server)
    first = op.upload(_noise_png(tmp_path / "a.png", 300), "a")["id"]
    ann = op.announce(dev.device_id, media_ids=(first,))
    data = tmp_path / "player"
    with small_disk(data, "2m"):
        client = ServerClient(live_server.url, dev.device_key)
        try:
            syncer = Syncer(client, AssetCache(data / "cache", 10**9), data, lambda: dt.datetime.now(dt.UTC))
            assert syncer.sync_once()
            before = _cache_consistent(data)
            assert before is not None
            big = op.upload(_noise_png(tmp_path / "b.png", 1000), "b")["id"]  # ~3 MB: no room
            op.request("POST", f"/announcements/{ann['id']}/end")
            op.announce(dev.device_id, media_ids=(big,))  # this process's caches drop it at once
            with pytest.raises(Exception) as info:
                syncer.sync_once()
            assert "space" in str(info.value).lower() or "28" in str(info.value), info.value
            after = _cache_consistent(data)
            assert after is not None and after.version == before.version  # still playing the old one
            _grow(data, "20m")
            assert syncer.sync_once()
            m = _cache_consistent(data)
            assert m is not None and m.version != before.version
        finally:
            client.close()


# -- PostgreSQL restart -------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason="PostgreSQL 15 binaries missing")
def test_postgres_restart_mid_load_loses_nothing(tmp_path: Path, media_dir: Path) -> None:
    pg = Postgres()
    pg.start()
    server = LiveServer(data_dir=tmp_path / "srv", port=free_port(), database_url=pg.create_db())
    try:
        server.data_dir.mkdir()
        server.create_operator()
        server.start()
        devices = [pair_device(server) for _ in range(3)]
        per_device = 30 if LONG else 10
        batches = {}
        camps = []
        for i, d in enumerate(devices):
            camp, batches[d.device_id] = believable_batches(
                server, d, media_dir / "small.jpg", count=per_device, size=50, name=f"Pg{i}", share=15
            )
            camps.append(camp)
        tries: dict[str, list[int]] = {d.device_id: [] for d in devices}

        def sender(d: object) -> None:
            for batch in batches[d.device_id]:  # type: ignore[attr-defined]
                tries[d.device_id].append(  # type: ignore[attr-defined]
                    _send_until_accepted(server.api + "/device/plays", d.headers, batch)  # type: ignore[attr-defined]
                )
                time.sleep(0.05)  # the behaviour under test: the load spreads over the restart

        threads = [threading.Thread(target=sender, args=(d,)) for d in devices]
        for t in threads:
            t.start()
        third = len(devices) * per_device // 3
        eventually(lambda: sum(len(v) for v in tries.values()) >= third, 60, "a third of the batches in")
        pg.restart()
        for t in threads:
            t.join(120)
        assert all(len(v) == per_device for v in tries.values())
        assert sum(_counted(server, c) for c in camps) == len(devices) * per_device * 50
        hb = httpx.post(
            server.api + "/device/heartbeat",
            json={"sent_at": dt.datetime.now(dt.UTC).isoformat(), "player_version": "t"},
            headers=devices[0].headers,
        )
        assert hb.status_code == 200, hb.text  # the pool recovered (pre-ping), no stale connection
    finally:
        server.stop()
        pg.stop("immediate")
        shutil.rmtree(pg.base, ignore_errors=True)
