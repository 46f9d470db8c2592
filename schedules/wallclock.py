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
import warnings
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


def earliest_local_date(now: dt.datetime, tznames: Iterable[str]) -> dt.date:
    """The earliest date the screens' local calendars are on at ``now``: the first day a booking on
    them can still play. Not ``now.date()``: from 16:00 to 24:00 UTC that is yesterday in Shanghai,
    a day that is over there, which forecasts and availability checks then counted."""
    return min(now.astimezone(zone(name)).date() for name in tznames)


# --- RRULE -----------------------------------------------------------------------------------
#
# A rule names local dates (FREQ=DAILY/WEEKLY/MONTHLY/YEARLY and their BY* parts) or, with
# BYHOUR or FREQ=HOURLY, local clock hours: an occurrence at 09:00 makes 09:00-10:00 playable,
# exactly as a daypart would. Every part dateutil expands is honoured the way dateutil expands
# it (the tests compare the two); parts that would mean less than an hour (BYMINUTE, BYSECOND,
# FREQ=MINUTELY/SECONDLY) and combinations RFC 5545 forbids are refused naming the field.

_RRULE_PARTS = frozenset({
    "FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO",
    "BYMONTH", "BYSETPOS", "BYHOUR", "BYMINUTE", "BYSECOND", "WKST",
})  # fmt: skip
_FREQS = frozenset({"YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY"})
_ORDINAL_DAY = re.compile(r"^[+-]?\d")
DAYPART_HINT = "use the campaign's dayparts for times within an hour (e.g. 09:30-11:00)"


def _rrule_parts(text: str, rule: str) -> dict[str, str]:
    """The rule's NAME=VALUE parts, upper-cased; refuses unknown, repeated or sub-hour parts."""
    parts: dict[str, str] = {}
    for token in text.split(";"):
        name, sep, value = token.strip().partition("=")
        name = name.strip().upper()
        if not sep or not name or not value.strip():
            raise ScheduleError("rrule", f"malformed RRULE {rule!r}: {token.strip()!r} is not NAME=VALUE")
        if name not in _RRULE_PARTS:
            raise ScheduleError("rrule", f"{name} is not an RRULE part (RFC 5545)")
        if name in parts:
            raise ScheduleError("rrule", f"{name} appears twice")
        parts[name] = value.strip().upper()
    freq = parts.get("FREQ")
    if freq is None:
        raise ScheduleError("rrule", f"malformed RRULE {rule!r}: FREQ is required")
    if freq not in _FREQS:
        raise ScheduleError("rrule", f"FREQ={freq} is not a frequency")
    if freq in ("MINUTELY", "SECONDLY"):
        raise ScheduleError("rrule", f"FREQ={freq} is finer than an hour: {DAYPART_HINT}")
    for name in ("BYMINUTE", "BYSECOND"):
        if name in parts and parts[name] not in ("0", "00"):
            raise ScheduleError("rrule", f"{name} is finer than an hour: {DAYPART_HINT}")
    if "COUNT" in parts and "UNTIL" in parts:
        raise ScheduleError("rrule", "COUNT and UNTIL may not both be given (RFC 5545): keep one")
    # RFC 5545 3.3.10: which BY* parts each frequency may carry.
    if "BYWEEKNO" in parts and freq != "YEARLY":
        raise ScheduleError("rrule", "BYWEEKNO is only valid with FREQ=YEARLY")
    if "BYYEARDAY" in parts and freq in ("DAILY", "WEEKLY", "MONTHLY"):
        raise ScheduleError("rrule", f"BYYEARDAY is not valid with FREQ={freq}")
    if "BYMONTHDAY" in parts and freq == "WEEKLY":
        raise ScheduleError("rrule", "BYMONTHDAY is not valid with FREQ=WEEKLY")
    numbered = "BYDAY" in parts and any(_ORDINAL_DAY.match(d.strip()) for d in parts["BYDAY"].split(","))
    if numbered and (freq not in ("MONTHLY", "YEARLY") or "BYWEEKNO" in parts):
        raise ScheduleError(
            "rrule", "numbered weekdays (e.g. 1MO, -1FR) need FREQ=MONTHLY or YEARLY without BYWEEKNO"
        )
    _refuse_empty_setpos(parts, freq)
    return parts


