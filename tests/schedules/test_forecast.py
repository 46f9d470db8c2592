"""Delivery forecast: expected plays per screen and day, from the same timelines players run."""

from __future__ import annotations

import datetime as dt

from schedules.forecast import forecast
from schedules.model import Priority, ScreenClass, Targeting
from schedules.timeline import timeline
from tests.schedules.factories import BASE_ITEMS, announcement, campaign, catalogue, daily_hours, screen

DAY = dt.date(2026, 11, 25)


def test_plays_per_targeted_screen_match_the_timeline() -> None:
    cat = catalogue(BASE_ITEMS)
    new = campaign("new", share=10, targeting=Targeting(screen_classes=frozenset({ScreenClass.INDOOR_SMALL})))
    screens = [
        screen("a", hours=daily_hours(dt.time(8), dt.time(18))),
        screen("b", hours=daily_hours(dt.time(8), dt.time(18))),
        screen("c", cls=ScreenClass.KIOSK),
    ]
    f = forecast(screens, cat, new, DAY)
    assert set(f.plays) == {"a", "b"} and f.plays["a"] == f.plays["b"] and f.total == 2 * f.plays["a"]
    # 10 % of each 120 s loop with a 10 s spot: 1.2 plays per loop, 30 loops an hour, 10 hours
    assert 355 <= f.plays["a"] <= 370
    start = dt.datetime(2026, 11, 24, 16, tzinfo=dt.UTC)
    full = cat.model_copy(update={"campaigns": (new,)})
    counted = sum(
        1
        for s in timeline(screens[0], full, start, start + dt.timedelta(days=1)).slots()
        if s.source_id == "new"
    )
    assert counted == f.plays["a"]


def test_caps_emergencies_and_off_days_lower_the_forecast() -> None:
    alert = announcement(
        "gas",
        items=("alert",),
        priority=Priority.EMERGENCY,
        valid_from=dt.datetime(2026, 11, 25, 2, tzinfo=dt.UTC),
        valid_until=dt.datetime(2026, 11, 25, 4, tzinfo=dt.UTC),
    )
    plain = forecast([screen()], catalogue(BASE_ITEMS), campaign("c", share=10), DAY).total
    assert (
        forecast(
            [screen()], catalogue(BASE_ITEMS), campaign("c", share=10, frequency_cap_per_hour=5), DAY
        ).total
        == 24 * 5
    )
    assert (
        forecast(
            [screen()], catalogue(BASE_ITEMS, announcements=(alert,)), campaign("c", share=10), DAY
        ).total
        < plain
    )
    holiday = screen(hours=daily_hours(dt.time(0), dt.time(0), holidays=(DAY,)))
    assert forecast([holiday], catalogue(BASE_ITEMS), campaign("c", share=10), DAY).plays == {"s1": 0}
