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
import itertools
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from schedules.engine import ScheduleEngine, engine_for, validate_screen
from schedules.errors import ScheduleError
from schedules.loop import Load, cap_share, effective_duration
from schedules.model import Campaign, Catalogue, HouseRules, Screen
from schedules.targeting import parse_tag_expr, predicate
from schedules.wallclock import (
    Interval,
    campaign_intervals,
    hour_starts,
    hours_key,
    intersect,
    local_to_utc,
    on_intervals,
    validate_campaign,
    zone,
)

_EPS = 1e-9


class Conflict(BaseModel):
    """One screen and a weekly window of local clock hours where the request does not fit."""

    model_config = ConfigDict(frozen=True)

    screen_id: str
    weekday: int  # local, 0 = Monday
    start: dt.time  # local, inclusive
    end: dt.time  # local, exclusive; 00:00 = midnight
    requested_percent: float
    free_percent: float  # the least free share in this window over the checked dates
    dates: tuple[dt.date, ...]  # the local dates on which this window conflicts


class Availability(BaseModel):
    model_config = ConfigDict(frozen=True)

    fits: bool
    max_share_percent: float  # largest share that fits on every targeted screen and hour
    conflicts: tuple[Conflict, ...]
    requested_percent: float  # the request as a share (plays per hour converted, largest over classes)
    screens: int  # targeted screens on which the request would play in the period
    unplayable_screen_ids: tuple[str, ...] = ()  # targeted, but none of its items is valid there


def ad_capacity(rules: HouseRules) -> float:
    """Percent of an hour that may be sold to ads: the announcement share is always reserved."""
    return min(rules.max_ad_share, 100.0 - rules.min_announcement_share)


def campaign_load(c: Campaign, engine: ScheduleEngine, screen: Screen, approved: bool = True) -> Load | None:
    """The campaign's share of loop time on this screen, None when nothing of it may play there.

    ``plays_per_hour`` converts through the mean duration of its items on the screen's class (after
    the dwell rule). Loads of ``approved`` campaigns (in the engine's catalogue) are memoised.
    """
    if not approved:
        return _load(c, engine, screen)
    key = (c.id, screen.screen_class, screen.orientation, engine.rules_for_screen(screen).min_dwell_s)
    if key in engine.shares:
        return engine.shares[key]
    engine.shares[key] = got = _load(c, engine, screen)
    return got


def share_on(c: Campaign, engine: ScheduleEngine, screen: Screen, approved: bool = True) -> float | None:
    """The share of loop time the campaign can use on this screen (a capped one at most its cap)."""
    load = campaign_load(c, engine, screen, approved)
    return None if load is None else load.usable


