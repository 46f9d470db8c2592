"""Emergency long-polls: answered as soon as the emergency generation moves, cheap for thousands.

Every process caches the emergency generation and re-reads it at most every ``refresh_s`` of the
injected clock; waiters compare against the cache, so N long-polls cost one query per interval
per process. A change committed in this process is seen at once (``core.changes`` invalidates).
Each check opens its own short session on a worker thread: nothing touches the database on the
event loop, and no connection is held while a poll waits.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from content_server.core.changes import CachedGenerations
from schedules.clock import Clock
from schedules.protocol.device import EmergencyState

log = logging.getLogger(__name__)

POLL_STEP_S = 0.2


class EmergencyNotifier:
    """Long-polls answered when the emergency generation moves, or when a scheduled emergency
    starts or ends by the clock alone (``upcoming``: a CAP alert effective later, or expiring)."""

    def __init__(
        self,
        clock: Clock,
        refresh_s: float = 0.5,
        upcoming: Callable[[Session, dt.datetime], dt.datetime | None] | None = None,
    ) -> None:
        self._clock = clock
        self._view = CachedGenerations(clock, refresh_s, scopes=False)
        self._upcoming = upcoming
        self._next: tuple[int, dt.datetime | None] | None = None  # (generation, next scheduled change)
        self._closed = False
        self.waiting = 0  # long-polls waiting for a change now (only the event loop changes it)

    def next_change(self, sessions: sessionmaker[Session], generation: int) -> dt.datetime | None:
        """The next scheduled start or end of an emergency, known per generation (blocking)."""
        cached = self._next
        now = self._clock.now()
        if cached is not None and cached[0] == generation and (cached[1] is None or cached[1] > now):
            return cached[1]
        if self._upcoming is None:
            return None
        with sessions() as session:
            found = self._upcoming(session, now)
        self._next = (generation, found)
        return found

    def invalidate(self) -> None:
        """Force the next check to read the database (after this process committed a change)."""
        self._view.invalidate()

    def generation(self, sessions: sessionmaker[Session]) -> int:
        """The cached emergency generation, re-read from the database when stale (blocking)."""
        current = self._view.current()
        if current is not None:
            return current[1]
        with sessions() as session:
            return self._view.read(session)[1]

    async def wait_for_change(
        self, known: int, timeout_s: float, sessions: sessionmaker[Session], due: dt.datetime | None = None
    ) -> int:
        """Return the generation as soon as it differs from ``known``, after ``timeout_s``, or once
        the clock reaches ``due`` (a scheduled change: the caller looks again)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            gen = await run_in_threadpool(self.generation, sessions)
            if gen != known or self._closed or loop.time() >= deadline:
                return gen
            if due is not None and self._clock.now() >= due:
                return gen
            await asyncio.sleep(min(POLL_STEP_S, max(0.0, deadline - loop.time())))

    async def long_poll(
        self,
        sessions: sessionmaker[Session],
        current: Callable[[], EmergencyState],
        known: str | None,
        wait_s: float,
    ) -> EmergencyState:
        """``current()`` at once when it differs from ``known``; otherwise when it changes, or
        after ``wait_s`` (``current`` runs on a worker thread)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        gen = await run_in_threadpool(self.generation, sessions)
        result = await run_in_threadpool(current)
        while known is not None and result.version == known:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            due = await run_in_threadpool(self.next_change, sessions, gen)
            self.waiting += 1
            log.debug("emergency long-poll waiting (%d waiting)", self.waiting)
            try:
                new_gen = await self.wait_for_change(gen, remaining, sessions, due)
            finally:
                self.waiting -= 1
            scheduled = due is not None and self._clock.now() >= due
            if new_gen == gen and not scheduled:
                break
            gen = new_gen
            result = await run_in_threadpool(current)
        return result

    def close(self) -> None:
        """Shutting down: waiting polls answer now instead of holding the stop for their wait."""
        self._closed = True
