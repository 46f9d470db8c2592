"""When live data may still be shown: the one rule the server, the manifest and the player share."""

from __future__ import annotations

import datetime as dt

CLOCK_SKEW = dt.timedelta(minutes=5)  # data stamped a little in the future (clock drift) still counts


def expires_at(fetched_at: dt.datetime, ttl: dt.timedelta) -> dt.datetime:
    return fetched_at + ttl


def is_showable(fetched_at: dt.datetime | None, ttl: dt.timedelta, now: dt.datetime) -> bool:
    """True while data fetched (or confirmed unchanged) at ``fetched_at`` is younger than ``ttl`` at ``now``.

    Stale weather is worse than none: past its time-to-live the data disappears from screens.
    """
    if fetched_at is None:
        return False
    if fetched_at.tzinfo is None or now.tzinfo is None:
        raise ValueError("fetched_at and now must be timezone-aware")
    if fetched_at - now > CLOCK_SKEW:
        return False  # from the future: a clock is wrong, do not trust it
    return now < expires_at(fetched_at, ttl)
