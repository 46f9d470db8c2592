"""Local wall-clock rules turned into UTC intervals: operating hours, flights, dayparts, RRULEs.

Every rule is written in the screen's local time; everything the engine compares is UTC.
Conversions go through :mod:`zoneinfo`, so DST holds in both directions: a wall-clock
time that does not exist (spring forward) maps to the instant just after the gap, and an
ambiguous one (fall back) to its first occurrence, so a 01:00-04:00 range really lasts
four hours on the night the clocks go back and two on the night they go forward.

A range whose end is 00:00 runs to midnight; a range whose end is earlier than its start
runs past midnight into the next day (it belongs to the day it starts on).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rrulestr

from schedules.errors import ScheduleError
from schedules.model import Campaign, OperatingHours, TimeRange

UTC = dt.UTC
Interval = tuple[dt.datetime, dt.datetime]
MIDNIGHT = dt.time(0, 0)
MAX_RANGE = dt.timedelta(days=400)  # a timeline is asked for days ahead, not for years
MAX_FLIGHT_DAYS = 3700  # about ten years: longer flights are a typo, and expanding them costs CPU
_RRULE_FORBIDDEN = re.compile(r"(DTSTART|EXDATE|RDATE|EXRULE|\n|\r)", re.IGNORECASE)
_SUBDAILY = re.compile(r"FREQ=(MINUTELY|SECONDLY)", re.IGNORECASE)


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The time zone called ``name``; ``ScheduleError(field="timezone")`` when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError("timezone", f"unknown time zone {name!r}") from exc


def require_aware(value: dt.datetime, field: str) -> dt.datetime:
    """``value`` in UTC; naive datetimes are refused because their meaning is a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ScheduleError(field, f"{value.isoformat()} has no time zone")
    return value.astimezone(UTC)


