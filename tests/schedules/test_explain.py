"""Explanations: why a slot plays, why a campaign does not, in English and Chinese."""

from __future__ import annotations

import datetime as dt

import pytest

from schedules.errors import ScheduleError
from schedules.explain import explain_absence, explain_slot
from schedules.model import Daypart, ItemKind, Priority, ScreenClass, SlotSource, Targeting
from schedules.timeline import timeline
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

DAY = dt.datetime(2026, 11, 24, 16, tzinfo=UTC)  # Wednesday 2026-11-25 00:00 in Shanghai
LOCAL = dt.timezone(dt.timedelta(hours=8))


def at(hour: int, minute: int = 0, day: int = 25) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=LOCAL)


def test_each_kind_of_slot_is_explained_in_both_languages() -> None:
    cat = catalogue(
        BASE_ITEMS,
        campaigns=(campaign("coffee", share=20),),
        announcements=(announcement("notice-1", priority=Priority.IMPORTANT),),
    )
    scr = screen()
    slots = list(timeline(scr, cat, DAY, DAY + dt.timedelta(hours=1)).slots())
    by_source = {s.source: s for s in slots}
    ex = explain_slot(scr, cat, by_source[SlotSource.CAMPAIGN])
    assert ex.codes == ("campaign", "booked_share") and "20%" in ex.text() and "coffee" in ex.text("zh")
    assert explain_slot(scr, cat, by_source[SlotSource.ANNOUNCEMENT]).codes == ("announcement", "important")
    ex = explain_slot(scr, cat, by_source[SlotSource.FILLER])
    assert ex.codes == ("filler",) and "填充" in ex.text("zh")
    forged = by_source[SlotSource.FILLER].model_copy(update={"item_id": "ad"})
    assert explain_slot(scr, cat, forged).codes[0] == "not_in_timeline"


def test_absence_reasons() -> None:
    items = [*BASE_ITEMS, item("outdoor-only", 10, screen_classes=frozenset({ScreenClass.OUTDOOR_LARGE}))]
    cat = catalogue(
        items,
        campaigns=(
            campaign(
                "rush",
                share=20,
                dayparts=(Daypart(weekdays=frozenset(range(5)), start=dt.time(7), end=dt.time(9)),),
            ),
            campaign("weekend", share=10, rrule="FREQ=WEEKLY;BYDAY=SA,SU"),
            campaign("past", share=10, end=dt.date(2026, 11, 1)),
            campaign("elsewhere", share=10, targeting=Targeting(groups=frozenset({"other"}))),
            campaign("big", items=("outdoor-only",), share=10),
        ),
    )
    scr = screen(hours=daily_hours(dt.time(6), dt.time(23)))
    assert explain_absence(scr, cat, "rush", at(12)).codes == ("outside_daypart",)
    assert explain_absence(scr, cat, "rush", at(3)).codes == ("screen_off", "outside_daypart")
    assert explain_absence(scr, cat, "weekend", at(12)).codes == ("rrule_excluded",)
    assert explain_absence(scr, cat, "past", at(12)).codes == ("outside_flight",)
    assert explain_absence(scr, cat, "elsewhere", at(12)).codes == ("not_targeted",)
    assert explain_absence(scr, cat, "big", at(12)).codes == ("no_valid_items",)
    ex = explain_absence(scr, cat, "rush", at(8, 3))
    assert ex.codes in (("playing",), ("between_plays",))
    assert "09:00" not in ex.text() and ex.text("zh")
    with pytest.raises(ScheduleError) as e:
        explain_absence(scr, cat, "nope", at(12))
    assert e.value.field == "campaign_id"


def test_emergency_sold_out_and_cap_reasons() -> None:
    alert_at = dt.datetime(2026, 11, 25, 14, 0, 0, tzinfo=LOCAL)
    cat = catalogue(
        BASE_ITEMS,
        campaigns=(
            campaign("a", share=45),
            campaign("b", items=("ad2",), share=45),
            campaign("capped", items=("ad",), share=20, frequency_cap_per_hour=1, advertiser="x"),
        ),
        announcements=(
            announcement(
                "gas",
                items=("alert",),
                priority=Priority.EMERGENCY,
                valid_from=alert_at,
                valid_until=alert_at + dt.timedelta(hours=1),
            ),
        ),
    )
    scr = screen()
    assert explain_absence(scr, cat, "a", at(14, 30)).codes == ("preempted_by_emergency",)
    ex = explain_absence(scr, cat, "capped", at(12, 40))
    # its cap (1 play an hour), not the sell-out, limits it: the sell-out is not named for it
    assert ex.codes == ("frequency_capped", "cap_reached"), ex
    assert "1" in ex.reasons[ex.codes.index("cap_reached")].en
    waiting = next(
        e for m in range(60) if (e := explain_absence(scr, cat, "a", at(12, m))).codes != ("playing",)
    )
    assert waiting.codes[0] == "sold_out" and "between_plays" in waiting.codes


def test_cap_replacement_is_explained() -> None:
    items = [*BASE_ITEMS, item("long", 30, ItemKind.IMAGE)]
    cat = catalogue(items, campaigns=(campaign("c", items=("long",), share=40, frequency_cap_per_hour=2),))
    scr = screen(cls=ScreenClass.OUTDOOR_LARGE)
    slots = list(timeline(scr, cat, DAY, DAY + dt.timedelta(hours=1)).slots())
    assert sum(1 for s in slots if s.source_id == "c") == 2
    assert explain_absence(scr, cat, "c", DAY + dt.timedelta(minutes=50)).codes == (
        "frequency_capped",
        "cap_reached",
    )


def test_explanations_name_announcements_and_campaigns_as_people_know_them() -> None:
    """Operators read titles and campaign names, never internal ids (issue 14)."""
    text = {"zh": "明天停水", "en": "No water"}
    water = item("notice-text", 10, kind=ItemKind.TEXT, text=text, title="停水通知")
    cat = catalogue(
        [*BASE_ITEMS, water],
        campaigns=(campaign("c-7f3a", share=20, name="冬季面包节"),),
        announcements=(announcement("a-91bc", items=("notice-text",)),),
    )
    scr = screen()
    slots = {s.source: s for s in timeline(scr, cat, DAY, DAY + dt.timedelta(hours=1)).slots()}
    said = explain_slot(scr, cat, slots[SlotSource.ANNOUNCEMENT])
    assert "停水通知" in said.text("zh") and "停水通知" in said.text("en") and "a-91bc" not in said.text("zh")
    said = explain_slot(scr, cat, slots[SlotSource.CAMPAIGN])
    assert "冬季面包节" in said.text("zh") and "c-7f3a" not in said.text("zh")
