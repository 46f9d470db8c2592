"""The compact timeline: segments with a constant eligible set, each a repeating loop.

A day of a screen is a few dozen segments; slots (thousands a day) are expanded on demand.
Segments never cross a local clock hour, and expansion restarts its bookkeeping at each
clock hour, so ``slot_at`` only replays the hour it falls in and always agrees with
``slots``. Expansion enforces, slot by slot, what a loop recipe alone cannot:

- ``frequency_cap_per_hour``: a play beyond the cap in the current local clock hour becomes filler;
- separation: an ad that would directly follow the same advertiser or category becomes filler.

The last slot of a segment is cut at the segment's end: when an emergency starts, or a
campaign's daypart begins, the change happens at that exact instant.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterator
from typing import NamedTuple

from schedules.loop import Entry, Loop, conflicts
from schedules.model import Slot, Zone
from schedules.wallclock import require_aware


class Segment(NamedTuple):
    """[start, end) in UTC during which ``loop`` repeats from ``start``."""

    start: dt.datetime
    end: dt.datetime
    loop: Loop
    hour_start: dt.datetime  # UTC instant of the local clock hour this segment lies in


class Placed(NamedTuple):
    """An expanded entry with its time and where it came from (for explanations and tests)."""

    start: dt.datetime
    end: dt.datetime
    entry: Entry
    segment: int
    loop_index: int
    replaced: str | None = None  # "cap_reached" or "separation" when an ad became filler
    replaced_id: str | None = None  # the campaign that would have played

    def slot(self) -> Slot:
        e = self.entry
        return Slot.model_construct(
            start=self.start,
            end=self.end,
            item_id=e.item_id,
            zone=Zone.MAIN,
            source=e.source,
            source_id=e.source_id,
        )


_US = dt.timedelta(microseconds=1)


def micros(seconds: float) -> int:
    """A duration in whole microseconds, rounded as ``timedelta(seconds=...)`` rounds it."""
    return dt.timedelta(seconds=seconds) // _US


def _neutral(loop: Loop, like: Entry) -> Entry | None:
    """What plays instead of an ad that may not: filler, else an announcement, same length."""
    pool = loop.filler or loop.announcements
    if not pool:
        return None
    n = pool[0]
    return Entry(
        n.item_id,
        like.duration,
        n.source,
        n.source_id,
        n.advertiser,
        n.category,
        n.stretchable,
        like.source_id,
    )


class Timeline:
    """A screen's schedule over [start, end): ordered, gap-free within operating hours."""

    __slots__ = ("_all", "_starts", "end", "segments", "start")

    def __init__(self, segments: tuple[Segment, ...], start: dt.datetime, end: dt.datetime) -> None:
        # ``segments`` may begin before ``start`` (at the local clock hour), so that loops and
        # hourly caps have the same phase whatever range was asked for; output is clipped.
        self._all = segments
        self.start = start
        self.end = end
        self._starts = [s.start for s in segments]
        self.segments: tuple[Segment, ...] = tuple(
            s if s.start >= start else Segment(start, s.end, s.loop, s.hour_start)
            for s in segments
            if s.end > start
        )

    def __repr__(self) -> str:
        return f"Timeline({len(self.segments)} segments, {self.start.isoformat()}..{self.end.isoformat()})"

    def _reset_point(self, i: int) -> int:
        segs = self._all
        while i > 0 and segs[i - 1].hour_start == segs[i].hour_start and segs[i - 1].end == segs[i].start:
            i -= 1
        return i

    def expand(self, first_segment: int = 0) -> Iterator[Placed]:
        """Every placement from ``first_segment`` on (which should be a clock-hour reset point)."""
        for p in self._expand(first_segment):
            if p.end <= self.start:
                continue
            if p.start < self.start:
                p = Placed(self.start, p.end, p.entry, p.segment, p.loop_index, p.replaced, p.replaced_id)
            yield p

    def _expand(self, first_segment: int) -> Iterator[Placed]:
        segs = self._all
        counts: dict[str, int] = {}
        prev: Entry | None = None
        hour: dt.datetime | None = None
        prev_end: dt.datetime | None = None
        for i in range(first_segment, len(segs)):
            seg = segs[i]
            if seg.hour_start != hour or seg.start != prev_end:
                counts = {}
                prev = None
                hour = seg.hour_start
            loop = seg.loop
            caps = {p.campaign_id: p.cap for p in loop.ads if p.cap is not None}
            t = seg.start
            end = seg.end
            k = 0
            while t < end:
                emitted = False
                for e in loop.entries(k):
                    if t >= end:
                        break
                    replaced: str | None = None
                    replaced_cid: str | None = e.displaces
                    if replaced_cid is not None:
                        replaced = "separation"
                    if e.is_ad:
                        cid = e.source_id or ""
                        cap = caps.get(cid)
                        if cap is not None and counts.get(cid, 0) >= cap:
                            replaced = "cap_reached"
                        elif conflicts(prev, e):
                            replaced = "separation"
                        if replaced is not None:
                            replaced_cid = cid
                            neutral = _neutral(loop, e)
                            if neutral is None:
                                continue
                            e = neutral
                        else:
                            counts[cid] = counts.get(cid, 0) + 1
                    stop = t + dt.timedelta(seconds=e.duration)
                    if stop > end:
                        stop = end
                    yield Placed(t, stop, e, i, k, replaced, replaced_cid)
                    emitted = True
                    prev = e
                    t = stop
                if not emitted:  # only ads, all blocked, and nothing neutral to show: play them anyway
                    for e in loop.entries(k):
                        if t >= end:
                            break
                        stop = min(t + dt.timedelta(seconds=e.duration), end)
                        yield Placed(t, stop, e, i, k, None)
                        prev = e
                        t = stop
                k += 1
            prev_end = end

    def count_plays(self, campaign_id: str) -> int:
        """Plays of one campaign over the timeline, loop by loop rather than slot by slot.

        Agrees with counting ``expand()`` whenever loops have a non-ad entry to start with
        (any catalogue with filler): hourly caps are applied the same way.
        """
        total = 0
        hour: dt.datetime | None = None
        prev_end: dt.datetime | None = None
        used = 0
        for seg in self._all:
            if seg.hour_start != hour or seg.start != prev_end:
                hour, used = seg.hour_start, 0
            prev_end = seg.end
            loop = seg.loop
            plan = next((p for p in loop.ads if p.campaign_id == campaign_id), None)
            if plan is None:
                continue
            # whole microseconds, rounded per entry exactly as expand() adds timedeltas
            clip_from = (self.start - seg.start) // _US
            length = (seg.end - seg.start) // _US
            t = 0
            k = 0
            while t < length:
                entries = loop.entries(k)
                duration, n = loop.stats(k, campaign_id)
                if t + duration > length or t < clip_from:  # partial loop: walk its entries
                    for e in entries:
                        if t >= length:
                            break
                        d = micros(e.duration)
                        if e.source_id == campaign_id and e.is_ad and (plan.cap is None or used < plan.cap):
                            used += 1  # clipped-off plays still count towards the hour's cap
                            total += min(t + d, length) > clip_from
                        t += d
                else:
                    t += duration
                    if plan.cap is not None:
                        n = max(min(n, plan.cap - used), 0)
                    used += n
                    total += n
                k += 1
        return total

    def slots(self) -> Iterator[Slot]:
        """All slots in time order (expanded lazily: a day is thousands of them)."""
        for p in self.expand():
            yield p.slot()

    def _segment_index(self, t: dt.datetime) -> int | None:
        if t < self.start:
            return None
        i = bisect.bisect_right(self._starts, t) - 1
        if i < 0 or t >= self._all[i].end:
            return None
        return i

    def placed_at(self, t: dt.datetime) -> Placed | None:
        """The placement playing at ``t`` (None while the screen is off or outside the range)."""
        t = require_aware(t, "t")
        i = self._segment_index(t)
        if i is None:
            return None
        for p in self._expand(self._reset_point(i)):
            if p.end > t:
                if p.start < self.start:
                    return Placed(
                        self.start, p.end, p.entry, p.segment, p.loop_index, p.replaced, p.replaced_id
                    )
                return p
        return None  # pragma: no cover - segments are gap-free inside

    def slot_at(self, t: dt.datetime) -> Slot | None:
        p = self.placed_at(t)
        return None if p is None else p.slot()

    def next_change(self, t: dt.datetime) -> dt.datetime | None:
        """When what is shown at ``t`` changes: the end of the current slot, or the next switch-on."""
        t = require_aware(t, "t")
        p = self.placed_at(t)
        if p is not None:
            return p.end
        i = bisect.bisect_right(self._starts, t)
        return max(self._all[i].start, self.start) if i < len(self._all) else None

    def segments_all(self) -> tuple[Segment, ...]:
        """Segments as computed, the first possibly starting before ``start`` (at its clock hour)."""
        return self._all

    def on_intervals(self) -> list[tuple[dt.datetime, dt.datetime]]:
        """The covered time (screen on), segments joined."""
        out: list[tuple[dt.datetime, dt.datetime]] = []
        for s in self.segments:
            if out and out[-1][1] == s.start:
                out[-1] = (out[-1][0], s.end)
            else:
                out.append((s.start, s.end))
        return out