def require_range(start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC, refusing empty, reversed and absurdly long ranges."""
    s = require_aware(start, "start")
    e = require_aware(end, "end")
    if e <= s:
        raise ScheduleError("end", f"{end.isoformat()} is not after start {start.isoformat()}")
    if e - s > MAX_RANGE:
        raise ScheduleError("end", f"ranges longer than {MAX_RANGE.days} days are refused")
    return s, e


@lru_cache(maxsize=65536)  # campaigns share days and daypart edges: the same few conversions recur
def local_to_utc(day: dt.date, time: dt.time, tz: ZoneInfo) -> dt.datetime:
    """The UTC instant of wall-clock ``time`` on local ``day`` (gap -> after it, fold -> first)."""
    local = dt.datetime(
        day.year, day.month, day.day, time.hour, time.minute, time.second, time.microsecond, tzinfo=tz
    )
    utc = local.astimezone(UTC)
    # A wall time inside a spring-forward gap: zoneinfo applies the old offset, landing after
    # the gap, which is what we want. Nothing else to do.
    return utc


def day_range(day: dt.date, start: dt.time, end: dt.time, tz: ZoneInfo, field: str = "end") -> Interval:
    """The UTC interval of a wall-clock range starting on local ``day`` (see module doc)."""
    begin = local_to_utc(day, start, tz)
    if end == MIDNIGHT or end <= start:
        if end == start and end != MIDNIGHT:
            raise ScheduleError(field, f"range {start}-{end} is empty")
        finish = local_to_utc(day + dt.timedelta(days=1), end, tz)
    else:
        finish = local_to_utc(day, end, tz)
    return begin, finish


def local_dates(start: dt.datetime, end: dt.datetime, tz: ZoneInfo) -> list[dt.date]:
    """Local dates whose ranges may touch [start, end): one extra day before for overnight ranges."""
    first = start.astimezone(tz).date() - dt.timedelta(days=1)
    last = end.astimezone(tz).date()
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping, with touching intervals joined."""
    out: list[Interval] = []
    for a, b in sorted(intervals):
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def clip(intervals: Iterable[Interval], start: dt.datetime, end: dt.datetime) -> list[Interval]:
    return [(max(a, start), min(b, end)) for a, b in intervals if b > start and a < end]


def contains(intervals: Sequence[Interval], t: dt.datetime) -> bool:
    return any(a <= t < b for a, b in intervals)


def hours_key(hours: OperatingHours) -> tuple[object, ...]:
    """A hashable stand-in for operating hours (the model holds a dict)."""
    if hours.always_on:
        return (True, (), tuple(sorted(hours.holidays)))
    weekly = tuple(sorted((k, tuple((r.start, r.end) for r in v)) for k, v in hours.weekly.items()))
    return (False, weekly, tuple(sorted(hours.holidays)))


def _raw_on(key: tuple[object, ...], tz: ZoneInfo, start: dt.datetime, end: dt.datetime) -> list[Interval]:
    always_on, weekly, holidays = key
    assert isinstance(weekly, tuple) and isinstance(holidays, tuple)
    by_day: dict[int, tuple[tuple[dt.time, dt.time], ...]] = dict(weekly)
    raw: list[Interval] = []
    for day in local_dates(start, end, tz):
        if day in holidays:
            continue
        if always_on:
            raw.append(day_range(day, MIDNIGHT, MIDNIGHT, tz))
            continue
        for a, b in by_day.get(day.weekday(), ()):
            raw.append(day_range(day, a, b, tz, field="hours.weekly"))
    return merge(raw)


@lru_cache(maxsize=4096)
def _on_intervals(
    key: tuple[object, ...], tzname: str, start: dt.datetime, end: dt.datetime
) -> tuple[Interval, ...]:
    return tuple(clip(_raw_on(key, zone(tzname), start, end), start, end))


def is_on_at(hours: OperatingHours, tzname: str, t: dt.datetime) -> bool:
    """Whether operating hours hold at instant ``t`` (uncached: ``t`` is rarely repeated)."""
    return contains(_raw_on(hours_key(hours), zone(tzname), t, t), t)


def on_intervals(
    hours: OperatingHours, tzname: str, start: dt.datetime, end: dt.datetime
) -> tuple[Interval, ...]:
    """When the screen is on within [start, end) (UTC). ``always_on`` wins over ``weekly``."""
    return _on_intervals(hours_key(hours), tzname, start, end)


def validate_hours(hours: OperatingHours) -> None:
    for ranges in hours.weekly.values():
        for r in ranges:
            _check_range(r)


def _check_range(r: TimeRange) -> None:
    if r.start == r.end and r.end != MIDNIGHT:
        raise ScheduleError("hours.weekly", f"range {r.start}-{r.end} is empty")


@lru_cache(maxsize=4096)
def hour_starts(tzname: str, start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, ...]:
    """UTC instants in [start, end) where a local clock hour begins (also :30 and :45 zones)."""
    tz = zone(tzname)
    t = start.replace(minute=(start.minute // 15) * 15, second=0, microsecond=0)
    step = dt.timedelta(minutes=15)
    out: list[dt.datetime] = []
    while t < end:
        if t >= start:
            local = t.astimezone(tz)
            if local.minute == 0:
                out.append(t)
        t += step
    return tuple(out)


def hour_start(t: dt.datetime, tzname: str) -> dt.datetime:
    """The UTC instant the local clock hour containing ``t`` began."""
    local = t.astimezone(zone(tzname))
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


# --- RRULE -----------------------------------------------------------------------------------


def parse_rrule(rule: str, flight_start: dt.date) -> rrule:
    """Parse an RFC 5545 RRULE anchored at the flight's first local day; field ``rrule`` on error."""
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text or _RRULE_FORBIDDEN.search(text):
        raise ScheduleError("rrule", f"expected a single RRULE line without DTSTART/EXDATE, got {rule!r}")
    if _SUBDAILY.search(text):
        raise ScheduleError("rrule", "FREQ must be HOURLY or coarser")
    # UNTIL in UTC ("...Z") would clash with our floating local dates: read it as a local time.
    text = re.sub(r"(UNTIL=\d{8}(?:T\d{6})?)Z", r"\1", text, flags=re.IGNORECASE)
    try:
        parsed = rrulestr(text, dtstart=dt.datetime.combine(flight_start, MIDNIGHT))
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ScheduleError("rrule", f"malformed RRULE {rule!r}: {exc}") from exc
    if not isinstance(parsed, rrule):
        raise ScheduleError("rrule", f"expected one RRULE, got {rule!r}")
    _refuse_impossible(parsed, rule)
    return parsed


def _refuse_impossible(r: rrule, rule: str) -> None:
    # dateutil searches until year 9999 for rules that can never match (30 February):
    # refuse the common impossible month/day combinations instead of burning seconds of CPU.
    months: tuple[int, ...] = getattr(r, "_bymonth", None) or tuple(range(1, 13))
    days: tuple[int, ...] = getattr(r, "_bymonthday", None) or ()
    longest = {m: calendar.monthrange(2024, m)[1] for m in months}  # 2024: a leap year
    if days and not getattr(r, "_bynmonthday", None) and all(d > longest[m] for m in months for d in days):
        raise ScheduleError("rrule", f"{rule!r} can never occur (no month has those days)")


@lru_cache(maxsize=8192)
def rrule_dates(rule: str, flight_start: dt.date, flight_end: dt.date) -> frozenset[dt.date]:
    """Local dates within the flight on which the RRULE has an occurrence."""
    r = parse_rrule(rule, flight_start)
    # dateutil looks for a next occurrence until year 9999, so a rule that never matches again
    # costs seconds. The Gregorian calendar repeats every 400 years: expand the same rule
    # shifted to just before 9999, where that search is short, and shift the dates back.
    shift = max((dt.MAXYEAR - flight_end.year - 1) // 400 * 400, 0)

    def moved(t: dt.datetime) -> dt.datetime:
        return t.replace(year=t.year + shift)

    until = getattr(r, "_until", None)
    shifted = r.replace(
        dtstart=moved(dt.datetime.combine(flight_start, MIDNIGHT)),
        until=moved(until) if until is not None and until.year + shift <= dt.MAXYEAR else until,
    )
    begin = moved(dt.datetime.combine(flight_start, MIDNIGHT))
    end = moved(dt.datetime.combine(flight_end, dt.time.max))
    return frozenset(
        occ.date().replace(year=occ.year - shift) for occ in shifted.between(begin, end, inc=True)
    )


def validate_campaign(c: Campaign) -> None:
    """Refuse a campaign the engine cannot honour, naming the field (models may be built unchecked)."""
    if c.flight_end < c.flight_start:
        raise ScheduleError("flight_end", f"{c.flight_end} is before flight_start {c.flight_start}")
    if (c.flight_end - c.flight_start).days > MAX_FLIGHT_DAYS:
        raise ScheduleError("flight_end", f"flights longer than {MAX_FLIGHT_DAYS} days are refused")
    if (c.share_percent is None) == (c.plays_per_hour is None):
        raise ScheduleError("share_percent", "set exactly one of share_percent / plays_per_hour")
    if c.share_percent is not None and not 0 < c.share_percent <= 100:
        raise ScheduleError("share_percent", f"{c.share_percent} is not within (0, 100]")
    if c.plays_per_hour is not None and not 0 < c.plays_per_hour <= 3600:
        raise ScheduleError("plays_per_hour", f"{c.plays_per_hour} is not within 1..3600")
    if c.frequency_cap_per_hour is not None and c.frequency_cap_per_hour < 1:
        raise ScheduleError("frequency_cap_per_hour", f"{c.frequency_cap_per_hour} is below 1")
    if not c.item_ids:
        raise ScheduleError("item_ids", "a campaign needs at least one item")
    for d in c.dayparts:
        if not d.weekdays or any(not 0 <= w <= 6 for w in d.weekdays):
            raise ScheduleError("dayparts.weekdays", f"{sorted(d.weekdays)} must be non-empty, within 0..6")
        if d.start == d.end and d.end != MIDNIGHT:
            raise ScheduleError("dayparts", f"range {d.start}-{d.end} is empty")
    if c.rrule is not None:
        parse_rrule(c.rrule, c.flight_start)


def campaign_active_on(c: Campaign, day: dt.date) -> bool:
    """Whether local ``day`` is inside the flight and allowed by the RRULE."""
    if not c.flight_start <= day <= c.flight_end:
        return False
    return c.rrule is None or day in rrule_dates(c.rrule, c.flight_start, c.flight_end)


def campaign_intervals(
    c: Campaign, tzname: str, start: dt.datetime, end: dt.datetime
) -> tuple[Interval, ...]:
    """When campaign ``c`` may play within [start, end) on a screen in zone ``tzname``."""
    tz = zone(tzname)
    raw: list[Interval] = []
    for day in local_dates(start, end, tz):
        if not campaign_active_on(c, day):
            continue
        if not c.dayparts:
            raw.append(day_range(day, MIDNIGHT, MIDNIGHT, tz))
            continue
        wd = day.weekday()
        for d in c.dayparts:
            if wd in d.weekdays:
                raw.append(day_range(day, d.start, d.end, tz, field="dayparts"))
    return tuple(clip(merge(raw), start, end))


def window(
    valid_from: dt.datetime, valid_until: dt.datetime | None, start: dt.datetime, end: dt.datetime
) -> tuple[Interval, ...]:
    """An announcement's validity clipped to [start, end)."""
    a = valid_from.astimezone(UTC)
    b = end if valid_until is None else valid_until.astimezone(UTC)
    return tuple(clip([(a, b)], start, end)) if b > a else ()


def clear_caches() -> None:
    """Forget every memoised conversion (benchmarks measure cold starts with it)."""
    for f in (zone, local_to_utc, _on_intervals, hour_starts, rrule_dates):
        f.cache_clear()
    from schedules import targeting

    targeting.parse_tag_expr.cache_clear()
    targeting.predicate.cache_clear()
