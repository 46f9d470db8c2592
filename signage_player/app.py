"""The running player: :func:`build_player` makes every part up front; :class:`Player` only runs them.

The parts (each its own module, each usable alone): the :class:`~signage_player.device.Device`
(identity, API, outbox), :class:`~signage_player.playback.Playback` (cache, sync, loop, view),
:class:`~signage_player.pairing.Pairing`, :class:`~signage_player.reporting.Reporter`
(heartbeats, proof of play, screenshots), :class:`~signage_player.emergency.EmergencyWatch`,
:class:`~signage_player.commands.CommandRunner` (remote commands),
:class:`~signage_player.usb.BundleImporter`, :class:`~signage_player.backlight.Backlight` and
:class:`~signage_player.workers.Workers` (threads and periodic jobs). The player wires them,
shows the pairing screen or the signage, and starts and stops everything explicitly, logging
each step (:meth:`Player.start`, :meth:`Player.shutdown`).
"""

from __future__ import annotations

import logging
import random

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QStackedWidget

from schedules.clock import Clock
from schedules.protocol.device import CommandKind, CommandOutcome, DeviceCommand
from signage_player.backlight import Backlight
from signage_player.client import ServerClient
from signage_player.commands import CommandRunner, Done, Handler, ScreenCommands, sync_handlers
from signage_player.config import PlayerSettings
from signage_player.device import Device
from signage_player.device_api import DeviceApi
from signage_player.emergency import EmergencyWatch
from signage_player.identify import IdentifyBanner
from signage_player.identity import DeviceIdentity
from signage_player.media import MediaBackend
from signage_player.pairing import Pairing, PairingScreen
from signage_player.playback import Playback
from signage_player.playloop import PLAYS_TOPIC
from signage_player.reporting import PlaybackScreen, Reporter
from signage_player.restart import Restart
from signage_player.updater.runner import updates_for_device
from signage_player.usb import BundleImporter
from signage_player.watchdog import Watchdog
from signage_player.webpage import playable_kinds
from signage_player.workers import Workers

log = logging.getLogger(__name__)


class Player(QObject):
    """Every part of a running player, built by :func:`build_player`; start, run, shut down."""

    def __init__(self, settings: PlayerSettings, device: Device, backend: MediaBackend, workers: Workers,
                 playback: Playback, window: QStackedWidget, pairing_screen: PairingScreen, pairing: Pairing,
                 reporter: Reporter, emergency: EmergencyWatch, commands: CommandRunner, usb: BundleImporter,
                 backlight: Backlight, watchdog: Watchdog, restart: Restart | None = None) -> None:
        super().__init__()
        self.restart = restart or Restart()
        self.settings, self.device, self.backend, self.workers = settings, device, backend, workers
        self.playback, self.window, self.pairing_screen = playback, window, pairing_screen
        self.pairing, self.reporter, self.emergency, self.commands = pairing, reporter, emergency, commands
        self.usb, self.backlight, self.watchdog = usb, backlight, watchdog
        self.started = False
        pairing.paired.connect(self._on_paired)
        workers.unauthorized.connect(self._on_unauthorized)
        reporter.newer_manifest.connect(self._on_newer_manifest)
        emergency.changed.connect(self._on_emergency_changed)

    def start(self) -> None:
        s = self.settings
        log.info("player %s starting: server %s, data %s", s.version, s.server_url, s.data_dir)
        log.info("cache and outbox open (%d plays waiting)", self.device.outbox.count(PLAYS_TOPIC))
        self.started = True  # from here on, shutdown() stops whatever did start
        self._show_window()
        self.reporter.start()
        self.watchdog.start()  # READY=1, then WATCHDOG=1 from this thread (systemd restarts a hang)
        self.workers.start()
        self.usb.start()
        self.playback.show_stored()
        self.workers.spawn(self.playback.verify_cache, "verify-cache")
        if self.device.paired:
            self._go_online()
        else:
            self._pair()
        self.playback.loop.start()
        log.info("player started")

    def shutdown(self) -> None:
        if not self.started:
            return
        self.started = False
        log.info("player stopping")
        self.watchdog.stop()
        self.reporter.stop()
        self.usb.stop()
        self.workers.stop()
        self.playback.loop.stop()  # records the play in progress as cut short
        self.commands.close()
        self.device.close()
        self.backend.close()
        self.window.close()
        log.info("player stopped")

    def sync_now(self) -> bool:
        """One sync round on the calling thread (tests, tools)."""
        return self.playback.sync_now()

    def _show_window(self) -> None:
        s = self.settings
        self.window.resize(s.width, s.height)
        if s.window or s.screenshot_dir is not None:
            self.window.show()
        else:
            self.window.setCursor(Qt.CursorShape.BlankCursor)
            self.window.showFullScreen()

    def _pair(self) -> None:
        self.window.setCurrentWidget(self.pairing_screen)
        self.pairing.start()

    def _go_online(self) -> None:
        self.window.setCurrentWidget(self.playback.view)
        s, w = self.settings, self.workers
        w.every("sync", self.playback.sync_job, s.poll_interval_s, s.poll_jitter_s)
        w.every("heartbeat", self.reporter.heartbeat, s.heartbeat_interval_s, 5.0, first_s=2)
        w.every("plays", self.reporter.plays_job, s.plays_interval_s, 5.0, first_s=5)
        w.spawn(self.emergency.run, "emergency")
        w.spawn(self.commands.run, "commands")
        log.info("online services scheduled")

    def _on_paired(self, _ident: DeviceIdentity) -> None:
        self._go_online()

    def _on_unauthorized(self) -> None:
        """The server refused our key (screen revoked): forget it and pair again."""
        if not self.device.paired:
            return
        log.warning("the server refused the device key: pairing again")
        self.device.forget_pairing()
        self.workers.cancel_jobs()
        self._pair()

    def _on_newer_manifest(self) -> None:
        self.workers.run_soon("sync")

    def _on_emergency_changed(self, _item: object, _loudness: str = "") -> None:
        """An emergency started or ended: the manifest changed with it, fetch it now (not at the next
        poll: an ended one must not linger in the main zone's schedule)."""
        self.workers.run_soon("sync")


