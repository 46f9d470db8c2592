"""House rules per screen class and per group, and the check that refuses a change that shorts bookings."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from schedules.engine import ScheduleEngine
from schedules.errors import ScheduleError
from schedules.house_rules import check_house_rules_change
from schedules.model import (
    DEFAULT_HOUSE_RULES,
    Catalogue,
    HouseRules,
    HouseRulesOverride,
    ItemKind,
    ScreenClass,
    SlotSource,
    Targeting,
    screen_house_rules,
)
from schedules.protocol.device import Manifest
from tests.schedules.factories import BASE_ITEMS, campaign, catalogue, item, screen

LOCAL = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 6, 1, 8, 0, tzinfo=LOCAL)
INDOOR = ScreenClass.INDOOR_SMALL


def _with_rules(cat: Catalogue, **update: object) -> Catalogue:
    return cat.model_copy(update=update)


def _class_rules(**changes: float) -> dict[ScreenClass, HouseRules]:
    rules = dict(DEFAULT_HOUSE_RULES)
    rules[INDOOR] = rules[INDOOR].model_copy(update=changes)
    return rules


def test_a_screen_plays_by_its_class_rules_then_its_groups_strictest_overrides() -> None:
    cat = catalogue(
        BASE_ITEMS,
        group_house_rules={
            "shopping-street": HouseRulesOverride(max_ad_share=80, min_announcement_share=10),
            "school-gate": HouseRulesOverride(max_ad_share=10, min_dwell_s=8),
        },
    )
    plain = screen("plain")
    street = screen("street", groups=frozenset({"shopping-street"}))
    both = screen("both", groups=frozenset({"shopping-street", "school-gate"}))
    assert screen_house_rules(cat, plain) == DEFAULT_HOUSE_RULES[INDOOR]
    assert screen_house_rules(cat, street) == HouseRules(
        loop_seconds=120, min_announcement_share=10, max_ad_share=80, min_dwell_s=5
    )  # a group may loosen its class's rules
    assert screen_house_rules(cat, both) == HouseRules(
        loop_seconds=120, min_announcement_share=40, max_ad_share=10, min_dwell_s=8
    )  # two groups: the strictest of each rule


def test_group_rules_change_what_its_screens_play() -> None:
    cat = catalogue(
        BASE_ITEMS,
        campaigns=(campaign("a", share=40), campaign("b", items=("ad2",), share=40)),
        group_house_rules={"school-gate": HouseRulesOverride(max_ad_share=20)},
    )
    engine = ScheduleEngine(cat)
    hour = (NOW, NOW + dt.timedelta(hours=1))

    def ad_seconds(s: object) -> float:
        tl = engine.timeline(s, *hour)  # type: ignore[arg-type]
        return sum(
            (p.end - p.start).total_seconds() for p in tl.expand() if p.entry.source is SlotSource.CAMPAIGN
        )

    # class rule: 50 % of the hour (60 s a 120 s loop: six 10 s spots); the school gate's group:
    # 20 %, 24 s a loop, where two 10 s spots fit: 30 loops x 20 s
    assert ad_seconds(screen("lobby")) == pytest.approx(1800)
    assert ad_seconds(screen("gate", groups=frozenset({"school-gate"}))) == pytest.approx(600)


def test_group_rules_stay_off_the_wire_when_unset_so_older_players_parse() -> None:
    plain = catalogue(BASE_ITEMS)
    assert "group_house_rules" not in plain.model_dump_json()
    with_groups = _with_rules(plain, group_house_rules={"g": HouseRulesOverride(max_ad_share=10)})
    dumped = with_groups.model_dump_json()
    assert '"group_house_rules":{"g":' in dumped
    assert Catalogue.model_validate_json(dumped) == with_groups
    # a manifest built the old way (no group rules) parses with the previous model too
    assert (
        "group_house_rules"
        not in Manifest(
            version="v", generated_at=NOW, valid_until=NOW, screen=screen(), catalogue=plain
        ).model_dump_json()
    )


def test_impossible_rules_are_refused_naming_the_field() -> None:
    with pytest.raises(ScheduleError) as e:
        ScheduleEngine(catalogue(BASE_ITEMS, group_house_rules={"g": HouseRulesOverride(max_ad_share=120)}))
    assert e.value.field == "max_ad_share"
    with pytest.raises(ScheduleError) as e:
        ScheduleEngine(catalogue(BASE_ITEMS, house_rules=_class_rules(loop_seconds=2)))
    assert e.value.field == "loop_seconds"


def test_a_smaller_ad_share_is_refused_listing_the_campaigns_it_would_short() -> None:
    """Two 20 % bookings on lobby screens; the class's ad share goes from 50 % to 30 %:
    each would get 30 / 40 = 75 % of its booking. A 45 % limit still holds both (40 % booked)."""
    cat = catalogue(
        BASE_ITEMS,
        campaigns=(
            campaign("bakery", share=20, name="Bakery spring offer"),
            campaign("gym", items=("ad2",), share=20, name="Gym"),
        ),
    )
    screens = [screen("lobby-1"), screen("lobby-2")]
    check = check_house_rules_change(
        screens, cat, _with_rules(cat, house_rules=_class_rules(max_ad_share=30)), start=NOW, days=7
    )
    assert not check.ok
    assert [(u.campaign_id, u.delivered_percent, u.current_percent) for u in check.under_delivered] == [
        ("bakery", 75.0, 100.0),
        ("gym", 75.0, 100.0),
    ]
    first = check.under_delivered[0]
    assert first.name == "Bakery spring offer" and first.screen_ids == ("lobby-1", "lobby-2")
    assert first.first_hour == NOW and first.hours == 2 * 7 * 24
    ok = check_house_rules_change(
        screens, cat, _with_rules(cat, house_rules=_class_rules(max_ad_share=45)), start=NOW, days=7
    )
    assert ok.ok and ok.under_delivered == ()


def test_a_group_override_shorts_only_campaigns_on_that_groups_screens_and_hours() -> None:
    cat = catalogue(
        BASE_ITEMS,
        campaigns=(
            campaign("everywhere", share=10),
            campaign(
                "gate-mornings",
                items=("ad2",),
                share=30,
                rrule="FREQ=DAILY;BYHOUR=7,8",
                targeting=Targeting(groups=frozenset({"school-gate"})),
            ),
        ),
    )
    screens = [screen("lobby"), screen("gate", groups=frozenset({"school-gate"}))]
    proposal = _with_rules(
        cat, group_house_rules={"school-gate": HouseRulesOverride(min_announcement_share=70)}
    )
    check = check_house_rules_change(screens, cat, proposal, start=NOW, days=3)
    # the gate keeps 30 % for ads: at 07-09 the two bookings ask 40 % (each gets 75 %), other hours 10 %
    assert [(u.campaign_id, u.delivered_percent, u.screen_ids) for u in check.under_delivered] == [
        ("everywhere", 75.0, ("gate",)),
        ("gate-mornings", 75.0, ("gate",)),
    ]
    # from 08:00 on 1 June for 3 days: 1 June 08, 07 and 08 on the 2nd and 3rd, 07 on the 4th
    morning = check.under_delivered[1]
    assert morning.first_hour == NOW and morning.hours == 6
    assert check.under_delivered[0].hours == 6  # alone (10 % of 30 %) it is short in no other hour


def test_a_longer_dwell_that_rules_out_a_video_or_stretches_pictures_is_refused() -> None:
    """Dwell 5 s -> 9 s. Today: video 10 % + 180 plays/h x 5 s (25 %) + pictures 10 % = 45 % of 50 %.
    Proposed: the 6 s video cannot play; 180 x 9 s = 45 %, + 10 % = 55 % > 50 %: each gets 50/55 = 90.9 %."""
    items = [*BASE_ITEMS, item("clip", 6, ItemKind.VIDEO), item("flash", 5)]
    cat = catalogue(
        items,
        campaigns=(
            campaign("video", items=("clip",), share=10),
            campaign("per-hour", items=("flash",), plays_per_hour=180),
            campaign("pictures", items=("ad",), share=10),  # 10 s pictures: not stretched, but crowded
        ),
    )
    proposal = _with_rules(cat, house_rules=_class_rules(min_dwell_s=9))
    check = check_house_rules_change([screen("lobby")], cat, proposal, start=NOW, days=1)
    assert [(u.campaign_id, u.cannot_play, u.delivered_percent) for u in check.under_delivered] == [
        ("video", True, 0.0),
        ("per-hour", False, 90.9),
        ("pictures", False, 90.9),
    ]
    assert check_house_rules_change(
        [screen()], cat, _with_rules(cat, house_rules=_class_rules(min_dwell_s=6)), start=NOW, days=1
    ).ok  # 6 s: the video still plays


def test_a_campaign_already_short_is_listed_only_when_the_change_makes_it_worse() -> None:
    rules = _class_rules(max_ad_share=30)
    cat = catalogue(
        BASE_ITEMS,
        campaigns=(campaign("a", share=20), campaign("b", items=("ad2",), share=20)),
        house_rules=rules,
    )
    same = _with_rules(cat, house_rules=_class_rules(max_ad_share=30, loop_seconds=90))
    assert check_house_rules_change([screen()], cat, same, start=NOW, days=2).ok
    worse = _with_rules(cat, house_rules=_class_rules(max_ad_share=20))
    check = check_house_rules_change([screen()], cat, worse, start=NOW, days=2)
    assert [(u.campaign_id, u.delivered_percent, u.current_percent) for u in check.under_delivered] == [
        ("a", 50.0, 75.0),
        ("b", 50.0, 75.0),
    ]


def test_the_proposal_must_hold_the_same_campaigns() -> None:
    cat = catalogue(BASE_ITEMS, campaigns=(campaign("a"),))
    with pytest.raises(ScheduleError):
        check_house_rules_change([screen()], cat, catalogue(BASE_ITEMS), start=NOW)
    counts = Counter(u.campaign_id for u in check_house_rules_change([], cat, cat, start=NOW).under_delivered)
    assert not counts
