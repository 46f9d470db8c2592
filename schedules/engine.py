"""The engine for one catalogue: validated once, indexed once, shared by thousands of screens.

Screens whose inputs are equivalent share one computation: the eligible rules of a screen
come from an inverted index (screen id -> rules, group -> rules, class -> the rest), the time
skeleton (segment boundaries and active rules) is computed once per zone, operating hours and
eligible set, and a loop once per class, orientation and active set.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence

from schedules.errors import ScheduleError
from schedules.loop import Load, Loop, LoopMemo, build_loop
from schedules.model import (
    DEFAULT_HOUSE_RULES,
    Announcement,
    Campaign,
    Catalogue,
    HouseRules,
    OperatingHours,
    Orientation,
    Priority,
    Screen,
    ScreenClass,
    Targeting,
    screen_house_rules,
)
from schedules.segments import Segment, Timeline
from schedules.targeting import parse_tag_expr, predicate, required_tags
from schedules.wallclock import (
    UTC,
    Interval,
    campaign_intervals,
    hour_start,
    hour_starts,
    hours_key,
    on_intervals,
    require_aware,
    require_range,
    validate_campaign,
    validate_hours,
    window,
    zone,
)

log = logging.getLogger(__name__)

Skeleton = tuple[tuple[dt.datetime, dt.datetime, dt.datetime, tuple[int, ...]], ...]


def validate_screen(screen: Screen) -> None:
    zone(screen.timezone)
    validate_hours(screen.hours)


def _validate_rules(cls: ScreenClass, r: HouseRules) -> None:
    if not 10 <= r.loop_seconds <= 3600:
        raise ScheduleError("loop_seconds", f"{cls}: {r.loop_seconds} is not within 10..3600 seconds")
    for name in ("min_announcement_share", "max_ad_share"):
        v = getattr(r, name)
        if not 0 <= v <= 100:
            raise ScheduleError(name, f"{cls}: {v} is not within 0..100")
    if r.min_dwell_s < 0:
        raise ScheduleError("min_dwell_s", f"{cls}: {r.min_dwell_s} is negative")


def validate_catalogue(cat: Catalogue) -> None:
    """Raise ``ScheduleError`` naming the field for anything the engine cannot honour."""
    for cls, rules in cat.house_rules.items():
        _validate_rules(cls, rules)
    for group, override in cat.group_house_rules.items():
        for cls in ScreenClass:
            _validate_rules(cls, override.apply(cat.house_rules.get(cls) or DEFAULT_HOUSE_RULES[cls]))
        if not group.strip():
            raise ScheduleError("group_house_rules", "a group name is empty")
    for fid in cat.filler_item_ids:
        if fid not in cat.items:
            raise ScheduleError("filler_item_ids", f"unknown item {fid!r}")
    for a in cat.announcements:
        _validate_targeting(a.targeting)
        if not a.item_ids:
            raise ScheduleError("item_ids", f"announcement {a.id!r} has no items")
        for i in a.item_ids:
            if i not in cat.items:
                raise ScheduleError("item_ids", f"announcement {a.id!r} references unknown item {i!r}")
        require_aware(a.valid_from, "valid_from")
        if a.valid_until is not None and require_aware(a.valid_until, "valid_until") <= a.valid_from:
            raise ScheduleError("valid_until", f"announcement {a.id!r} ends before it starts")
    for c in cat.campaigns:
        validate_campaign(c)
        _validate_targeting(c.targeting)
        for i in c.item_ids:
            if i not in cat.items:
                raise ScheduleError("item_ids", f"campaign {c.id!r} references unknown item {i!r}")


def _validate_targeting(t: Targeting) -> None:
    if t.tag_expr is not None and t.tag_expr.strip():
        parse_tag_expr(t.tag_expr)


def _required_tags(t: Targeting) -> frozenset[str] | None:
    """Tags of which a matching screen must carry at least one (None: cannot tell, check all)."""
    if not t.tag_expr or not t.tag_expr.strip():
        return None
    return required_tags(parse_tag_expr(t.tag_expr))


class ScheduleEngine:
    """Timelines and facts for one catalogue. Holds only caches derived from it."""

    def __init__(self, catalogue: Catalogue) -> None:
        validate_catalogue(catalogue)
        self.catalogue = catalogue
        # Rules are numbered in id order, so active sets come out sorted by id: the same
        # timelines whatever order the catalogue lists them in.
        self.announcements: tuple[Announcement, ...] = tuple(
            sorted(catalogue.announcements, key=lambda a: a.id)
        )
        self.campaigns: tuple[Campaign, ...] = tuple(sorted(catalogue.campaigns, key=lambda c: c.id))
        self._n_ann = len(self.announcements)
        targetings = [a.targeting for a in self.announcements] + [c.targeting for c in self.campaigns]
        self._predicates: list[Callable[[Screen], bool]] = [predicate(t) for t in targetings]
        self._by_id: dict[str, list[int]] = {}
        self._by_group: dict[str, list[int]] = {}
        self._by_class: dict[ScreenClass, list[int]] = {c: [] for c in ScreenClass}
        self._by_tag: dict[str, list[int]] = {}
        for r, t in enumerate(targetings):
            if t.screen_ids:
                for sid in t.screen_ids:
                    self._by_id.setdefault(sid, []).append(r)
            elif t.groups:
                for g in t.groups:
                    self._by_group.setdefault(g, []).append(r)
            elif (tags := _required_tags(t)) is not None:
                for tag in tags:
                    self._by_tag.setdefault(tag, []).append(r)
            else:
                for cls in t.screen_classes or ScreenClass:
                    self._by_class[cls].append(r)
        self._memos: dict[tuple[ScreenClass, Orientation, HouseRules], LoopMemo] = {}
        # a campaign's load per (campaign id, class, orientation, dwell), for availability checks
        self.shares: dict[tuple[str, ScreenClass, Orientation, float], Load | None] = {}
        self._timelines: dict[tuple[object, ...], Timeline] = {}
        self._hours: dict[int, tuple[OperatingHours, tuple[object, ...]]] = {}
        self._skeletons: dict[tuple[object, ...], Skeleton] = {}
        self._loops: dict[tuple[object, ...], Loop] = {}
        self._intervals: dict[tuple[int, str, dt.datetime, dt.datetime], tuple[Interval, ...]] = {}

    # --- eligibility ------------------------------------------------------------------------

    def eligible(self, screen: Screen) -> tuple[int, ...]:
        """Indices of the rules (announcements first, then campaigns) that target ``screen``."""
        cands: set[int] = set(self._by_class[screen.screen_class])
        ids = self._by_id.get(screen.id)
        if ids:
            cands.update(ids)
        for g in screen.groups:
            rs = self._by_group.get(g)
            if rs:
                cands.update(rs)
        for tag in screen.tags:
            rs = self._by_tag.get(tag)
            if rs:
                cands.update(rs)
        preds = self._predicates
        return tuple(sorted(r for r in cands if preds[r](screen)))

    def campaign_rule(self, campaign_id: str) -> int | None:
        for j, c in enumerate(self.campaigns):
            if c.id == campaign_id:
                return self._n_ann + j
        return None

    def rules_for(self, cls: ScreenClass) -> HouseRules:
        """The class's house rules (before any group's overrides)."""
        return self.catalogue.house_rules.get(cls) or DEFAULT_HOUSE_RULES[cls]

    def rules_for_screen(self, screen: Screen) -> HouseRules:
        """The rules ``screen`` plays by: its class's with its groups' overrides."""
        if not self.catalogue.group_house_rules:
            return self.rules_for(screen.screen_class)
        return screen_house_rules(self.catalogue, screen)

    # --- time ---------------------------------------------------------------------------------

    def rule_intervals(
        self, rule: int, tzname: str, start: dt.datetime, end: dt.datetime
    ) -> tuple[Interval, ...]:
        """When rule ``rule`` is in force within [start, end) for a screen in zone ``tzname``."""
        key = (rule, tzname, start, end)
        got = self._intervals.get(key)
        if got is None:
            if rule < self._n_ann:
                a = self.announcements[rule]
                got = window(a.valid_from, a.valid_until, start, end)
            else:
                got = campaign_intervals(self.campaigns[rule - self._n_ann], tzname, start, end)
            if len(self._intervals) > 500_000:
                self._intervals.clear()
            self._intervals[key] = got
        return got

    def hours_key(self, hours: OperatingHours) -> tuple[object, ...]:
        """``wallclock.hours_key``, memoised per object (screens often share one hours object)."""
        hit = self._hours.get(id(hours))
        if hit is not None and hit[0] is hours:
            return hit[1]
        key = hours_key(hours)
        if len(self._hours) > 100_000:
            self._hours.clear()
        self._hours[id(hours)] = (hours, key)
        return key

    def skeleton(
        self, screen: Screen, eligible: tuple[int, ...], start: dt.datetime, end: dt.datetime
    ) -> Skeleton:
        """(start, end, hour_start, active rules) pieces covering the screen's on-time."""
        key = (screen.timezone, self.hours_key(screen.hours), eligible, start, end)
        sk = self._skeletons.get(key)
        if sk is None:
            sk = self._compute_skeleton(screen, eligible, start, end)
            if len(self._skeletons) > 200_000:
                self._skeletons.clear()
            self._skeletons[key] = sk
        return sk

    def _compute_skeleton(
        self, screen: Screen, eligible: tuple[int, ...], start: dt.datetime, end: dt.datetime
    ) -> Skeleton:
        tz = screen.timezone
        on = on_intervals(screen.hours, tz, start, end)
        if not on:
            return ()
        # Rules in force over the whole range need no events; the rest are swept.
        # events: (time, order, rule); order 0 = rule ends, 1 = rule starts, 2 = on/off/hour marker
        whole = ((start, end),)
        constant: list[int] = []
        events: list[tuple[dt.datetime, int, int]] = []
        for r in eligible:
            ivs = self.rule_intervals(r, tz, start, end)
            if ivs == whole:
                constant.append(r)
                continue
            for a, b in ivs:
                events.append((a, 1, r))
                events.append((b, 0, r))
        for a, b in on:
            events.append((a, 2, -1))
            events.append((b, 2, -2))
        for h in hour_starts(tz, start, end):
            events.append((h, 2, -3))
        events.sort()
        active: set[int] = set()
        is_on = False
        hour = hour_start(start, tz)
        pieces: list[tuple[dt.datetime, dt.datetime, dt.datetime, tuple[int, ...]]] = []
        keys: dict[frozenset[int], tuple[int, ...]] = {}
        i = 0
        n = len(events)
        changed = True
        key: tuple[int, ...] = ()
        while i < n:
            t = events[i][0]
            while i < n and events[i][0] == t:
                _, order, r = events[i]
                if order == 1:
                    active.add(r)
                    changed = True
                elif order == 0:
                    active.discard(r)
                    changed = True
                elif r == -1:
                    is_on = True
                elif r == -2:
                    is_on = False
                else:
                    hour = t
                i += 1
            if is_on and i < n:
                nxt = events[i][0]
                if nxt > t:
                    if changed:
                        fs = frozenset(active)
                        got = keys.get(fs)
                        if got is None:
                            got = keys[fs] = tuple(sorted(constant + list(active)))
                        key = got
                        changed = False
                    if pieces and pieces[-1][1] == t and pieces[-1][2] == hour and pieces[-1][3] is key:
                        pieces[-1] = (pieces[-1][0], nxt, hour, key)
                    else:
                        pieces.append((t, nxt, hour, key))
        return tuple(pieces)

    # --- loops and timelines ------------------------------------------------------------------

    def loop(
        self,
        cls: ScreenClass,
        orientation: Orientation,
        active: tuple[int, ...],
        rules: HouseRules | None = None,
    ) -> Loop:
        rules = rules or self.rules_for(cls)
        key = (cls, orientation, active, rules)
        lp = self._loops.get(key)
        if lp is None:
            anns = [self.announcements[r] for r in active if r < self._n_ann]
            camps = [self.campaigns[r - self._n_ann] for r in active if r >= self._n_ann]
            lp = build_loop(
                cls,
                orientation,
                rules.loop_seconds,
                rules.min_announcement_share,
                rules.max_ad_share,
                rules.min_dwell_s,
                self.catalogue.items,
                anns,
                camps,
                self.catalogue.filler_item_ids,
                self._memos.setdefault((cls, orientation, rules), LoopMemo()),
            )
            if not lp.announcements and not lp.filler and not lp.ads:
                raise ScheduleError(
                    "filler_item_ids",
                    f"nothing can play on {cls}/{orientation} "
                    "and the catalogue has no filler (community default slide)",
                )
            self._loops[key] = lp
        return lp

    def timeline(self, screen: Screen, start: dt.datetime, end: dt.datetime) -> Timeline:
        validate_screen(screen)
        s, e = require_range(start, end)
        eligible = self.eligible(screen)
        cls, ori = screen.screen_class, screen.orientation
        rules = self.rules_for_screen(screen)
        # Equivalent screens (same zone, hours, class, orientation, house rules, eligible rules)
        # share one immutable Timeline.
        tkey = (screen.timezone, self.hours_key(screen.hours), eligible, cls, ori, rules, s, e)
        tl = self._timelines.get(tkey)
        if tl is None:
            sk = self.skeleton(screen, eligible, hour_start(s, screen.timezone), e)
            segs = tuple(Segment(a, b, self.loop(cls, ori, key, rules), h) for a, b, h, key in sk)
            tl = Timeline(segs, s, e)
            if len(self._timelines) > 100_000:
                self._timelines.clear()
            self._timelines[tkey] = tl
        return tl

    # --- instants -----------------------------------------------------------------------------

    def active_announcements(self, screen: Screen, at: dt.datetime) -> list[Announcement]:
        at = require_aware(at, "at")
        out = []
        for r in self.eligible(screen):
            if r >= self._n_ann:
                break
            a = self.announcements[r]
            if a.valid_from <= at and (a.valid_until is None or at < a.valid_until):
                out.append(a)
        return out


