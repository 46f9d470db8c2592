"""The Qt ``Runner``: blocking jobs run on a QThreadPool; their answers come back on the UI thread.

A job's callback travels through a queued signal of a relay object that lives on the UI
thread, so widgets are only ever touched there and a slow server never freezes a touch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)
T = TypeVar("T")


class _Relay(QObject):
    delivered = Signal(object)

    @Slot(object)
    def _on_delivered(self, call: Callable[[], None]) -> None:
        call()


def _run(job: Callable[[], T], relay: _Relay, done: Callable[[T], None],
         failed: Callable[[Exception], None]) -> None:
    """One job on a pool thread; its answer travels back through the relay."""
    try:
        result = job()
    except Exception as exc:  # boundary: every failure goes back to the UI thread
        error = exc
        relay.delivered.emit(lambda: failed(error))
        return
    relay.delivered.emit(lambda: done(result))


class QtRunner:
    """``Runner`` on a private thread pool; ``wait()`` lets shutdown and tests drain it."""

    def __init__(self, max_threads: int = 3) -> None:
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(max_threads)
        self._relay = _Relay()
        self._relay.delivered.connect(self._relay._on_delivered)

    def submit(self, job: Callable[[], T], done: Callable[[T], None],
               failed: Callable[[Exception], None]) -> None:
        # A plain callable, not a QRunnable subclass: PySide records a started QRunnable as a child
        # of the pool after start() returns, so a job that already finished (and was deleted) stays
        # referenced for ever, with its closures and result: a leak per fast job.
        self.pool.start(partial(_run, job, self._relay, done, failed))

    def wait(self, msecs: int = 30_000) -> bool:
        return self.pool.waitForDone(msecs)
