"""The screens' own worker threads: a fleet starting at once never delays an operator or an emergency.

FastAPI runs blocking work on one pool of 40 worker threads, first come, first served. When a
district's screens start together (after a power cut, a server upgrade), each screen's first
heartbeat and first manifest in each process is database work: its beat written, its manifest
built and recorded as served. Hundreds of them wait for a thread, and an operator's request, an
emergency long-poll's check or a kiosk's order waits behind every one of them: tens of seconds on
two cores, long enough for an emergency to miss its 5 s and the operator's page to time out.

The screens' blocking work (a key not known here, a beat written before its reply, a manifest
poll the fast path could not answer) runs on this lane instead: at most ``threads`` at a time,
the rest queued on the event loop, so the shared pool stays free for everything else. The
screens lose no throughput: a cold start is bound by CPU, and a few threads already keep it busy
while others wait on PostgreSQL. A screen waits longer for an answer it does not hurry for.

A queue is only worth joining while it moves faster than a screen's request times out. When
more is waiting than the lane works through in ``max_wait_s`` (a district of thousands starting
together), a screen's request is refused at once with 503 and ``Retry-After``
(:class:`~content_server.core.errors.Busy`), before any work. Each screen sent away gets its own
later slot, spaced at the lane's measured pace, so the herd comes back spread out at the rate
it can be served rather than all at once; players add a little jitter of their own
(``signage_player/device_api.py:Backoff``) and never give up.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar, TypeVarTuple

import anyio
import anyio.to_thread

from content_server.core.errors import Busy

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

THREADS = 8  # enough to overlap database round trips; few enough to leave the shared pool alone
MAX_WAIT_S = 10.0  # the longest queue worth joining (SIGNAGE_DEVICE_QUEUE_S): inside a request's timeout
ALWAYS_QUEUED = 4  # per thread: a queue this short is always joined, even before any pace is known
WINDOW_S = 10.0  # the lane's pace is what it finished over the last this-many seconds
MAX_RETRY_S = 240.0  # the furthest slot given: with a player's jitter, a first manifest within 5 min


class DeviceLane:
    """Worker threads for the screens' blocking work, ``threads`` at a time; a screen is sent away
    with a time to come back rather than queued past ``max_wait_s``."""

    def __init__(
        self,
        threads: int = THREADS,
        *,
        max_wait_s: float = MAX_WAIT_S,
        clock: Callable[[], float] = time.monotonic,
        count: Callable[[str], None] | None = None,
    ) -> None:
        self._threads = threads
        self._limiter = anyio.CapacityLimiter(threads)
        self._max_wait_s = max_wait_s
        self._clock = clock  # real time: the pace is how fast this machine works, not a test's clock
        self._count = count
        self._finished: deque[float] = deque()  # when recent work finished (the event loop only)
        self._next_slot = 0.0  # the latest time a screen sent away was told to come back

    async def run(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        """``fn(*args)`` on a lane thread, once one is free; :class:`Busy` (nothing done) when the
        queue ahead would take longer than ``max_wait_s``."""
        self.admit()
        try:
            return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)
        finally:
            self._finished.append(self._clock())
            self._forget_old()

    def admit(self) -> None:
        """Join the queue, or raise :class:`Busy` with this caller's own slot to come back in."""
        waiting = self.waiting
        if waiting < self._threads * ALWAYS_QUEUED:
            return
        pace = self.pace()
        if pace > 0 and (waiting + 1) / pace <= self._max_wait_s:
            return
        now = self._clock()
        if pace > 0:
            step, drained = 1 / pace, now + waiting / pace
        else:  # nothing finished lately: the queue's length is all there is to go by
            step, drained = self._max_wait_s / (self._threads * ALWAYS_QUEUED), now + self._max_wait_s
        self._next_slot = min(max(self._next_slot + step, drained), now + MAX_RETRY_S)
        if self._count is not None:
            self._count("device_lane_busy")
        raise Busy(self._next_slot - now)

    def pace(self) -> float:
        """Work finished per second over the last ``WINDOW_S`` (0 when none)."""
        now = self._forget_old()
        done = self._finished
        return len(done) / max(1.0, now - done[0]) if done else 0.0

    def _forget_old(self) -> float:
        now = self._clock()
        done = self._finished
        while done and done[0] < now - WINDOW_S:
            done.popleft()
        return now

    @property
    def waiting(self) -> int:
        """Screens' requests waiting for a lane thread now."""
        return self._limiter.statistics().tasks_waiting
