"""Wiring: builds the flow, stores, runner and window from settings, the device and the adapters handed in.

The kiosk is a screen too: its :class:`~signage_player.Device` (identity, device API, outbox,
clock; the package ``signage_player`` is the kiosk's one door into the player's code) is
opened by :func:`open_device` and handed in, as the kiosk API, speaker and peripherals are.
On it the kiosk runs the player's screen parts: :class:`~signage_player.Workers` (threads and
jobs), a :class:`~signage_player.Reporter` (heartbeats with the page, peripherals and sync state,
the attract loop's proof of play from the outbox, masked screenshots), the
:class:`~signage_player.EmergencyWatch` long-poll (the emergency over every page) and a
:class:`~signage_player.CommandRunner` (remote commands). The attract loop is the player's
:class:`~signage_player.Playback` when a media back end is given; without one (no libVLC) the
kiosk has no signage content and still reports, answers and obeys.
``main()`` and the tests both come through here, so what is tested is what runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget

from kiosk_app.api import KioskApi
from kiosk_app.attract import CACHE_BYTES, AttractLoop
from kiosk_app.flow import ORDERS_TOPIC, FlowSettings, KioskFlow, OfflineSigner
from kiosk_app.i18n import Translator
from kiosk_app.jobs import Runner
from kiosk_app.maintenance import MaintenanceInfo, app_version
from kiosk_app.offline_pay import DeviceKeySigner
from kiosk_app.operator import OperatorPin
from kiosk_app.peripherals import PeripheralSource
from kiosk_app.screen import KioskScreen
from kiosk_app.settings import KioskSettings
from kiosk_app.speech import Speaker
from kiosk_app.store import CaseMemory, CatalogueStore
from kiosk_app.ui.emergency import EmergencyPanel
from kiosk_app.ui.window import KioskWindow
from kiosk_app.worker import QtRunner
from schedules.clock import Clock
from schedules.model import ContentItem, ScreenClass
from schedules.protocol.device import CommandKind, CommandOutcome, DeviceCommand
from signage_player import (
    Backlight,
    CommandRunner,
    Device,
    DeviceApi,
    EmergencyWatch,
    MediaBackend,
    Outbox,
    Playback,
    Reporter,
    ScreenCommands,
    UpdateRunner,
    Workers,
    sync_handlers,
)

log = logging.getLogger(__name__)
OUTBOX_FILE = "outbox.sqlite3"
Done = Callable[[CommandOutcome, str], None]
Handler = Callable[[DeviceCommand, Done], None]


def open_device(settings: KioskSettings, api: DeviceApi, clock: Clock) -> Device:
    """The kiosk's identity and outbox in its data directory, with ``api`` holding its key."""
    return Device.open(Path(settings.data_dir), api, clock, outbox_name=OUTBOX_FILE)


@dataclass
class KioskApp:
    settings: KioskSettings
    flow: KioskFlow
    window: KioskWindow
    device: Device
    runner: Runner
    translator: Translator
    catalogue_store: CatalogueStore
    workers: Workers
    reporter: Reporter
    emergency: EmergencyWatch
    commands: CommandRunner
    playback: Playback | None = None  # the attract loop's content (None without a media back end)
    attract: AttractLoop | None = None
    timers: list[QTimer] = field(default_factory=list)

    closed: bool = False
    started: bool = False

    @property
    def outbox(self) -> Outbox:
        return self.device.outbox

    def start(self) -> None:
        """Timers, reports, and, once paired, the long-polls and the periodic uploads."""
        s, w = self.settings, self.workers
        self.started = True
        self.window.start_timers()
        self.reporter.start()
        w.start()
        if self.attract is not None:
            timer = QTimer(self.window)
            timer.setInterval(int(s.attract_sync_s * 1000))
            timer.timeout.connect(self.attract.sync)
            timer.start()
            self.timers.append(timer)
            self.attract.sync()
        if self.device.paired:
            w.every("heartbeat", self.reporter.heartbeat, s.heartbeat_interval_s, 5.0, first_s=2)
            w.every("plays", self.reporter.plays_job, s.plays_interval_s, 5.0, first_s=5)
            w.spawn(self.emergency.run, "emergency")
            w.spawn(self.commands.run, "commands")
        log.info("kiosk services started")

    def close(self) -> None:
        """Stop timers, let running jobs finish, close the device (pending outbox entries stay on disk)."""
        if self.closed:
            return
        self.closed = True
        self.window.timer.stop()
        for timer in self.timers:
            timer.stop()
        self.window.stop_watching_touches()
        self.reporter.stop()
        if self.started:
            self.workers.stop()
        if self.attract is not None:
            self.attract.close()  # the play in progress goes to the outbox as cut short
        if isinstance(self.runner, QtRunner):
            self.runner.wait()
        self.commands.close()
        self.device.close()
        self.window.close()

    def _on_unauthorized(self) -> None:
        """The server refused the key (the kiosk was revoked): stop reporting; bookings wait in the outbox."""
        log.warning("the server refused the kiosk's key: reports and commands stop until it is paired again")
        self.workers.cancel_jobs()
        self.workers.stopping.set()