def build_player(settings: PlayerSettings, backend: MediaBackend, clock: Clock, *,
                 api: DeviceApi | None = None, rand: random.Random | None = None) -> Player:
    """Every part of the player, wired; nothing runs until :meth:`Player.start`.

    ``api`` defaults to the real :class:`~signage_player.client.ServerClient` for
    ``settings.server_url``; tests pass a fake server's client.
    """
    s = settings
    rand = rand or random.Random()
    if api is None:
        limit = s.download_limit_kb_s * 1000 if s.download_limit_kb_s else None
        api = ServerClient(s.server_url, max_bytes_per_s=limit, item_kinds=playable_kinds())
    device = Device.open(s.data_dir, api, clock)
    restart = Restart()
    updates = updates_for_device(device, s.server_url, s.version, restart.requested.emit,
                                 s.update_restart_cmd)
    workers = Workers()
    playback = Playback(api, s.data_dir, backend, clock, cache_bytes=s.cache_budget_bytes,
                        outbox=device.outbox, langs=s.langs, crossfade_ms=s.crossfade_ms,
                        retry_s=min(10.0, s.poll_interval_s), rand=rand)
    window = QStackedWidget()
    window.setWindowTitle("signage-player")
    pairing_screen = PairingScreen()
    window.addWidget(playback.view)
    window.addWidget(pairing_screen)
    pairing = Pairing(device, s.version, "player", workers, pairing_screen)
    emergency = EmergencyWatch(api, s.emergency_wait_s, workers.stopping, rand)
    reporter = Reporter(device, PlaybackScreen(playback, window), s.version, workers, screenshot_file=(
        s.screenshot_dir / "screen.png" if s.screenshot_dir is not None else None),
        screenshot_every_s=s.screenshot_every_s, emergency_version=lambda: emergency.version,
        updates=updates)
    emergency.changed.connect(playback.loop.set_remote_emergency)
    playback.manifest_live.connect(emergency.on_manifest)  # after playback's own slot: program first
    usb = BundleImporter(device, playback.syncer, playback.cache, usb=s.usb, import_dir=s.import_dir,
                         updates=updates)
    backlight = Backlight(s.backlight_on_cmd, s.backlight_off_cmd)
    playback.loop.screen_power.connect(backlight.set_power)
    commands = _commands(s, device, workers, playback, window, reporter)
    player = Player(s, device, backend, workers, playback, window, pairing_screen, pairing, reporter,
                    emergency, commands, usb, backlight, Watchdog(), restart)
    log.info("player built")
    return player


def _commands(s: PlayerSettings, device: Device, workers: Workers, playback: Playback, window: QStackedWidget,
              reporter: Reporter) -> CommandRunner:
    """Remote commands on the player: the shared ones, its content's sync, and the screen's power."""
    banner = IdentifyBanner(window, device.clock)
    handlers: dict[CommandKind, Handler] = {}
    runner = CommandRunner(device, handlers, workers, wait_s=s.commands_wait_s)
    common = ScreenCommands(runner.flush_answers, workers, banner, lambda: device.identity.device_id,
                            reboot_cmd=s.reboot_cmd, volume_cmd=s.volume_cmd,
                            screenshot=reporter.screenshot_png, upload=device.api.send_screenshot)

    def screen_power(cmd: DeviceCommand, done: Done) -> None:
        playback.loop.hold_power(bool(cmd.screen_on))
        done(CommandOutcome.DONE, "screen on" if cmd.screen_on else "screen off until the hours switch it")

    runner.handlers.update({**common.handlers(), **sync_handlers(playback, workers),
                            CommandKind.SCREEN_POWER: screen_power})
    return runner


__all__ = ["Player", "build_player"]
