"""Remote commands on a screen: heard on a long-poll, each done at most once, each answered.

:class:`CommandRunner` holds the server's command long-poll (``GET /device/commands``, beside the
emergency long-poll) on a worker thread. Each command goes through one rule (:func:`plan`): a
command addressed to another device is refused and never run; one this device has seen before
is answered again from the :class:`CommandJournal` (an SQLite file, written before anything
runs, so a crash or restart never runs a command twice); a new one is handed to its handler on
the GUI thread. A handler calls ``done(outcome, detail)`` once, from any thread; the answer is
written to the journal and then sent (again after a failure, until the server has it).

Handlers come from the app (player or kiosk) as a mapping from :class:`CommandKind`; what both
share (restart, reboot, volume through the site's command, identify, screenshot) is
:class:`ScreenCommands`. A kind the app has no handler for is answered "failed".
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

from schedules.clock import Clock
from schedules.protocol.device import IDENTIFY_SECONDS, CommandAck, CommandKind, CommandOutcome, DeviceCommand
from signage_player.device import Device
from signage_player.device_api import Backoff, ClientError, HttpStatusError, Unauthorized
from signage_player.errors import PlayerError
from signage_player.hooks import HookError, run_hook
from signage_player.identify import IdentifyBanner
from signage_player.playback import Playback
from signage_player.updater.state import RESTART_EXIT_CODE  # the one exit code that means "start me again"
from signage_player.workers import Workers

log = logging.getLogger(__name__)

JOURNAL_FILE = "commands.sqlite3"
KEEP_DAYS = 30

Done = Callable[[CommandOutcome, str], None]
Handler = Callable[[DeviceCommand, Done], None]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS commands (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,          -- started | done | failed
    detail TEXT NOT NULL DEFAULT '',
    received_at TEXT NOT NULL,
    finished_at TEXT,
    acked INTEGER NOT NULL DEFAULT 0
);
"""


class JournalError(PlayerError):
    """The command journal cannot be opened or written: commands are not run without it."""


@dataclass(frozen=True)
class JournalEntry:
    id: str
    kind: str
    state: str
    detail: str
    finished_at: dt.datetime | None
    acked: bool

    def ack(self) -> CommandAck:
        assert self.finished_at is not None
        return CommandAck(outcome=CommandOutcome(self.state), detail=self.detail[:500],
                          finished_at=self.finished_at)