def build_app(
    settings: KioskSettings,
    device: Device,
    api: KioskApi,
    speaker: Speaker,
    peripherals: PeripheralSource,
    *,
    backend: MediaBackend | None = None,
    signer: OfflineSigner | None = None,
    runner: Runner | None = None,
    attract_content: QWidget | None = None,
    quit: Callable[[int], None] | None = None,
    updates: UpdateRunner | None = None,
) -> KioskApp:
    """The kiosk on ``device`` (its clock, outbox and identity); ``signer`` defaults to its key.

    ``backend`` (libVLC in production) plays the attract loop; ``quit(code)`` ends the app for a
    remote restart (the event loop's exit by default); ``updates`` (when the update guard started the
    kiosk) rides on its heartbeats, which also meet a new version's health gate.
    """
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
                         settings.screenshot_dir, read_aloud=settings.read_aloud)
    playback, attract = None, None
    if backend is not None:  # proof of play goes to the device's outbox, as on a player
        playback = Playback(device.api, data / "signage", backend, clock, cache_bytes=CACHE_BYTES,
                            screen_class=ScreenClass.KIOSK, outbox=outbox)
        attract = AttractLoop(playback, runner)
        window.attract.set_content(playback.view)
        flow.subscribe(attract.on_state)
        attract.on_state(flow.state)
    workers = Workers()
    screen = KioskScreen(flow, window, playback, peripherals, speaker, store)
    emergency = EmergencyWatch(device.api, settings.emergency_wait_s, workers.stopping)
    shown = ShownEmergency(emergency, window.emergency)
    reporter = Reporter(device, screen, app_version(), workers, emergency_version=lambda: shown.version,
                        updates=updates)
    shown.beat_now = lambda: workers.spawn(reporter.heartbeat, "heartbeat")
    emergency.changed.connect(window.show_emergency)
    emergency.changed.connect(shown.on_changed)  # after the window's slot (same thread, in order)
    window.emergency.on_painted = shown.on_painted
    if playback is not None and attract is not None:
        emergency.changed.connect(playback.loop.set_remote_emergency)
        playback.manifest_live.connect(emergency.on_manifest)  # after playback's own slot
        reporter.newer_manifest.connect(attract.sync)
    commands = CommandRunner(device, {}, workers, wait_s=settings.commands_wait_s)
    commands.handlers.update(_command_handlers(settings, device, flow, window, speaker, workers, reporter,
                                               commands, playback, attract, quit))
    log.info("kiosk window built")
    app = KioskApp(settings, flow, window, device, runner, tr, store, workers, reporter, emergency, commands,
                   playback, attract)
    workers.unauthorized.connect(app._on_unauthorized)
    return app


class ShownEmergency:
    """The emergency state the kiosk's heartbeats name: the long-poll's version once the window has
    painted its notice (received but not yet on screen is not shown), an ended one at once. Either
    way a heartbeat goes at once, so the server learns within moments, not at the next beat."""

    def __init__(self, watch: EmergencyWatch, panel: EmergencyPanel) -> None:
        self.watch, self.panel = watch, panel
        self.version: str | None = None  # read by the heartbeat thread
        self._pending: str | None = None
        self.beat_now: Callable[[], object] = lambda: None

    def on_changed(self, item: ContentItem | None, _loudness: str = "") -> None:
        """GUI thread, after the window took the change: on show once painted (an end: now)."""
        self._pending = self.watch.version
        if item is None or self.panel.painted is item:  # ended, or painted before this slot ran
            self.on_painted()

    def on_painted(self) -> None:
        """GUI thread: the panel painted the notice."""
        self.version = self._pending
        self.beat_now()


def _command_handlers(settings: KioskSettings, device: Device, flow: KioskFlow, window: KioskWindow,
                      speaker: Speaker, workers: Workers, reporter: Reporter, runner: CommandRunner,
                      playback: Playback | None, attract: AttractLoop | None,
                      quit: Callable[[int], None] | None) -> dict[CommandKind, Handler]:
    """The kiosk's remote commands: the shared ones, plus sync and cache (the catalogue, the outbox and
    the attract content) and screen power (a black cover, the backlight commands, the loop paused)."""
    common = ScreenCommands(runner.flush_answers, workers, window.identify, lambda: device.identity.device_id,
                            reboot_cmd=settings.reboot_cmd, volume_cmd=settings.volume_cmd,
                            screenshot=reporter.screenshot_png, upload=device.api.send_screenshot,
                            quit=quit, volume_applied=speaker.set_volume)
    content = sync_handlers(playback, workers) if playback is not None else {}
    backlight = Backlight(settings.backlight_on_cmd, settings.backlight_off_cmd)

    def then_content(cmd: DeviceCommand, done: Done) -> Callable[[bool], None]:
        """After the catalogue answered: the attract content's part of the same command, if any."""
        def after(ok: bool) -> None:
            catalogue = flow.state.catalogue
            said = f"catalogue {catalogue.version[:12] if catalogue else 'none'}"
            if not ok:
                done(CommandOutcome.FAILED, "the catalogue could not be fetched (server unreachable)")
            elif cmd.kind in content:
                content[cmd.kind](cmd, lambda outcome, detail: done(outcome, f"{said}; {detail}"))
            else:
                done(CommandOutcome.DONE, f"{said}; no attract content on this kiosk")
        return after

    def sync_now(cmd: DeviceCommand, done: Done) -> None:
        flow.sync_outbox(device.clock.now())  # bookings waiting in the outbox go now too
        flow.refresh_catalogue(then=then_content(cmd, done))

    def clear_cache(cmd: DeviceCommand, done: Done) -> None:
        flow.forget_catalogue()
        flow.refresh_catalogue(then=then_content(cmd, done))

    def screen_power(cmd: DeviceCommand, done: Done) -> None:
        on = bool(cmd.screen_on)
        window.set_screen_off(not on)
        if attract is not None:
            attract.set_screen_off(not on)
        backlight.set_power(on)
        done(CommandOutcome.DONE, "screen on" if on else "screen off")

    return {**common.handlers(), CommandKind.SYNC_NOW: sync_now, CommandKind.CLEAR_CACHE: clear_cache,
            CommandKind.SCREEN_POWER: screen_power}
