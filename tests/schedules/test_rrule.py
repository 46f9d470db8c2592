"""Recurrence rules agree with python-dateutil, in the screen's local dates, across DST."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import example, given, settings
from hypothesis import strategies as st

from schedules.engine import ScheduleEngine
from schedules.errors import ScheduleError
from schedules.model import SlotSource
from schedules.wallclock import parse_rrule
from tests.schedules.factories import BASE_ITEMS, campaign, catalogue, screen

DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


@st.composite
def rules(draw: st.DrawFn) -> str:
    freq = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]))
    parts = [f"FREQ={freq}"]
    if draw(st.booleans()):
        parts.append(f"INTERVAL={draw(st.integers(1, 4))}")
    if draw(st.booleans()):
        parts.append(
            "BYDAY=" + ",".join(draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=4, unique=True)))
        )
    if freq in ("MONTHLY", "YEARLY") and draw(st.booleans()):
        days = draw(st.lists(st.integers(1, 28) | st.just(-1), min_size=1, max_size=3, unique=True))
        parts.append("BYMONTHDAY=" + ",".join(map(str, days)))
    if freq == "YEARLY" and draw(st.booleans()):
        parts.append(
            "BYMONTH="
            + ",".join(map(str, draw(st.lists(st.integers(1, 12), min_size=1, max_size=3, unique=True))))
        )
    ending = draw(st.sampled_from(["", "count", "until"]))
    if ending == "count":
        parts.append(f"COUNT={draw(st.integers(1, 40))}")
    elif ending == "until":
        parts.append(f"UNTIL=2026{draw(st.integers(2, 12)):02d}15T000000Z")
    return ";".join(parts)


@settings(max_examples=120, deadline=None)
@given(
    rules(),
    st.dates(dt.date(2026, 1, 1), dt.date(2026, 6, 30)),
    st.integers(30, 300),
    st.sampled_from(["Europe/Berlin", "America/New_York", "Asia/Shanghai"]),
)
@example("FREQ=YEARLY;BYMONTH=2", dt.date(2026, 1, 30), 30, "Asia/Shanghai")  # found by hypothesis
def test_active_local_dates_match_dateutil(rule: str, first: dt.date, length: int, tz: str) -> None:
    last = first + dt.timedelta(days=length)
    c = campaign("c", start=first, end=last, rrule=rule)
    expected_rule = rrulestr(rule.replace("Z", ""), dtstart=dt.datetime.combine(first, dt.time(0)))
    try:
        engine = ScheduleEngine(catalogue(BASE_ITEMS, campaigns=(c,)))
    except ScheduleError as exc:
        # e.g. YEARLY;BYMONTH=2 from 30 January: the day comes from the start, 30 February never is
        assert "can never occur" in str(exc)
        assert expected_rule.after(dt.datetime.combine(first, dt.time(0)), inc=True) is None
        return
    zone = ZoneInfo(tz)
    start = dt.datetime.combine(first, dt.time(0), zone).astimezone(dt.UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), zone).astimezone(dt.UTC)
    intervals = engine.rule_intervals(len(engine.announcements), tz, start, end)
    ours: set[dt.date] = set()
    for a, b in intervals:
        d = a.astimezone(zone).date()
        while dt.datetime.combine(d, dt.time(0), zone) < b:
            ours.add(d)
            d += dt.timedelta(days=1)
    expected = {
        x.date()
        for x in expected_rule.between(
            dt.datetime.combine(first, dt.time(0)), dt.datetime.combine(last, dt.time(23, 59)), inc=True
        )
    }
    assert ours == expected


def test_weekend_rule_plays_on_weekend_local_days_only_across_dst() -> None:
    c = campaign(
        "c", share=30, start=dt.date(2026, 10, 20), end=dt.date(2026, 11, 5), rrule="FREQ=WEEKLY;BYDAY=SA,SU"
    )
    cat = catalogue(BASE_ITEMS, campaigns=(c,))
    zone = ZoneInfo("Europe/Berlin")
    start = dt.datetime(2026, 10, 22, tzinfo=zone)
    tl = ScheduleEngine(cat).timeline(screen(tz="Europe/Berlin"), start, start + dt.timedelta(days=7))
    days = {p.start.astimezone(zone).date() for p in tl.expand() if p.entry.source is SlotSource.CAMPAIGN}
    assert days == {dt.date(2026, 10, 24), dt.date(2026, 10, 25)}  # the 25th is the 25-hour day


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;BYHOUR=xx",
        "FREQ=MINUTELY",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=31",
        "RRULE:FREQ=WEEKLY\nEXDATE:20260101",
        "",
        "NOT A RULE",
    ],
)
def test_malformed_rules_are_refused_naming_the_field(rule: str) -> None:
    with pytest.raises(ScheduleError) as e:
        parse_rrule(rule, dt.date(2026, 1, 1))
    assert e.value.field == "rrule"


def test_a_rule_that_never_matches_costs_little_cpu() -> None:
    import time

    from schedules.wallclock import rrule_dates

    t0 = time.process_time()
    assert rrule_dates("FREQ=DAILY;BYSETPOS=2", dt.date(2026, 1, 1), dt.date(2030, 12, 31)) == frozenset()
    assert time.process_time() - t0 < 2.0  # dateutil alone searches to year 9999: many seconds
