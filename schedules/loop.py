"""One repeating loop: what plays, in which order, while the eligible set stays the same.

A loop has a nominal period (the class's ``loop_seconds``, longer only when announcements
alone would overflow it). Per loop:

- announcements first get their time: each valid item once (``important`` ones twice), repeated
  item by item until they hold the class's ``min_announcement_share``;
- campaigns get their booked share of the period (``plays_per_hour`` converts to a share through
  the campaign's mean item duration). Bookings above the ad capacity (``max_ad_share``, and
  ``100 - min_announcement_share`` while announcements run) are scaled down together. Fractional
  plays per loop are spread over consecutive loops (by loop ``k`` a campaign has had
  ``floor((k+1)f)`` plays, rounded early), so each loop is within one slot of the booking; a spot
  dropped because rounding overshot the ad capacity is owed to a later loop;
- filler fills the rest exactly: the last filler slide of a loop takes whatever time is left.

Dwell rule: an image or text shorter than the class's ``min_dwell_s`` is shown for
``min_dwell_s``; a video shorter than it is never scheduled on that class (it cannot be
stretched without freezing). Items not valid for the screen's class or orientation never play.

Order: loops start with a non-ad entry and ads sit in the gaps between announcements and
filler, so two ads are adjacent only within a gap, where the arrangement keeps different
advertisers and different non-empty categories side by side.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from schedules.model import (
    Announcement,
    Campaign,
    ContentItem,
    ItemKind,
    Orientation,
    Priority,
    ScreenClass,
    SlotSource,
)

_EARLY = 1.0 - 1e-9  # phase: a fractional campaign plays in the first loop of a segment
_EPS = 1e-9
_US = dt.timedelta(microseconds=1)


class Entry(NamedTuple):
    """One placement in a loop (a slot before it has a time)."""

    item_id: str
    duration: float
    source: SlotSource
    source_id: str | None = None
    advertiser: str = ""  # set for campaign entries only
    category: str = ""
    stretchable: bool = True  # images and text may be shown longer or shorter
    displaces: str | None = None  # filler standing in for a campaign spot that had no legal place

    @property
    def is_ad(self) -> bool:
        return self.source is SlotSource.CAMPAIGN


def conflicts(a: Entry | None, b: Entry) -> bool:
    """True when ``b`` may not directly follow ``a`` (same advertiser, or same category)."""
    if a is None or not a.is_ad or not b.is_ad:
        return False
    return a.advertiser == b.advertiser or (a.category != "" and a.category == b.category)


def effective_duration(
    item: ContentItem, screen_class: ScreenClass, orientation: Orientation, min_dwell_s: float
) -> float | None:
    """How long ``item`` plays on this class, or None when it may not play there."""
    if screen_class not in item.screen_classes or orientation not in item.orientations:
        return None
    if item.duration_s < min_dwell_s:
        return None if item.kind is ItemKind.VIDEO else float(min_dwell_s)
    return float(item.duration_s)


class AdPlan(NamedTuple):
    """A campaign inside one loop: its rotating entries and how many plays per loop."""

    campaign_id: str
    entries: tuple[Entry, ...]
    rate: float  # plays per loop
    cap: int | None  # plays per local clock hour and screen
    booked_share: float  # percent of the period it gets: scaled to the ad capacity, at most its cap
    requested_share: float  # percent of the period as booked
    cap_bound: bool = False  # its frequency cap, not its booking or a sell-out, sets its rate

    @property
    def mean_duration(self) -> float:
        return sum(e.duration for e in self.entries) / len(self.entries)


@dataclass(eq=False)
class Loop:
    """The recipe for the loops of a segment; ``entries(k)`` is the k-th loop since segment start."""

    period_s: float
    announcements: tuple[Entry, ...]
    filler: tuple[Entry, ...]
    ads: tuple[AdPlan, ...]
    ad_limit_s: float
    min_dwell_s: float
    emergency: bool = False
    scale: float = 1.0  # < 1 when bookings exceeded the capacity (campaigns were "sold out")
    _built: list[tuple[Entry, ...]] = field(default_factory=list, repr=False)
    _delivered: list[int] = field(default_factory=list, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _stats: list[tuple[int, dict[str | None, int]]] = field(default_factory=list, repr=False)

    def entries(self, k: int) -> tuple[Entry, ...]:
        """Loop ``k`` of a segment. Built in order: a spot dropped to respect the ad capacity is
        owed and played in a later loop (at most one spot above the booking per loop)."""
        if k < len(self._built):
            return self._built[k]
        with self._lock:  # loops are shared between screens (and server threads)
            while len(self._built) <= k:
                self._built.append(self._build(len(self._built)))
        return self._built[k]

    def stats(self, k: int, campaign_id: str) -> tuple[int, int]:
        """Loop ``k``'s length in whole microseconds (each entry rounded like a timedelta) and
        how many spots of ``campaign_id`` it holds."""
        if k >= len(self._stats):
            with self._lock:
                while len(self._stats) <= k:
                    entries = self.entries(len(self._stats))
                    spots = Counter(e.source_id for e in entries if e.is_ad)
                    us = sum(dt.timedelta(seconds=e.duration) // _US for e in entries)
                    self._stats.append((us, dict(spots)))
        length, per_campaign = self._stats[k]
        return length, per_campaign.get(campaign_id, 0)

    def _build(self, k: int) -> tuple[Entry, ...]:
        if self.emergency:
            return self.announcements
        if not self.ads:
            return tuple(self._non_ads(self.period_s - _total(self.announcements), k))
        if not self._delivered:
            self._delivered = [0] * len(self.ads)
        plays: list[list[Entry]] = []
        for i, p in enumerate(self.ads):
            owed = math.floor((k + 1) * p.rate + _EARLY) - self._delivered[i]
            n = min(owed, math.ceil(p.rate - _EPS)) if p.rate > 0 else 0
            first = self._delivered[i]
            plays.append([p.entries[(first + j) % len(p.entries)] for j in range(max(n, 0))])
        if sum(e.duration for run in plays for e in run) > self.ad_limit_s + _EPS:
            self._trim(plays, k)
        for i, run in enumerate(plays):
            self._delivered[i] += len(run)
        ad_time = sum(e.duration for run in plays for e in run)
        need = _separators_needed(plays)
        non_ads = self._non_ads(self.period_s - _total(self.announcements) - ad_time, k, need)
        if not non_ads and self.filler:
            non_ads = [self.filler[k % len(self.filler)]]  # ads alone still need a separator
        return tuple(_interleave(non_ads, plays, self.filler[0] if self.filler else None))

    def _trim(self, plays: list[list[Entry]], k: int) -> None:
        """Drop spots until ads fit the capacity, always from the campaign furthest ahead of its
        booking (keeping at least the rounded-down booking while that suffices).

        A spot is only taken from a campaign whose spots in this loop last longer than its
        booked time in the loop: it then stays within one slot of its booking. While ads exceed
        the capacity such a campaign exists, because the bookings fit the capacity together.
        """
        time = sum(e.duration for run in plays for e in run)
        booked = [p.rate * p.mean_duration for p in self.ads]
        for keep_floor, over_only in ((True, True), (False, True), (False, False)):
            while time > self.ad_limit_s + _EPS:
                best = -1
                best_ahead = 0.0
                for i, p in enumerate(self.ads):
                    if len(plays[i]) <= (math.floor(p.rate) if keep_floor else 0):
                        continue
                    if over_only and _total(plays[i]) <= booked[i] + _EPS:
                        continue
                    ahead = self._delivered[i] + len(plays[i]) - (k + 1) * p.rate
                    if best < 0 or ahead > best_ahead + _EPS:
                        best, best_ahead = i, ahead
                if best < 0:
                    break
                time -= plays[best].pop().duration

    def _non_ads(self, remaining: float, k: int, separators: int = 0) -> list[Entry]:
        """Announcements plus filler, making the loop exactly one period long where possible.

        With ``separators``, filler is cut into more, shorter slides (never below the dwell) when
        the ads need more gaps to keep one advertiser's spots apart.
        """
        out = list(self.announcements)
        fill = self._fill(remaining, k)
        short = separators - len(out) - len(fill)
        if short > 0 and fill and all(e.stretchable for e in fill):
            n = min(separators - len(out), int((remaining + _EPS) // max(self.min_dwell_s, 1.0)))
            if n > len(fill):
                each = remaining / n
                fill = [_with_duration(self.filler[(k + j) % len(self.filler)], each) for j in range(n)]
        if fill or remaining <= _EPS:
            return out + fill
        # Less than one dwell left: lengthen the last slide rather than show a too-short one.
        for i in range(len(out) - 1, -1, -1):
            if out[i].stretchable:
                out[i] = _with_duration(out[i], out[i].duration + remaining)
                return out
        if self.filler and (self.ads or not out):
            return [*out, _with_duration(self.filler[k % len(self.filler)], max(remaining, self.min_dwell_s))]
        return out

    def _fill(self, remaining: float, k: int) -> list[Entry]:
        """Filler entries that add up to ``remaining`` seconds (the last one absorbs the rest)."""
        out: list[Entry] = []
        if not self.filler or remaining <= _EPS:
            return out
        i = k
        while remaining > _EPS:
            e = self.filler[i % len(self.filler)]
            i += 1
            rest = remaining - e.duration
            if rest < self.min_dwell_s - _EPS and (e.stretchable or rest < 0):
                if remaining >= self.min_dwell_s - _EPS:
                    out.append(_with_duration(e, remaining))
                elif out:
                    out[-1] = _with_duration(out[-1], out[-1].duration + remaining)
                break
            out.append(e)
            remaining = rest
        return out


def _with_duration(e: Entry, duration: float, displaces: str | None = None) -> Entry:
    return Entry(
        e.item_id,
        duration,
        e.source,
        e.source_id,
        e.advertiser,
        e.category,
        e.stretchable,
        displaces or e.displaces,
    )


def _total(entries: Sequence[Entry]) -> float:
    return sum(e.duration for e in entries)


def _separators_needed(plays: list[list[Entry]]) -> int:
    """Gaps needed so that no advertiser's or category's spots must touch (one per spot)."""
    per: Counter[tuple[str, str]] = Counter()
    for run in plays:
        for e in run:
            per[("a", e.advertiser)] += 1
            if e.category:
                per[("c", e.category)] += 1
    return max(per.values(), default=0)


def _interleave(non_ads: list[Entry], plays: list[list[Entry]], neutral: Entry | None) -> list[Entry]:
    """Put ads into the gaps after each non-ad entry, never two conflicting ads side by side."""
    remaining = [len(r) for r in plays]
    used = [0] * len(plays)
    total = sum(remaining)
    out: list[Entry] = []
    gaps = max(len(non_ads), 1)
    carry = 0
    for g in range(gaps):
        if non_ads:
            out.append(non_ads[g])
        want = (g + 1) * total // gaps - g * total // gaps + carry
        prev: Entry | None = out[-1] if out else None
        placed = 0
        while placed < want:
            best = -1
            for i, n in enumerate(remaining):
                if n and not conflicts(prev, plays[i][used[i]]) and (best < 0 or n > remaining[best]):
                    best = i
            if best < 0:
                break
            e = plays[best][used[best]]
            used[best] += 1
            remaining[best] -= 1
            out.append(e)
            prev = e
            placed += 1
        carry = want - placed
    # Plays that found no legal place in their gap: slot them in wherever both neighbours
    # allow; failing that, a filler slide of the same length keeps the loop's timing.
    for i, run in enumerate(plays):
        for e in run[used[i] :]:
            spot = next(
                (
                    j
                    for j in range(1, len(out) + 1)
                    if not conflicts(out[j - 1], e) and (j == len(out) or not conflicts(e, out[j]))
                ),
                None,
            )
            if spot is not None:
                out.insert(spot, e)
            elif neutral is not None:
                out.append(_with_duration(neutral, e.duration, displaces=e.source_id))
    return out


@dataclass
class LoopMemo:
    """Parts shared by the loops of one class and orientation in one catalogue."""

    entries: dict[tuple[str, SlotSource, str | None], Entry | None] = field(default_factory=dict)
    plans: dict[str, tuple[tuple[Entry, ...], float, float] | None] = field(default_factory=dict)
    announcements: dict[tuple[str, ...], tuple[Entry, ...]] = field(default_factory=dict)


class Load(NamedTuple):
    """What a campaign asks of a screen's loop: its booked share and its cap's limit (percent)."""

    share: float
    limit: float | None  # None: no frequency cap

    @property
    def usable(self) -> float:
        return self.share if self.limit is None else min(self.share, self.limit)


def cap_share(cap_per_hour: int | None, mean_duration_s: float) -> float | None:
    """The most of the loop (percent) a campaign capped at ``cap_per_hour`` plays can fill."""
    return None if cap_per_hour is None else cap_per_hour * mean_duration_s / 36.0


def allot_ad_time(
    shares: Sequence[float], limits: Sequence[float | None], capacity: float
) -> tuple[float, list[float]]:
    """Each campaign's share of the loop when bookings (percent) meet the ad capacity.

    A campaign never gets more than its booking or its frequency cap's ``limit``. When bookings
    exceed the capacity every uncapped booking is scaled by one factor, and time a capped campaign
    cannot use goes to the others (water-filling), never to filler while another booking is short.
    Returns that factor (1 when nothing was scaled) and the shares.
    """
    if not any(lim is not None for lim in limits):  # the common case: nobody capped
        total = sum(shares)
        if total <= capacity + _EPS:
            return 1.0, list(shares)
        scale = capacity / total
        return scale, [s * scale for s in shares]
    want = [s if lim is None else min(s, lim) for s, lim in zip(shares, limits, strict=True)]
    if sum(want) <= capacity + _EPS:
        return 1.0, want
    # scale s in (0, 1): sum(min(share * s, limit)) == capacity; a campaign is bound by its
    # cap from s = limit / share on, so visit those points in order.
    order = sorted(
        (i for i, lim in enumerate(limits) if lim is not None and shares[i] > 0),
        key=lambda i: (limits[i] or 0.0) / shares[i],
    )
    bound_total = 0.0
    free_total = sum(shares)
    scale = 0.0
    for i in [*order, None]:
        scale = (capacity - bound_total) / free_total if free_total > 0 else 1.0
        if i is None or scale * shares[i] <= (limits[i] or 0.0):
            break
        bound_total += limits[i] or 0.0
        free_total -= shares[i]
    scale = min(max(scale, 0.0), 1.0)
    got = [s * scale if lim is None else min(s * scale, lim) for s, lim in zip(shares, limits, strict=True)]
    return scale, got


def _announcement_entries(
    announcements: Sequence[Announcement],
    entry: Callable[[str, SlotSource, str | None], Entry | None],
    target_s: float,
) -> tuple[Entry, ...]:
    """Each valid item once (important twice), then repeated item by item up to ``target_s``."""
    ordered = sorted(announcements, key=lambda a: (a.priority is not Priority.IMPORTANT, a.valid_from, a.id))
    per_ann = [
        [e for i in a.item_ids if (e := entry(i, SlotSource.ANNOUNCEMENT, a.id)) is not None] for a in ordered
    ]
    base: list[Entry] = [e for entries in per_ann for e in entries]
    base += [
        e for a, es in zip(ordered, per_ann, strict=True) if a.priority is Priority.IMPORTANT for e in es
    ]
    out = list(base)
    if base:
        i = 0
        total = _total(out)
        while total < target_s - _EPS:
            extra = base[i % len(base)]
            out.append(extra)
            total += extra.duration
            i += 1
    return tuple(out)


def build_loop(
    screen_class: ScreenClass,
    orientation: Orientation,
    loop_seconds: float,
    min_announcement_share: float,
    max_ad_share: float,
    min_dwell_s: float,
    items: dict[str, ContentItem],
    announcements: Sequence[Announcement],
    campaigns: Sequence[Campaign],
    filler_ids: Sequence[str],
    memo: LoopMemo | None = None,
) -> Loop:
    """The loop for one eligible set on one class/orientation (inputs already validated).

    ``campaigns`` must come in id order (the engine numbers its rules that way).

    ``memo`` caches parts between calls for the same class, orientation and catalogue.
    """
    memo = memo or LoopMemo()
    cache = memo.entries

    def entry(
        item_id: str, source: SlotSource, source_id: str | None, advertiser: str = "", category: str = ""
    ) -> Entry | None:
        key = (item_id, source, source_id)
        if key in cache:
            return cache[key]
        item = items[item_id]
        d = effective_duration(item, screen_class, orientation, min_dwell_s)
        e = None
        if d is not None:
            e = Entry(item_id, d, source, source_id, advertiser, category, item.kind is not ItemKind.VIDEO)
        cache[key] = e
        return e

    emergencies = [a for a in announcements if a.priority is Priority.EMERGENCY]
    if emergencies:
        emergencies.sort(key=lambda a: (-a.valid_from.timestamp(), a.id))
        chosen: list[Entry] = []
        for a in emergencies:
            chosen += [e for i in a.item_ids if (e := entry(i, SlotSource.EMERGENCY, a.id)) is not None]
        if not chosen:  # safety beats layout: an emergency always shows, valid item or not
            a = emergencies[0]
            item = items[a.item_ids[0]]
            chosen = [Entry(item.id, max(item.duration_s, min_dwell_s), SlotSource.EMERGENCY, a.id)]
        return Loop(_total(chosen), tuple(chosen), (), (), 0.0, min_dwell_s, emergency=True)

    akey = tuple(a.id for a in announcements)
    ann_part = memo.announcements.get(akey)
    if ann_part is None:
        ann_part = memo.announcements[akey] = _announcement_entries(
            announcements, entry, min_announcement_share / 100.0 * loop_seconds
        )
    ann_entries = ann_part
    plans: list[tuple[Campaign, tuple[Entry, ...], float, float]] = []
    pcache = memo.plans
    for c in campaigns:  # in id order (see the docstring)
        if c.id in pcache:
            got = pcache[c.id]
        else:
            ces = tuple(
                e
                for i in c.item_ids
                if (e := entry(i, SlotSource.CAMPAIGN, c.id, c.advertiser_id, c.category)) is not None
            )
            got = None
            if ces:
                mean = _total(ces) / len(ces)
                pph = c.plays_per_hour or 0
                got = (ces, c.share_percent if c.share_percent is not None else pph * mean / 36.0, mean)
            pcache[c.id] = got
        if got is not None:
            plans.append((c, got[0], got[1], got[2]))

    filler = tuple(e for i in filler_ids if (e := entry(i, SlotSource.FILLER, None)) is not None)
    if not ann_entries and not plans and not filler and filler_ids:
        item = items[filler_ids[0]]  # the community default slide plays even where it is not valid
        filler = (
            Entry(
                item.id,
                max(item.duration_s, min_dwell_s),
                SlotSource.FILLER,
                None,
                stretchable=item.kind is not ItemKind.VIDEO,
            ),
        )

    capacity = min(max_ad_share, 100.0 - min_announcement_share if ann_entries else 100.0)
    limits = [cap_share(c.frequency_cap_per_hour, mean) for c, _, _, mean in plans]
    scale, allotted = allot_ad_time([p[2] for p in plans], limits, capacity)
    ad_fraction = min(sum(allotted), capacity) / 100.0
    t_ann = _total(ann_entries)
    period = float(loop_seconds)
    if ad_fraction < 1.0 and t_ann / (1.0 - ad_fraction) > period:
        period = t_ann / (1.0 - ad_fraction)
    ads: list[AdPlan] = []
    for (c, ces, share, mean), part, limit in zip(plans, allotted, limits, strict=True):
        rate = part / 100.0 * period / mean
        if c.frequency_cap_per_hour is not None:
            rate = min(rate, c.frequency_cap_per_hour * period / 3600.0)
        bound = limit is not None and part >= limit - _EPS and limit < share * scale - _EPS
        ads.append(AdPlan(c.id, ces, rate, c.frequency_cap_per_hour, part, share, bound))
    ad_limit = min(capacity / 100.0 * period + _EPS, max(period - t_ann, 0.0))
    return Loop(period, ann_entries, filler, tuple(ads), ad_limit, min_dwell_s, scale=scale)
