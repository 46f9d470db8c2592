"""Signage form fields into the engine's values: daily hours, dayparts, targeting. Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from content_server.portal.forms import FormError, parse_time
from schedules.model import Daypart, OperatingHours, ScreenClass, Targeting, TimeRange


def daily_hours(on: str, off: str) -> OperatingHours:
    """Every day from ``on`` to ``off``; both empty means always on."""
    start, end = parse_time(on), parse_time(off)
    if start is None and end is None:
        return OperatingHours()
    if start is None or end is None:
        raise FormError("campaign.need_times")
    return OperatingHours(always_on=False, weekly={d: (TimeRange(start=start, end=end),) for d in range(7)})


def hours_fields(hours: Mapping[str, Any] | None) -> tuple[str, str]:
    """The on/off fields for stored hours (first range of Monday), empty when always on."""
    parsed = OperatingHours.model_validate(hours or {})
    if parsed.always_on or not parsed.weekly:
        return "", ""
    first = next(iter(parsed.weekly.values()))
    if not first:
        return "", ""
    return first[0].start.strftime("%H:%M"), first[0].end.strftime("%H:%M")


def daypart(weekdays: Iterable[str], *ranges: tuple[str, str]) -> tuple[Daypart, ...]:
    """Dayparts from weekday boxes and up to a few time ranges (e.g. 07:00-09:00 and 17:00-20:00).

    Each range is two times or two blanks; no times and nothing (or everything) ticked = all day.
    """
    days = frozenset(int(d) for d in weekdays if d.isdigit() and 0 <= int(d) <= 6)
    times: list[tuple[dt.time, dt.time]] = []
    for start, end in ranges:
        t_start, t_end = parse_time(start), parse_time(end)
        if (t_start is None) != (t_end is None):
            raise FormError("campaign.need_times")
        if t_start is not None and t_end is not None:
            times.append((t_start, t_end))
    if not times:
        if not days or len(days) == 7:
            return ()
        times = [(dt.time(0, 0), dt.time(0, 0))]
    on = days or frozenset(range(7))
    return tuple(Daypart(weekdays=on, start=a, end=b) for a, b in times)


def targeting(
    screen_classes: Iterable[str], groups: Iterable[str], buildings: Iterable[str] = (), tag_expr: str = ""
) -> Targeting:
    """Targeting from checkboxes; buildings become an OR of ``building:<n>`` tags."""
    classes = frozenset(ScreenClass(c) for c in screen_classes if c in ScreenClass.__members__.values())
    parts = []
    chosen = sorted({b.strip() for b in buildings if b.strip()})
    if chosen:
        parts.append(" OR ".join(f"building:{b}" for b in chosen))
    if tag_expr.strip():
        parts.append(tag_expr.strip())
    expr = None if not parts else parts[0] if len(parts) == 1 else " AND ".join(f"({p})" for p in parts)
    return Targeting(screen_classes=classes, groups=frozenset(g for g in groups if g), tag_expr=expr)
