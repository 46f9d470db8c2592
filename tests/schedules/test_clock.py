"""The one clock interface: the movable test clock moves when told, wall steps leave monotonic time alone."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from schedules.clock import Clock, MovableClock, SystemClock

T0 = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)


def test_movable_clock_moves_only_when_told() -> None:
    clock = MovableClock(T0)
    mono = clock.monotonic()
    assert clock.now() == T0 and clock.monotonic() == mono
    assert clock.advance(90) == T0 + dt.timedelta(seconds=90) == clock.now()
    assert clock.monotonic() == mono + 90
    clock.step_wall(-3600)  # NTP corrects the wall clock: monotonic time does not jump
    assert clock.now() == T0 + dt.timedelta(seconds=90 - 3600) and clock.monotonic() == mono + 90
    clock.set(T0 + dt.timedelta(days=1))
    assert clock.now() == T0 + dt.timedelta(days=1)
    with pytest.raises(ValueError, match="never goes back"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="timezone-aware"):
        MovableClock(dt.datetime(2026, 1, 1))


def test_movable_clock_is_safe_to_move_while_other_threads_read_it() -> None:
    clock = MovableClock(T0)
    seen: list[dt.datetime] = []

    def read() -> None:
        seen.extend(clock.now() for _ in range(2000))

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    for _ in range(2000):
        clock.advance(1)
    for t in readers:
        t.join()
    assert clock.now() == T0 + dt.timedelta(seconds=2000)
    assert all(T0 <= s <= clock.now() and s.tzinfo is not None for s in seen)


def test_both_clocks_satisfy_the_protocol() -> None:
    clocks: list[Clock] = [SystemClock(), MovableClock(T0, running=True)]
    for c in clocks:
        assert c.now().tzinfo is not None and c.monotonic() <= c.monotonic()
