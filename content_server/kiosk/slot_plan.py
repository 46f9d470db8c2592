"""Recurring time slots: weekdays, a daily time range and a date range become concrete slots.

Pure (no ORM, no web framework): wall-clock times in the community's zone become aware datetimes
day by day, so a slot at 09:00 stays at 09:00 local time whatever the UTC offset does.
"""

from __future__ import annotations

import datetime as dt

MAX_SLOTS = 400  # more than a year of one slot a day: a typo in the dates, not a plan


class PlanError(ValueError):
    """The plan cannot be made; ``key`` names the portal's message, ``params`` its values."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def plan(
    first_day: dt.date,
    last_day: dt.date,
    weekdays: frozenset[int],
    start: dt.time,
    end: dt.time,
    tz: dt.tzinfo,
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Every (start, end) on the chosen weekdays (0 = Monday) between the two days, inclusive."""
    if last_day < first_day:
        raise PlanError("campaign.dates_order")
    if not weekdays or not weekdays <= set(range(7)):
        raise PlanError("slots.need_weekdays")
    if not start < end:
        raise PlanError("slots.times_order")
    out: list[tuple[dt.datetime, dt.datetime]] = []
    day = first_day
    while day <= last_day:
        if day.weekday() in weekdays:
            out.append((dt.datetime.combine(day, start, tz), dt.datetime.combine(day, end, tz)))
            if len(out) > MAX_SLOTS:
                raise PlanError("slots.too_many", n=MAX_SLOTS)
        day += dt.timedelta(days=1)
    return out