class CommandJournal:
    """Which commands this device has started, finished and answered; survives kills (WAL, FULL)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open the command journal {self.path}: {exc}") from exc

    def begin(self, cmd: DeviceCommand, now: dt.datetime) -> bool:
        """Note a command as started; False when it was already known (then it must not run)."""
        cur = self._write("INSERT OR IGNORE INTO commands (id, kind, state, received_at) "
                          "VALUES (?, ?, 'started', ?)", (cmd.id, cmd.kind.value, now.isoformat()))
        return cur.rowcount == 1

    def finish(self, command_id: str, outcome: CommandOutcome, detail: str, now: dt.datetime) -> None:
        self._write("UPDATE commands SET state = ?, detail = ?, finished_at = ?, acked = 0 "
                    "WHERE id = ? AND state = 'started'",
                    (outcome.value, detail[:500], now.isoformat(), command_id))

    def answered(self, command_id: str) -> None:
        self._write("UPDATE commands SET acked = 1 WHERE id = ?", (command_id,))

    def unanswer(self, command_id: str) -> None:
        """The server asks again: it has no answer, so send ours once more."""
        self._write("UPDATE commands SET acked = 0 WHERE id = ? AND state != 'started'", (command_id,))

    def get(self, command_id: str) -> JournalEntry | None:
        rows = self._read("SELECT id, kind, state, detail, finished_at, acked FROM commands WHERE id = ?",
                          (command_id,))
        return rows[0] if rows else None

    def unanswered(self) -> list[JournalEntry]:
        return self._read("SELECT id, kind, state, detail, finished_at, acked FROM commands "
                          "WHERE state != 'started' AND acked = 0 ORDER BY received_at", ())

    def started(self) -> list[JournalEntry]:
        return self._read("SELECT id, kind, state, detail, finished_at, acked FROM commands "
                          "WHERE state = 'started' ORDER BY received_at", ())

    def prune(self, now: dt.datetime) -> None:
        """Forget answered commands older than the longest a server keeps one waiting (7 days) and more."""
        cutoff = (now - dt.timedelta(days=KEEP_DAYS)).isoformat()
        self._write("DELETE FROM commands WHERE acked = 1 AND received_at < ?", (cutoff,))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, params: tuple[object, ...]) -> sqlite3.Cursor:
        with self._lock:
            try:
                return self._db.execute(sql, params)
            except sqlite3.Error as exc:
                raise JournalError(f"command journal write failed: {exc}") from exc

    def _read(self, sql: str, params: tuple[object, ...]) -> list[JournalEntry]:
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [JournalEntry(r[0], r[1], r[2], r[3], dt.datetime.fromisoformat(r[4]) if r[4] else None,
                             bool(r[5])) for r in rows]


class Step(StrEnum):
    RUN = "run"  # new, and ours: run it
    ANSWER_AGAIN = "answer_again"  # finished before (the answer was lost): send the answer again
    WAIT = "wait"  # started in this run and still going: its answer will come
    REFUSE = "refuse"  # addressed to another device: never run, never answered


def plan(cmd: DeviceCommand, device_id: str | None, known: JournalEntry | None) -> Step:
    """The one rule for what a device does with a command it was handed."""
    if device_id is None or cmd.device_id != device_id:
        return Step.REFUSE
    if known is None:
        return Step.RUN
    return Step.WAIT if known.state == "started" else Step.ANSWER_AGAIN


class CommandRunner(QObject):
    received = Signal(object)  # DeviceCommand to run: long-poll thread -> GUI thread
    finished = Signal(str, str, str)  # command id, outcome, detail (once written to the journal)
    refused = Signal(str, str)  # command id, the device it was addressed to

    def __init__(self, device: Device, handlers: Mapping[CommandKind, Handler], workers: Workers, *,
                 wait_s: float = 20.0, journal: CommandJournal | None = None,
                 rand: random.Random | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.device, self.workers, self.wait_s = device, workers, wait_s
        self.handlers = dict(handlers)
        self.journal = journal or CommandJournal(device.data_dir / JOURNAL_FILE)
        self.after = 0  # the highest command number seen in this run
        self._backoff = Backoff(base_s=2, cap_s=60, rand=(rand or random.Random()).random)
        self._answer_lock = threading.Lock()
        self.received.connect(self._on_received)

    @property
    def clock(self) -> Clock:
        return self.device.clock

    # -- worker threads ----------------------------------------------------------------------

    def run(self) -> None:
        """Long-poll until ``workers.stopping``; a refused key (Unauthorized) propagates (pair again)."""
        self.recover()
        stopping = self.workers.stopping
        while not stopping.is_set():
            self.send_answers()
            try:
                found = self.device.api.commands(self.after, self.wait_s)
            except Unauthorized:
                raise
            except ClientError as exc:
                log.debug("command poll: %s", exc)
                stopping.wait(self._backoff.failed(exc.retry_after_s))
                continue
            self._backoff.succeeded()
            for cmd in found.commands:
                self.after = max(self.after, cmd.seq)
                self.take(cmd)

    def recover(self) -> None:
        """At start: commands that were running when the app stopped are finished, never re-run.

        A restart or reboot that was started did happen (we are running again); anything else
        was cut short and is answered "failed", to be sent again by an operator if still wanted.
        """
        now = self.clock.now()
        for entry in self.journal.started():
            if entry.kind in (CommandKind.RESTART_APP.value, CommandKind.REBOOT.value):
                self.journal.finish(entry.id, CommandOutcome.DONE, "the app started again", now)
            else:
                self.journal.finish(entry.id, CommandOutcome.FAILED,
                                    "interrupted: the app stopped before it finished (not run again)", now)
        self.journal.prune(now)

    def take(self, cmd: DeviceCommand) -> Step:
        """Apply :func:`plan` to one command handed over by the server."""
        step = plan(cmd, self.device.identity.device_id, self.journal.get(cmd.id))
        if step is Step.REFUSE:
            log.warning("refused command %s (%s): addressed to %s, not to this device", cmd.id, cmd.kind,
                        cmd.device_id)
            self.refused.emit(cmd.id, cmd.device_id)
        elif step is Step.ANSWER_AGAIN:
            self.journal.unanswer(cmd.id)
            self.send_answers()
        elif step is Step.RUN and self.journal.begin(cmd, self.clock.now()):
            log.info("command %s: %s", cmd.id, cmd.kind.value)
            self.received.emit(cmd)
        return step

    def send_answers(self) -> int:
        """Send every finished, unanswered command's outcome; stops at the first network failure."""
        sent = 0
        with self._answer_lock:
            for entry in self.journal.unanswered():
                try:
                    self.device.api.ack_command(entry.id, entry.ack())
                except Unauthorized:
                    raise
                except HttpStatusError as exc:
                    if exc.status not in (404, 410, 422):
                        log.info("command answer kept for later: %s", exc)
                        break
                    log.warning("the server does not take the answer to %s: %s", entry.id, exc)
                except ClientError as exc:
                    log.info("command answer kept for later: %s", exc)
                    break
                self.journal.answered(entry.id)
                sent += 1
        return sent

    def flush_answers(self, timeout_s: float = 5.0) -> None:
        """Send the answers now and wait a little (before a restart or reboot ends this process)."""
        th = threading.Thread(target=self._send_quietly, name="command-answers", daemon=True)
        th.start()
        th.join(timeout_s)

    def _send_quietly(self) -> None:
        try:
            self.send_answers()
        except ClientError as exc:
            log.info("command answers not sent before stopping: %s", exc)

    # -- GUI thread --------------------------------------------------------------------------

    def _on_received(self, cmd: DeviceCommand) -> None:
        handler = self.handlers.get(cmd.kind)
        done = self._done_for(cmd)
        if handler is None:
            done(CommandOutcome.FAILED, f"{cmd.kind.value} is not supported on this device")
            return
        try:
            handler(cmd, done)
        except Exception as exc:  # a handler boundary: the command fails, the screen carries on
            log.exception("command %s (%s) failed", cmd.id, cmd.kind.value)
            done(CommandOutcome.FAILED, f"{type(exc).__name__}: {exc}")

    def _done_for(self, cmd: DeviceCommand) -> Done:
        once = threading.Lock()

        def done(outcome: CommandOutcome, detail: str) -> None:
            if not once.acquire(blocking=False):
                return  # a handler answers once; a second answer is a bug, not a new outcome
            self.journal.finish(cmd.id, outcome, detail, self.clock.now())
            log.info("command %s (%s) %s: %s", cmd.id, cmd.kind.value, outcome.value, detail)
            self.finished.emit(cmd.id, outcome.value, detail)
            self.workers.spawn(self.send_answers, "command-answers")

        return done

    def close(self) -> None:
        self.journal.close()


