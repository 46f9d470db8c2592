"""The whole player (Qt offscreen, real threads and jobs) on the fake server: pairing, reports,
emergencies, revocation. The same journeys over the wire are in ``test_app_live.py``."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from pytestqt.qtbot import QtBot
from pyzbar.pyzbar import decode

from schedules.clock import MovableClock
from schedules.model import ItemKind, ScreenClass
from schedules.protocol.device import EmergencyState, Loudness, Manifest
from signage_player.app import Player, build_player
from signage_player.device_api import FakeDeviceServer
from signage_player.identity import DeviceIdentity
from signage_player.media import FakeMediaBackend
from signage_player.reporting import png_bytes
from tests.signage_player.manifests import T0, asset_item, manifest, text_item
from tests.signage_player.serverkit import fake_paired, fake_settings

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "player"


@pytest.fixture
def fake() -> Iterator[FakeDeviceServer]:
    server = FakeDeviceServer(MovableClock(T0), server_public_key="c2VydmVyLWtleQ==")
    yield server
    server.close()  # releases any long-poll still waiting


def _player(fake: FakeDeviceServer, data: Path, players: list[Player], **kw: object) -> Player:
    app = build_player(fake_settings(data, **kw), FakeMediaBackend(), fake.clock, api=fake.client())
    app.pairing.poll_s = 0.05  # the server is in memory: no need to spare it
    players.append(app)
    return app


def _publish(fake: FakeDeviceServer, device_id: str, media_dir: Path, version: str = "v1") -> Manifest:
    img, ref = asset_item("img", ItemKind.IMAGE, media_dir / "landscape.png")
    m = manifest([(img, ref), (text_item("hello", "欢迎回家", "Welcome home"), None)],
                 screen_class=ScreenClass.INDOOR_SMALL, version=version)
    fake.publish(device_id, m, {ref.sha256: (media_dir / "landscape.png").read_bytes()})
    return m


def test_a_new_player_shows_its_code_and_qr_then_plays_once_claimed(
    qtbot: QtBot, fake: FakeDeviceServer, media_dir: Path, tmp_path: Path, players: list[Player]
) -> None:
    app = _player(fake, tmp_path / "data", players)
    with qtbot.waitSignal(app.pairing.started, timeout=20_000) as started:
        app.start()
    code = started.args[0].code
    assert app.window.currentWidget() is app.pairing_screen
    qtbot.waitUntil(lambda: app.pairing_screen.code == code, timeout=20_000)
    shot = app.window.grab().toImage()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot.save(str(ARTIFACTS / "pairing_screen_fake.png"))
    scanned = decode(Image.open(io.BytesIO(png_bytes(shot))).convert("L"))  # as an operator's phone
    assert [q.data.decode() for q in scanned] == [started.args[0].claim_url]

    with qtbot.waitSignal(app.pairing.paired, timeout=20_000):
        screen = fake.claim(code)
    assert app.device.identity.device_id == screen.device_id
    assert app.device.api.device_key == screen.device_key
    stored = DeviceIdentity.load(tmp_path / "data")
    assert stored is not None and stored.device_key == screen.device_key
    assert app.window.currentWidget() is app.playback.view

    _publish(fake, screen.device_id, media_dir)
    app.sync_now()
    loop = app.playback.loop
    qtbot.waitUntil(lambda: loop.program is not None and loop.current is not None, timeout=20_000)
    assert app.playback.view.screen_class is ScreenClass.INDOOR_SMALL  # from the manifest
    assert "manifest 200" in fake.calls


def test_heartbeats_ask_for_screenshots_and_hint_at_newer_manifests(
    qtbot: QtBot, fake: FakeDeviceServer, media_dir: Path, tmp_path: Path, players: list[Player]
) -> None:
    data = tmp_path / "data"
    screen = fake_paired(data, fake)
    first = _publish(fake, screen.device_id, media_dir)
    app = _player(fake, data, players)
    app.start()
    app.sync_now()
    qtbot.waitUntil(lambda: app.playback.loop.current is not None, timeout=20_000)
    app.reporter.take_snapshot()
    reply = app.reporter.heartbeat()
    beat = screen.heartbeats[-1]
    assert reply is not None and not reply.screenshot_requested
    playing = app.playback.loop.current
    assert beat.manifest_version == first.version and beat.current_item_id == playing.item.id
    assert beat.screen_hash == app.reporter.snapshot.screen_hash and beat.missing_assets == ()
    assert beat.cache_bytes > 0 and beat.free_disk_bytes > 0 and beat.rss_bytes > 10 << 20

    fake.request_screenshot(screen.device_id)
    with qtbot.waitSignal(app.reporter.screenshot_requested, timeout=20_000):
        app.reporter.heartbeat()
    qtbot.waitUntil(lambda: bool(screen.screenshots), timeout=20_000)  # grabbed, then sent by a worker
    picture = Image.open(io.BytesIO(screen.screenshots[-1]))
    assert picture.size == (app.window.width(), app.window.height())
    assert len(picture.convert("RGB").getcolors(1 << 20) or ()) > 50  # what is on screen, not blank

    newer = _publish(fake, screen.device_id, media_dir, version="v2")
    with qtbot.waitSignal(app.reporter.newer_manifest, timeout=20_000):
        app.reporter.heartbeat()
    qtbot.waitUntil(lambda: app.playback.syncer.status.live_version == newer.version, timeout=20_000)


def test_emergencies_from_the_long_poll_and_from_the_manifest(
    qtbot: QtBot, fake: FakeDeviceServer, media_dir: Path, tmp_path: Path, players: list[Player]
) -> None:
    data = tmp_path / "data"
    screen = fake_paired(data, fake)
    gas = text_item("gas", "燃气泄漏 请立即撤离", "Gas leak: evacuate")
    m = _publish(fake, screen.device_id, media_dir)
    in_manifest = m.model_copy(update={"emergency": EmergencyState(version="m1", active=True, item=gas)})
    app = _player(fake, data, players)
    view = app.playback.view
    # before the server has answered, the manifest's emergency stands in
    app.playback.manifest_live.emit(in_manifest)
    assert view.emergency.item == gas
    app.emergency.version = "known"  # once it has answered, the manifest's no longer decides
    over = EmergencyState(version="m2", active=False)
    app.playback.manifest_live.emit(m.model_copy(update={"emergency": over}))
    assert view.emergency.item == gas
    app.emergency.version = None

    with qtbot.waitSignal(app.emergency.changed, timeout=20_000) as first:
        app.start()  # the first long-poll answer: no emergency
    assert first.args[0] is None and not view.emergency.isVisible()
    with qtbot.waitSignal(app.emergency.changed, timeout=20_000) as started:
        fake.set_emergency(screen.device_id, gas)
    assert started.args[0] == gas and view.emergency.isVisible()
    view.grab().toImage().save(str(ARTIFACTS / "emergency_fake.png"))
    with qtbot.waitSignal(app.emergency.changed, timeout=20_000) as banner:
        fake.set_emergency(screen.device_id, gas, Loudness.BANNER_WARNING)  # a CAP warning: a banner
    assert banner.args == [gas, "banner_warning"] and view.emergency.is_banner
    assert view.emergency.height() < view.height() // 3  # the programme stays visible beneath
    with qtbot.waitSignal(app.emergency.changed, timeout=20_000) as ended:
        fake.set_emergency(screen.device_id, None)
    assert ended.args[0] is None and not view.emergency.isVisible()


def test_a_revoked_player_forgets_its_key_and_pairs_again(
    qtbot: QtBot, fake: FakeDeviceServer, media_dir: Path, tmp_path: Path, players: list[Player]
) -> None:
    data = tmp_path / "data"
    screen = fake_paired(data, fake)
    _publish(fake, screen.device_id, media_dir)
    app = _player(fake, data, players)
    app.start()
    app.sync_now()
    qtbot.waitUntil(lambda: app.playback.loop.current is not None, timeout=20_000)
    fake.revoke(screen.device_id)
    with qtbot.waitSignal(app.pairing.started, timeout=20_000) as started:
        app.workers.guarded(app.reporter.heartbeat, "heartbeat")()  # what the scheduler runs
    assert app.window.currentWidget() is app.pairing_screen and not app.device.paired
    stored = DeviceIdentity.load(data)
    assert stored is not None and not stored.paired  # forgotten on disk too
    assert app.playback.loop.current is not None  # the cached content keeps playing meanwhile

    with qtbot.waitSignal(app.pairing.paired, timeout=20_000):
        again = fake.claim(started.args[0].code)
    assert app.device.api.device_key == again.device_key != screen.device_key
    assert app.window.currentWidget() is app.playback.view
