"""Timeline semantics other parts rely on: coverage, preemption, filler, validity, dwell, DST."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter

import pytest

from schedules.errors import ScheduleError
from schedules.model import ItemKind, Orientation, Priority, ScreenClass, Slot, SlotSource, Targeting
from schedules.timeline import active_emergency, is_on, ticker_texts, timeline
from tests.schedules.factories import (
    BASE_ITEMS,
    UTC,
    announcement,
    campaign,
    catalogue,
    daily_hours,
    item,
    screen,
)

DAY = dt.datetime(2026, 11, 24, 16, tzinfo=UTC)  # 2026-11-25 00:00 in Shanghai (a Wednesday)


def covered(slots: list[Slot]) -> list[tuple[dt.datetime, dt.datetime]]:
    out: list[tuple[dt.datetime, dt.datetime]] = []
    for s in slots:
        if out and out[-1][1] == s.start:
            out[-1] = (out[-1][0], s.end)
        else:
            out.append((s.start, s.end))
    return out


def test_slots_cover_exactly_the_operating_hours_in_order() -> None:
    scr = screen(hours=daily_hours(dt.time(7), dt.time(22, 30)))
    cat = catalogue(BASE_ITEMS, campaigns=(campaign("c1", share=20),))
    slots = list(timeline(scr, cat, DAY, DAY + dt.timedelta(days=1)).slots())
    assert covered(slots) == [(DAY + dt.timedelta(hours=7), DAY + dt.timedelta(hours=22, minutes=30))]
    assert all(s.start.tzinfo is not None and s.end > s.start for s in slots)
    assert all(a.end == b.start for a, b in itertools.pairwise(slots))


def test_overnight_hours_and_holidays() -> None:
    hours = daily_hours(dt.time(18), dt.time(2), holidays=(dt.date(2026, 11, 25),))
    scr = screen(hours=hours)
    local = dt.timezone(dt.timedelta(hours=8))
    assert is_on(scr, dt.datetime(2026, 11, 25, 1, 30, tzinfo=local))  # from the 24th's evening
    assert not is_on(scr, dt.datetime(2026, 11, 25, 19, tzinfo=local))  # holiday
    assert is_on(scr, dt.datetime(2026, 11, 26, 0, 30, tzinfo=local)) is False
    assert is_on(scr, dt.datetime(2026, 11, 26, 18, tzinfo=local))
    tl = timeline(scr, catalogue(BASE_ITEMS), DAY, DAY + dt.timedelta(days=2))
    assert tl.on_intervals() == [
        (DAY, DAY + dt.timedelta(hours=2)),
        (DAY + dt.timedelta(days=1, hours=18), DAY + dt.timedelta(days=2)),
    ]


def test_emergency_preempts_from_the_exact_second_and_ticker_lists_it_first() -> None:
    at = DAY + dt.timedelta(hours=10, minutes=3, seconds=7)
    cat = catalogue(
        BASE_ITEMS,
        campaigns=(campaign("c1", share=30),),
        announcements=(
            announcement("n", ticker_text={"en": "lift maintenance"}),
            announcement(
                "e",
                items=("alert",),
                priority=Priority.EMERGENCY,
                valid_from=at,
                valid_until=at + dt.timedelta(minutes=30),
                ticker_text={"en": "gas leak", "zh": "燃气泄漏"},
            ),
        ),
    )
    scr = screen()
    tl = timeline(scr, cat, DAY, DAY + dt.timedelta(days=1))
    before = tl.slot_at(at - dt.timedelta(microseconds=1))
    assert before is not None and before.source is not SlotSource.EMERGENCY
    assert tl.next_change(at - dt.timedelta(seconds=1)) <= at
    slots = [s for s in tl.slots() if at <= s.start < at + dt.timedelta(minutes=30)]
    assert slots[0].start == at and {s.source for s in slots} == {SlotSource.EMERGENCY}
    after = tl.slot_at(at + dt.timedelta(minutes=30))
    assert after is not None and after.source is not SlotSource.EMERGENCY
    assert (
        active_emergency(scr, cat, at) is not None
        and active_emergency(scr, cat, at - dt.timedelta(seconds=1)) is None
    )
    assert ticker_texts(scr, cat, at) == [{"en": "gas leak", "zh": "燃气泄漏"}, {"en": "lift maintenance"}]


def test_default_slide_plays_when_nothing_is_eligible_even_if_not_valid_for_the_class() -> None:
    items = [item("slide", 10, screen_classes=frozenset({ScreenClass.KIOSK})), item("ad", 10)]
    cat = catalogue(
        items, campaigns=(campaign("c1", targeting=Targeting(screen_classes=frozenset({ScreenClass.KIOSK}))),)
    )
    slots = list(timeline(screen(), cat, DAY, DAY + dt.timedelta(hours=1)).slots())
    assert {s.item_id for s in slots} == {"slide"} and covered(slots) == [(DAY, DAY + dt.timedelta(hours=1))]


def test_items_invalid_for_class_or_orientation_never_play() -> None:
    items = [
        *BASE_ITEMS,
        item("landscape_ad", 10, orientations=frozenset({Orientation.LANDSCAPE})),
        item("outdoor_ad", 10, screen_classes=frozenset({ScreenClass.OUTDOOR_LARGE})),
    ]
    cat = catalogue(items, campaigns=(campaign("c1", items=("landscape_ad", "outdoor_ad", "ad"), share=30),))
    scr = screen(orientation=Orientation.PORTRAIT)
    ids = Counter(s.item_id for s in timeline(scr, cat, DAY, DAY + dt.timedelta(hours=2)).slots())
    assert ids["ad"] > 0 and ids["landscape_ad"] == 0 and ids["outdoor_ad"] == 0


def test_short_images_are_stretched_to_min_dwell_and_short_videos_skipped() -> None:
    items = [*BASE_ITEMS, item("flash", 3), item("clip", 4, ItemKind.VIDEO)]
    cat = catalogue(
        items,
        campaigns=(campaign("img", items=("flash",), share=10), campaign("vid", items=("clip",), share=10)),
    )
    slots = list(
        timeline(screen(cls=ScreenClass.OUTDOOR_LARGE), cat, DAY, DAY + dt.timedelta(hours=1)).slots()
    )
    flashes = [s for s in slots if s.item_id == "flash"]
    assert flashes and all((s.end - s.start).total_seconds() == 8 for s in flashes)  # outdoor min dwell
    assert not any(s.item_id == "clip" for s in slots)


def test_important_announcements_get_more_loop_time_than_normal() -> None:
    items = [*BASE_ITEMS, item("n1", 10, ItemKind.TEXT), item("i1", 10, ItemKind.TEXT)]
    cat = catalogue(
        items,
        announcements=(
            announcement("normal", items=("n1",)),
            announcement("imp", items=("i1",), priority=Priority.IMPORTANT),
        ),
    )
    c = Counter(s.source_id for s in timeline(screen(), cat, DAY, DAY + dt.timedelta(hours=1)).slots())
    assert c["imp"] > c["normal"] > 0


def test_same_inputs_same_slots_and_range_does_not_shift_the_phase() -> None:
    cat = catalogue(
        BASE_ITEMS,
        campaigns=(campaign("c1", share=15), campaign("c2", items=("ad2",), share=7)),
        announcements=(announcement("a"),),
    )
    scr = screen()
    a = list(timeline(scr, cat, DAY, DAY + dt.timedelta(hours=3)).slots())
    b = list(timeline(scr, cat.model_copy(), DAY, DAY + dt.timedelta(hours=3)).slots())
    assert a == b
    late = timeline(scr, cat, DAY + dt.timedelta(hours=1, minutes=7, seconds=3), DAY + dt.timedelta(hours=3))
    for s in a:
        if s.start >= DAY + dt.timedelta(hours=1, minutes=8):
            assert late.slot_at(s.start) == s


def test_slot_at_and_next_change_agree_with_slots() -> None:
    cat = catalogue(BASE_ITEMS, campaigns=(campaign("c1", share=25, frequency_cap_per_hour=8),))
    scr = screen(hours=daily_hours(dt.time(8), dt.time(20)))
    tl = timeline(scr, cat, DAY, DAY + dt.timedelta(days=1))
    slots = list(tl.slots())
    for s in slots[::97]:
        mid = s.start + (s.end - s.start) / 2
        assert tl.slot_at(mid) == s and tl.next_change(mid) == s.end
    assert tl.slot_at(DAY + dt.timedelta(hours=7)) is None
    assert tl.next_change(DAY + dt.timedelta(hours=7)) == DAY + dt.timedelta(hours=8)
    assert tl.next_change(DAY + dt.timedelta(hours=21)) is None


@pytest.mark.parametrize(
    ("tz", "day", "hours_on"),
    [
        ("Europe/Berlin", dt.date(2026, 3, 29), 23),
        ("Europe/Berlin", dt.date(2026, 10, 25), 25),
        ("America/New_York", dt.date(2026, 3, 8), 23),
        ("America/New_York", dt.date(2026, 11, 1), 25),
        ("Asia/Shanghai", dt.date(2026, 3, 29), 24),
        ("Asia/Shanghai", dt.date(2028, 2, 29), 24),
    ],
)
def test_a_local_day_lasts_as_long_as_the_clock_says(tz: str, day: dt.date, hours_on: int) -> None:
    from zoneinfo import ZoneInfo

    start = dt.datetime.combine(day, dt.time(0), ZoneInfo(tz))
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), ZoneInfo(tz))
    cat = catalogue(
        BASE_ITEMS, campaigns=(campaign("c1", share=20, frequency_cap_per_hour=5, end=dt.date(2028, 12, 31)),)
    )
    slots = list(timeline(screen(tz=tz), cat, start, end).slots())
    assert (slots[-1].end - slots[0].start) == dt.timedelta(hours=hours_on)
    assert all(a.end == b.start for a, b in itertools.pairwise(slots))
    per_hour = Counter(
        s.start.replace(minute=0, second=0, microsecond=0) for s in slots if s.source_id == "c1"
    )
    assert max(per_hour.values()) <= 5 and len(per_hour) == hours_on


@pytest.mark.parametrize(
    ("tz", "day", "expected_hours"),
    [
        ("Europe/Berlin", dt.date(2026, 3, 29), 3.0),
        ("Europe/Berlin", dt.date(2026, 10, 25), 5.0),
        ("America/New_York", dt.date(2026, 3, 8), 3.0),
        ("America/New_York", dt.date(2026, 11, 1), 5.0),
    ],
)
def test_night_hours_across_a_dst_change(tz: str, day: dt.date, expected_hours: float) -> None:
    from zoneinfo import ZoneInfo

    scr = screen(tz=tz, hours=daily_hours(dt.time(0, 30), dt.time(4, 30)))
    start = dt.datetime.combine(day, dt.time(0), ZoneInfo(tz))
    tl = timeline(scr, catalogue(BASE_ITEMS), start, start + dt.timedelta(hours=12))
    ((a, b),) = tl.on_intervals()
    assert (b - a).total_seconds() / 3600 == expected_hours
    assert a.astimezone(ZoneInfo(tz)).time() == dt.time(0, 30) and b.astimezone(
        ZoneInfo(tz)
    ).time() == dt.time(4, 30)


def test_invalid_input_names_the_field() -> None:
    cat = catalogue(BASE_ITEMS)
    with pytest.raises(ScheduleError, match=r"^end:"):
        timeline(screen(), cat, DAY, DAY)
    with pytest.raises(ScheduleError, match="longer than"):
        timeline(screen(), cat, DAY, DAY + dt.timedelta(days=4000))
    with pytest.raises(ScheduleError) as e:
        timeline(screen(), cat, DAY.replace(tzinfo=None), DAY + dt.timedelta(hours=1))
    assert e.value.field == "start"
    bad_zone = screen().model_copy(update={"timezone": "Mars/Olympus"})
    with pytest.raises(ScheduleError) as e:
        timeline(bad_zone, cat, DAY, DAY + dt.timedelta(hours=1))
    assert e.value.field == "timezone"
    over = campaign("c1").model_copy(update={"share_percent": 150.0})
    with pytest.raises(ScheduleError) as e:
        timeline(screen(), catalogue(BASE_ITEMS, campaigns=(over,)), DAY, DAY + dt.timedelta(hours=1))
    assert e.value.field == "share_percent"
    for rule in (
        "FREQ=SOMETIMES",
        "BYDAY=XX",
        "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30",
        "DTSTART:20260101\nFREQ=DAILY",
    ):
        with pytest.raises(ScheduleError) as e:
            timeline(
                screen(),
                catalogue(BASE_ITEMS, campaigns=(campaign("c", rrule=rule),)),
                DAY,
                DAY + dt.timedelta(hours=1),
            )
        assert e.value.field == "rrule"
    with pytest.raises(ScheduleError) as e:
        timeline(
            screen(),
            catalogue(BASE_ITEMS, campaigns=(campaign("c", items=("nope",)),)),
            DAY,
            DAY + dt.timedelta(hours=1),
        )
    assert e.value.field == "item_ids"


def test_custom_house_rules_short_loops_and_no_dwell() -> None:
    from schedules.model import HouseRules

    rules = {
        cls: HouseRules(loop_seconds=30, min_announcement_share=0, max_ad_share=100, min_dwell_s=0)
        for cls in ScreenClass
    }
    cat = catalogue(
        BASE_ITEMS,
        campaigns=(campaign("a", share=60), campaign("b", items=("ad2",), share=30)),
        house_rules=rules,
    )
    slots = list(timeline(screen(), cat, DAY, DAY + dt.timedelta(hours=2)).slots())
    assert covered(slots) == [(DAY, DAY + dt.timedelta(hours=2))]
    played = Counter(s.source_id for s in slots)
    assert played["a"] > played["b"] > 0


def test_leap_day_rule_and_a_daypart_across_midnight() -> None:
    from schedules.model import Daypart

    leap = campaign(
        "leap",
        share=30,
        start=dt.date(2027, 1, 1),
        end=dt.date(2029, 12, 31),
        rrule="FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
    )
    night = campaign(
        "night",
        items=("ad2",),
        share=30,
        dayparts=(Daypart(start=dt.time(22), end=dt.time(2)),),
        start=dt.date(2028, 1, 1),
        end=dt.date(2028, 12, 31),
    )
    cat = catalogue(BASE_ITEMS, campaigns=(leap, night))
    local = dt.timezone(dt.timedelta(hours=8))
    start = dt.datetime(2028, 2, 28, tzinfo=local)
    slots = list(timeline(screen(), cat, start, start + dt.timedelta(days=3)).slots())
    leap_days = {s.start.astimezone(local).date() for s in slots if s.source_id == "leap"}
    assert leap_days == {dt.date(2028, 2, 29)}
    night_hours = {s.start.astimezone(local).hour for s in slots if s.source_id == "night"}
    assert night_hours == {22, 23, 0, 1}


def test_equivalent_screens_share_one_computation() -> None:
    """Screens that differ only in what no rule looks at get the very same timeline object."""
    from schedules.engine import engine_for

    cat = catalogue(
        BASE_ITEMS,
        campaigns=(
            campaign("east", targeting=Targeting(groups=frozenset({"east"}))),
            campaign("b3", targeting=Targeting(tag_expr="building:3")),
        ),
    )
    engine = engine_for(cat)
    start = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    computed: list[object] = []
    original = engine._compute_skeleton

    def counting(*args: object) -> object:
        computed.append(args)
        return original(*args)  # type: ignore[arg-type]

    engine._compute_skeleton = counting  # type: ignore[method-assign]
    same = [screen(f"lobby-{i}", name=f"Lobby {i}", groups=frozenset({"east", f"floor-{i}"}),
                   tags=frozenset({"building:3", f"floor:{i}"})) for i in range(50)]
    timelines = [engine.timeline(s, start, end) for s in same]
    assert all(t is timelines[0] for t in timelines) and len(computed) == 1
    west = screen("west", groups=frozenset({"west"}), tags=frozenset({"building:3"}))
    other = engine.timeline(west, start, end)
    assert other is not timelines[0] and len(computed) == 2  # a different eligible set: its own
    assert {s.source_id for s in timelines[0].slots()} >= {"east", "b3"}
    assert "east" not in {s.source_id for s in other.slots()}
