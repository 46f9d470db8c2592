"""Recurrence rules agree with python-dateutil, in the screen's local dates, across DST."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrule, rrulestr
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
    never = "FREQ=HOURLY;BYYEARDAY=4;BYMONTHDAY=1"  # 4 January is never the 1st
    assert rrule_dates(never, dt.date(2026, 1, 1), dt.date(2030, 12, 31)) == frozenset()
    assert time.process_time() - t0 < 2.0  # dateutil alone searches to year 9999: many seconds


# --- every part of RFC 5545's RRULE: honoured as dateutil expands it, or refused by name -----

ORD_DAYS = ["1MO", "-1FR", "2TU", "3SU", "-2SA"]


@st.composite
def any_rules(draw: st.DrawFn) -> str:
    """Rules over every RRULE part, including combinations RFC 5545 forbids."""
    freq = draw(st.sampled_from(["HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"]))
    parts = [f"FREQ={freq}"]
    maybe = st.booleans()
    if draw(maybe):
        parts.append(f"INTERVAL={draw(st.integers(1, 5))}")
    if draw(maybe):
        days = draw(st.lists(st.sampled_from(DAYS + ORD_DAYS), min_size=1, max_size=3, unique=True))
        parts.append("BYDAY=" + ",".join(days))
    if draw(st.integers(0, 4)) == 0:
        mdays = draw(st.lists(st.integers(1, 28) | st.just(-1), min_size=1, max_size=2, unique=True))
        parts.append("BYMONTHDAY=" + ",".join(map(str, mdays)))
    if draw(st.integers(0, 5)) == 0:
        parts.append(f"BYYEARDAY={draw(st.integers(1, 200))}")
    if draw(st.integers(0, 5)) == 0:
        parts.append(f"BYWEEKNO={draw(st.integers(1, 30))}")
    if draw(st.integers(0, 4)) == 0:
        months = draw(st.lists(st.integers(1, 12), min_size=1, max_size=4, unique=True))
        parts.append("BYMONTH=" + ",".join(map(str, months)))
    if draw(maybe):
        hours = draw(st.lists(st.integers(0, 23), min_size=1, max_size=5, unique=True))
        parts.append("BYHOUR=" + ",".join(map(str, hours)))
    if draw(st.integers(0, 5)) == 0:
        parts.append(f"BYMINUTE={draw(st.sampled_from([0, 15, 30]))}")
    if draw(st.integers(0, 4)) == 0:
        parts.append(f"BYSETPOS={draw(st.sampled_from([1, 2, -1, 3]))}")
    if draw(st.integers(0, 5)) == 0:
        parts.append(f"WKST={draw(st.sampled_from(['MO', 'SU', 'WE']))}")
    ending = draw(st.sampled_from(["", "", "count", "until", "until_time", "both"]))
    if ending in ("count", "both"):
        parts.append(f"COUNT={draw(st.integers(1, 60))}")
    if ending in ("until", "both"):
        parts.append(f"UNTIL=2026{draw(st.integers(2, 12)):02d}{draw(st.integers(1, 28)):02d}")
    if ending == "until_time":
        parts.append(f"UNTIL=2026{draw(st.integers(2, 6)):02d}15T{draw(st.integers(0, 23)):02d}0000Z")
    order = draw(st.permutations(parts))
    return ";".join(order)


def _local_hours(
    intervals: tuple[tuple[dt.datetime, dt.datetime], ...], zone: ZoneInfo
) -> set[tuple[dt.date, int]]:
    out: set[tuple[dt.date, int]] = set()
    for a, b in intervals:
        t = a
        while t < b:
            local = t.astimezone(zone)
            out.add((local.date(), local.hour))
            t += dt.timedelta(hours=1)
    return out


def _exists(naive: dt.datetime, zone: ZoneInfo) -> bool:
    """False for wall-clock times inside a spring-forward gap (they never happen there)."""
    back = naive.replace(tzinfo=zone).astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None)
    return back == naive


@settings(max_examples=200, deadline=None)
@given(
    any_rules(),
    st.dates(dt.date(2026, 1, 1), dt.date(2026, 4, 30)),
    st.integers(20, 150),
    st.sampled_from(["Europe/Berlin", "America/New_York", "Asia/Shanghai", "Asia/Kolkata"]),
)
@example("FREQ=WEEKLY;BYDAY=SA,SU;BYHOUR=9,10,11", dt.date(2026, 3, 1), 40, "Europe/Berlin")  # DST inside
@example("FREQ=HOURLY;INTERVAL=5;COUNT=30", dt.date(2026, 3, 28), 3, "Europe/Berlin")  # 02:00 gap
@example("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1;BYHOUR=8", dt.date(2026, 1, 1), 120, "Asia/Shanghai")
@example("FREQ=DAILY;BYHOUR=9,17;COUNT=5", dt.date(2026, 2, 1), 30, "Asia/Shanghai")
@example("FREQ=YEARLY;BYWEEKNO=10;BYDAY=TU", dt.date(2026, 1, 1), 120, "America/New_York")
@example("FREQ=YEARLY;BYYEARDAY=60,61", dt.date(2026, 1, 1), 120, "America/New_York")
@example("FREQ=DAILY;BYHOUR=23;UNTIL=20260310T230000Z", dt.date(2026, 3, 1), 30, "Asia/Shanghai")
def test_every_accepted_rule_plays_exactly_the_hours_dateutil_expands(
    rule: str, first: dt.date, length: int, tz: str
) -> None:
    last = first + dt.timedelta(days=length)
    c = campaign("c", start=first, end=last, rrule=rule)
    dtstart = dt.datetime.combine(first, dt.time(0))
    try:
        engine = ScheduleEngine(catalogue(BASE_ITEMS, campaigns=(c,)))
    except ScheduleError as exc:
        assert exc.field == "rrule"
        message = re.sub(r"'[^']*'", "", str(exc))  # without the quoted rule
        if "malformed" in message:  # dateutil itself refuses it
            with pytest.raises(ValueError):
                rrulestr(rule.replace("Z", ""), dtstart=dtstart)
            return
        # refused by name: a part we name (sub-hour parts point to dayparts)
        assert any(p.split("=")[0] in message for p in rule.split(";")) or "never occur" in message, message
        if re.search(r"BYMINUTE=(15|30)", rule):
            assert "dayparts" in message
        return
    expected_rule = rrulestr(rule.replace("Z", ""), dtstart=dtstart)
    zone = ZoneInfo(tz)
    start = dt.datetime.combine(first, dt.time(0), zone).astimezone(dt.UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=2), dt.time(0), zone).astimezone(dt.UTC)
    intervals = engine.rule_intervals(len(engine.announcements), tz, start, end)
    before = dt.datetime.combine(last, dt.time(23, 59))
    if intervals:
        occurrences = expected_rule.between(dtstart, before, inc=True)
    else:
        # A rule that never matches makes dateutil search to year 9999 (minutes from 2026): ask it
        # the same question 7600 years later (the Gregorian calendar repeats every 400 years).
        late_start = dtstart.replace(year=dtstart.year + 7600)
        late = rrulestr(rule.replace("Z", ""), dtstart=late_start)
        assert isinstance(late, rrule)
        until = getattr(late, "_until", None)
        if until is not None:
            late = late.replace(until=until.replace(year=until.year + 7600))
        occurrences = late.between(late_start, before.replace(year=before.year + 7600), inc=True)
    if "BYHOUR" in rule or "HOURLY" in rule:
        expected = {(x.date(), x.hour) for x in occurrences if _exists(x, zone)}
        assert _local_hours(intervals, zone) == expected
    else:
        ours = {d for d, _ in _local_hours(intervals, zone)}
        assert ours == {x.date() for x in occurrences}
        # daily rules give whole local days
        assert all(len({h for d2, h in _local_hours(intervals, zone) if d2 == d}) >= 23 for d in ours)


@pytest.mark.parametrize(
    ("rule", "names"),
    [
        ("FREQ=DAILY;BYMINUTE=30", "dayparts"),
        ("FREQ=DAILY;BYSECOND=10", "dayparts"),
        ("FREQ=MINUTELY;INTERVAL=15", "dayparts"),
        ("FREQ=SECONDLY", "dayparts"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20260310", "COUNT"),
        ("FREQ=WEEKLY;BYWEEKNO=3", "BYWEEKNO"),
        ("FREQ=DAILY;BYYEARDAY=70", "BYYEARDAY"),
        ("FREQ=WEEKLY;BYMONTHDAY=3", "BYMONTHDAY"),
        ("FREQ=WEEKLY;BYDAY=1MO", "numbered weekdays"),
        ("FREQ=DAILY;BYHOUR=24", "hour"),
        ("FREQ=DAILY;X-COLOUR=red", "X-COLOUR"),
        ("FREQ=DAILY;FREQ=WEEKLY", "twice"),
        ("BYDAY=MO", "FREQ"),
        ("FREQ=FORTNIGHTLY", "FORTNIGHTLY"),
        ("FREQ=DAILY;BYSETPOS=2", "BYSETPOS"),  # one occurrence a day: dateutil would search to 9999
        ("FREQ=HOURLY;BYSETPOS=-2", "BYSETPOS"),
        ("FREQ=DAILY;BYHOUR=9,10;BYSETPOS=3", "BYSETPOS"),
    ],
)
def test_parts_the_engine_cannot_honour_are_refused_by_name(rule: str, names: str) -> None:
    with pytest.raises(ScheduleError) as e:
        parse_rrule(rule, dt.date(2026, 1, 1))
    assert e.value.field == "rrule" and names in str(e.value)


def test_weekend_mornings_by_hour_play_three_hours_not_the_whole_weekend() -> None:
    """'Weekend mornings 09-12' as an RRULE: 6 hours a weekend, not 48 (the outside check found 8x)."""
    rule = "FREQ=WEEKLY;BYDAY=SA,SU;BYHOUR=9,10,11"
    c = campaign("c", share=30, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31), rrule=rule)
    cat = catalogue(BASE_ITEMS, campaigns=(c,))
    zone = ZoneInfo("Europe/Berlin")
    start = dt.datetime(2026, 3, 23, tzinfo=zone)  # Monday; the weekend of the 28th/29th changes to DST
    tl = ScheduleEngine(cat).timeline(screen(tz="Europe/Berlin"), start, start + dt.timedelta(days=7))
    plays = [p for p in tl.expand() if p.entry.source is SlotSource.CAMPAIGN]
    assert {(p.start.astimezone(zone).date(), p.start.astimezone(zone).hour) for p in plays} == {
        (dt.date(2026, 3, d), h) for d in (28, 29) for h in (9, 10, 11)
    }
    # 30 % of 120 s loops on an indoor screen, capacity 50 %: 36 s of ads per 120 s loop,
    # 10 s ads -> 3.6 plays a loop, 30 loops an hour -> 108 plays an hour, 6 hours -> 648
    assert len(plays) == 648


def test_by_hour_availability_and_explain_see_only_the_booked_hours() -> None:
    from schedules.availability import check_availability
    from schedules.explain import explain_absence

    rule = "FREQ=WEEKLY;BYDAY=SA,SU;BYHOUR=9,10,11"
    afternoon = campaign(
        "afternoon", share=50, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31),
        rrule="FREQ=WEEKLY;BYDAY=SA,SU;BYHOUR=13,14",
    )  # fmt: skip
    cat = catalogue(BASE_ITEMS, campaigns=(afternoon,))
    scr = screen()
    morning = campaign("morning", share=40, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31), rrule=rule)
    result = check_availability([scr], cat, morning)
    assert result.fits, result.conflicts  # the full afternoon does not block the morning
    clash = campaign("clash", share=40, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31),
                     rrule="FREQ=WEEKLY;BYDAY=SU;BYHOUR=14")  # fmt: skip
    result = check_availability([scr], cat, clash)
    assert not result.fits
    assert {(x.weekday, x.start, x.end) for x in result.conflicts} == {(6, dt.time(14), dt.time(15))}
    local = ZoneInfo("Asia/Shanghai")
    cat2 = catalogue(BASE_ITEMS, campaigns=(morning,))
    ex = explain_absence(scr, cat2, "morning", dt.datetime(2026, 3, 7, 13, 30, tzinfo=local))
    assert ex.codes == ("rrule_excluded",) and "2026-03-07 13:00" in ex.text()
    ex = explain_absence(scr, cat2, "morning", dt.datetime(2026, 3, 6, 10, 30, tzinfo=local))
    assert ex.codes == ("rrule_excluded",) and "2026-03-06" in ex.text()
    assert explain_absence(scr, cat2, "morning", dt.datetime(2026, 3, 7, 10, 30, tzinfo=local)).codes[0] in (
        "playing", "between_plays",
    )  # fmt: skip


def test_by_hour_with_a_daypart_plays_where_both_allow() -> None:
    from schedules.model import Daypart

    c = campaign(
        "c", share=20, start=dt.date(2026, 5, 1), end=dt.date(2026, 5, 31),
        rrule="FREQ=DAILY;BYHOUR=8,9,10,18", dayparts=(Daypart(start=dt.time(9, 30), end=dt.time(19)),),
    )  # fmt: skip
    zone = ZoneInfo("Asia/Shanghai")
    engine = ScheduleEngine(catalogue(BASE_ITEMS, campaigns=(c,)))
    day = dt.datetime(2026, 5, 4, tzinfo=zone)
    got = engine.rule_intervals(len(engine.announcements), "Asia/Shanghai", day, day + dt.timedelta(days=1))
    assert [(a.astimezone(zone).time(), b.astimezone(zone).time()) for a, b in got] == [
        (dt.time(9, 30), dt.time(11)),
        (dt.time(18), dt.time(19)),
    ]
