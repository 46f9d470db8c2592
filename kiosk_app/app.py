"""Wiring: builds the flow, stores, runner and window from settings, the device and the adapters handed in.

The kiosk is a screen too: its :class:`~signage_player.Device` (identity, device API, outbox,
clock; the package ``signage_player`` is the kiosk's one door into the player's code) is
opened by :func:`open_device` and handed in, as the kiosk API, speaker and peripherals are.
``main()`` and the tests both come through here, so what is tested is what runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from PySide6.QtWidgets import QWidget

from kiosk_app.api import KioskApi
from kiosk_app.flow import ORDERS_TOPIC, FlowSettings, KioskFlow, OfflineSigner
from kiosk_app.i18n import Translator
from kiosk_app.jobs import Runner
from kiosk_app.maintenance import MaintenanceInfo, app_version
from kiosk_app.offline_pay import DeviceKeySigner
from kiosk_app.operator import OperatorPin
from kiosk_app.peripherals import PeripheralSource
from kiosk_app.settings import KioskSettings
from kiosk_app.speech import Speaker
from kiosk_app.store import CaseMemory, CatalogueStore
from kiosk_app.ui.window import KioskWindow
from kiosk_app.worker import QtRunner
from schedules.clock import Clock
from signage_player import Device, DeviceApi, Outbox

log = logging.getLogger(__name__)
OUTBOX_FILE = "outbox.sqlite3"


def open_device(settings: KioskSettings, api: DeviceApi, clock: Clock) -> Device:
    """The kiosk's identity and outbox in its data directory, with ``api`` holding its key."""
    return Device.open(Path(settings.data_dir), api, clock, outbox_name=OUTBOX_FILE)


@dataclass
class KioskApp:
    flow: KioskFlow
    window: KioskWindow
    device: Device
    runner: Runner
    translator: Translator
    catalogue_store: CatalogueStore

    closed: bool = False

    @property
    def outbox(self) -> Outbox:
        return self.device.outbox

    def close(self) -> None:
        """Stop timers, let running jobs finish, close the device (pending outbox entries stay on disk)."""
        if self.closed:
            return
        self.closed = True
        self.window.timer.stop()
        self.window.stop_watching_touches()
        if isinstance(self.runner, QtRunner):
            self.runner.wait()
        self.device.close()
        self.window.close()


def build_app(
    settings: KioskSettings,
    device: Device,
    api: KioskApi,
    speaker: Speaker,
    peripherals: PeripheralSource,
    *,
    signer: OfflineSigner | None = None,
    runner: Runner | None = None,
    attract_content: QWidget | None = None,
) -> KioskApp:
    """The kiosk on ``device`` (its clock, outbox and identity); ``signer`` defaults to its key."""
    clock, outbox, device_id = device.clock, device.outbox, device.identity.device_id
    data = Path(settings.data_dir)
    log.info("kiosk data directory: %s", data)
    log.info("outbox open, %d booking(s) waiting", outbox.count(ORDERS_TOPIC))
    if signer is None and device.paired:
        signer = DeviceKeySigner(device.identity.private_key, settings.server_url)
    store = CatalogueStore(data / "catalogue")
    cases = CaseMemory(data / "cases")
    cases.prune(clock.now())
    pin = OperatorPin(settings.operator_pin_hash) if settings.operator_pin_hash else None
    if pin is None:
        log.warning("no operator PIN configured (KIOSK_OPERATOR_PIN_HASH): maintenance screen disabled")
    runner = runner or QtRunner()
    flow = KioskFlow(
        api, runner, outbox, store, cases, signer, pin, clock.now(),
        FlowSettings(idle_seconds=settings.idle_seconds, warning_seconds=settings.warning_seconds,
                     poll_seconds=settings.poll_seconds, kiosk_id=device_id or "unpaired"),
    )
    tr = Translator(tz=ZoneInfo(settings.timezone))

    def maintenance() -> MaintenanceInfo:
        return MaintenanceInfo(
            device_id=device_id, paired=device_id is not None, server_url=settings.server_url,
            online=flow.state.online, outbox_length=outbox.count(ORDERS_TOPIC),
            peripherals=tuple(peripherals.list()), cache_bytes=store.size_bytes(), version=app_version())

    window = KioskWindow(flow, tr, speaker, clock, maintenance, store, attract_content,
                         settings.screenshot_dir)
    log.info("kiosk window built")
    return KioskApp(flow, window, device, runner, tr, store)
