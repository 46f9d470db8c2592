"""Growing delays instead of lockouts, and failure budgets: how long a guesser must wait.

A hard lockout ("5 wrong answers lock the account for 5 minutes") lets anyone who knows a
username or a case number lock its owner out. Here a key that failed must only *wait* before its
next try, the wait doubling with each failure past a few free ones; keys are chosen per (account or
case, source), so one source's failures slow that source, not the owner. A leaky-bucket
:class:`FailureBudget` bounds the total across every source (the answer to rotating addresses).

Pure: the caller stores a :class:`Strikes` or :class:`Level` per key (a table, so every process
agrees), asks ``wait(state, now)`` before checking a secret (a wait over zero means "answer 429 with
Retry-After, do not even check") and stores ``after_failure(state, now)`` when the check fails.
``attempts_within`` is what an attacker who tries the moment they may still gets.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

_ZERO = dt.timedelta(0)


@dataclass(frozen=True)
class Strikes:
    """Recent failures of one key: how many, and when the last one was."""

    count: int
    last: dt.datetime


@dataclass(frozen=True)
class GrowingDelay:
    """``free`` failures cost nothing; then the k-th extra one costs ``first_delay * 2**k``.

    The wait is capped at ``max_delay``; a key with no failure for ``forget_after`` starts again.
    """

    free: int
    first_delay: dt.timedelta
    max_delay: dt.timedelta
    forget_after: dt.timedelta

    def __post_init__(self) -> None:
        if self.free < 0 or self.first_delay <= _ZERO or self.max_delay < self.first_delay:
            raise ValueError("GrowingDelay: need free >= 0 and 0 < first_delay <= max_delay")
        if self.forget_after <= self.max_delay:
            # else waiting out the longest delay would also wipe the count
            raise ValueError("GrowingDelay: forget_after must be longer than max_delay")

    def count(self, strikes: Strikes | None, now: dt.datetime) -> int:
        """Failures still in force at ``now``."""
        if strikes is None or now - strikes.last >= self.forget_after:
            return 0
        return strikes.count

    def delay(self, count: int) -> dt.timedelta:
        """The wait after ``count`` failures."""
        if count < self.free:
            return _ZERO
        doublings = count - self.free
        cap = self.max_delay / self.first_delay
        factor = cap if doublings >= 63 else min(cap, 2.0**doublings)
        return self.first_delay * factor

    def wait(self, strikes: Strikes | None, now: dt.datetime) -> float:
        """Seconds before this key may try again (0: now)."""
        count = self.count(strikes, now)
        if count == 0 or strikes is None:
            return 0.0
        return max(0.0, (strikes.last + self.delay(count) - now).total_seconds())

    def after_failure(self, strikes: Strikes | None, now: dt.datetime) -> Strikes:
        return Strikes(self.count(strikes, now) + 1, now)

    def attempts_within(self, period: dt.timedelta) -> int:
        """Tries an attacker gets in ``period`` from a clean start, trying whenever allowed."""
        t, strikes, n = _ZERO, None, 0
        start = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        while True:
            now = start + t
            t += dt.timedelta(seconds=self.wait(strikes, now))
            if t >= period:
                return n
            strikes = self.after_failure(strikes, start + t)
            n += 1


@dataclass(frozen=True)
class Level:
    """A leaky bucket's fill: ``amount`` failures as of ``at``."""

    amount: float
    at: dt.datetime


@dataclass(frozen=True)
class FailureBudget:
    """At most ``capacity`` failures in a burst, refilled at ``capacity`` per ``per``.

    Used across every source (all logins), so rotating addresses buys nothing beyond it.
    """

    capacity: int
    per: dt.timedelta

    def __post_init__(self) -> None:
        if self.capacity < 1 or self.per <= _ZERO:
            raise ValueError("FailureBudget: need capacity >= 1 and a positive period")

    @property
    def _rate(self) -> float:
        return self.capacity / self.per.total_seconds()

    def level(self, state: Level | None, now: dt.datetime) -> float:
        if state is None:
            return 0.0
        drained = max(0.0, (now - state.at).total_seconds()) * self._rate
        return max(0.0, state.amount - drained)

    def wait(self, state: Level | None, now: dt.datetime) -> float:
        """Seconds until one more failure fits in the budget (0: now)."""
        over = self.level(state, now) + 1 - self.capacity
        return 0.0 if over <= 0 else over / self._rate

    def after_failure(self, state: Level | None, now: dt.datetime) -> Level:
        return Level(self.level(state, now) + 1, now)

    def attempts_within(self, period: dt.timedelta) -> int:
        """Failures the budget lets through in ``period`` from empty: the burst, then the refill."""
        return self.capacity + math.floor(period.total_seconds() * self._rate + 1e-9)


@dataclass(frozen=True)
class Verdict:
    """May the attempt go ahead; if not, how long until it may (for ``Retry-After``)."""

    wait_s: float

    @property
    def allowed(self) -> bool:
        return self.wait_s <= 0

    @property
    def retry_after_s(self) -> int:
        return max(1, math.ceil(self.wait_s))


def longest(*waits: float) -> Verdict:
    """The attempt waits for the slowest of its keys."""
    return Verdict(max(waits, default=0.0))
