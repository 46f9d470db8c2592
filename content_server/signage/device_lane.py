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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, TypeVarTuple

import anyio
import anyio.to_thread

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

THREADS = 8  # enough to overlap database round trips; few enough to leave the shared pool alone


class DeviceLane:
    """Worker threads for the screens' blocking work, ``threads`` at a time."""

    def __init__(self, threads: int = THREADS) -> None:
        self._limiter = anyio.CapacityLimiter(threads)

    async def run(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        """``fn(*args)`` on a lane thread, once one is free."""
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    @property
    def waiting(self) -> int:
        """Screens' requests waiting for a lane thread now."""
        return self._limiter.statistics().tasks_waiting
