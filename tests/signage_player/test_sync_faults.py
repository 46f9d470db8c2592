"""Sync faults against a real server: kill -9 mid-download, corrupted cache, a week offline."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from PIL import Image
from pytestqt.qtbot import QtBot

from schedules.clock import MovableClock
from schedules.timeline import timeline
from signage_player.app import PlayerApp
from signage_player.cache import AssetCache
from signage_player.client import ServerClient
from signage_player.media import FakeMediaBackend
from signage_player.playloop import PLAYS_TOPIC
from signage_player.sync import Syncer
from tests.fixtures.server import LiveServer, pair_device
from tests.signage_player.serverkit import Operator, paired_data_dir, settings


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


def _noise_png(path: Path, side: int = 1100) -> Path:
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(path)
    return path


_CHILD = """
import sys, datetime as dt
from pathlib import Path
from signage_player.cache import AssetCache
from signage_player.client import ServerClient
from signage_player.sync import Syncer
url, key, data = sys.argv[1], sys.argv[2], Path(sys.argv[3])
client = ServerClient(url, key, max_bytes_per_s=400_000)
Syncer(client, AssetCache(data / "cache", 10**9), data, lambda: dt.datetime.now(dt.UTC)).sync_once()
"""


@pytest.mark.slow
def test_kill_9_mid_download_resumes_and_never_plays_a_partial_file(
    live_server: LiveServer, tmp_path: Path
) -> None:
    device = pair_device(live_server, "player", screen_class="outdoor_large")
    op = Operator(live_server)
    big = op.upload(_noise_png(tmp_path / "noise.png"), "noise")
    op.announce(device.device_id, media_ids=(big["id"],))
    data = tmp_path / "player"
    data.mkdir()
    child = subprocess.Popen([sys.executable, "-c", _CHILD, live_server.url, device.device_key, str(data)])
    partial_dir = data / "cache" / "partial"
    deadline = time.monotonic() + 30
    parts: list[Path] = []
    while time.monotonic() < deadline:
        if partial_dir.exists():
            parts = [p for p in partial_dir.glob("*.part") if p.stat().st_size > 300_000]
        if parts:
            break
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert parts, "the download never started"
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


@pytest.mark.slow
def test_a_week_offline_keeps_the_timeline_and_delivers_every_play_once(
    qtbot: QtBot, live_server: LiveServer, media_dir: Path, tmp_path: Path
) -> None:
    device = pair_device(live_server, "player", screen_class="outdoor_large")
    op = Operator(live_server)
    img = op.upload(media_dir / "landscape.png", "风景")
    op.announce(device.device_id, media_ids=(img["id"],), duration_s=10)
    op.announce(device.device_id, text={"zh": "垃圾分类 从我做起", "en": "Sort your waste"}, duration_s=10)
    clock = MovableClock(dt.datetime.now(dt.UTC))
    app = PlayerApp(settings(live_server, paired_data_dir(tmp_path / "data", device)), clock=clock,
                    backend=FakeMediaBackend())
    try:
        app.start()
        app.sync_now()  # (the scheduler's first run may have been quicker)
        assert app.loop is not None and app.syncer is not None and app.outbox is not None
        live = app.syncer.live
        assert live is not None
        qtbot.waitUntil(lambda: app.loop.program is not None, timeout=3000)  # type: ignore[union-attr]
        live_server.stop()  # the network is gone for a week
        app._sync_job()
        assert app.syncer.status.errors  # noticed, backing off
        played = 0
        for day in range(7):
            clock.set(clock.now().replace(hour=3) + dt.timedelta(days=1))
            for _ in range(6):
                now = clock.now()
                app.loop.step()
                hour = timeline(live.screen, live.catalogue, now, now + dt.timedelta(hours=1))
                expected = hour.slot_at(now)
                assert expected is not None and app.loop.current is not None
                assert app.loop.current.item.id == expected.item_id, f"day {day}"
                assert app.loop.program is not None
                clock.set(app.loop.program.next_change(now))
                played += 1
        app.loop.step()
        waiting = app.outbox.count(PLAYS_TOPIC)
        assert waiting >= played
        live_server.start()
        assert app.upload_plays() == waiting
        assert app.outbox.count(PLAYS_TOPIC) == 0 and app.upload_plays() == 0
    finally:
        app.shutdown()


@pytest.mark.slow
def test_a_week_offline_keeps_dayparts_and_caps_counted_from_what_played(
    qtbot: QtBot, live_server: LiveServer, media_dir: Path, tmp_path: Path
) -> None:
    """A merchant's 09:00-10:00 daypart, capped at 4 plays an hour, for seven days without network.

    Counted from the plays themselves (the outbox), not recomputed with the engine: inside the
    daypart the ad plays, never more than the cap in a clock hour; outside it, never.
    """
    from zoneinfo import ZoneInfo

    import httpx

    from schedules.model import ScreenClass
    from schedules.protocol.device import PlayRecord
    from signage_player.outbox import Outbox
    from signage_player.playloop import PlayLoop
    from signage_player.program import ManifestProgram
    from signage_player.view import SignageView

    device = pair_device(live_server, "player", screen_class="outdoor_large", groups=["east"])
    op = Operator(live_server)
    filler = op.upload(media_dir / "landscape.png", "filler")
    op.request("PATCH", f"/media/{filler['id']}", json={"filler": True})
    shop = live_server.auth(live_server.create_user("week-bakery", "advertiser"))
    ad = httpx.post(live_server.api + "/media?filename=ad.png", headers=shop, timeout=30,
                    content=(media_dir / "portrait.png").read_bytes()).json()
    today = dt.datetime.now(dt.UTC).date()
    body = {"name": "breakfast", "category": "food", "media_ids": [ad["id"]],
            "flight_start": today.isoformat(), "flight_end": (today + dt.timedelta(days=10)).isoformat(),
            "share_percent": 30, "frequency_cap_per_hour": 4, "targeting": {"groups": ["east"]},
            "dayparts": [{"weekdays": list(range(7)), "start": "09:00:00", "end": "10:00:00"}]}
    camp = httpx.post(live_server.api + "/campaigns", json=body, headers=shop, timeout=30)
    assert camp.status_code == 201, camp.text
    op.request("POST", f"/campaigns/{camp.json()['id']}/approve", json={})

    client = ServerClient(live_server.url, device.device_key)
    cache = AssetCache(tmp_path / "cache", 10**9)
    syncer = Syncer(client, cache, tmp_path / "player", lambda: dt.datetime.now(dt.UTC))
    assert syncer.sync_once() and syncer.live is not None
    client.close()
    live_server.stop()  # a week without network from here on
    ad_item = next(i for i in syncer.live.catalogue.items.values() if i.asset_sha256 == ad["sha256"])
    clock = MovableClock(dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0), dt.UTC))
    box = Outbox(tmp_path / "outbox.db")
    view = SignageView(FakeMediaBackend(), ScreenClass.OUTDOOR_LARGE)
    qtbot.addWidget(view)
    loop = PlayLoop(view, cache.path_if_valid, clock=clock, outbox=box)
    loop.set_program(ManifestProgram(syncer.live))
    loop.start()
    shanghai = ZoneInfo("Asia/Shanghai")
    for day in range(7):
        local_day = today + dt.timedelta(days=day + 1)
        # 08:30 to 10:30 local, switch by switch (one item per step, as the timers would)
        t = dt.datetime.combine(local_day, dt.time(8, 30), shanghai).astimezone(dt.UTC)
        clock.set(t)
        loop.step()
        while clock.now() < t + dt.timedelta(hours=2):
            clock.set(loop.program.next_change(clock.now()))  # type: ignore[union-attr]
            loop.step()
    loop.stop()
    plays = [PlayRecord.model_validate_json(e.payload) for e in box.pending(PLAYS_TOPIC, limit=10**6)]
    assert len(plays) == box.count(PLAYS_TOPIC)
    box.close()
    ads = [p for p in plays if p.item_id == ad_item.id]
    per_hour: dict[tuple[dt.date, int], int] = {}
    for p in ads:
        local = p.started_at.astimezone(shanghai)
        assert dt.time(9) <= local.time() < dt.time(10), f"ad played outside its daypart at {local}"
        per_hour[(local.date(), local.hour)] = per_hour.get((local.date(), local.hour), 0) + 1
        assert p.campaign_id == camp.json()["id"]
    assert len(per_hour) == 7, per_hour  # every day of the week, offline
    assert all(1 <= n <= 4 for n in per_hour.values()), per_hour  # the cap holds
    assert len(plays) > 7 * 2 * 3600 / 30  # the rest of the two hours was filled, never empty
