"""Clocks for the app: the real UTC clock, and a movable one for tests and demos."""

from __future__ import annotations

import datetime as dt
import threading


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class MovableClock:
    """A callable clock that stays where it is put; ``advance`` moves it forward."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("MovableClock needs a timezone-aware start")
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self._now

    def advance(self, delta: dt.timedelta) -> None:
        with self._lock:
            self._now += delta

    def set(self, when: dt.datetime) -> None:
        with self._lock:
            self._now = when
