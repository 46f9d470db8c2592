"""Rate limiting of case lookups: how many wrong answers, in what window, lock out for how long.

The policy is pure: given the times of recent failures for one key (a case number, or a
device) and ``now``, it says whether a lookup may proceed and, if not, when to retry.
Where the failures are stored is the caller's business (a table, so all processes agree).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class LockoutDecision:
    allowed: bool
    retry_after_seconds: int = 0


@dataclass(frozen=True)
class LockoutPolicy:
    """``max_failures`` wrong answers within ``window`` lock the key for ``lockout``."""

    max_failures: int = 5
    window: dt.timedelta = dt.timedelta(minutes=15)
    lockout: dt.timedelta = dt.timedelta(minutes=15)

    def horizon(self, now: dt.datetime) -> dt.datetime:
        """Failures older than this no longer matter; storage may forget them."""
        return now - self.window - self.lockout

    def decide(self, failures: Iterable[dt.datetime], now: dt.datetime) -> LockoutDecision:
        """Locked while the ``max_failures``-th most recent failure inside a window is recent.

        The lockout starts at the failure that reached the limit and lasts ``lockout``.
        """
        times = sorted(t for t in failures if t > self.horizon(now))
        locked_until: dt.datetime | None = None
        for i in range(self.max_failures - 1, len(times)):
            if times[i] - times[i - self.max_failures + 1] <= self.window:
                until = times[i] + self.lockout
                if locked_until is None or until > locked_until:
                    locked_until = until
        if locked_until is not None and locked_until > now:
            return LockoutDecision(False, max(1, math.ceil((locked_until - now).total_seconds())))
        return LockoutDecision(True)
