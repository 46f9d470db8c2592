"""Each data source fetched on its own schedule: one APScheduler job per source, inside the server.

The scheduler only decides *when*; ``run(source_id)`` (the studio service's refresh, with its own
database session) does the work, so a slow or failing source never delays another. Jobs never
overlap for one source (``max_instances=1``, late runs coalesced) and start with a small,
per-source stagger so a restart does not fetch every source at the same instant.
"""

from __future__ import annotations

import datetime as dt
import logging
import zlib
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)


def stagger_s(source_id: str, every_s: int) -> float:
    """A stable offset in [0, min(every_s, 60)) s for this source: same id, same offset."""
    return (zlib.crc32(source_id.encode()) % 1000) / 1000 * min(every_s, 60)


class SourceScheduler:
    """Jobs on ``scheduler`` (the server's own, which it starts and stops) or on a private one."""

    PREFIX = "studio-source-"

    def __init__(self, run: Callable[[str], None], scheduler: BaseScheduler | None = None) -> None:
        self._run = run
        self._own = scheduler is None
        self._scheduler = scheduler or BackgroundScheduler(timezone=dt.UTC)

    def start(self) -> None:
        if self._own:
            self._scheduler.start()

    def shutdown(self) -> None:
        if self._own and self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def put(self, source_id: str, every_s: int, now: dt.datetime) -> None:
        """Add or reschedule ``source_id``: first run after its stagger, then every ``every_s``."""
        first = now + dt.timedelta(seconds=stagger_s(source_id, every_s))
        self._scheduler.add_job(
            self._safe_run,
            IntervalTrigger(seconds=every_s, start_date=first, timezone=dt.UTC),
            args=[source_id],
            id=source_id,
            replace_existing=True,
            next_run_time=first,
        )

    def remove(self, source_id: str) -> None:
        if self._scheduler.get_job(source_id) is not None:
            self._scheduler.remove_job(source_id)

    def next_run(self, source_id: str) -> dt.datetime | None:
        job = self._scheduler.get_job(source_id)
        return job.next_run_time if job is not None else None

    def _safe_run(self, source_id: str) -> None:
        try:
            self._run(source_id)
        except Exception:  # a boundary: one source's bug must not stop its schedule
            log.exception("data source %s: refresh failed", source_id)
