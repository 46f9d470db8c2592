"""The Qt ``Runner``: blocking jobs run on a QThreadPool; their answers come back on the UI thread.

A job's callback travels through a queued signal of a relay object that lives on the UI
thread, so widgets are only ever touched there and a slow server never freezes a touch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)
T = TypeVar("T")


class _Relay(QObject):
    delivered = Signal(object)

    @Slot(object)
    def _on_delivered(self, call: Callable[[], None]) -> None:
        call()


class _Job(QRunnable):
    def __init__(self, job: Callable[[], object], relay: _Relay, done: Callable[[object], None],
                 failed: Callable[[Exception], None]) -> None:
        super().__init__()
        self._job, self._relay, self._done, self._failed = job, relay, done, failed

    def run(self) -> None:
        try:
            result = self._job()
        except Exception as exc:  # boundary: every failure goes back to the UI thread
            error = exc
            self._relay.delivered.emit(lambda: self._failed(error))
            return
        self._relay.delivered.emit(lambda: self._done(result))


class QtRunner:
    """``Runner`` on a private thread pool; ``wait()`` lets shutdown and tests drain it."""

    def __init__(self, max_threads: int = 3) -> None:
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(max_threads)
        self._relay = _Relay()
        self._relay.delivered.connect(self._relay._on_delivered)

    def submit(self, job: Callable[[], T], done: Callable[[T], None],
               failed: Callable[[Exception], None]) -> None:
        self.pool.start(_Job(job, self._relay, done, failed))  # type: ignore[arg-type]

    def wait(self, msecs: int = 30_000) -> bool:
        return self.pool.waitForDone(msecs)
