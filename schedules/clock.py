"""Clocks: wall time (aware UTC) and monotonic time behind one small interface, plus a movable one."""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class MovableClock:
    """For tests and benchmarks: starts at ``start``; moves when told, and with real time if ``running``."""

    def __init__(self, start: dt.datetime, running: bool = False) -> None:
        if start.tzinfo is None:
            raise ValueError("start: must be timezone-aware")
        self._wall0 = start
        self._mono0 = time.monotonic()
        self._offset = 0.0
        self.running = running

    def _elapsed(self) -> float:
        return self._offset + (time.monotonic() - self._mono0 if self.running else 0.0)

    def now(self) -> dt.datetime:
        return self._wall0 + dt.timedelta(seconds=self._elapsed())

    def monotonic(self) -> float:
        return self._mono0 + self._elapsed()

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    def set(self, when: dt.datetime) -> None:
        self._offset += (when - self.now()).total_seconds()

    def step_wall(self, seconds: float) -> None:
        """Move the wall clock only, as an NTP step does; monotonic time is untouched."""
        self._wall0 += dt.timedelta(seconds=seconds)
