"""Sync faults on the fake server: cut downloads, a corrupted cache, a week offline.

The same faults on the wire (kill -9 of a syncing process, a real server going away) are in
``tests/reliability/test_faults.py``; here the fake server stands in, so the clock moves a week
in a second and nothing waits for a network.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from pytestqt.qtbot import QtBot

from schedules.clock import MovableClock
from schedules.model import (
    Campaign,
    Catalogue,
    ContentItem,
    Daypart,
    ItemKind,
    Screen,
    ScreenClass,
    Targeting,
)
from schedules.protocol.device import Manifest, PlayRecord
from schedules.timeline import timeline
from signage_player.app import build_player
from signage_player.cache import AssetCache
from signage_player.device_api import FakeDeviceServer, NetworkError
from signage_player.media import FakeMediaBackend
from signage_player.outbox import Outbox
from signage_player.playloop import PLAYS_TOPIC, PlayLoop
from signage_player.program import ManifestProgram
from signage_player.sync import Syncer
from signage_player.view import SignageView
from tests.signage_player.manifests import T0, asset_item, manifest, text_item
from tests.signage_player.serverkit import fake_paired, fake_settings


def _noise_png(path: Path, side: int = 600) -> Path:
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(path)
    return path


def test_a_cut_download_resumes_and_a_partial_or_corrupted_file_never_plays(tmp_path: Path) -> None:
    fake = FakeDeviceServer(MovableClock(T0))
    screen = fake.add_screen()
    noise = _noise_png(tmp_path / "noise.png")
    item, ref = asset_item("noise", ItemKind.IMAGE, noise)
    fake.publish(screen.device_id, manifest([(item, ref)], version="v-noise"),
                 {ref.sha256: noise.read_bytes()})
    data = tmp_path / "player"
    cache = AssetCache(data / "cache", 10**9)
    syncer = Syncer(fake.client(screen.device_key), cache, data, fake.clock.now)

    fake.cut_downloads_after(ref.size // 3)  # the link drops a third of the way in
    with pytest.raises(NetworkError):  # the sync job backs off and retries later
        syncer.sync_once()
    assert syncer.live is None and not (data / "manifest.json").exists()  # a half-fetched one is not live
    assert (data / "manifest.pending.json").exists()  # a restart would carry on with it
    assert (data / "cache" / "partial" / f"{ref.sha256}.part").stat().st_size == ref.size // 3
    assert cache.path_if_valid(ref.sha256) is None  # the half file is not playable

    fake.cut_downloads_after(None)
    assert syncer.sync_once()  # the pending manifest's download resumes where it stopped
    assert fake.calls[-1] == f"download bytes={ref.size // 3}-"
    assert cache.path_if_valid(ref.sha256) is not None and (data / "manifest.json").exists()

    # a cached file corrupted on disk is detected, never played, and fetched again
    with open(cache.path(ref.sha256), "r+b") as fh:
        fh.seek(5000)
        fh.write(b"\xff" * 32)
    assert cache.path_if_valid(ref.sha256) is None
    assert syncer.sync_once() is False  # same manifest (304), but the asset is refetched
    assert fake.calls[-2:] == ["manifest 304", "download"]
    assert cache.path_if_valid(ref.sha256) is not None


def test_a_week_offline_keeps_the_timeline_and_delivers_every_play_once(
    qtbot: QtBot, media_dir: Path, tmp_path: Path
) -> None:
    clock = MovableClock(T0)
    fake = FakeDeviceServer(clock)
    data = tmp_path / "data"
    screen = fake_paired(data, fake)
    img, ref = asset_item("img", ItemKind.IMAGE, media_dir / "landscape.png", duration_s=10)
    text = text_item("sort", "垃圾分类 从我做起", "Sort your waste", duration_s=10)
    fake.publish(screen.device_id, manifest([(img, ref), (text, None)], version="v-week"),
                 {ref.sha256: (media_dir / "landscape.png").read_bytes()})
    app = build_player(fake_settings(data), FakeMediaBackend(), clock, api=fake.client())
    loop, syncer, outbox = app.playback.loop, app.playback.syncer, app.device.outbox
    try:
        app.start()
        app.sync_now()  # (the scheduler's first run may have been quicker: its news is queued)
        qtbot.waitUntil(lambda: loop.program is not None, timeout=20_000)
        live = syncer.live
        assert live is not None and loop.program is not None
        fake.online = False  # the network is gone for a week
        app.playback.sync_job()
        assert syncer.status.errors  # noticed, backing off
        played = 0
        for day in range(7):
            clock.set(clock.now().replace(hour=3) + dt.timedelta(days=1))
            for _ in range(6):
                now = clock.now()
                loop.step()
                hour = timeline(live.screen, live.catalogue, now, now + dt.timedelta(hours=1))
                expected = hour.slot_at(now)
                assert expected is not None and loop.current is not None
                assert loop.current.item.id == expected.item_id, f"day {day}"
                clock.set(loop.program.next_change(now))
                played += 1
        loop.step()
        waiting = outbox.count(PLAYS_TOPIC)
        assert waiting >= played
        with pytest.raises(NetworkError):
            app.reporter.upload_plays()
        assert outbox.count(PLAYS_TOPIC) == waiting  # kept for later
        fake.online = True
        assert app.reporter.upload_plays() == waiting
        assert outbox.count(PLAYS_TOPIC) == 0 and app.reporter.upload_plays() == 0
        assert len(fake.plays) == waiting  # each once
    finally:
        app.shutdown()


def test_a_week_offline_keeps_dayparts_and_caps_counted_from_what_played(
    qtbot: QtBot, media_dir: Path, tmp_path: Path
) -> None:
    """A merchant's 09:00-10:00 daypart, capped at 4 plays an hour, for seven days without network.

    Counted from the plays themselves (the outbox), not recomputed with the engine: inside the
    daypart the ad plays, never more than the cap in a clock hour; outside it, never.
    """
    clock = MovableClock(T0)
    fake = FakeDeviceServer(clock)
    screen = fake.add_screen()
    filler_ref = fake.add_asset((media_dir / "landscape.png").read_bytes())
    ad_ref = fake.add_asset((media_dir / "portrait.png").read_bytes())
    filler = ContentItem(id="filler", kind=ItemKind.IMAGE, duration_s=10, asset_sha256=filler_ref.sha256)
    ad = ContentItem(id="ad", kind=ItemKind.IMAGE, duration_s=10, asset_sha256=ad_ref.sha256)
    today = T0.date()
    campaign = Campaign(id="c-breakfast", advertiser_id="bakery", name="breakfast", category="food",
                        item_ids=("ad",), flight_start=today, flight_end=today + dt.timedelta(days=10),
                        dayparts=(Daypart(start=dt.time(9), end=dt.time(10)),), share_percent=30,
                        frequency_cap_per_hour=4, targeting=Targeting(groups=frozenset({"east"})))
    m = Manifest(version="v-campaign", generated_at=T0, valid_until=T0 + dt.timedelta(days=7),
                 screen=Screen(id=screen.device_id, name="东门", screen_class=ScreenClass.OUTDOOR_LARGE,
                               groups=frozenset({"east"})),
                 catalogue=Catalogue(items={"filler": filler, "ad": ad}, campaigns=(campaign,),
                                     filler_item_ids=("filler",)),
                 assets=(filler_ref, ad_ref))
    fake.publish(screen.device_id, m)

    cache = AssetCache(tmp_path / "cache", 10**9)
    syncer = Syncer(fake.client(screen.device_key), cache, tmp_path / "player", clock.now)
    assert syncer.sync_once() and syncer.live is not None
    fake.online = False  # a week without network from here on
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
    ads = [p for p in plays if p.item_id == "ad"]
    per_hour: dict[tuple[dt.date, int], int] = {}
    for p in ads:
        local = p.started_at.astimezone(shanghai)
        assert dt.time(9) <= local.time() < dt.time(10), f"ad played outside its daypart at {local}"
        per_hour[(local.date(), local.hour)] = per_hour.get((local.date(), local.hour), 0) + 1
        assert p.campaign_id == "c-breakfast"
    assert len(per_hour) == 7, per_hour  # every day of the week, offline
    assert all(1 <= n <= 4 for n in per_hour.values()), per_hour  # the cap holds
    assert len(plays) > 7 * 2 * 3600 / 30  # the rest of the two hours was filled, never empty


def test_a_blank_screen_told_to_come_back_asks_again_when_told_and_within_five_minutes(
    media_dir: Path, tmp_path: Path
) -> None:
    """A district starting at once: the server answers 503 with ``Retry-After``. The screen asks
    again at that time (spread by up to a fifth), not earlier and not after it gives up; a server
    asking for longer than five minutes is not obeyed by a screen that has nothing to show."""
    clock = MovableClock(T0)
    fake = FakeDeviceServer(clock)
    data = tmp_path / "data"
    screen = fake_paired(data, fake)
    img, ref = asset_item("img", ItemKind.IMAGE, media_dir / "landscape.png", duration_s=10)
    fake.publish(screen.device_id, manifest([(img, ref)], version="v-cold"),
                 {ref.sha256: (media_dir / "landscape.png").read_bytes()})
    app = build_player(fake_settings(data), FakeMediaBackend(), clock, api=fake.client())
    playback = app.playback
    try:
        fake.busy_retry_after_s = 100
        playback.sync_job()
        assert fake.calls == ["manifest 503"]
        clock.advance(99)
        playback.sync_job()
        assert fake.calls == ["manifest 503"], "asked again before the server's time"
        clock.advance(21)  # 120 s: the time told, stretched by at most a fifth
        playback.sync_job()
        assert fake.calls == ["manifest 503"] * 2, "kept waiting past the time told"

        fake.busy_retry_after_s = 3600  # a server asking too much of a blank screen
        clock.advance(300)
        playback.sync_job()
        fake.busy_retry_after_s = None
        clock.advance(300)
        playback.sync_job()
        assert fake.calls[-1] == "download" and playback.syncer.live is not None
        assert playback.syncer.live.version == "v-cold"
    finally:
        app.shutdown()
