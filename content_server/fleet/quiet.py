"""Quiet hours of a channel: whether a message may go now, and if not, when. Pure; time passed in."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class QuietHoursError(ValueError):
    """A quiet-hours setting that cannot be read."""


@dataclass(frozen=True)
class QuietHours:
    """Each day from ``start`` to ``end`` (local time in ``timezone``); over midnight when end < start."""

    start: dt.time
    end: dt.time
    timezone: str = "Asia/Shanghai"


def parse_time(text: str) -> dt.time:
    match = HHMM.match(text.strip())
    if match is None:
        raise QuietHoursError(f"{text!r}: use HH:MM, 00:00 to 23:59")
    return dt.time(int(match.group(1)), int(match.group(2)))


def make(start: str, end: str, timezone: str) -> QuietHours | None:
    """Quiet hours from a form's fields; None when both are empty (no quiet hours)."""
    if not start.strip() and not end.strip():
        return None
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise QuietHoursError(f"{timezone!r}: unknown time zone") from None
    quiet = QuietHours(parse_time(start), parse_time(end), timezone)
    if quiet.start == quiet.end:
        raise QuietHoursError("quiet hours must not start and end at the same time")
    return quiet


def quiet_until(quiet: QuietHours | None, now: dt.datetime) -> dt.datetime | None:
    """When the quiet period ``now`` falls in ends (UTC), or None if messages may go now."""
    if quiet is None or quiet.start == quiet.end:
        return None
    zone = ZoneInfo(quiet.timezone)
    local = now.astimezone(zone)
    t = local.time().replace(tzinfo=None)
    if quiet.start < quiet.end:
        if not quiet.start <= t < quiet.end:
            return None
        end_day = local.date()
    else:  # over midnight, e.g. 22:00 to 07:00
        if quiet.end <= t < quiet.start:
            return None
        end_day = local.date() + dt.timedelta(days=1) if t >= quiet.start else local.date()
    return dt.datetime.combine(end_day, quiet.end, zone).astimezone(dt.UTC)
