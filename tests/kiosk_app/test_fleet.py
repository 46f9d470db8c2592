"""The kiosk as a managed screen, on the fake device server: heartbeats (page, peripherals, sync
state, never personal data), screenshots that never show a resident's data, the emergency over
whatever page is open with the resident's flow kept, remote commands, the attract loop's proof of
play. The same over the wire, against a live server: ``test_fleet_live.py``."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageChops
from pytestqt.qtbot import QtBot
from pyzbar.pyzbar import decode

from kiosk_app.api import FakeKioskApi
from kiosk_app.app import KioskApp
from kiosk_app.flow import PRIVATE_SCREENS, Screen
from kiosk_app.i18n import Language
from kiosk_app.peripherals import FakePeripherals, Peripheral, PeripheralKind
from kiosk_app.speech import FakeSpeaker
from schedules.clock import MovableClock
from schedules.model import ItemKind, ScreenClass
from schedules.protocol.device import CommandKind, DeviceCommand, Heartbeat
from signage_player import FakeMediaBackend
from signage_player.device_api import FakeDeviceServer
from signage_player.playloop import PLAYS_TOPIC
from tests.kiosk_app.conftest import ARTIFACTS
from tests.kiosk_app.test_window import book, find, tap, type_address, visible_texts
from tests.signage_player.manifests import asset_item, manifest, text_item

PHONE = "13812345678"
OTHER_PHONE = "13998765432"
FLEET = ARTIFACTS / "fleet"
FLEET.mkdir(parents=True, exist_ok=True)


def _image(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def _same(a: bytes, b: bytes) -> bool:
    return ImageChops.difference(_image(a), _image(b)).getbbox() is None


def _grab(app: KioskApp) -> bytes:
    """What is really painted on the kiosk now (what a screenshot must not show when private)."""
    from signage_player.reporting import png_bytes

    return png_bytes(app.window.grab().toImage())


def _answer(qtbot: QtBot, fake: FakeDeviceServer, app: KioskApp, cmd: DeviceCommand) -> tuple[str, str]:
    device_id = app.device.identity.device_id
    assert device_id is not None
    acks = fake.screens[device_id].acks
    qtbot.waitUntil(lambda: cmd.id in acks, timeout=10_000)
    return acks[cmd.id].outcome.value, acks[cmd.id].detail


def _address_if_asked(qtbot: QtBot, app: KioskApp) -> None:
    """A meal delivered at home asks where first (main's i14): the same address for everyone."""
    if app.flow.state.screen is Screen.ADDRESS:
        type_address(qtbot, app, "3", "2", "1203")
        tap(qtbot, app, "address_next")


def _to_phone(qtbot: QtBot, app: KioskApp, phone: str) -> None:
    if app.flow.state.screen is Screen.ATTRACT:
        tap(qtbot, app, "start")
    for name in ("category:elderly_care", "service:meal", "book", "slot:meal-0"):
        tap(qtbot, app, name)
    _address_if_asked(qtbot, app)
    for ch in phone:
        tap(qtbot, app, f"key:{ch}")


def test_heartbeat_names_the_page_peripherals_and_catalogue_never_the_resident(
        qtbot: QtBot, make_kiosk: Callable[..., KioskApp], fake_devices: FakeDeviceServer,
        tmp_path: Path) -> None:
    scanner_node = tmp_path / "event5"
    scanner_node.write_bytes(b"")
    app = make_kiosk(peripherals=FakePeripherals([Peripheral(PeripheralKind.SCANNER, "Honeywell 1900",
                                                              str(scanner_node))]),
                     speaker=FakeSpeaker(available=True, failing=True))
    _to_phone(qtbot, app, PHONE)
    app.reporter.take_snapshot()
    reply = app.reporter.heartbeat()
    assert reply is not None
    device_id = app.device.identity.device_id
    assert device_id is not None
    beat: Heartbeat = fake_devices.screens[device_id].heartbeats[-1]
    assert beat.page == "phone" and beat.catalogue_version == '"v1"' and beat.catalogue_synced_at is not None
    by_name = {p.name: p for p in beat.peripherals}
    assert (by_name["scanner"].present, by_name["scanner"].working, by_name["scanner"].model) == (
        True, True, "Honeywell 1900")
    assert (by_name["printer"].present, by_name["printer"].working) == (False, False)
    assert (by_name["speaker"].present, by_name["speaker"].working) == (True, False)
    assert beat.manifest_version is None  # no attract content here (no media back end)
    wire = beat.model_dump_json()
    assert "5678" not in wire and PHONE not in wire and "138 1234" not in wire


def test_screenshots_blank_pages_with_personal_data_and_show_the_others(
        qtbot: QtBot, make_kiosk: Callable[..., KioskApp], fake_api: FakeKioskApi,
        clock: MovableClock) -> None:
    app = make_kiosk()
    tap(qtbot, app, "start")
    home = app.reporter.screenshot_png()
    assert _same(home, _grab(app))  # a catalogue page holds nothing personal: shown as it is
    _to_phone(qtbot, app, PHONE)
    painted = _grab(app)
    masked = app.reporter.screenshot_png()
    assert any("138 1234 5678" in t for _, t in visible_texts(app.window))  # the resident sees it
    assert not _same(masked, painted)  # the screenshot is not what is painted
    assert any("138 1234 5678" in t for _, t in visible_texts(app.window))  # and the page is still there
    FLEET.mkdir(parents=True, exist_ok=True)
    _image(masked).save(FLEET / "screenshot_phone_masked.png")
    _image(painted).save(FLEET / "screenshot_phone_painted.png")
    # another resident, another number on the same page: the very same picture (nothing of theirs in it)
    app.flow.home()
    for name in ("category:elderly_care", "service:meal", "book", "slot:meal-0"):
        tap(qtbot, app, name)
    _address_if_asked(qtbot, app)
    for ch in OTHER_PHONE:
        tap(qtbot, app, f"key:{ch}")
    assert _same(app.reporter.screenshot_png(), masked)
    assert not _same(_grab(app), painted)  # while what is painted differs
    # the payment page: its QR (the order's pay link) scans on screen, never in the screenshot
    tap(qtbot, app, "phone_next")
    tap(qtbot, app, "confirm")
    assert app.flow.state.screen is Screen.PAY and app.flow.state.order is not None
    pay_url = app.flow.state.order.payment.qr_payload if app.flow.state.order.payment else ""
    assert [q.data.decode() for q in decode(_image(_grab(app)))] == [pay_url]
    shot = app.reporter.screenshot_png()
    assert decode(_image(shot)) == []
    _image(shot).save(FLEET / "screenshot_pay_masked.png")
    # the privacy page is what is shown, in the kiosk's language, and the page is back afterwards
    assert app.window.stack.currentWidget() is app.window.page
    assert "pay" in app.window.privacy.caption.text() and "隐私" in app.window.privacy.caption.text()
    assert all(s in PRIVATE_SCREENS for s in (Screen.PHONE, Screen.PAY, Screen.CASE_RESULT, Screen.LOOKUP))


def test_emergency_covers_any_page_keeps_the_payment_and_is_read_aloud(
        qtbot: QtBot, make_kiosk: Callable[..., KioskApp], fake_devices: FakeDeviceServer,
        fake_api: FakeKioskApi, clock: MovableClock) -> None:
    speaker = FakeSpeaker()
    app = make_kiosk(speaker=speaker, emergency_wait_s=60)
    device_id = app.device.identity.device_id
    assert device_id is not None
    app.start()
    tap(qtbot, app, "start")
    book(qtbot, app, "housekeeping", "clean", "clean-0", PHONE)
    state = app.flow.state
    assert state.screen is Screen.PAY and state.order is not None
    order_id = state.order.id
    panel = app.window.emergency
    with qtbot.waitSignal(app.emergency.changed, timeout=20_000):
        notice = text_item("gas", "燃气泄漏 请立即撤离", "Gas leak: evacuate")
        fake_devices.set_emergency(device_id, notice.model_copy(update={"title": "3号楼燃气泄漏"}))
    qtbot.waitUntil(panel.isVisible, timeout=20_000)
    assert panel.geometry() == app.window.rect()
    assert find(app.window, "emergency_title").text() == "⚠ 3号楼燃气泄漏"  # type: ignore[attr-defined]  # the operator's
    assert "燃气泄漏" in find(app.window, "emergency_text").text()  # type: ignore[attr-defined]
    assert find(app.window, "emergency_kept").isVisible()  # the resident is told their payment is kept
    assert speaker.spoken and speaker.spoken[-1][0].startswith("3号楼燃气泄漏。燃气泄漏 请立即撤离")
    assert speaker.spoken[-1][1] is Language.ZH
    shot = app.reporter.screenshot_png()
    _image(shot).save(FLEET / "emergency_over_pay.png")
    red = _image(shot).getpixel((5, app.window.height() // 2))
    assert red == (176, 0, 32)  # the notice covers the page
    assert decode(_image(_grab(app))) == []  # the pay QR is under the notice
    # the payment goes on underneath: the phone pays, the kiosk hears it during the emergency
    fake_api.mark_paid(order_id)
    for _ in range(3):
        app.flow.tick(clock.advance(3))
    assert app.flow.state.screen is Screen.RECEIPT and panel.isVisible()
    app.translator.set_language(Language.EN)
    assert find(app.window, "emergency_text").text().startswith("Gas leak")  # type: ignore[attr-defined]
    with qtbot.waitSignal(app.emergency.changed, timeout=20_000):
        fake_devices.set_emergency(device_id, None)
    assert not panel.isVisible() and app.flow.state.order is not None and app.flow.state.order.id == order_id
    assert find(app.window, "receipt_qr").isVisible()


def test_the_heartbeat_names_an_emergency_once_its_notice_is_painted_and_tells_the_server_at_once(
        qtbot: QtBot, make_kiosk: Callable[..., KioskApp], fake_devices: FakeDeviceServer) -> None:
    """Received is not shown: "delivered to N of M" on the portal counts kiosks that painted it."""
    app = make_kiosk(emergency_wait_s=60)
    device_id = app.device.identity.device_id
    assert device_id is not None
    app.window.hide()  # nothing can be painted: a kiosk whose screen is not up yet
    app.start()
    beats = fake_devices.screens[device_id].heartbeats
    on_air = qtbot.waitSignal(app.emergency.changed, timeout=20_000,
                              check_params_cb=lambda item, _loudness: item is not None)  # not "none"
    with on_air:
        fake_devices.set_emergency(device_id, text_item("fire", "火警 请勿乘电梯", "Fire: no lifts"))
    app.reporter.heartbeat()
    assert beats[-1].emergency_version != app.emergency.version  # on its way to the screen, not on it
    before = len(beats)
    app.window.show()
    qtbot.waitUntil(lambda: app.window.emergency.painted is not None, timeout=20_000)
    # painted: a heartbeat goes at once (not at the next 60 s beat) and names the emergency
    qtbot.waitUntil(lambda: len(beats) > before, timeout=20_000)
    assert beats[-1].emergency_version == app.emergency.version
    with qtbot.waitSignal(app.emergency.changed, timeout=20_000):
        fake_devices.set_emergency(device_id, None)
    # ended: told at once
    qtbot.waitUntil(lambda: beats[-1].emergency_version == app.emergency.version, timeout=20_000)


def test_remote_commands_on_the_kiosk(qtbot: QtBot, make_kiosk: Callable[..., KioskApp],
                                      fake_devices: FakeDeviceServer, fake_api: FakeKioskApi,
                                      media_dir: Path) -> None:
    quits: list[int] = []
    speaker = FakeSpeaker()
    app = make_kiosk(speaker=speaker, backend=FakeMediaBackend(), quit=quits.append)
    device_id = app.device.identity.device_id
    assert device_id is not None
    poster, ref = asset_item("poster", ItemKind.IMAGE, media_dir / "portrait.png")
    fake_devices.publish(device_id, manifest([(poster, ref)], screen_class=ScreenClass.KIOSK, version="k1"),
                         {ref.sha256: (media_dir / "portrait.png").read_bytes()})
    app.start()
    assert app.playback is not None and app.attract is not None
    qtbot.waitUntil(
        lambda: app.playback is not None and app.playback.loop.current is not None,
        timeout=20_000,
    )

    ident = fake_devices.send_command(device_id, CommandKind.IDENTIFY, screen_name="3号楼 大堂终端")
    assert _answer(qtbot, fake_devices, app, ident)[0] == "done"
    assert app.window.identify.isVisible() and app.window.identify.name == "3号楼 大堂终端"
    _image(app.reporter.screenshot_png()).save(FLEET / "identify.png")

    off = fake_devices.send_command(device_id, CommandKind.SCREEN_POWER, screen_on=False)
    assert _answer(qtbot, fake_devices, app, off) == ("done", "screen off")
    assert app.window.screen_off.isVisible() and not app.attract.active  # nothing plays behind black
    assert app.playback.loop.current is None
    on = fake_devices.send_command(device_id, CommandKind.SCREEN_POWER, screen_on=True)
    assert _answer(qtbot, fake_devices, app, on)[0] == "done"
    assert not app.window.screen_off.isVisible() and app.attract.active

    vol = fake_devices.send_command(device_id, CommandKind.SET_VOLUME, volume=20)
    assert _answer(qtbot, fake_devices, app, vol) == ("done", "volume 20%") and speaker.volume == 20

    fake_api.catalogue_doc = fake_api.catalogue_doc.model_copy(update={"version": '"v2"'})
    sync = fake_devices.send_command(device_id, CommandKind.SYNC_NOW)
    outcome, detail = _answer(qtbot, fake_devices, app, sync)
    assert outcome == "done" and detail.startswith('catalogue "v2"') and "manifest k1" in detail
    assert app.flow.state.catalogue is not None and app.flow.state.catalogue.version == '"v2"'

    store = app.catalogue_store
    clear = fake_devices.send_command(device_id, CommandKind.CLEAR_CACHE)
    outcome, detail = _answer(qtbot, fake_devices, app, clear)
    assert outcome == "done" and "every asset verified" in detail
    assert (store.directory / "catalogue.json").exists()  # fetched again whole

    shot = fake_devices.send_command(device_id, CommandKind.SCREENSHOT)
    assert _answer(qtbot, fake_devices, app, shot)[0] == "done"
    assert fake_devices.screens[device_id].screenshots[-1].startswith(b"\x89PNG")

    restart = fake_devices.send_command(device_id, CommandKind.RESTART_APP)
    assert _answer(qtbot, fake_devices, app, restart) == ("done", "restarting the app")
    qtbot.waitUntil(lambda: quits == [75], timeout=20_000)


def test_the_attract_loop_records_proof_of_play_and_uploads_it(
        qtbot: QtBot, make_kiosk: Callable[..., KioskApp], fake_devices: FakeDeviceServer,
        clock: MovableClock, media_dir: Path) -> None:
    app = make_kiosk(backend=FakeMediaBackend())
    device_id = app.device.identity.device_id
    assert device_id is not None and app.playback is not None
    poster, ref = asset_item("poster", ItemKind.IMAGE, media_dir / "portrait.png")
    fake_devices.publish(device_id, manifest([(poster, ref), (text_item("hello", "欢迎", "Welcome"), None)],
                                             screen_class=ScreenClass.KIOSK, version="k1"),
                         {ref.sha256: (media_dir / "portrait.png").read_bytes()})
    assert app.playback.sync_now()
    loop = app.playback.loop
    qtbot.waitUntil(lambda: loop.current is not None, timeout=20_000)
    first = loop.current
    assert first is not None
    clock.advance((first.entry.end - first.entry.start).total_seconds())
    loop.step()  # the next item: the first one's play is recorded, complete
    clock.advance(2)
    tap(qtbot, app, "start")  # a resident: the loop stops behind the pages, the play is cut short
    outbox = app.device.outbox
    assert outbox.count(PLAYS_TOPIC) == 2
    assert app.reporter.upload_plays() == 2 and outbox.count(PLAYS_TOPIC) == 0
    plays = sorted(fake_devices.plays.values(), key=lambda r: r.started_at)
    assert [(p.item_id, p.completed) for p in plays] == [(first.item.id, True), (plays[1].item_id, False)]


@pytest.mark.parametrize("screen", sorted(PRIVATE_SCREENS))
def test_private_screens_are_the_ones_showing_what_a_resident_typed(screen: Screen) -> None:
    """The pages a screenshot blanks are exactly those that show a resident's input or results."""
    public = set(Screen) - PRIVATE_SCREENS
    assert public == {Screen.ATTRACT, Screen.HOME, Screen.CATEGORY, Screen.DETAIL, Screen.SLOT}
    assert screen not in public
