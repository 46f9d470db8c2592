"""The kiosk as a managed screen against a real content server on loopback (uvicorn subprocess).

The offscreen kiosk heartbeats into the screens list with its health, page and peripherals; an
emergency reaches it within 5 s over whatever page is open and the resident's payment survives
it; remote commands sent through the operators' API are done and answered; its screenshots are
masked; the attract loop's plays reach the advertiser's report.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageChops
from pytestqt.qtbot import QtBot
from pyzbar.pyzbar import decode

from kiosk_app.app import KioskApp, build_app, open_device
from kiosk_app.flow import FlowSettings, Screen
from kiosk_app.http_api import HttpKioskApi
from kiosk_app.peripherals import FakePeripherals, Peripheral, PeripheralKind
from kiosk_app.settings import KioskSettings
from kiosk_app.speech import FakeSpeaker
from schedules.clock import Clock, MovableClock, SystemClock
from schedules.protocol.device import PlayRecord
from signage_player import DeviceIdentity, FakeMediaBackend
from signage_player.playloop import PLAYS_TOPIC
from signage_player.reporting import png_bytes
from tests.content_server.kiosk.conftest import Live, pick_slot, seeded_live
from tests.fixtures.server import LiveServer
from tests.fixtures.waiting import eventually
from tests.kiosk_app.conftest import ARTIFACTS
from tests.kiosk_app.test_live import browse_and_confirm, phone_pays
from tests.kiosk_app.test_window import find, tap, type_address
from tests.portal.conftest import portal_login
from tests.signage_player.serverkit import Operator

pytestmark = pytest.mark.slow
SHOTS = ARTIFACTS / "fleet_live"


@pytest.fixture(autouse=True)
def shots_folder() -> None:
    """Every test here may save what the kiosk showed; the folder exists whichever runs first."""
    SHOTS.mkdir(parents=True, exist_ok=True)


@pytest.fixture
def live(live_server: LiveServer) -> Iterator[Live]:
    yield from seeded_live(live_server)


@pytest.fixture
def kiosks(qtbot: QtBot, tmp_path: Path, live: Live) -> Iterator[Callable[..., KioskApp]]:
    """Starts the real kiosk (HTTP, its paired key, real threads) with fast reports; closes them all."""
    made: list[KioskApp] = []

    def start(clock: Clock | None = None, **kw: Any) -> KioskApp:
        data = tmp_path / "kiosk"
        settings = KioskSettings(server_url=live.server.url, data_dir=data, request_timeout_s=5,
                                 heartbeat_interval_s=1, plays_interval_s=3600, emergency_wait_s=30,
                                 commands_wait_s=10)
        k = live.kiosk
        DeviceIdentity(k.private_key, k.device_id, k.device_key, k.server_public_key or None).save(data)
        api = HttpKioskApi(settings.server_url, timeout=settings.request_timeout_s)
        device = open_device(settings, api, clock or SystemClock())
        scanner = tmp_path / "event5"
        scanner.write_bytes(b"")
        app = build_app(settings, device, api, kw.pop("speaker", FakeSpeaker()),
                        FakePeripherals([Peripheral(PeripheralKind.SCANNER, "Honeywell 1900", str(scanner))]),
                        **kw)
        app.flow.settings = FlowSettings(kiosk_id=k.device_id, sync_seconds=1, offline_sync_seconds=1)
        app.window.resize(1080, 1920)
        qtbot.addWidget(app.window)
        app.window.show()
        app.window.timer.setInterval(200)
        app.start()
        made.append(app)
        return app

    yield start
    for app in made:
        app.close()


def _status(op: Operator, screen_id: str) -> dict[str, Any]:
    status: dict[str, Any] = op.request("GET", f"/screens/{screen_id}/status")
    return status


def _command(op: Operator, screen_id: str, kind: str, **params: Any) -> str:
    sent = op.request("POST", "/commands", json={"kind": kind, "selector": {"screen_ids": [screen_id]},
                                                 **params})
    return str(sent["id"])


def _state(op: Operator, send_id: str) -> dict[str, Any]:
    row: dict[str, Any] = op.request("GET", f"/commands/{send_id}")["devices"][0]
    return row


def test_an_emergency_reaches_the_kiosk_mid_payment_at_once_and_the_payment_survives(
        qtbot: QtBot, live: Live, kiosks: Callable[..., KioskApp]) -> None:
    speaker = FakeSpeaker()
    app = kiosks(speaker=speaker)
    op = Operator(live.server)
    qtbot.waitUntil(lambda: app.emergency.version is not None, timeout=15_000)  # the long-poll is waiting
    browse_and_confirm(qtbot, app, live)
    qtbot.waitUntil(lambda: app.flow.state.screen is Screen.PAY, timeout=15_000)
    order = app.flow.state.order
    assert order is not None and order.payment is not None
    t0 = time.monotonic()
    notice = {"zh": "暴雨红色预警 请勿外出", "en": "Red rainstorm warning"}
    ann = op.announce(live.kiosk.device_id, text=notice, priority="emergency")
    qtbot.waitUntil(app.window.emergency.isVisible, timeout=15_000)
    elapsed = time.monotonic() - t0
    assert elapsed < 15.0  # woken by the server, not the long-poll's 30 s (5 s on a quiet machine)
    app.window.repaint()  # what the kiosk shows now (painted), saved for the eye
    picture = app.window.grab().toImage()
    picture.save(str(SHOTS / "emergency_over_pay_live.png"))
    assert "暴雨红色预警" in find(app.window, "emergency_text").text()  # type: ignore[attr-defined]
    assert find(app.window, "emergency_kept").isVisible()
    assert any("暴雨红色预警" in text for text, _ in speaker.spoken)  # read aloud (read-aloud is on)
    assert app.flow.state.screen is Screen.PAY and app.flow.state.order is not None
    assert app.flow.state.order.id == order.id  # the resident's order is kept underneath
    op.request("POST", f"/announcements/{ann['id']}/end")
    qtbot.waitUntil(lambda: not app.window.emergency.isVisible(), timeout=15_000)
    assert app.flow.state.screen is Screen.PAY and find(app.window, "pay_qr").isVisible()
    phone_pays(order.payment.qr_payload)  # the resident carries on: pays, the kiosk shows the receipt
    qtbot.waitUntil(lambda: app.flow.state.screen is Screen.RECEIPT, timeout=15_000)


def test_the_kiosk_in_the_screens_list_with_health_and_masked_screenshots(
        qtbot: QtBot, live: Live, kiosks: Callable[..., KioskApp]) -> None:
    app = kiosks()
    op = Operator(live.server)
    screen_id = live.kiosk.device_id
    tap(qtbot, app, "start")
    qtbot.waitUntil(lambda: app.flow.state.catalogue is not None, timeout=15_000)

    def reported_home() -> bool:
        status = _status(op, screen_id)
        return bool(status["online"] and (status["heartbeat"] or {}).get("page") == "home")

    qtbot.waitUntil(reported_home, timeout=15_000)
    status = _status(op, screen_id)
    beat = status["heartbeat"]
    assert status["sync"] == "in_sync" and beat["catalogue_version"] and beat["catalogue_synced_at"]
    peripherals = {p["name"]: (p["present"], p["working"]) for p in beat["peripherals"]}
    assert peripherals == {"scanner": (True, True), "printer": (False, False), "speaker": (True, True)}
    assert "printer missing" in status["problems"]
    with httpx.Client(base_url=live.server.url, timeout=10) as portal:
        portal_login(portal, live.server.operator)
        page = portal.get("/portal/screens")
    assert page.status_code == 200 and "当前页面：home" in page.text and "打印机: 未连接" in page.text

    # a resident types a phone number; the operator asks for a screenshot with a command
    to_phone(qtbot, app, live)
    assert app.flow.state.screen is Screen.PHONE and app.flow.state.phone == "13812345678"
    send_id = _command(op, screen_id, "screenshot")  # taken, encoded and uploaded: 120 s as below
    qtbot.waitUntil(lambda: _state(op, send_id)["state"] == "done", timeout=120_000)
    r = httpx.get(f"{live.server.api}/screens/{screen_id}/screenshot", headers=op.headers, timeout=10)
    assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
    (SHOTS / "screenshot_phone_uploaded.png").write_bytes(r.content)
    uploaded = Image.open(io.BytesIO(r.content)).convert("RGB")
    painted = Image.open(io.BytesIO(png_bytes(app.window.grab().toImage()))).convert("RGB")
    masked = Image.open(io.BytesIO(app.reporter.screenshot_png())).convert("RGB")
    assert ImageChops.difference(uploaded, masked).getbbox() is None  # what was sent is the masked view
    assert ImageChops.difference(uploaded, painted).getbbox() is not None  # not the page with the number

    ident = _command(op, screen_id, "identify")
    qtbot.waitUntil(lambda: _state(op, ident)["state"] == "done", timeout=60_000)
    assert app.window.identify.isVisible() and app.window.identify.device_id == screen_id


def to_phone(qtbot: QtBot, app: KioskApp, live: Live) -> None:
    """A resident picks a service and a slot and types a phone number (and has not confirmed yet)."""
    target = pick_slot(live.sessions, dt.datetime.now(dt.UTC))
    catalogue = app.flow.state.catalogue
    assert catalogue is not None
    service = next(s for s in catalogue.services if s.id == target.service_id)
    for name in (f"category:{service.category_id}", f"service:{service.id}", "book",
                 f"slot:{target.slot_id}"):
        tap(qtbot, app, name)
    if app.flow.state.screen is Screen.ADDRESS:  # a service at home asks where first (main's i14)
        type_address(qtbot, app, "3", "2", "1203")
        tap(qtbot, app, "address_next")
    for ch in "13812345678":
        tap(qtbot, app, f"key:{ch}")


def test_attract_plays_reach_the_advertisers_report(qtbot: QtBot, live: Live, media_dir: Path,
                                                     kiosks: Callable[..., KioskApp]) -> None:
    server, op = live.server, Operator(live.server)
    filler = op.upload(media_dir / "landscape.png", "filler")
    op.request("PATCH", f"/media/{filler['id']}", json={"filler": True})
    shop = server.auth(server.create_user("bakery", "advertiser"))
    ad = httpx.post(f"{server.api}/media", params={"filename": "ad.jpg", "title": "面包店"},
                    content=(media_dir / "small.jpg").read_bytes(),
                    headers={**shop, "Content-Type": "application/octet-stream"}, timeout=60).json()
    today = dt.datetime.now(dt.UTC).date()
    r = httpx.post(f"{server.api}/campaigns", headers=shop, timeout=30, json={
        "name": "Bakery on kiosks", "media_ids": [ad["id"]], "flight_start": str(today),
        "flight_end": str(today + dt.timedelta(days=3)), "share_percent": 50,
        "targeting": {"screen_classes": ["kiosk"]}})
    assert r.status_code == 201, r.text
    camp = r.json()
    op.request("POST", f"/campaigns/{camp['id']}/approve", json={})

    clock = MovableClock(dt.datetime.now(dt.UTC))  # the loop's time moves on when the test says
    app = kiosks(clock=clock, backend=FakeMediaBackend())
    assert app.playback is not None
    syncer, loop, outbox = app.playback.syncer, app.playback.loop, app.device.outbox

    def loop_has_the_manifest() -> bool:
        """Live (its files verified) and taken by the loop on the GUI thread (a queued signal: on
        a loaded machine it arrives after ``syncer.live`` is set, and till then the default plays)."""
        program = loop.program
        live = syncer.live
        return live is not None and program is not None and getattr(program, "manifest", None) is live

    qtbot.waitUntil(loop_has_the_manifest, timeout=60_000)

    def reported() -> list[Any]:
        rows: list[Any] = httpx.get(f"{server.api}/reports/plays", params={"campaign_id": camp["id"]},
                                    headers=shop, timeout=10).json()
        return rows

    def ad_played_whole() -> bool:
        """Waiting in the outbox, or already uploaded by the kiosk's own plays job (it runs a few
        seconds after start: on a loaded machine it may take the record before the test looks)."""
        records = [PlayRecord.model_validate_json(e.payload) for e in outbox.pending(PLAYS_TOPIC)]
        waiting = any(r.campaign_id == camp["id"] and r.completed for r in records)
        return waiting or any(r["completed_plays"] >= 1 for r in reported())

    for _ in range(20):  # the loop alternates the ad and the filler: move on until the ad played whole
        qtbot.waitUntil(lambda: loop.current is not None, timeout=20_000)
        current = loop.current
        assert current is not None
        clock.advance((current.entry.end - clock.now()).total_seconds() + 0.01)
        loop.step()
        if ad_played_whole():
            break
    assert ad_played_whole()
    app.reporter.upload_plays()  # what is still waiting (the plays job may have sent it already)
    assert [(r["screen_id"], r["plays"] >= 1, r["completed_plays"] >= 1) for r in reported()] == [
        (live.kiosk.device_id, True, True)]


def test_kiosk_without_a_video_engine_still_reports_and_obeys(qtbot: QtBot, live: Live,
                                                              kiosks: Callable[..., KioskApp]) -> None:
    app = kiosks()  # no media back end: no attract content
    assert app.playback is None
    op = Operator(live.server)
    send_id = _command(op, live.kiosk.device_id, "sync_now")
    qtbot.waitUntil(lambda: _state(op, send_id)["state"] == "done", timeout=60_000)
    assert "no attract content" in _state(op, send_id)["detail"]
    qtbot.waitUntil(lambda: (_status(op, live.kiosk.device_id)["heartbeat"] or {}).get("page") == "attract",
                    timeout=60_000)
    status = _status(op, live.kiosk.device_id)
    assert status["online"] and status["sync"] == "in_sync" and not status["frozen"]
    assert decode(Image.open(io.BytesIO(app.reporter.screenshot_png()))) == []


def test_a_kiosk_process_shows_the_emergency_in_its_screenshot_and_restarts_on_command(
        live: Live, tmp_path: Path) -> None:
    """The real ``community-kiosk`` process, offscreen: what a command's screenshot shows during an
    emergency, and a restart that ends it with the restart code (systemd starts it again)."""
    root = Path(__file__).resolve().parents[2]
    data, op, screen_id = tmp_path / "kiosk", Operator(live.server), live.kiosk.device_id
    k = live.kiosk
    DeviceIdentity(k.private_key, k.device_id, k.device_key, k.server_public_key or None).save(data)
    env = {name: v for name, v in os.environ.items() if name not in ("KIOSK_DATA_DIR", "KIOSK_SERVER_URL")}
    env |= {"QT_QPA_PLATFORM": "offscreen", "KIOSK_HEARTBEAT_INTERVAL_S": "1", "KIOSK_EMERGENCY_WAIT_S": "10",
            "KIOSK_COMMANDS_WAIT_S": "10", "KIOSK_READ_ALOUD": "false"}
    argv = [sys.executable, "-m", "kiosk_app.main", "--server", live.server.url, "--data-dir", str(data),
            "--screenshot-dir", str(tmp_path / "shots")]
    proc = subprocess.Popen(argv, env=env, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        eventually(lambda: _status(op, screen_id)["online"], 60, "the kiosk process's heartbeat")
        notice = {"zh": "停水通知 今晚十点", "en": "Water off at 10 pm"}
        ann = op.announce(screen_id, text=notice, priority="emergency")

        def showing_it() -> bool:  # the kiosk's heartbeat names the emergency version in play
            shown = (_status(op, screen_id)["heartbeat"] or {}).get("emergency_version")
            return shown not in (None, "none")

        eventually(showing_it, 60, "a heartbeat naming the emergency on show")
        shot = _command(op, screen_id, "screenshot")  # take, encode, upload: slow beside two suites
        eventually(lambda: _state(op, shot)["state"] == "done", 120, "the screenshot command done")
        r = httpx.get(f"{live.server.api}/screens/{screen_id}/screenshot", headers=op.headers, timeout=10)
        assert r.status_code == 200, r.text
        picture = Image.open(io.BytesIO(r.content)).convert("RGB")
        assert picture.getpixel((5, picture.height // 2)) == (176, 0, 32)  # the emergency's red, edge to edge
        op.request("POST", f"/announcements/{ann['id']}/end")
        restart = _command(op, screen_id, "restart_app")
        assert proc.wait(60) == 75
        assert _state(op, restart)["state"] == "done"
    finally:
        if proc.poll() is None:
            proc.kill()
        out, _ = proc.communicate(timeout=30)
    assert "restarting the app (exit code 75)" in out, out[-3000:]