_RANK = {Priority.EMERGENCY: 0, Priority.IMPORTANT: 1, Priority.NORMAL: 2}


def by_priority(anns: Sequence[Announcement]) -> list[Announcement]:
    """Emergency, then important, then normal; newest first within a priority."""
    return sorted(anns, key=lambda a: (_RANK[a.priority], -a.valid_from.timestamp(), a.id))


class _EngineCache:
    """Remembers engines for the last few catalogues, so the functional API stays cheap.

    Keyed by object identity and holding the catalogue itself, so an id is never reused
    while its entry lives. Catalogues are frozen models: do not mutate their dicts in place.
    """

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._items: OrderedDict[int, tuple[Catalogue, ScheduleEngine]] = OrderedDict()

    def get(self, catalogue: Catalogue) -> ScheduleEngine:
        hit = self._items.get(id(catalogue))
        if hit is not None and hit[0] is catalogue:
            self._items.move_to_end(id(catalogue))
            return hit[1]
        engine = ScheduleEngine(catalogue)
        self._items[id(catalogue)] = (catalogue, engine)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return engine

    def clear(self) -> None:
        self._items.clear()


_cache = _EngineCache(size=8)


def engine_for(catalogue: Catalogue) -> ScheduleEngine:
    """The (cached) engine for ``catalogue``."""
    return _cache.get(catalogue)


def clear_engines() -> None:
    """Forget cached engines (benchmarks measure cold starts with it)."""
    _cache.clear()


__all__ = [
    "UTC",
    "ScheduleEngine",
    "by_priority",
    "clear_engines",
    "engine_for",
    "validate_catalogue",
    "validate_screen",
]
