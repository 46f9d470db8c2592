"""The lookup lockout policy, with a clock moved by the test."""

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from content_server.kiosk.lockout import LockoutPolicy

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
M = dt.timedelta(minutes=1)


def test_four_failures_do_not_lock_five_do() -> None:
    policy = LockoutPolicy(max_failures=5, window=15 * M, lockout=15 * M)
    fails = [T0 + i * M for i in range(4)]
    assert policy.decide(fails, T0 + 4 * M).allowed
    fails.append(T0 + 4 * M)
    d = policy.decide(fails, T0 + 5 * M)
    assert not d.allowed and d.retry_after_seconds == 14 * 60
    assert policy.decide(fails, T0 + 19 * M + dt.timedelta(seconds=1)).allowed


def test_failures_spread_beyond_the_window_do_not_lock() -> None:
    policy = LockoutPolicy(max_failures=3, window=10 * M, lockout=10 * M)
    fails = [T0, T0 + 11 * M, T0 + 22 * M]
    assert policy.decide(fails, T0 + 23 * M).allowed


@given(st.lists(st.integers(0, 3600), max_size=4), st.integers(0, 7200))
def test_fewer_failures_than_the_limit_never_lock(offsets: list[int], later: int) -> None:
    policy = LockoutPolicy(max_failures=5)
    fails = [T0 + dt.timedelta(seconds=o) for o in offsets]
    assert policy.decide(fails, T0 + dt.timedelta(seconds=3600 + later)).allowed
