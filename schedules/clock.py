"""Clocks: wall time (aware UTC) and monotonic time behind one small interface, plus a movable one.

Every part of the suite that needs the time takes a :class:`Clock`: the server, the player and
the kiosk run on :class:`SystemClock`; tests, benchmarks and demos move a :class:`MovableClock`.
"""

from __future__ import annotations

import datetime as dt
import threading
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
    """For tests and benchmarks: starts at ``start``; moves when told, and with real time if ``running``.

    Thread-safe: a test moves it while the app's worker threads read it.
    """

    def __init__(self, start: dt.datetime, running: bool = False) -> None:
        if start.tzinfo is None:
            raise ValueError("start: must be timezone-aware")
        self._wall0 = start
        self._mono0 = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()
        self.running = running

    def _elapsed(self) -> float:
        return self._offset + (time.monotonic() - self._mono0 if self.running else 0.0)

    def now(self) -> dt.datetime:
        with self._lock:
            return self._wall0 + dt.timedelta(seconds=self._elapsed())

    def monotonic(self) -> float:
        with self._lock:
            return self._mono0 + self._elapsed()

    def advance(self, seconds: float) -> dt.datetime:
        """Move both clocks forward; returns the new wall time (``flow.tick(clock.advance(3))``)."""
        if seconds < 0:
            raise ValueError("advance: monotonic time never goes back; use step_wall or set")
        with self._lock:
            self._offset += seconds
            return self._wall0 + dt.timedelta(seconds=self._elapsed())

    def set(self, when: dt.datetime) -> None:
        """Jump to ``when`` (both clocks move by the same amount, in either direction)."""
        with self._lock:
            self._offset += (when - (self._wall0 + dt.timedelta(seconds=self._elapsed()))).total_seconds()

    def step_wall(self, seconds: float) -> None:
        """Move the wall clock only, as an NTP step does; monotonic time is untouched."""
        with self._lock:
            self._wall0 += dt.timedelta(seconds=seconds)