def _load(c: Campaign, engine: ScheduleEngine, screen: Screen) -> Load | None:
    rules = engine.rules_for_screen(screen)
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
    mean = sum(durations) / len(durations)
    share = c.share_percent if c.share_percent is not None else (c.plays_per_hour or 0) * mean / 36.0
    return Load(share, cap_share(c.frequency_cap_per_hour, mean))


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

    by_key: dict[tuple[str, object, object, object, HouseRules, tuple[int, ...]], list[Screen]] = {}
    for s in screens:
        if not wanted(s):
            continue
        validate_screen(s)
        elig = tuple(
            r for r in engine.eligible(s) if r >= n_ann and engine.campaigns[r - n_ann].id != request.id
        )
        rules = engine.rules_for_screen(s)
        key = (s.timezone, hours_key(s.hours), s.screen_class, s.orientation, rules, elig)
        by_key.setdefault(key, []).append(s)

    conflicts: list[Conflict] = []
    unplayable: list[str] = []
    max_share = 100.0
    requested_max = 0.0
    playing = 0
    per_zone: dict[str, tuple[dt.datetime, dt.datetime, list[dt.datetime], tuple[Interval, ...]]] = {}
    wanted_on: dict[tuple[str, object], list[int]] = {}  # hour indices the request would play in
    booked_at: dict[tuple[int, str], list[tuple[int, int]]] = {}  # a campaign's [lo, hi) hour indices
    for (tzname, hkey, _, _, rules, elig), group in by_key.items():
        screen = group[0]
        req_share = share_on(request, engine, screen, approved=False)
        if req_share is None:
            unplayable += [s.id for s in group]
            continue
        requested_max = max(requested_max, req_share)
        tz = zone(tzname)
        if tzname not in per_zone:
            ps = local_to_utc(first, dt.time(0), tz)
            pe = local_to_utc(last + dt.timedelta(days=1), dt.time(0), tz)
            per_zone[tzname] = (
                ps,
                pe,
                list(hour_starts(tzname, ps, pe)),
                campaign_intervals(request, tzname, ps, pe),
            )
        ps, pe, hours, req_all = per_zone[tzname]
        wanted_hours = wanted_on.get((tzname, hkey))
        if wanted_hours is None:
            req = intersect(req_all, on_intervals(screen.hours, tzname, ps, pe))
            wanted_hours = wanted_on[(tzname, hkey)] = sorted(
                {i for lo, hi in _hour_spans(hours, req) for i in range(lo, hi)}
            )
        if not wanted_hours:
            continue
        playing += len(group)
        diff = [0.0] * (len(hours) + 1)  # difference array: O(1) per booked interval
        for r in elig:
            c = engine.campaigns[r - n_ann]
            share = share_on(c, engine, screen)
            if share is None:
                continue
            spans = booked_at.get((r, tzname))
            if spans is None:  # the same campaign is booked on many groups: map its hours once
                spans = booked_at[(r, tzname)] = _hour_spans(hours, engine.rule_intervals(r, tzname, ps, pe))
            for lo, hi in spans:
                diff[lo] += share
                diff[hi] -= share
        booked = list(itertools.accumulate(diff))
        capacity = ad_capacity(rules)
        free_in = [max(capacity - booked[i], 0.0) for i in wanted_hours]
        max_share = min(max_share, min(free_in))
        limit = req_share - _EPS
        bad = [(i, free) for i, free in zip(wanted_hours, free_in, strict=True) if free < limit]
        for wd, h0, h1, free, dates in _windows(bad, hours, tz):
            for s in group:
                conflicts.append(
                    Conflict.model_construct(
                        screen_id=s.id,
                        weekday=wd,
                        start=h0,
                        end=h1,
                        requested_percent=round(req_share, 3),
                        free_percent=round(free, 3),
                        dates=dates,
                    )
                )
    conflicts.sort(key=lambda c: (c.screen_id, c.weekday, c.start))
    return Availability(
        fits=playing > 0 and not conflicts,
        max_share_percent=round(max_share if playing else 0.0, 3),
        conflicts=tuple(conflicts),
        requested_percent=round(requested_max, 3),
        screens=playing,
        unplayable_screen_ids=tuple(sorted(unplayable)),
    )


def _hour_spans(hours: list[dt.datetime], intervals: Sequence[Interval]) -> list[tuple[int, int]]:
    """Each interval as the [lo, hi) indices of the clock hours it touches."""
    return [
        (max(bisect.bisect_right(hours, a) - 1, 0), bisect.bisect_left(hours, b)) for a, b in intervals
    ]


def _windows(
    bad: list[tuple[int, float]], hours: list[dt.datetime], tz: dt.tzinfo
) -> list[tuple[int, dt.time, dt.time, float, tuple[dt.date, ...]]]:
    """Conflicting hours folded into weekly windows: (weekday, start, end, least free, dates)."""
    by_slot: dict[tuple[int, int], tuple[float, set[dt.date]]] = {}
    for i, free in bad:
        local = hours[i].astimezone(tz)
        key = (local.weekday(), local.hour)
        got = by_slot.get(key)
        if got is None:
            by_slot[key] = (free, {local.date()})
        else:
            got[1].add(local.date())
            by_slot[key] = (min(got[0], free), got[1])
    out: list[tuple[int, dt.time, dt.time, float, tuple[dt.date, ...]]] = []
    run: list[tuple[int, int]] = []
    slots: list[tuple[int, int] | None] = [*sorted(by_slot), None]
    for slot in slots:
        if run and (slot is None or slot[0] != run[-1][0] or slot[1] != run[-1][1] + 1):
            free = min(by_slot[k][0] for k in run)
            dates = sorted(set().union(*(by_slot[k][1] for k in run)))
            end = dt.time((run[-1][1] + 1) % 24)
            out.append((run[0][0], dt.time(run[0][1]), end, free, tuple(dates)))
            run = []
        if slot is not None:
            run.append(slot)
    return out
