"""The whole player against a real content server on loopback: pairing, sync, play, reports, emergency.

These test the wire end to end (requests, uvicorn, the server's own reading of what the player
sends); the player's behaviour in detail is tested on the fake server (``test_player.py``).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from PIL import Image
from pytestqt.qtbot import QtBot
from pyzbar.pyzbar import decode

from schedules.clock import SystemClock
from signage_player.app import Player, build_player
from signage_player.media import FakeMediaBackend
from signage_player.playloop import PLAYS_TOPIC
from tests.fixtures.server import LiveServer, pair_device
from tests.signage_player.serverkit import Operator, paired_data_dir, settings

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "player"


@pytest.mark.slow
def test_unpaired_player_shows_code_and_qr_then_pairs_and_plays(
    qtbot: QtBot, live_server: LiveServer, media_dir: Path, tmp_path: Path, players: list[Player]
) -> None:
    app = build_player(settings(live_server, tmp_path / "data"), FakeMediaBackend(), SystemClock())
    players.append(app)
    with qtbot.waitSignal(app.pairing.started, timeout=10000) as started:
        app.start()
    code = started.args[0].code
    qtbot.waitUntil(lambda: app.pairing_screen.code == code, timeout=20_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    app.window.grab().toImage().save(str(ARTIFACTS / "pairing_screen.png"))
    # the QR on screen, read from the painted pixels as an operator's phone would, opens the claim page
    scanned = decode(Image.open(ARTIFACTS / "pairing_screen.png").convert("L"))
    assert [q.data.decode() for q in scanned] == [started.args[0].claim_url]
    assert code in started.args[0].claim_url and "/portal/" in started.args[0].claim_url

    op = Operator(live_server)
    with qtbot.waitSignal(app.pairing.paired, timeout=15000):
        screen = op.claim(code, "indoor_small")
    assert app.device.identity.device_id == screen["id"]
    assert (tmp_path / "data" / "identity.json").exists()

    media = op.upload(media_dir / "landscape.png", "横幅")
    ticker = {"zh": "今晚八点业主大会", "en": "Meeting 8 pm"}
    op.announce(screen["id"], media_ids=(media["id"],), ticker=ticker)
    assert app.sync_now()
    syncer, loop, view = app.playback.syncer, app.playback.loop, app.playback.view
    assert syncer.live is not None and loop.current is not None
    qtbot.waitUntil(lambda: "业主大会" in view.ticker.text, timeout=20_000)  # the live manifest's signal
    app.window.grab().toImage().save(str(ARTIFACTS / "layout_indoor_small_live.png"))
    assert app.sync_now() is False  # 304: nothing new
    app.reporter.take_snapshot()
    app.reporter.heartbeat()
    assert app.reporter.snapshot.screen_hash is not None
    health = op.request("GET", f"/screens/{screen['id']}")
    assert health["last_seen_at"] is not None
    status = op.request("GET", f"/screens/{screen['id']}/status")
    beat = status["heartbeat"]
    assert status["online"] and status["sync"] == "in_sync" and not status["problems"], status
    assert beat["manifest_version"] == syncer.live.version == status["latest_manifest"]
    assert beat["current_item_id"] == loop.current.item.id and beat["missing_assets"] == []
    assert beat["cache_bytes"] >= media["size"] and beat["free_disk_bytes"] > 0
    assert beat["rss_bytes"] > 10 << 20
    assert beat["screen_hash"] == app.reporter.snapshot.screen_hash and beat["player_version"]

    # remote screenshot: asked by the operator, learned with the heartbeat, uploaded as PNG
    op.request("POST", f"/screens/{screen['id']}/screenshot-request")
    with qtbot.waitSignal(app.reporter.screenshot_requested, timeout=20_000):
        app.reporter.heartbeat()

    def uploaded() -> bytes | None:
        r = httpx.get(f"{live_server.api}/screens/{screen['id']}/screenshot", headers=op.headers, timeout=10)
        return r.content if r.status_code == 200 else None

    qtbot.waitUntil(lambda: uploaded() is not None, timeout=20_000)  # a worker thread uploads it
    shot = uploaded() or b""
    assert shot.startswith(b"\x89PNG")
    picture = Image.open(io.BytesIO(shot))
    assert picture.size == (app.window.width(), app.window.height())
    assert len(picture.convert("RGB").getcolors(1 << 20) or ()) > 50  # what is on screen, not blank


@pytest.mark.slow
def test_emergency_is_learned_at_once_and_ends(
    qtbot: QtBot, live_server: LiveServer, tmp_path: Path, players: list[Player]
) -> None:
    """The long-poll waits 30 s, so a 15 s bound tells a push from a poll running out, and a
    loaded machine keeps it."""
    device = pair_device(live_server, "player", screen_class="outdoor_large")
    data = paired_data_dir(tmp_path / "data", device)
    app = build_player(settings(live_server, data, emergency_wait_s=30), FakeMediaBackend(), SystemClock())
    players.append(app)
    op = Operator(live_server)
    with qtbot.waitSignal(app.emergency.changed, timeout=15_000):
        app.start()  # the first long-poll answer: no emergency
    t0 = time.monotonic()
    view, outbox = app.playback.view, app.device.outbox
    with qtbot.waitSignal(app.emergency.changed, timeout=15_000) as sig:  # the machine may be loaded
        ann = op.announce(device.device_id, text={"zh": "燃气泄漏 请立即撤离", "en": "Gas leak: evacuate"},
                          priority="emergency")
    assert sig.args[0] is not None and time.monotonic() - t0 < 15
    assert view.emergency.isVisible()
    view.grab().toImage().save(str(ARTIFACTS / "emergency_live.png"))
    t1 = time.monotonic()
    with qtbot.waitSignal(app.emergency.changed, timeout=15_000) as sig:
        op.request("POST", f"/announcements/{ann['id']}/end")
    assert sig.args[0] is None and not view.emergency.isVisible() and time.monotonic() - t1 < 15

    # the play cut short by the emergency went to the outbox and reaches the server once
    assert outbox.count(PLAYS_TOPIC) >= 1
    waiting = outbox.count(PLAYS_TOPIC)
    assert app.reporter.upload_plays() == waiting
    assert outbox.count(PLAYS_TOPIC) == 0 and app.reporter.upload_plays() == 0
    assert op.request("GET", "/reports/refused-plays") == []  # a real player's plays are all believed


@pytest.mark.slow
def test_an_ended_emergency_leaves_the_screen_as_promptly_as_it_came(
    qtbot: QtBot, live_server: LiveServer, media_dir: Path, tmp_path: Path, players: list[Player]
) -> None:
    """Issue 14: a lobby screen kept the ended emergency's text for 12 s on a blue background. The
    overlay went at once, but the manifest the screen had synced during the emergency still placed
    the emergency's text in the main zone (a text slide: blue) until the next manifest poll. Now the
    server's word that it ended brings the new manifest at once. The screen also reports the
    emergency version in play, which the operator's "delivered to N of M" counts."""
    device = pair_device(live_server, "player", screen_class="indoor_small", orientation="portrait")
    op = Operator(live_server)
    slide = op.upload(media_dir / "portrait.png", "默认内容")
    op.request("PATCH", f"/media/{slide['id']}", json={"filler": True})
    data = paired_data_dir(tmp_path / "data", device)
    app = build_player(settings(live_server, data, emergency_wait_s=4), FakeMediaBackend(), SystemClock())
    players.append(app)  # manifest polls and heartbeats hourly here: only the fix brings a new manifest
    loop, view = app.playback.loop, app.playback.view
    with qtbot.waitSignal(app.emergency.changed, timeout=20_000):
        app.start()
    status = f"/screens/{device.device_id}/status"
    qtbot.waitUntil(lambda: op.request("GET", status)["last_seen_at"] is not None, timeout=10000)  # 1st beat
    with qtbot.waitSignal(app.emergency.changed, timeout=20_000) as started:
        ann = op.announce(device.device_id, text={"zh": "燃气泄漏 请立即撤离", "en": "Gas leak: evacuate"},
                          priority="emergency")
    assert started.args[0] is not None and started.args[0].title == ann["title"]  # the operator's title

    def holds(present: bool) -> Callable[[], bool]:  # the live manifest holds the emergency (or not)
        def check() -> bool:
            live = app.playback.syncer.live
            held = live is not None and any(a.id == ann["id"] for a in live.catalogue.announcements)
            return live is not None and held == present

        return check

    qtbot.waitUntil(holds(True), timeout=20_000)  # fetched when it started: its timeline holds it too
    emergency_item = started.args[0].id
    qtbot.waitUntil(
        lambda: loop.current is not None and loop.current.item.id == emergency_item,
        timeout=20_000,
    )
    app.reporter.heartbeat()
    reported = op.request("GET", status)["heartbeat"]["emergency_version"]
    assert reported == app.emergency.version and reported != "none"

    with qtbot.waitSignal(app.emergency.changed, timeout=20_000) as ended:
        op.request("POST", f"/announcements/{ann['id']}/end")
    t0 = time.monotonic()
    assert ended.args[0] is None and not view.emergency.isVisible()
    qtbot.waitUntil(
        lambda: loop.current is not None and loop.current.item.id != emergency_item,
        timeout=20_000,
    )
    assert time.monotonic() - t0 < 10  # as promptly as it started (not the hour between polls)
    qtbot.waitUntil(holds(False), timeout=20_000)  # the new manifest at once (polls are an hour apart here)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert view.grab().toImage().save(str(ARTIFACTS / "emergency_ended.png"))
    assert app.reporter.beat().emergency_version == "none"
