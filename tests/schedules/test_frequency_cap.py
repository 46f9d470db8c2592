"""Oversold ad time with a frequency-capped campaign: the time the cap leaves goes to the others."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from schedules.engine import ScheduleEngine
from schedules.explain import explain_absence, explain_slot
from schedules.loop import allot_ad_time
from schedules.model import ScreenClass, SlotSource
from tests.schedules.factories import BASE_ITEMS, campaign, catalogue, screen

LOCAL = dt.timezone(dt.timedelta(hours=8))
HOUR = dt.datetime(2026, 6, 3, 10, 0, tzinfo=LOCAL)


def test_hand_computed_oversold_hour_with_a_capped_campaign() -> None:
    """Worked by hand (indoor_small: 120 s loops, max ad share 50 %, no announcements -> capacity 50 %).

    Bookings, 10 s pictures: A 40 %, B 20 %, C 30 % capped at 6 plays an hour.
    C's cap lets it fill at most 6 x 10 s / 3600 s = 1.6667 % of the time.
    Demand 40 + 20 + 1.6667 = 61.67 % > 50 %: oversold. Scale s for the uncapped bookings:
      (40 + 20) s + 1.6667 = 50  ->  s = 48.3333 / 60 = 0.80556
    A: 40 x 0.80556 = 32.222 % of 3600 s = 1160 s = 116 plays
    B: 20 x 0.80556 = 16.111 % of 3600 s =  580 s =  58 plays
    C: 6 plays (60 s). Ads 1800 s = exactly the 50 % capacity; filler 1800 s.
    (Scaling everything by 50/90 and then capping C, as before, gave A 80, B 40, C 6 plays:
    540 s of sold time went to filler.)
    """
    cat = catalogue(
        BASE_ITEMS,
        campaigns=(
            campaign("A", items=("ad",), share=40),
            campaign("B", items=("ad2",), share=20),
            campaign("C", items=("ad",), share=30, frequency_cap_per_hour=6),
        ),
    )
    scr = screen(cls=ScreenClass.INDOOR_SMALL)
    tl = ScheduleEngine(cat).timeline(scr, HOUR, HOUR + dt.timedelta(hours=1))
    placed = list(tl.expand())
    plays = Counter(p.entry.source_id for p in placed if p.entry.source is SlotSource.CAMPAIGN)
    assert plays == {"A": 116, "B": 58, "C": 6}
    seconds = Counter()
    for p in placed:
        seconds[p.entry.source] += (p.end - p.start).total_seconds()
    assert seconds[SlotSource.CAMPAIGN] == pytest.approx(1800)
    assert seconds[SlotSource.FILLER] == pytest.approx(1800)
    assert not any(p.replaced == "cap_reached" for p in placed)  # C is paced, never cut to filler
    assert tl.count_plays("A") == 116 and tl.count_plays("C") == 6

    # explain: C's cap is named whenever C waits, before and after its 6 plays are used
    first_c = next(p for p in placed if p.entry.source_id == "C")
    waiting = first_c.end + dt.timedelta(seconds=1)
    assert explain_absence(scr, cat, "C", waiting).codes == ("frequency_capped", "between_plays")
    assert "6" in explain_absence(scr, cat, "C", waiting).text()
    assert "6" in explain_absence(scr, cat, "C", waiting).text("zh")
    last_c = [p for p in placed if p.entry.source_id == "C"][-1]
    after = last_c.end + dt.timedelta(seconds=1)
    assert explain_absence(scr, cat, "C", after).codes == ("frequency_capped", "cap_reached")
    assert "frequency_capped" in explain_slot(scr, cat, first_c.slot()).codes
    # A is limited by the sell-out, not by a cap: 81 % of its booking (0.80556)
    a_waits = next(p for p in placed if p.entry.source is SlotSource.FILLER).start
    ex = explain_absence(scr, cat, "A", a_waits)
    assert ex.codes[0] == "sold_out" and "81%" in ex.text()
    assert (
        "frequency_capped"
        not in explain_slot(scr, cat, next(p for p in placed if p.entry.source_id == "A").slot()).codes
    )


def test_allotment_gives_unused_capped_time_to_the_others_and_never_exceeds_bookings() -> None:
    # capped far below its booking: the others get up to their full bookings, never more
    scale, got = allot_ad_time([40, 20, 30], [None, None, 1.0], 70)
    assert scale == 1 and got == [40, 20, 1.0]
    # two caps, one binding only after scaling
    scale, got = allot_ad_time([50, 30, 20], [None, 12.0, 2.0], 50)
    # s: 50s + 30s + 2 = 50 -> s = 0.6 -> B gets 18 > 12, so B is bound too: 50s + 12 + 2 = 50 -> s = 0.72
    assert scale == pytest.approx(0.72) and got == pytest.approx([36, 12, 2])
    assert sum(got) == pytest.approx(50)
