"""CAP alerts as a regional feed writes them: areas and geocodes, languages, times, updates, loudness."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from content_server.signage import cap
from content_server.signage.cap_policy import (
    AreaMapping,
    AreaRule,
    CapDecision,
    Geocode,
    Loudness,
    Outcome,
    decide,
    loudness,
)
from tests.fixtures.cap_feed import CST, RAIN_ONSET, SENDER, T0, feed

MAPPING = AreaMapping(
    rules=(
        AreaRule(
            groups=frozenset({"nanshan-outdoor", "nanshan-lobbies"}),
            area_descs=frozenset({"南山区", "Nanshan District"}),
            geocodes=frozenset({Geocode(value_name="GB/T 2260", value="440305")}),
            wider_areas=True,
            label={"zh": "南山区", "en": "Nanshan District"},
        ),
        AreaRule(
            groups=frozenset({"shekou-lobbies"}),
            area_descs=frozenset({"蛇口街道", "Shekou Subdistrict"}),
        ),
    )
)
ALL_OURS = frozenset({"nanshan-outdoor", "nanshan-lobbies"})


def _decide(name: str, now: dt.datetime = T0, **kw: bool) -> tuple[cap.CapMessage, CapDecision]:
    msg = cap.parse(feed()[name])
    return msg, decide(msg, MAPPING, now=now, tz=CST, **kw)


def test_a_city_wide_typhoon_reaches_our_district_by_its_code_full_screen_with_instructions() -> None:
    msg, d = _decide("typhoon")
    assert msg.infos[0].area_list[0].geocodes == (("GB/T 2260", "440300"), ("GD-REGION", "SZ"))
    assert d.outcome is Outcome.SHOW
    (p,) = d.presentations
    assert p.groups == ALL_OURS and p.areas == ("深圳市", "Shenzhen")  # 440300 contains 440305
    assert p.loudness is Loudness.FULL_SCREEN
    (phase,) = p.phases
    assert phase.starts_at == T0 and phase.ends_at == T0 + dt.timedelta(hours=12)
    assert phase.text["zh"].splitlines() == [
        "台风红色预警",
        "台风“海燕”中心将于今天上午在珠江口登陆，阵风可达15级。",
        "请留在室内，远离门窗；切勿前往海边和地下空间。",
    ]
    assert "Stay indoors, away from windows" in phase.text["en"]
    assert "nanshan-lobbies" in d.reason["en"] and "屏幕组" in d.reason["zh"]


def test_without_wider_areas_only_the_exact_code_matches() -> None:
    exact = AreaMapping(
        rules=(
            AreaRule(
                groups=frozenset({"g"}), geocodes=frozenset({Geocode(value_name="GB/T 2260", value="440305")})
            ),
        )
    )
    typhoon = cap.parse(feed()["typhoon"])
    assert decide(typhoon, exact, now=T0).outcome is Outcome.NOT_FOR_US
    rain = cap.parse(feed()["rain"])  # names 440305 itself
    assert decide(rain, exact, now=T0).presentations[0].groups == frozenset({"g"})
    other_scheme = AreaMapping(
        rules=(AreaRule(groups=frozenset({"g"}), wider_areas=True,
                        geocodes=frozenset({Geocode(value_name="SAME", value="440305")})),)
    )  # fmt: skip
    assert decide(typhoon, other_scheme, now=T0).outcome is Outcome.NOT_FOR_US  # valueName must match


def test_an_alert_for_another_city_is_accepted_as_not_for_us_naming_its_areas() -> None:
    _, d = _decide("fog-guangzhou")
    assert d.outcome is Outcome.NOT_FOR_US and d.presentations == ()
    assert "广州市" in d.reason["zh"] and "Guangzhou" in d.reason["en"]


def test_onset_later_than_the_warning_shows_a_banner_first_then_full_loudness() -> None:
    _, d = _decide("rain")
    (p,) = d.presentations
    assert p.groups == ALL_OURS and p.loudness is Loudness.BANNER_WARNING
    ahead, during = p.phases
    assert (ahead.starts_at, ahead.ends_at, during.starts_at) == (T0, RAIN_ONSET, RAIN_ONSET)
    assert ahead.text["zh"].startswith("09-14 08:00 起：暴雨黄色预警")
    assert ahead.text["en"].startswith("From 09-14 08:00: Yellow rainstorm warning")
    # the English info has no <instruction>: the Chinese one is shown rather than nothing
    assert p.instruction == {
        "zh": "请勿在地下车库停车，注意防范内涝。",
        "en": "请勿在地下车库停车，注意防范内涝。",
    }
    assert during.text["en"].endswith("请勿在地下车库停车，注意防范内涝。")


def test_an_extreme_alert_with_a_later_onset_is_a_banner_until_the_onset() -> None:
    xml = feed()["typhoon"].replace(
        b"<expires>", b"<onset>" + (T0 + dt.timedelta(hours=3)).isoformat().encode() + b"</onset><expires>"
    )
    d = decide(cap.parse(xml), MAPPING, now=T0, tz=CST)
    ahead, during = d.presentations[0].phases
    assert ahead.loudness is Loudness.BANNER_WARNING and during.loudness is Loudness.FULL_SCREEN
    assert during.starts_at == T0 + dt.timedelta(hours=3)


def test_a_language_missing_from_the_feed_falls_back_to_the_other_and_effective_starts_later() -> None:
    _, d = _decide("heat")  # Chinese only, province-wide (440000 contains 440305), effective at 10:00
    (p,) = d.presentations
    assert p.loudness is Loudness.BANNER_NOTICE  # Minor
    assert p.headline == {"zh": "高温黄色预警", "en": "高温黄色预警"}
    (phase,) = p.phases
    assert phase.starts_at == T0 + dt.timedelta(hours=4)  # not on receipt
    _, pier = _decide("pier")  # English only, matched by its name alone
    (q,) = pier.presentations
    assert q.groups == frozenset({"shekou-lobbies"}) and q.headline["zh"] == "High surf at Shekou pier"
    assert q.loudness is Loudness.BANNER_WARNING  # Severe but Expected


def test_expired_drill_and_restricted_messages_are_accepted_but_not_shown() -> None:
    assert _decide("thunder-expired")[1].outcome is Outcome.EXPIRED
    _, drill = _decide("drill")
    assert drill.outcome is Outcome.NOT_ACTUAL and "Exercise" in drill.reason["en"]
    assert _decide("restricted")[1].outcome is Outcome.NOT_PUBLIC
    # an alert received after it expired
    assert _decide("fog-guangzhou", now=T0 + dt.timedelta(days=1))[1].outcome is Outcome.NOT_FOR_US
    assert _decide("rain", now=T0 + dt.timedelta(hours=7))[1].outcome is Outcome.EXPIRED


def test_update_replaces_the_referenced_alert_and_cancel_ends_it() -> None:
    _, up = _decide("rain-upgrade", now=T0 + dt.timedelta(minutes=90))
    assert up.outcome is Outcome.UPDATE and up.ends == ((SENDER, "GD-20260914-0002"),)
    (p,) = up.presentations
    assert (
        p.loudness is Loudness.FULL_SCREEN and p.headline["en"] == "Orange rainstorm warning"
    )  # Severe/Immediate/Observed
    _, cancel = _decide("typhoon-cancel", now=T0 + dt.timedelta(hours=5))
    assert cancel.outcome is Outcome.CANCEL and cancel.ends == ((SENDER, "GD-20260914-0001"),)
    # an update that moved away from us still ends our earlier alert
    moved = (
        feed()["rain-upgrade"]
        .replace("南山区".encode(), "龙岗区".encode())
        .replace(b"Nanshan", b"Longgang")
        .replace(b"440305", b"440307")
    )
    d = decide(cap.parse(moved), MAPPING, now=T0, tz=CST)
    assert d.outcome is Outcome.CANCEL and d.ends == ((SENDER, "GD-20260914-0002"),) and not d.presentations
    # an alert whose update or cancel came first is not shown
    assert _decide("typhoon", superseded=True)[1].outcome is Outcome.SUPERSEDED


def test_infos_for_different_areas_give_each_group_its_own_presentation() -> None:
    from tests.fixtures.cap_feed import PIER_EN, RAIN_ZH, alert

    both = cap.parse(alert("GD-X", (RAIN_ZH, PIER_EN)))
    d = decide(both, MAPPING, now=T0, tz=CST)
    assert [(p.groups, p.headline["zh"]) for p in d.presentations] == [
        (ALL_OURS, "暴雨黄色预警"),
        (frozenset({"shekou-lobbies"}), "High surf at Shekou pier"),
    ]


def test_area_names_match_whatever_the_width_case_or_spacing() -> None:
    mapping = AreaMapping(
        rules=(AreaRule(groups=frozenset({"g"}), area_descs=frozenset({"Shekou  Subdistrict"})),)
    )
    assert mapping.groups_for("ＳＨＥＫＯＵ subdistrict", ()) == frozenset({"g"})
    assert mapping.groups_for("Shekou", ()) == frozenset()
    assert AreaMapping.from_area_groups({"北区": ["north"]}).groups_for("北区", ()) == frozenset({"north"})


SEVERITIES = cap.SEVERITIES
URGENCIES = cap.URGENCIES
CERTAINTIES = cap.CERTAINTIES


@pytest.mark.parametrize(
    ("severity", "urgency", "certainty", "expected"),
    [
        ("Extreme", "Immediate", "Observed", Loudness.FULL_SCREEN),
        ("Extreme", "Expected", "Likely", Loudness.FULL_SCREEN),
        ("Extreme", "Future", "Likely", Loudness.BANNER_WARNING),
        ("Extreme", "Immediate", "Unlikely", Loudness.BANNER_WARNING),
        ("Severe", "Immediate", "Observed", Loudness.FULL_SCREEN),
        ("Severe", "Immediate", "Possible", Loudness.BANNER_WARNING),
        ("Severe", "Expected", "Likely", Loudness.BANNER_WARNING),
        ("Moderate", "Immediate", "Observed", Loudness.BANNER_WARNING),
        ("Moderate", "Expected", "Unlikely", Loudness.BANNER_NOTICE),
        ("Minor", "Immediate", "Observed", Loudness.BANNER_NOTICE),
        ("Unknown", "Unknown", "Unknown", Loudness.BANNER_NOTICE),
        ("Extreme", "Past", "Observed", Loudness.BANNER_NOTICE),
    ],
)
def test_loudness_table(severity: str, urgency: str, certainty: str, expected: Loudness) -> None:
    assert loudness(severity, urgency, certainty) is expected


def test_loudness_never_drops_when_severity_or_urgency_rises() -> None:
    rank = [Loudness.BANNER_NOTICE, Loudness.BANNER_WARNING, Loudness.FULL_SCREEN].index
    sev = ["Minor", "Moderate", "Severe", "Extreme"]
    urg = ["Future", "Expected", "Immediate"]
    for c in CERTAINTIES:
        for (i, s), (j, u) in itertools.product(enumerate(sev), enumerate(urg)):
            here = rank(loudness(s, u, c))
            if i + 1 < len(sev):
                assert rank(loudness(sev[i + 1], u, c)) >= here
            if j + 1 < len(urg):
                assert rank(loudness(s, urg[j + 1], c)) >= here


def test_bad_enumerations_and_blank_geocodes_are_refused_with_a_reason() -> None:
    from content_server.core.errors import Invalid

    bad = feed()["typhoon"].replace(b"<severity>Extreme</severity>", b"<severity>Apocalyptic</severity>", 1)
    with pytest.raises(Invalid, match="severity"):
        cap.parse(bad)
    blank = feed()["rain"].replace(b"<value>440305</value>", b"<value></value>", 1)
    with pytest.raises(Invalid, match="geocode"):
        cap.parse(blank)
