"""Would a change of house rules break booked campaigns? The list of those it would under-deliver.

Operators set house rules per screen class and per screen group (see
:func:`schedules.model.screen_house_rules`). A change may shrink the time ads can be sold
(a larger announcement share, a smaller ad share) or make items unplayable (a longer dwell
rules out shorter videos; it also lengthens pictures, so plays-per-hour bookings need more
time). This check compares, screen by screen and local clock hour by clock hour over a
period, what each booked campaign gets under the current rules and under the proposed ones,
exactly as the engine shares ad time out (:func:`schedules.loop.allot_ad_time`, with the
announcement share always reserved as availability does). A campaign is under-delivered when
the proposal gives it less than its booking and less than it gets today. Pure: no clock, no I/O.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from schedules.availability import ad_capacity, campaign_load
from schedules.engine import engine_for, validate_screen
from schedules.errors import ScheduleError
from schedules.loop import Load, allot_ad_time
from schedules.model import Catalogue, Screen
from schedules.wallclock import hour_starts, hours_key, on_intervals, require_aware

_EPS = 1e-6
MAX_DAYS = 400


class UnderDelivered(BaseModel):
    """One booked campaign the proposed rules would short, with where and how badly."""

    model_config = ConfigDict(frozen=True)

    campaign_id: str
    name: str
    advertiser_id: str
    delivered_percent: float  # the least share of its booking it would get in an hour (0: cannot play)
    current_percent: float  # the same under today's rules
    cannot_play: bool  # its items become unplayable somewhere (a longer dwell than its videos)
    screen_ids: tuple[str, ...]  # the screens where it falls short
    first_hour: dt.datetime  # UTC start of the first clock hour it falls short
    hours: int  # screen-hours it falls short in


class RulesCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    ok: bool
    under_delivered: tuple[UnderDelivered, ...]
    start: dt.datetime
    end: dt.datetime


@dataclass
class _Shortfall:
    worst: float = 1.0
    current: float = 1.0
    cannot_play: bool = False
    screens: set[str] = field(default_factory=set)
    first: dt.datetime | None = None
    hours: int = 0


def _fractions(loads: Sequence[Load | None], capacity: float) -> list[float]:
    """The share of its booking each campaign gets in an hour where all of ``loads`` play (None: 0)."""
    present = [(i, load) for i, load in enumerate(loads) if load is not None]
    _, got = allot_ad_time([ld.share for _, ld in present], [ld.limit for _, ld in present], capacity)
    out = [0.0] * len(loads)
    for (i, load), share in zip(present, got, strict=True):
        out[i] = share / load.usable if load.usable > 0 else 1.0
    return out


def check_house_rules_change(
    screens: Sequence[Screen],
    current: Catalogue,
    proposed: Catalogue,
    *,
    start: dt.datetime,
    days: int = 28,
) -> RulesCheck:
    """Booked campaigns that ``proposed`` (the same catalogue with other house rules) would short.

    Checks ``days`` days from ``start`` (pass now: hours already played do not matter).
    ``ok`` is True when no campaign is under-delivered; otherwise refuse the change and show the list.
    """
    begin = require_aware(start, "start")
    if not 1 <= days <= MAX_DAYS:
        raise ScheduleError("days", f"{days} is not within 1..{MAX_DAYS}")
    end = begin + dt.timedelta(days=days)
    old, new = engine_for(current), engine_for(proposed)
    if [c.id for c in old.campaigns] != [c.id for c in new.campaigns]:
        raise ScheduleError("campaigns", "the proposal must hold the same campaigns as the current catalogue")
    n_ann = len(new.announcements)
    groups: dict[tuple[tuple[object, ...], tuple[int, ...]], list[Screen]] = {}
    for s in screens:
        validate_screen(s)
        elig = tuple(r for r in new.eligible(s) if r >= n_ann)
        if not elig:
            continue
        same = (s.timezone, hours_key(s.hours), s.screen_class, s.orientation)
        key = ((*same, old.rules_for_screen(s), new.rules_for_screen(s)), elig)
        groups.setdefault(key, []).append(s)

    short: dict[str, _Shortfall] = {}
    for (_, elig), group in groups.items():
        screen = group[0]
        tz = screen.timezone
        hours = list(hour_starts(tz, begin - dt.timedelta(hours=1), end))
        on = on_intervals(screen.hours, tz, hours[0], end)
        camps = [new.campaigns[r - n_ann] for r in elig]
        old_loads = [campaign_load(c, old, screen) for c in camps]
        new_loads = [campaign_load(c, new, screen) for c in camps]
        old_cap = ad_capacity(old.rules_for_screen(screen))
        new_cap = ad_capacity(new.rules_for_screen(screen))
        # which campaigns may play in each clock hour the screen is on
        active: list[set[int]] = [set() for _ in hours]
        lit = [False] * len(hours)
        for a, b in on:
            for h in range(max(bisect.bisect_right(hours, a) - 1, 0), bisect.bisect_left(hours, b)):
                lit[h] = True
        for j, r in enumerate(elig):
            for a, b in new.rule_intervals(r, tz, hours[0], end):
                for h in range(max(bisect.bisect_right(hours, a) - 1, 0), bisect.bisect_left(hours, b)):
                    active[h].add(j)
        memo: dict[frozenset[int], tuple[dict[int, float], dict[int, float]]] = {}
        for h, playing in enumerate(active):
            if not lit[h] or not playing or hours[h] + dt.timedelta(hours=1) <= begin:
                continue
            fs = frozenset(playing)
            if fs not in memo:
                order = sorted(fs)
                before = _fractions([old_loads[j] for j in order], old_cap)
                after = _fractions([new_loads[j] for j in order], new_cap)
                memo[fs] = (dict(zip(order, before, strict=True)), dict(zip(order, after, strict=True)))
            was, would = memo[fs]
            for j in sorted(fs):
                lost_items = new_loads[j] is None and old_loads[j] is not None
                if not lost_items and not (would[j] < was[j] - _EPS and would[j] < 1.0 - _EPS):
                    continue
                sf = short.setdefault(camps[j].id, _Shortfall())
                sf.worst = min(sf.worst, would[j])
                sf.current = min(sf.current, was[j])
                sf.cannot_play = sf.cannot_play or lost_items
                sf.screens.update(s.id for s in group)
                sf.first = hours[h] if sf.first is None else min(sf.first, hours[h])
                sf.hours += len(group)

    by_id = {c.id: c for c in new.campaigns}
    listed = tuple(
        UnderDelivered(
            campaign_id=cid,
            name=by_id[cid].name,
            advertiser_id=by_id[cid].advertiser_id,
            delivered_percent=round(sf.worst * 100, 1),
            current_percent=round(sf.current * 100, 1),
            cannot_play=sf.cannot_play,
            screen_ids=tuple(sorted(sf.screens)),
            first_hour=sf.first or begin,
            hours=sf.hours,
        )
        for cid, sf in sorted(short.items(), key=lambda kv: (round(kv[1].worst, 4), kv[0]))
    )
    return RulesCheck(ok=not listed, under_delivered=listed, start=begin, end=end)
