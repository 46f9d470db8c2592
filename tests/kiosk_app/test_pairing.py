"""A new kiosk pairs on the player's pairing screen before it starts (on the fake device server)."""

from __future__ import annotations

import io
import threading
from pathlib import Path

from PIL import Image
from PySide6.QtWidgets import QWidget
from pyzbar.pyzbar import decode

from kiosk_app.app import open_device
from kiosk_app.main import KIOSK_VERSION
from kiosk_app.settings import KioskSettings
from schedules.clock import MovableClock
from signage_player import DeviceIdentity, PairingScreen, pair_on_screen
from signage_player.device_api import FakeDeviceServer
from signage_player.reporting import png_bytes
from tests.kiosk_app.conftest import ARTIFACTS


def test_a_new_kiosk_shows_its_code_and_qr_until_an_operator_claims_it(  # type: ignore[no-untyped-def]
        qtbot, tmp_path: Path, clock: MovableClock, fake_devices: FakeDeviceServer) -> None:
    settings = KioskSettings(data_dir=tmp_path / "kiosk")
    device = open_device(settings, fake_devices.client(), clock)
    assert not device.paired
    shown: list[QWidget] = []
    seen: dict[str, object] = {}

    def operator() -> None:  # reads the code off the screen, checks the QR, claims the kiosk
        started = fake_devices.wait_for_pairing(10)
        seen["started"] = started
        seen["claimed"] = fake_devices.claim(started.code)

    def show(screen: QWidget) -> None:
        screen.resize(1080, 1920)
        screen.show()
        shown.append(screen)

    helper = threading.Thread(target=operator)
    helper.start()
    stop = threading.Event()
    assert pair_on_screen(device, KIOSK_VERSION, "kiosk", stop, show, poll_s=0.05) is True
    helper.join(5)
    screen = shown[0]
    assert isinstance(screen, PairingScreen) and screen.code == seen["started"].code  # type: ignore[attr-defined]
    picture = screen.grab().toImage()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    picture.save(str(ARTIFACTS / "pairing-kiosk.png"))
    scanned = decode(Image.open(io.BytesIO(png_bytes(picture))).convert("L"))
    assert [q.data.decode() for q in scanned] == [seen["started"].claim_url]  # type: ignore[attr-defined]
    claimed = seen["claimed"]
    assert device.paired and device.identity.device_id == claimed.device_id  # type: ignore[attr-defined]
    assert device.api.device_key == claimed.device_key  # type: ignore[attr-defined]
    assert claimed.kind == "kiosk"  # type: ignore[attr-defined]
    stored = DeviceIdentity.load(tmp_path / "kiosk")
    assert stored is not None and stored.device_id == claimed.device_id  # type: ignore[attr-defined]
    device.close()


def test_a_kiosk_stopped_while_pairing_returns_unpaired(  # type: ignore[no-untyped-def]
        qtbot, tmp_path: Path, clock: MovableClock, fake_devices: FakeDeviceServer) -> None:
    device = open_device(KioskSettings(data_dir=tmp_path / "kiosk"), fake_devices.client(), clock)
    stop = threading.Event()

    def sigterm_once_the_code_shows() -> None:
        fake_devices.wait_for_pairing(10)
        stop.set()

    helper = threading.Thread(target=sigterm_once_the_code_shows)
    helper.start()
    assert pair_on_screen(device, KIOSK_VERSION, "kiosk", stop, lambda w: w.show()) is False
    helper.join(5)
    assert not device.paired and not DeviceIdentity.load(tmp_path / "kiosk").paired  # type: ignore[union-attr]
    device.close()
