"""Kiosk test fixtures: a sample bilingual catalogue, a movable clock, the app on the fake API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk_app.api import FakeKioskApi
from kiosk_app.app import KioskApp, build_app, open_device
from kiosk_app.jobs import ImmediateRunner
from kiosk_app.offline_pay import DeviceKeySigner
from kiosk_app.operator import hash_pin
from kiosk_app.peripherals import FakePeripherals, Peripheral, PeripheralKind
from kiosk_app.sample import T0, sample_case, sample_catalogue
from kiosk_app.settings import KioskSettings
from kiosk_app.speech import FakeSpeaker
from schedules.clock import MovableClock
from signage_player import Device, DeviceIdentity
from signage_player.device_api import FakeDeviceServer

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "kiosk"
PIN = "246810"
PIN_HASH = hash_pin(PIN, iterations=1000)


@pytest.fixture
def clock() -> MovableClock:
    """The one movable test clock (``schedules.clock``), starting at the sample data's T0."""
    return MovableClock(T0)


@pytest.fixture
def fake_api(clock: MovableClock) -> FakeKioskApi:
    api = FakeKioskApi(sample_catalogue(), now=clock.now())
    api.cases[("GA20261101", "123X")] = sample_case()
    return api


@pytest.fixture
def fake_devices(clock: MovableClock) -> Iterator[FakeDeviceServer]:
    """The device side of the server (pairing, manifests, heartbeats), in memory."""
    server = FakeDeviceServer(clock)
    yield server
    server.close()


def paired_kiosk_device(settings: KioskSettings, server: FakeDeviceServer, clock: MovableClock) -> Device:
    """The kiosk's device, paired with the fake server (stored as pairing would store it)."""
    data = Path(settings.data_dir)
    if DeviceIdentity.load(data) is None:
        screen = server.add_screen("kiosk")
        DeviceIdentity(Ed25519PrivateKey.generate(), screen.device_id, screen.device_key).save(data)
    return open_device(settings, server.client(), clock)


@pytest.fixture
def make_kiosk(qtbot, tmp_path: Path, clock: MovableClock, fake_api: FakeKioskApi,  # type: ignore[no-untyped-def]
               fake_devices: FakeDeviceServer) -> Iterator:
    """Builds kiosks on ``tmp_path`` (a second call = the same kiosk restarted)."""
    built: list[KioskApp] = []

    def make(api=None, runner=None, screenshot_dir: Path | None = None, *, speaker=None,  # type: ignore[no-untyped-def]
             peripherals=None, backend=None, quit=None, **settings_kw) -> KioskApp:
        settings = KioskSettings(data_dir=tmp_path / "kiosk", operator_pin_hash=PIN_HASH,
                                 screenshot_dir=screenshot_dir, **settings_kw)
        device = paired_kiosk_device(settings, fake_devices, clock)
        app = build_app(settings, device, api or fake_api, speaker or FakeSpeaker(),
                        peripherals or FakePeripherals([Peripheral(PeripheralKind.SCANNER, "Honeywell 1900",
                                                                   "/dev/input/event5")]),
                        runner=runner or ImmediateRunner(), backend=backend, quit=quit,
                        signer=DeviceKeySigner(Ed25519PrivateKey.generate(), "http://127.0.0.1:9"))
        app.window.resize(1080, 1920)
        qtbot.addWidget(app.window)
        app.window.show()
        built.append(app)
        return app

    yield make
    for app in built:
        app.close()
