"""Runs updates beside the app: one at a time, on its own thread, as the server assigns them.

The app hands each heartbeat reply's :class:`UpdateAssignment` to :meth:`UpdateRunner.offer`
(cheap, any thread), a USB stick's root to :meth:`UpdateRunner.offer_stick`, and puts
:meth:`UpdateRunner.report` into the next heartbeat; its health marks go to
:meth:`UpdateRunner.mark`. A download or install never runs on the GUI or sync thread, and a
second assignment while one runs waits for the next offer. Both the player and the kiosk use
it, built by :func:`updates_for_device` when the update guard started the app.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import requests

from schedules.protocol.release import UpdateAssignment, UpdateReport, running_platform
from signage_player.device import Device
from signage_player.updater import state as sm
from signage_player.updater.agent import UpdateAgent, UpdateResult, command_restart
from signage_player.updater.fetch import HttpFetcher, Source
from signage_player.updater.stick import update_from_stick

log = logging.getLogger(__name__)


class UpdateRunner:
    # the health marks a new version reports (state.PLAYER_HEALTH), and the exit code that asks
    # the update guard to start the app again at once
    PAINTED, SYNCED, HEARTBEAT = sm.PAINTED, sm.SYNCED, sm.HEARTBEAT
    RESTART_EXIT_CODE = sm.RESTART_EXIT_CODE

    def __init__(self, agent: UpdateAgent, source: Callable[[], Source]) -> None:
        self.agent = agent
        self._source = source
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.last_result: UpdateResult | None = None
        self.done = threading.Event()  # set after each attempt (tests and shutdown wait on it)

    @property
    def version(self) -> str:
        return self.agent.own_version

    def report(self) -> UpdateReport:
        return self.agent.report()

    def mark(self, mark: str) -> None:
        try:
            self.agent.mark(mark)
        except OSError as exc:  # a full or read-only disk must not take the screen down
            log.warning("update: could not record health mark %s: %s", mark, exc)

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def offer(self, assignment: UpdateAssignment | None) -> bool:
        """Start updating to ``assignment`` unless nothing is to do or an update runs; True if started."""
        if assignment is None or assignment.version == self.agent.own_version:
            return False
        why_not = sm.may_update_to(self.agent.journal.read(), assignment.version)
        if why_not is not None and not assignment.retry:
            return False  # failed here before, or an update is still on trial: nothing to start
        return self._start(
            f"update to {assignment.version}",
            lambda: self.agent.update_to(assignment.version, self._source(), retry=assignment.retry),
        )

    def offer_stick(self, root: Path) -> bool:
        """A USB stick (or import directory) at ``root`` may carry a signed release: try it."""
        return self._start(f"update from {root}", lambda: update_from_stick(self.agent, root))

    def _start(self, what: str, job: Callable[[], UpdateResult]) -> bool:
        with self._lock:
            if self.busy:
                return False
            self.done.clear()
            self._thread = threading.Thread(target=self._run, args=(what, job), name="update", daemon=True)
            self._thread.start()
        return True

    def _run(self, what: str, job: Callable[[], UpdateResult]) -> None:
        try:
            result = job()
            self.last_result = result
            log.info("%s: %s %s", what, result.outcome, result.detail)
        except Exception:  # marked boundary: an update must never take the app down
            log.exception("%s failed unexpectedly", what)
        finally:
            self.done.set()


def updates_for_device(device: Device, server_url: str, version: str, restart: Callable[[], None],
                       restart_cmd: str | None = None,
                       required_health: tuple[str, ...] = sm.PLAYER_HEALTH) -> UpdateRunner | None:
    """The runner for an app the update guard started (None otherwise: a developer's run).

    Downloads authenticate with the device's key as it is at that moment (a screen paired again
    has a new one). ``restart`` ends the app for the guard to start the new version, unless a
    ``restart_cmd`` is configured.
    """
    policy = sm.Policy(required_health=required_health)
    restarter = command_restart(restart_cmd) if restart_cmd else restart
    agent = UpdateAgent.from_environment(version, running_platform(), device.clock, restarter, policy)
    if agent is None:
        log.info("not started by the update guard: software updates are off")
        return None
    session = requests.Session()

    def source() -> Source:
        key = device.identity.device_key or ""
        return Source.server(server_url, HttpFetcher(session, {"Authorization": f"Bearer {key}"}))

    log.info("software updates on (install prefix %s)", agent.layout.prefix)
    return UpdateRunner(agent, source)