class ScreenCommands:
    """The handlers every screen has: restart, reboot, volume, identify, screenshot.

    ``quit(code)`` ends the app's event loop; ``screenshot()`` grabs (GUI thread) and uploads
    (worker) what the screen shows and says what it sent; ``volume_applied(percent)`` sets what
    the app plays itself (media, speech) besides the site's ``volume_cmd``.
    """

    def __init__(self, runner_answers: Callable[[], None], workers: Workers, banner: IdentifyBanner,
                 device_id: Callable[[], str | None], *, reboot_cmd: str | None, volume_cmd: str | None,
                 screenshot: Callable[[], bytes], upload: Callable[[bytes], None],
                 quit: Callable[[int], None] | None = None,
                 volume_applied: Callable[[int], None] | None = None) -> None:
        self.flush, self.workers, self.banner, self.device_id = runner_answers, workers, banner, device_id
        self.reboot_cmd, self.volume_cmd = reboot_cmd, volume_cmd
        self.screenshot, self.upload = screenshot, upload
        self.quit = quit or (lambda code: QCoreApplication.exit(code))
        self.volume_applied = volume_applied
        self.volume: int | None = None

    def handlers(self) -> dict[CommandKind, Handler]:
        return {
            CommandKind.RESTART_APP: self.restart_app,
            CommandKind.REBOOT: self.reboot,
            CommandKind.IDENTIFY: self.identify,
            CommandKind.SCREENSHOT: self.take_screenshot,
            CommandKind.SET_VOLUME: self.set_volume,
        }

    def restart_app(self, cmd: DeviceCommand, done: Done) -> None:
        """Answer first (the journal has it even if sending fails), then end with the restart code."""
        done(CommandOutcome.DONE, "restarting the app")
        self.flush()
        log.info("restarting the app (exit code %d) as an operator asked", RESTART_EXIT_CODE)
        QTimer.singleShot(0, lambda: self.quit(RESTART_EXIT_CODE))

    def reboot(self, cmd: DeviceCommand, done: Done) -> None:
        if not self.reboot_cmd:
            done(CommandOutcome.FAILED, "no reboot command is configured on this device (reboot_cmd)")
            return
        done(CommandOutcome.DONE, "rebooting")
        self.flush()
        try:
            run_hook(self.reboot_cmd, "reboot")
        except HookError as exc:
            log.error("reboot could not start after it was answered: %s", exc)

    def set_volume(self, cmd: DeviceCommand, done: Done) -> None:
        percent = cmd.volume if cmd.volume is not None else 0
        if self.volume_cmd is None and self.volume_applied is None:
            done(CommandOutcome.FAILED, "no volume control on this device (volume_cmd)")
            return
        try:
            if self.volume_cmd:
                run_hook(self.volume_cmd, "volume", percent=percent)
        except HookError as exc:
            done(CommandOutcome.FAILED, str(exc))
            return
        if self.volume_applied is not None:
            self.volume_applied(percent)
        self.volume = percent
        done(CommandOutcome.DONE, f"volume {percent}%")

    def identify(self, cmd: DeviceCommand, done: Done) -> None:
        device_id = self.device_id() or cmd.device_id
        self.banner.show_for(cmd.screen_name or device_id, device_id)
        done(CommandOutcome.DONE, f"showing the name for {IDENTIFY_SECONDS} s")

    def take_screenshot(self, cmd: DeviceCommand, done: Done) -> None:
        png = self.screenshot()  # GUI thread: the grab; the upload goes to a worker

        def upload() -> None:
            try:
                self.upload(png)
            except ClientError as exc:
                done(CommandOutcome.FAILED, f"upload failed: {exc}")
                if isinstance(exc, Unauthorized):
                    raise
                return
            done(CommandOutcome.DONE, f"screenshot sent ({len(png)} bytes)")

        self.workers.spawn(upload, "screenshot")


def sync_handlers(playback: Playback, workers: Workers) -> dict[CommandKind, Handler]:
    """Sync now, and clear the cache and fetch everything again, for a screen's signage content."""

    def sync(refetch: bool, done: Done) -> None:
        try:
            went_live = playback.sync_now(refetch=refetch)
        except Unauthorized as exc:
            done(CommandOutcome.FAILED, f"the server refused the key: {exc}")
            raise
        except ClientError as exc:
            done(CommandOutcome.FAILED, f"sync failed: {exc}")
            return
        st = playback.syncer.status
        version = (st.live_version or "none")[:12]
        state = "went live" if went_live else "in play"
        if st.missing:
            done(CommandOutcome.FAILED, f"manifest {version} {state}; {len(st.missing)} asset(s) not fetched")
        else:
            done(CommandOutcome.DONE, f"manifest {version} {state}; every asset verified")

    def sync_now(cmd: DeviceCommand, done: Done) -> None:
        workers.spawn(lambda: sync(False, done), "command-sync")

    def clear_cache(cmd: DeviceCommand, done: Done) -> None:
        workers.spawn(lambda: sync(True, done), "command-refetch")

    return {CommandKind.SYNC_NOW: sync_now, CommandKind.CLEAR_CACHE: clear_cache}
