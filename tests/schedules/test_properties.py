"""Property tests: random catalogues, screens and ranges; the engine's promises always hold."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter, defaultdict
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schedules.engine import ScheduleEngine
from schedules.model import (
    Announcement,
    Campaign,
    Catalogue,
    ContentItem,
    Daypart,
    ItemKind,
    OperatingHours,
    Orientation,
    Priority,
    Screen,
    ScreenClass,
    SlotSource,
    TimeRange,
)
from schedules.segments import Placed, Timeline
from schedules.timeline import is_on

UTC = dt.UTC
ZONES = ["Asia/Shanghai", "Europe/Berlin", "America/New_York"]
# Windows around both DST changes of 2026 in Europe and the US, and an ordinary day.
ANCHORS = [
    dt.datetime(2026, 3, 8, 4, tzinfo=UTC),
    dt.datetime(2026, 3, 28, 20, tzinfo=UTC),
    dt.datetime(2026, 10, 24, 20, tzinfo=UTC),
    dt.datetime(2026, 11, 1, 2, tzinfo=UTC),
    dt.datetime(2026, 11, 25, 0, tzinfo=UTC),
]
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Screen, Catalogue, dt.datetime, dt.datetime]:
    items: dict[str, ContentItem] = {}

    def new_item(prefix: str, kinds: list[ItemKind]) -> str:
        iid = f"{prefix}{len(items)}"
        kind = draw(st.sampled_from(kinds))
        dur = draw(st.sampled_from([3, 5, 6, 8, 10, 12, 15, 20, 30]))
        items[iid] = ContentItem(id=iid, kind=kind, duration_s=dur)
        return iid

    filler = tuple(new_item("f", [ItemKind.IMAGE]) for _ in range(draw(st.integers(1, 3))))
    start = draw(st.sampled_from(ANCHORS)) + dt.timedelta(minutes=draw(st.integers(0, 600)))
    end = start + dt.timedelta(hours=draw(st.integers(1, 8)))
    campaigns = []
    for j in range(draw(st.integers(0, 6))):
        booking = draw(st.sampled_from(["share", "pph"]))
        dayparts: tuple[Daypart, ...] = ()
        if draw(st.booleans()):
            h = draw(st.integers(0, 23))
            dayparts = (Daypart(start=dt.time(h), end=dt.time((h + draw(st.integers(1, 5))) % 24)),)
        campaigns.append(
            Campaign(
                id=f"c{j}",
                advertiser_id=draw(st.sampled_from(["a", "b", "c"])),
                category=draw(st.sampled_from(["", "", "food", "bank"])),
                item_ids=tuple(
                    new_item("ad", [ItemKind.IMAGE, ItemKind.VIDEO]) for _ in range(draw(st.integers(1, 2)))
                ),
                flight_start=dt.date(2026, 1, 1),
                flight_end=dt.date(2026, 12, 31),
                dayparts=dayparts,
                share_percent=draw(st.floats(1, 30)) if booking == "share" else None,
                plays_per_hour=draw(st.integers(2, 60)) if booking == "pph" else None,
                frequency_cap_per_hour=draw(st.none() | st.integers(1, 20)),
            )
        )
    anns = []
    for k in range(draw(st.integers(0, 3))):
        anns.append(
            Announcement(
                id=f"n{k}",
                item_ids=(new_item("n", [ItemKind.TEXT, ItemKind.IMAGE]),),
                priority=draw(st.sampled_from([Priority.NORMAL, Priority.IMPORTANT])),
                valid_from=start - dt.timedelta(hours=draw(st.integers(-2, 5))),
            )
        )
    if draw(st.booleans()):
        at = start + dt.timedelta(seconds=draw(st.integers(0, int((end - start).total_seconds()))))
        anns.append(
            Announcement(
                id="emergency",
                item_ids=(new_item("e", [ItemKind.TEXT]),),
                priority=Priority.EMERGENCY,
                valid_from=at,
                valid_until=at + dt.timedelta(minutes=draw(st.integers(1, 90))),
            )
        )
    if draw(st.booleans()):
        a = draw(st.integers(0, 23))
        hours = OperatingHours(
            always_on=False,
            weekly={
                d: (TimeRange(start=dt.time(a), end=dt.time((a + draw(st.integers(2, 20))) % 24)),)
                for d in range(7)
            },
        )
    else:
        hours = OperatingHours()
    screen = Screen(
        id="s",
        screen_class=draw(st.sampled_from(list(ScreenClass))),
        orientation=draw(st.sampled_from(list(Orientation))),
        timezone=draw(st.sampled_from(ZONES)),
        hours=hours,
    )
    cat = Catalogue(
        items=items, campaigns=tuple(campaigns), announcements=tuple(anns), filler_item_ids=filler
    )
    return screen, cat, start, end


def placements(
    screen: Screen, cat: Catalogue, start: dt.datetime, end: dt.datetime
) -> tuple[Timeline, list[Placed]]:
    tl = ScheduleEngine(cat).timeline(screen, start, end)
    return tl, list(tl.expand())


@SETTINGS
@given(scenarios())
def test_slots_are_ordered_gap_free_and_exactly_cover_on_time(
    sc: tuple[Screen, Catalogue, dt.datetime, dt.datetime],
) -> None:
    screen, cat, start, end = sc
    _, placed = placements(screen, cat, start, end)
    covered: list[tuple[dt.datetime, dt.datetime]] = []
    for p in placed:
        assert start <= p.start < p.end <= end
        if covered and covered[-1][1] == p.start:
            covered[-1] = (covered[-1][0], p.end)
        else:
            assert not covered or covered[-1][1] < p.start  # ordered, never overlapping
            covered.append((p.start, p.end))
    # The covered time is the on-time: on inside, off in every gap and just outside the ends.
    for a, b in covered:
        assert is_on(screen, a) and is_on(screen, b - dt.timedelta(microseconds=1))
    edges = [start, *[x for ab in covered for x in ab], end]
    for a, b in itertools.pairwise(edges[::1]):
        if (a, b) not in covered and b > a and not any(x <= a and b <= y for x, y in covered):
            assert not is_on(screen, a + (b - a) / 2)
    if not covered:
        probe = [start + (end - start) * i / 7 for i in range(7)]
        assert not any(is_on(screen, t) for t in probe)


@SETTINGS
@given(scenarios())
def test_caps_separation_emergency_and_determinism(
    sc: tuple[Screen, Catalogue, dt.datetime, dt.datetime],
) -> None:
    screen, cat, start, end = sc
    tl, placed = placements(screen, cat, start, end)
    shuffled = cat.model_copy(
        update={"campaigns": cat.campaigns[::-1], "announcements": cat.announcements[::-1]}
    )
    _, again = placements(screen, shuffled.model_copy(deep=True), start, end)
    assert placed == again  # same inputs, in any listing order: same slots
    tz = ZoneInfo(screen.timezone)
    caps = {c.id: c.frequency_cap_per_hour for c in cat.campaigns if c.frequency_cap_per_hour}
    advertiser = {c.id: (c.advertiser_id, c.category) for c in cat.campaigns}
    per_hour: Counter[tuple[str, dt.datetime]] = Counter()
    for p in placed:
        if p.entry.source is SlotSource.CAMPAIGN:
            local_hour = p.start.astimezone(tz).replace(minute=0, second=0, microsecond=0)
            per_hour[(p.entry.source_id or "", local_hour.astimezone(UTC))] += 1
    for (cid, _), n in per_hour.items():
        assert cid not in caps or n <= caps[cid]
    for c in cat.campaigns:  # the fast count the forecast uses agrees with the slots
        assert tl.count_plays(c.id) == sum(v for (cid, _), v in per_hour.items() if cid == c.id)
    for a, b in itertools.pairwise(placed):
        if a.end == b.start and a.entry.source is b.entry.source is SlotSource.CAMPAIGN:
            (adv_a, cat_a), (adv_b, cat_b) = (
                advertiser[a.entry.source_id or ""],
                advertiser[b.entry.source_id or ""],
            )
            assert adv_a != adv_b and (cat_a == "" or cat_a != cat_b)
    for e in (a for a in cat.announcements if a.priority is Priority.EMERGENCY):
        assert e.valid_until is not None
        during = [p for p in placed if p.end > e.valid_from and p.start < e.valid_until]
        assert all(p.entry.source is SlotSource.EMERGENCY for p in during)
        if start <= e.valid_from < end and is_on(screen, e.valid_from):
            assert any(p.start == e.valid_from and p.entry.source is SlotSource.EMERGENCY for p in placed)


@SETTINGS
@given(scenarios())
def test_each_loop_delivers_booked_shares_within_one_slot_and_keeps_house_rules(
    sc: tuple[Screen, Catalogue, dt.datetime, dt.datetime],
) -> None:
    screen, cat, start, end = sc
    tl, placed = placements(screen, cat, start, end)
    rules = cat.house_rules[screen.screen_class]
    loops: dict[tuple[int, int], list[Placed]] = defaultdict(list)
    for p in placed:
        loops[(p.segment, p.loop_index)].append(p)
    segs = tl.segments_all()
    for (seg, k), ps in loops.items():
        if (seg, k + 1) not in loops or (ps[0].start == start and segs[seg].start < start):
            continue  # only whole loops (the last one of a segment is cut short, the first may be clipped)
        loop = segs[seg].loop
        if loop.emergency:
            continue
        length = sum((p.end - p.start).total_seconds() for p in ps)
        ann = sum((p.end - p.start).total_seconds() for p in ps if p.entry.source is SlotSource.ANNOUNCEMENT)
        ads = sum((p.end - p.start).total_seconds() for p in ps if p.entry.source is SlotSource.CAMPAIGN)
        if loop.announcements:
            assert ann >= rules.min_announcement_share / 100 * length - 1e-6
        if loop.filler or loop.announcements:
            assert ads <= rules.max_ad_share / 100 * length + 1e-6
        assert abs(length - loop.period_s) < 1e-3 or not loop.filler
        for plan in loop.ads:
            got = sum(
                (p.end - p.start).total_seconds()
                for p in ps
                if p.entry.source_id == plan.campaign_id and p.entry.source is SlotSource.CAMPAIGN
            )
            replaced = any(p.replaced_id == plan.campaign_id for p in ps)
            booked = plan.booked_share / 100 * loop.period_s
            capped = plan.cap is not None and plan.cap * loop.period_s / 3600 < booked / plan.mean_duration
            slot = max(e.duration for e in plan.entries)
            if not replaced and not capped:
                assert abs(got - booked) <= slot + 1e-6, (plan, got, booked)
            assert (
                loop.scale == 1
                or sum(p.requested_share for p in loop.ads)
                > min(rules.max_ad_share, 100 - (rules.min_announcement_share if loop.announcements else 0))
                - 1e-6
            )


@settings(SETTINGS, max_examples=50)
@given(scenarios(), st.floats(0, 1))
def test_a_later_range_shows_the_same_slots(
    sc: tuple[Screen, Catalogue, dt.datetime, dt.datetime], cut: float
) -> None:
    """Player and server ask for different ranges; whatever they ask, the same instant plays the same."""
    screen, cat, start, end = sc
    engine = ScheduleEngine(cat)
    whole = list(engine.timeline(screen, start, end).expand())
    later_start = start + (end - start) * cut * 0.9
    later = engine.timeline(screen, later_start, end)
    for p in whole[::11]:
        if p.start >= later_start:
            got = later.placed_at(p.start)
            assert got is not None and (got.start, got.end, got.entry) == (p.start, p.end, p.entry)
