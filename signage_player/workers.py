"""A screen's background work: worker threads and periodic jobs, started and stopped together.

Network work never runs on the GUI thread. Each job and thread runs inside one boundary:
a refused device key (:class:`~signage_player.device_api.Unauthorized`) from anywhere becomes
one :attr:`Workers.unauthorized` signal, delivered on the GUI thread; any other exception is
logged and the next run retries. Periodic jobs run on APScheduler's background threads.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from PySide6.QtCore import QObject, Signal

from signage_player.device_api import Unauthorized

log = logging.getLogger(__name__)


class Workers(QObject):
    unauthorized = Signal()  # the server refused the device key: pair again

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.stopping = threading.Event()  # long waits (long-polls, pairing) watch it
        self._threads: list[threading.Thread] = []
        self._scheduler = BackgroundScheduler(timezone=dt.UTC)
        self._running = False

    def start(self) -> None:
        self._scheduler.start()
        self._running = True

    def stop(self, join_s: float = 2.0) -> None:
        """Stop the jobs (waiting for a running one) and tell the threads; wait ``join_s`` for each."""
        self.stopping.set()
        if self._running:
            self._running = False
            self._scheduler.shutdown(wait=True)
        for th in self._threads:
            th.join(timeout=join_s)  # a long-poll may still be waiting on the server: a daemon thread

    def spawn(self, target: Callable[[], object], name: str) -> threading.Thread:
        """Run ``target`` once on its own daemon thread, inside the boundary."""
        th = threading.Thread(target=self.guarded(target, name), name=name, daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [th]
        th.start()
        return th

    def every(self, name: str, job: Callable[[], object], seconds: float, jitter_s: float = 0.0,
              first_s: float = 0.0) -> None:
        """Run ``job`` every ``seconds`` (± ``jitter_s``), the first time after ``first_s``; one at a time."""
        first = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=first_s)
        self._scheduler.add_job(self.guarded(job, name), IntervalTrigger(seconds=seconds, jitter=jitter_s),
                                id=name, next_run_time=first, max_instances=1, coalesce=True,
                                replace_existing=True)

    def run_soon(self, name: str) -> None:
        """Bring the periodic job ``name`` forward to now (a hint that there is work)."""
        job = self._scheduler.get_job(name)
        if job is not None:
            job.modify(next_run_time=dt.datetime.now(dt.UTC))

    def cancel_jobs(self) -> None:
        for job in self._scheduler.get_jobs():
            job.remove()

    def guarded(self, target: Callable[[], object], name: str) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except Unauthorized:
                self.unauthorized.emit()
            except Exception:  # a worker boundary: log, the next run retries
                log.exception("%s failed", name)

        return run
