"""The attract loop plays the player's code on the kiosk's own device; it pauses behind the pages.

On the fake device server (the wire is tested by the player's and the kiosk's live tests).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kiosk_app.app import KioskApp
from kiosk_app.attract import AttractLoop
from kiosk_app.flow import Screen
from kiosk_app.jobs import ImmediateRunner
from schedules.clock import MovableClock
from schedules.model import ItemKind, ScreenClass
from signage_player import FakeMediaBackend, Playback
from signage_player.device_api import FakeDeviceServer
from tests.kiosk_app.conftest import ARTIFACTS
from tests.kiosk_app.test_window import tap
from tests.signage_player.manifests import asset_item, manifest


def test_attract_loop_syncs_kiosk_content_and_pauses_behind_pages(  # type: ignore[no-untyped-def]
        qtbot, make_kiosk: Callable[..., KioskApp], fake_devices: FakeDeviceServer, clock: MovableClock,
        media_dir: Path, tmp_path: Path) -> None:
    app = make_kiosk()
    device_id = app.device.identity.device_id
    assert device_id is not None
    poster, ref = asset_item("poster", ItemKind.IMAGE, media_dir / "portrait.png")
    fake_devices.publish(device_id, manifest([(poster, ref)], screen_class=ScreenClass.KIOSK, version="k1"),
                         {ref.sha256: (media_dir / "portrait.png").read_bytes()})
    playback = Playback(app.device.api, tmp_path / "attract", FakeMediaBackend(), clock,
                        cache_bytes=10**9, screen_class=ScreenClass.KIOSK)
    attract = AttractLoop(playback, ImmediateRunner())
    app.window.attract.set_content(playback.view)
    app.flow.subscribe(attract.on_state)
    attract.on_state(app.flow.state)
    attract.sync()
    assert playback.syncer.live is not None and playback.syncer.live.version == "k1"  # the kiosk's manifest
    assert attract.active and playback.loop.current is not None  # something plays: never black
    assert playback.loop.current.item.id == "poster"
    assert playback.view.isVisible() and playback.view.height() > 1000  # most of the portrait screen
    qtbot.waitUntil(lambda: not playback.view.picture().isNull(), timeout=20_000)
    app.window.save_screenshot(ARTIFACTS, "attract_signage")
    tap(qtbot, app, "start")
    assert app.flow.state.screen is Screen.HOME and not attract.active and playback.loop.current is None
    app.flow.reset()
    assert attract.active and playback.loop.current is not None
    attract.close()
