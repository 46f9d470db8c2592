"""Availability: fits, or refuses with the conflicting screens and hours and the largest share."""

from __future__ import annotations

import datetime as dt

import pytest

from schedules.availability import check_availability
from schedules.engine import ScheduleEngine
from schedules.errors import ScheduleError
from schedules.model import Daypart, ScreenClass, Targeting
from tests.schedules.factories import BASE_ITEMS, UTC, campaign, catalogue, daily_hours, screen

RUSH = (Daypart(weekdays=frozenset(range(5)), start=dt.time(7), end=dt.time(9)),)
WEEK = {"start": dt.date(2026, 11, 23), "end": dt.date(2026, 11, 29)}  # Monday..Sunday


def test_fits_on_an_empty_network_up_to_the_class_capacity() -> None:
    screens = [screen("s1"), screen("s2", cls=ScreenClass.OUTDOOR_LARGE)]
    av = check_availability(screens, catalogue(BASE_ITEMS), campaign("new", share=20, **WEEK))
    assert av.fits and av.screens == 2 and av.conflicts == ()
    assert av.max_share_percent == 50  # indoor: min(max_ad 50, 100 - announcements 40)


def test_overbooking_is_refused_with_screens_hours_and_the_share_that_fits() -> None:
    booked = campaign(
        "rush",
        share=40,
        dayparts=RUSH,
        targeting=Targeting(groups=frozenset({"lobby"})),
        start=WEEK["start"],
        end=dt.date(2026, 12, 31),
    )
    cat = catalogue(BASE_ITEMS, campaigns=(booked,))
    screens = [
        screen("s1", groups=frozenset({"lobby"})),
        screen("s2"),
        screen("s3", groups=frozenset({"lobby"})),
    ]
    av = check_availability(screens, cat, campaign("new", share=20, **WEEK))
    assert not av.fits and av.max_share_percent == 10
    assert {c.screen_id for c in av.conflicts} == {"s1", "s3"}
    first = av.conflicts[0]
    assert (first.weekday, first.start, first.end) == (0, dt.time(7), dt.time(9))
    assert first.dates == (dt.date(2026, 11, 23),)
    assert first.requested_percent == 20 and first.free_percent == 10
    assert len(av.conflicts) == 2 * 5  # two screens, five weekday mornings
    two_weeks = campaign("new", share=20, start=WEEK["start"], end=dt.date(2026, 12, 6))
    longer = check_availability(screens, cat, two_weeks)
    assert len(longer.conflicts) == 2 * 5 and all(len(c.dates) == 2 for c in longer.conflicts)
    assert check_availability(screens, cat, campaign("new", share=10, **WEEK)).fits
    # narrowed to the weekend there is no conflict
    assert check_availability(
        screens, cat, campaign("new", share=20, **WEEK), start=dt.date(2026, 11, 28)
    ).fits


def test_plays_per_hour_and_edits_of_the_same_campaign() -> None:
    booked = campaign("c", share=45, **WEEK)
    cat = catalogue(BASE_ITEMS, campaigns=(booked,))
    scr = [screen()]
    av = check_availability(scr, cat, campaign("new", plays_per_hour=18, **WEEK))  # 18 x 10 s = 5 %
    assert av.fits and av.requested_percent == 5
    assert not check_availability(scr, cat, campaign("new", plays_per_hour=19, **WEEK)).fits
    assert check_availability(
        scr, cat, booked.model_copy(update={"share_percent": 50.0})
    ).fits  # re-check an edit


def test_only_on_hours_count_and_untargeted_requests_do_not_fit() -> None:
    booked = campaign("night", share=50, dayparts=(Daypart(start=dt.time(1), end=dt.time(5)),), **WEEK)
    cat = catalogue(BASE_ITEMS, campaigns=(booked,))
    scr = [screen(hours=daily_hours(dt.time(7), dt.time(22)))]
    assert check_availability(scr, cat, campaign("new", share=50, **WEEK)).fits
    av = check_availability(
        scr, cat, campaign("new", share=5, targeting=Targeting(groups=frozenset({"x"})), **WEEK)
    )
    assert not av.fits and av.screens == 0


def test_what_fits_is_delivered_undiluted() -> None:
    cat = catalogue(BASE_ITEMS, campaigns=(campaign("a", share=30, **WEEK),))
    scr = screen()
    request = campaign("b", items=("ad2",), share=20, **WEEK)
    assert check_availability([scr], cat, request).fits
    full = catalogue(BASE_ITEMS, campaigns=(*cat.campaigns, request))
    start = dt.datetime(2026, 11, 24, tzinfo=UTC)
    tl = ScheduleEngine(full).timeline(scr, start, start + dt.timedelta(hours=2))
    assert all(s.loop.scale == 1 for s in tl.segments)


def test_invalid_requests_name_the_field() -> None:
    with pytest.raises(ScheduleError) as e:
        check_availability([screen()], catalogue(BASE_ITEMS), campaign("x", **WEEK), days=0)
    assert e.value.field == "days"
    bad = campaign("x", **WEEK).model_copy(update={"flight_end": dt.date(2026, 1, 1)})
    with pytest.raises(ScheduleError) as e:
        check_availability([screen()], catalogue(BASE_ITEMS), bad)
    assert e.value.field == "flight_end"
    with pytest.raises(ScheduleError) as e:
        check_availability(
            [screen()], catalogue(BASE_ITEMS), campaign("x", targeting=Targeting(tag_expr="a AND"), **WEEK)
        )
    assert e.value.field == "tag_expr"


def test_the_first_day_still_to_play_is_the_earliest_local_date_among_the_screens() -> None:
    """16:30 UTC on the 25th is the 26th in Shanghai and still the 25th in New York: a booking on both
    can still play on the 25th; on Shanghai's screens alone, the 25th is over."""
    from schedules.wallclock import earliest_local_date

    now = dt.datetime(2026, 11, 25, 16, 30, tzinfo=UTC)
    assert earliest_local_date(now, {"Asia/Shanghai"}) == dt.date(2026, 11, 26)
    assert earliest_local_date(now, {"Asia/Shanghai", "America/New_York"}) == dt.date(2026, 11, 25)
    assert earliest_local_date(now.replace(hour=15, minute=59), {"Asia/Shanghai"}) == dt.date(2026, 11, 25)
