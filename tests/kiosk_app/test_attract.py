"""The attract loop reuses the player's sync and playback against a real server; it pauses behind pages."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiosk_app.app import KioskApp
from kiosk_app.attract import AttractLoop
from kiosk_app.flow import Screen
from kiosk_app.http_api import HttpKioskApi
from kiosk_app.jobs import ImmediateRunner
from schedules.clock import SystemClock
from signage_player.media import FakeMediaBackend
from tests.fixtures.server import LiveServer, pair_device
from tests.kiosk_app.conftest import ARTIFACTS
from tests.kiosk_app.test_window import tap


@pytest.mark.slow
def test_attract_loop_syncs_kiosk_content_and_pauses_behind_pages(  # type: ignore[no-untyped-def]
        qtbot, live_server: LiveServer, make_kiosk: Callable[..., KioskApp], tmp_path) -> None:
    device = pair_device(live_server, kind="kiosk", screen_class="kiosk", orientation="portrait")
    client = HttpKioskApi(live_server.url, device.device_key, timeout=5)
    app = make_kiosk()
    attract = AttractLoop(client, tmp_path / "attract", FakeMediaBackend(), ImmediateRunner(), SystemClock())
    app.window.attract.set_content(attract.view)
    app.flow.subscribe(attract.on_state)
    attract.on_state(app.flow.state)
    attract.sync()
    assert attract.syncer.live is not None  # the kiosk's manifest from the server
    assert attract.active and attract.loop.current is not None  # something plays: never black
    assert attract.view.isVisible() and attract.view.height() > 1000  # most of the portrait screen
    qtbot.waitUntil(lambda: not attract.view.picture().isNull(), timeout=3000)
    app.window.save_screenshot(ARTIFACTS, "attract_signage")
    tap(qtbot, app, "start")
    assert app.flow.state.screen is Screen.HOME and not attract.active and attract.loop.current is None
    app.flow.reset()
    assert attract.active and attract.loop.current is not None
    attract.close()
