"""Runs updates beside the app: one at a time, on its own thread, as the server assigns them.

The app hands each heartbeat reply's :class:`UpdateAssignment` to :meth:`UpdateRunner.offer`
(cheap, any thread) and puts :meth:`UpdateRunner.report` into the next heartbeat. A download or
install never runs on the GUI or sync thread, and a second assignment while one runs waits for
the next offer. Both the player and the kiosk use it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from schedules.protocol.release import UpdateAssignment, UpdateReport
from signage_player.updater import state as sm
from signage_player.updater.agent import UpdateAgent, UpdateResult
from signage_player.updater.fetch import Source

log = logging.getLogger(__name__)


class UpdateRunner:
    def __init__(self, agent: UpdateAgent, source: Callable[[], Source]) -> None:
        self.agent = agent
        self._source = source
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.last_result: UpdateResult | None = None
        self.done = threading.Event()  # set after each attempt (tests and shutdown wait on it)

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
        with self._lock:
            if self.busy:
                return False
            self.done.clear()
            self._thread = threading.Thread(target=self._run, args=(assignment,), name="update", daemon=True)
            self._thread.start()
        return True

    def _run(self, assignment: UpdateAssignment) -> None:
        try:
            result = self.agent.update_to(assignment.version, self._source(), retry=assignment.retry)
            self.last_result = result
            log.info("update to %s: %s %s", assignment.version, result.outcome, result.detail)
        except Exception:  # marked boundary: an update must never take the app down
            log.exception("update to %s failed unexpectedly", assignment.version)
        finally:
            self.done.set()
