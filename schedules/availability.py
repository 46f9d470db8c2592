"""Can a new campaign's requested share fit? Yes, or no with the conflicting screens and hours.

Capacity per local clock hour and screen is the class's ad capacity,
``min(max_ad_share, 100 - min_announcement_share)``: the community share is reserved even in
hours without announcements, because operators may announce at any time. Booked load in an
hour is the sum of the shares of the approved campaigns that target the screen and may play
at any moment of that hour (``plays_per_hour`` converted through the campaign's mean item
duration on that class). A request fits when its share is at most the free capacity in every
hour it would play; otherwise it is refused, never silently diluted, and the answer names the
largest share that would fit everywhere.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from schedules.engine import ScheduleEngine, engine_for, validate_screen
from schedules.errors import ScheduleError
from schedules.loop import effective_duration
from schedules.model import Campaign, Catalogue, Screen
from schedules.targeting import parse_tag_expr, predicate
from schedules.wallclock import (
    Interval,
    campaign_intervals,
    hour_starts,
    hours_key,
    local_to_utc,
    on_intervals,
    validate_campaign,
    zone,
)

_EPS = 1e-9


class Conflict(BaseModel):
    """One screen, one local date, a run of local clock hours where the request does not fit."""

    model_config = ConfigDict(frozen=True)

    screen_id: str
    date: dt.date  # local
    weekday: int  # 0 = Monday
    start: dt.time  # local, inclusive
    end: dt.time  # local, exclusive; 00:00 = midnight
    requested_percent: float
    free_percent: float


class Availability(BaseModel):
    model_config = ConfigDict(frozen=True)

    fits: bool
    max_share_percent: float  # largest share that fits on every targeted screen and hour
    conflicts: tuple[Conflict, ...]
    requested_percent: float  # the request as a share (plays per hour converted, largest over classes)
    screens: int  # targeted screens on which the request would play in the period
    unplayable_screen_ids: tuple[str, ...] = ()  # targeted, but none of its items is valid there


def share_on(c: Campaign, engine: ScheduleEngine, screen: Screen) -> float | None:
    """The campaign's share of loop time on this screen's class, None when nothing of it may play."""
    rules = engine.rules_for(screen.screen_class)
    items = engine.catalogue.items
    durations = [
        d
        for i in c.item_ids
        if i in items
        and (d := effective_duration(items[i], screen.screen_class, screen.orientation, rules.min_dwell_s))
        is not None
    ]
    if not durations:
        return None
    if c.share_percent is not None:
        return c.share_percent
    return (c.plays_per_hour or 0) * (sum(durations) / len(durations)) / 36.0


def _intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
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


def check_availability(
    screens: Sequence[Screen],
    catalogue: Catalogue,
    request: Campaign,
    *,
    start: dt.date | None = None,
    days: int | None = None,
) -> Availability:
    """Whether ``request`` fits next to the approved campaigns of ``catalogue`` on ``screens``.

    The checked period is the request's flight, optionally narrowed to ``days`` local days from
    ``start``. A campaign with the request's id in the catalogue is ignored (re-checking an edit).
    """
    validate_campaign(request)
    if request.targeting.tag_expr and request.targeting.tag_expr.strip():
        parse_tag_expr(request.targeting.tag_expr)
    if days is not None and days < 1:
        raise ScheduleError("days", f"{days} must be at least 1")
    first = max(request.flight_start, start or request.flight_start)
    last = (
        request.flight_end if days is None else min(request.flight_end, first + dt.timedelta(days=days - 1))
    )
    if last < first:
        raise ScheduleError("start", f"{first} is after the flight ends ({request.flight_end})")
    engine = engine_for(catalogue)
    n_ann = len(engine.announcements)
    wanted = predicate(request.targeting)

    by_key: dict[tuple[str, object, object, object, tuple[int, ...]], list[Screen]] = {}
    for s in screens:
        if not wanted(s):
            continue
        validate_screen(s)
        elig = tuple(
            r for r in engine.eligible(s) if r >= n_ann and engine.campaigns[r - n_ann].id != request.id
        )
        key = (s.timezone, hours_key(s.hours), s.screen_class, s.orientation, elig)
        by_key.setdefault(key, []).append(s)

    conflicts: list[Conflict] = []
    unplayable: list[str] = []
    max_share = 100.0
    requested_max = 0.0
    playing = 0
    for (tzname, _, _, _, elig), group in by_key.items():
        screen = group[0]
        req_share = share_on(request, engine, screen)
        if req_share is None:
            unplayable += [s.id for s in group]
            continue
        requested_max = max(requested_max, req_share)
        tz = zone(tzname)
        ps = local_to_utc(first, dt.time(0), tz)
        pe = local_to_utc(last + dt.timedelta(days=1), dt.time(0), tz)
        req = _intersect(
            campaign_intervals(request, tzname, ps, pe), on_intervals(screen.hours, tzname, ps, pe)
        )
        if not req:
            continue
        playing += len(group)
        hours = list(hour_starts(tzname, ps, pe))
        booked = [0.0] * len(hours)
        for r in elig:
            c = engine.campaigns[r - n_ann]
            share = share_on(c, engine, screen)
            if share is None:
                continue
            for a, b in engine.rule_intervals(r, tzname, ps, pe):
                for i in range(max(bisect.bisect_right(hours, a) - 1, 0), bisect.bisect_left(hours, b)):
                    booked[i] += share
        rules = engine.rules_for(screen.screen_class)
        capacity = min(rules.max_ad_share, 100.0 - rules.min_announcement_share)
        wanted_hours: set[int] = set()
        for a, b in req:
            wanted_hours.update(
                range(max(bisect.bisect_right(hours, a) - 1, 0), bisect.bisect_left(hours, b))
            )
        bad: list[tuple[int, float]] = []
        for i in sorted(wanted_hours):
            free = max(capacity - booked[i], 0.0)
            max_share = min(max_share, free)
            if req_share > free + _EPS:
                bad.append((i, free))
        for run in _runs(bad, hours, tz):
            h0 = hours[run[0][0]].astimezone(tz)
            h1 = (hours[run[-1][0]] + dt.timedelta(hours=1)).astimezone(tz)
            for s in group:
                conflicts.append(
                    Conflict(
                        screen_id=s.id,
                        date=h0.date(),
                        weekday=h0.weekday(),
                        start=h0.time(),
                        end=h1.time().replace(tzinfo=None),
                        requested_percent=round(req_share, 3),
                        free_percent=round(run[0][1], 3),
                    )
                )
    conflicts.sort(key=lambda c: (c.screen_id, c.date, c.start))
    return Availability(
        fits=playing > 0 and not conflicts,
        max_share_percent=round(max_share if playing else 0.0, 3),
        conflicts=tuple(conflicts),
        requested_percent=round(requested_max, 3),
        screens=playing,
        unplayable_screen_ids=tuple(sorted(unplayable)),
    )


def _runs(
    bad: list[tuple[int, float]], hours: list[dt.datetime], tz: dt.tzinfo
) -> list[list[tuple[int, float]]]:
    """Consecutive conflicting hours with the same free share, kept within one local day."""
    runs: list[list[tuple[int, float]]] = []
    for i, free in bad:
        if (
            runs
            and runs[-1][-1][0] == i - 1
            and abs(runs[-1][-1][1] - free) < _EPS
            and hours[i].astimezone(tz).date() == hours[runs[-1][0][0]].astimezone(tz).date()
        ):
            runs[-1].append((i, free))
        else:
            runs.append([(i, free)])
    return runs