def _refuse_empty_setpos(parts: dict[str, str], freq: str) -> None:
    """BYSETPOS beyond the occurrences of one hour or day never matches, and dateutil would
    search every hour until year 9999 to find that out (seconds of CPU per rule)."""
    if "BYSETPOS" not in parts or freq not in ("HOURLY", "DAILY"):
        return
    per_period = 1 if freq == "HOURLY" else len([h for h in parts.get("BYHOUR", "0").split(",") if h.strip()])
    try:
        positions = [abs(int(x)) for x in parts["BYSETPOS"].split(",")]
    except ValueError:
        raise ScheduleError("rrule", f"BYSETPOS={parts['BYSETPOS']} is not a list of numbers") from None
    if all(p > per_period for p in positions):
        unit = "hour" if freq == "HOURLY" else "day"
        raise ScheduleError(
            "rrule",
            f"BYSETPOS={parts['BYSETPOS']} can never match: FREQ={freq} gives {per_period} "
            f"occurrence(s) per {unit}",
        )


def is_hourly(parts: dict[str, str]) -> bool:
    """Whether a rule's occurrences are clock hours rather than whole local days."""
    return parts["FREQ"] == "HOURLY" or "BYHOUR" in parts


def parse_rrule(rule: str, flight_start: dt.date) -> rrule:
    """Parse an RFC 5545 RRULE anchored at the flight's first local day; field ``rrule`` on error."""
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text or _RRULE_FORBIDDEN.search(text):
        raise ScheduleError("rrule", f"expected a single RRULE line without DTSTART/EXDATE, got {rule!r}")
    _rrule_parts(text, rule)
    # UNTIL in UTC ("...Z") would clash with our floating local dates: read it as a local time.
    text = re.sub(r"(UNTIL=\d{8}(?:T\d{6})?)Z", r"\1", text, flags=re.IGNORECASE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # dateutil only warns about some inconsistent rules
            parsed = rrulestr(text, dtstart=dt.datetime.combine(flight_start, MIDNIGHT))
    except (ValueError, TypeError, KeyError, IndexError, DeprecationWarning) as exc:
        raise ScheduleError("rrule", f"malformed RRULE {rule!r}: {exc}") from exc
    if not isinstance(parsed, rrule):
        raise ScheduleError("rrule", f"expected one RRULE, got {rule!r}")
    _refuse_impossible(parsed, rule)
    return parsed


def rrule_is_hourly(rule: str) -> bool:
    """Whether ``rule`` (already valid) selects clock hours (BYHOUR or FREQ=HOURLY)."""
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    return is_hourly(_rrule_parts(text, rule))


def _refuse_impossible(r: rrule, rule: str) -> None:
    # dateutil searches until year 9999 for rules that can never match (30 February):
    # refuse the common impossible month/day combinations instead of burning seconds of CPU.
    months: tuple[int, ...] = getattr(r, "_bymonth", None) or tuple(range(1, 13))
    days: tuple[int, ...] = getattr(r, "_bymonthday", None) or ()
    longest = {m: calendar.monthrange(2024, m)[1] for m in months}  # 2024: a leap year
    if days and not getattr(r, "_bynmonthday", None) and all(d > longest[m] for m in months for d in days):
        raise ScheduleError("rrule", f"{rule!r} can never occur (no month has those days)")


@lru_cache(maxsize=8192)
def rrule_occurrences(rule: str, flight_start: dt.date, flight_end: dt.date) -> tuple[dt.datetime, ...]:
    """The rule's occurrences within the flight, as naive local wall-clock datetimes."""
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
    return tuple(occ.replace(year=occ.year - shift) for occ in shifted.between(begin, end, inc=True))


@lru_cache(maxsize=8192)
def rrule_dates(rule: str, flight_start: dt.date, flight_end: dt.date) -> frozenset[dt.date]:
    """Local dates within the flight on which the RRULE has an occurrence."""
    return frozenset(t.date() for t in rrule_occurrences(rule, flight_start, flight_end))


@lru_cache(maxsize=8192)
def rrule_hours(
    rule: str, flight_start: dt.date, flight_end: dt.date
) -> dict[dt.date, frozenset[int]] | None:
    """Local clock hours per date for an hourly rule (BYHOUR, FREQ=HOURLY); None for a daily one."""
    if not rrule_is_hourly(rule):
        return None
    out: dict[dt.date, set[int]] = {}
    for t in rrule_occurrences(rule, flight_start, flight_end):
        out.setdefault(t.date(), set()).add(t.hour)
    return {d: frozenset(h) for d, h in out.items()}


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """The overlap of two sorted, non-overlapping interval lists."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


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
    """Whether local ``day`` is inside the flight and the RRULE has an occurrence on it."""
    if not c.flight_start <= day <= c.flight_end:
        return False
    return c.rrule is None or day in rrule_dates(c.rrule, c.flight_start, c.flight_end)


def rrule_allows(c: Campaign, local: dt.datetime) -> bool:
    """Whether the RRULE allows local wall-clock time ``local`` (its day, and its hour if hourly)."""
    if c.rrule is None:
        return True
    day = local.date()
    if not campaign_active_on(c, day):
        return False
    hours = rrule_hours(c.rrule, c.flight_start, c.flight_end)
    return hours is None or local.hour in hours.get(day, frozenset())


def campaign_intervals(
    c: Campaign, tzname: str, start: dt.datetime, end: dt.datetime
) -> tuple[Interval, ...]:
    """When campaign ``c`` may play within [start, end) on a screen in zone ``tzname``.

    Flight, RRULE and dayparts must all allow a moment. With a daily rule a daypart belongs to
    the day it starts on; an hourly rule's hours are intersected with the dayparts.
    """
    tz = zone(tzname)
    hourly = rrule_hours(c.rrule, c.flight_start, c.flight_end) if c.rrule is not None else None
    raw: list[Interval] = []
    hour_raw: list[Interval] = []
    for day in local_dates(start, end, tz):
        if hourly is not None:
            if not c.flight_start <= day <= c.flight_end:
                continue
            for h in hourly.get(day, ()):
                hour_raw.append(day_range(day, dt.time(h), dt.time((h + 1) % 24), tz))
        elif not campaign_active_on(c, day):
            continue
        if not c.dayparts:
            raw.append(day_range(day, MIDNIGHT, MIDNIGHT, tz))
            continue
        wd = day.weekday()
        for d in c.dayparts:
            if wd in d.weekdays:
                raw.append(day_range(day, d.start, d.end, tz, field="dayparts"))
    allowed = merge(raw)
    if hourly is not None:
        allowed = intersect(allowed, merge(hour_raw))
    return tuple(clip(allowed, start, end))


def window(
    valid_from: dt.datetime, valid_until: dt.datetime | None, start: dt.datetime, end: dt.datetime
) -> tuple[Interval, ...]:
    """An announcement's validity clipped to [start, end)."""
    a = valid_from.astimezone(UTC)
    b = end if valid_until is None else valid_until.astimezone(UTC)
    return tuple(clip([(a, b)], start, end)) if b > a else ()


def clear_caches() -> None:
    """Forget every memoised conversion (benchmarks measure cold starts with it)."""
    for f in (zone, local_to_utc, _on_intervals, hour_starts, rrule_dates, rrule_hours, rrule_occurrences):
        f.cache_clear()
    from schedules import targeting

    targeting.parse_tag_expr.cache_clear()
    targeting.predicate.cache_clear()
