"""Which claimed plays are believed (pure): a real timeline's plays all are; forged ones are not."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from content_server.signage.proof_of_play import (
    Interval,
    PlayPolicy,
    Reason,
    ServedManifest,
    judge,
    served_record,
    span,
    still_needed,
)
from schedules.model import Catalogue, ItemKind, SlotSource, Zone
from schedules.protocol.device import Manifest, PlayRecord
from schedules.timeline import timeline
from tests.schedules.factories import announcement, campaign, catalogue, item, screen

T0 = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai
POLICY = PlayPolicy()

SCREEN = screen("s1")
CATALOGUE = catalogue(
    [
        item("slide", 10),
        item("slide2", 12),
        item("notice", 10, ItemKind.TEXT, text={"zh": "通知", "en": "Notice"}),
        item("ad", 10),
        item("clip", 30, ItemKind.VIDEO, asset_sha256="a" * 64),
    ],
    filler=("slide", "slide2"),
    announcements=(announcement("ann1", items=("notice",)),),
    campaigns=(
        campaign("c1", items=("ad",), share=20, start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30)),
        campaign("c2", items=("clip",), share=15, start=dt.date(2026, 11, 20), end=dt.date(2026, 12, 31)),
    ),
)


def manifest(
    cat: Catalogue = CATALOGUE, version: str = "v1", valid_until: dt.datetime = T0 + dt.timedelta(days=8)
) -> Manifest:
    return Manifest(version=version, generated_at=T0, valid_until=valid_until, screen=SCREEN, catalogue=cat,
                    default_item_id="slide")


SERVED = [served_record(manifest(), T0)]


def play(item_id: str, start: dt.datetime, seconds: float, *, campaign: str | None = None,
         ann: str | None = None) -> PlayRecord:
    return PlayRecord(id=uuid.uuid4(), item_id=item_id, campaign_id=campaign, announcement_id=ann,
                      started_at=start, duration_s=seconds, completed=True)


def reasons(records: list[PlayRecord], *, now: dt.datetime, served: list[ServedManifest] = SERVED,
            stored: tuple[Interval, ...] = ()) -> list[Reason | None]:
    return list(judge(records, served, stored, now=now, policy=POLICY).verdicts)


def test_every_play_of_the_real_timeline_is_believed() -> None:
    """Six hours of what the engine really schedules, played exactly, in batches as the outbox sends them."""
    end = T0 + dt.timedelta(hours=6)
    records = []
    for slot in timeline(SCREEN, CATALOGUE, T0, end).slots():
        if slot.zone is not Zone.MAIN:
            continue
        records.append(play(
            slot.item_id, slot.start, (slot.end - slot.start).total_seconds(),
            campaign=slot.source_id if slot.source is SlotSource.CAMPAIGN else None,
            ann=slot.source_id if slot.source is SlotSource.ANNOUNCEMENT else None,
        ))
    assert len(records) > 1000
    assert {r.campaign_id for r in records} >= {"c1", "c2", None}
    stored: list[Interval] = []
    for i in range(0, len(records), 100):
        batch = records[i : i + 100]
        result = judge(batch, SERVED, stored, now=end + dt.timedelta(minutes=1), policy=POLICY)
        assert result.refused == {}, batch
        stored += [Interval.of(r.started_at, r.duration_s) for r in batch]


def test_the_probe_s_forged_plays_are_refused() -> None:
    """The issue's attack: 50 day-long plays of a campaign never sent, one next year, bad ids, overlaps."""
    now = T0 + dt.timedelta(hours=2)
    forged = [play("ad-x", T0 + dt.timedelta(days=-1, seconds=i), 86_400, campaign="never-served")
              for i in range(50)]
    forged.append(play("ad", T0 + dt.timedelta(days=365), 10, campaign="c1"))
    forged.append(play("=cmd|'/c calc'!A1", T0, 10))
    forged.append(play("ad", T0, 10, campaign="=HYPERLINK(\"http://x\")"))
    result = judge(forged, SERVED, (), now=now, policy=POLICY)
    assert result.accepted == 0
    assert result.refused == {"not_served": 50, "future": 1, "bad_id": 2}


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (play("ad", T0 + dt.timedelta(minutes=5), 86_400 / 1000, campaign="c1"), Reason.TOO_LONG),
        (play("ad", T0 + dt.timedelta(minutes=5), 86_400, campaign="c1"), Reason.FUTURE),
        (play("clip", T0 + dt.timedelta(minutes=5), 35, campaign="c2"), Reason.TOO_LONG),
        (play("clip", T0 + dt.timedelta(minutes=5), 31, campaign="c2"), None),  # a late timer
        (play("ad", T0 + dt.timedelta(minutes=5), 10, campaign="c2"), Reason.UNKNOWN_CAMPAIGN),
        (play("nope", T0 + dt.timedelta(minutes=5), 10), Reason.UNKNOWN_ITEM),
        (play("notice", T0 + dt.timedelta(minutes=5), 10, ann="ann2"), Reason.UNKNOWN_ANNOUNCEMENT),
        (play("notice", T0 + dt.timedelta(minutes=5), 14, ann="ann1"), None),  # stretched by a remainder
        (play("slide", T0 + dt.timedelta(minutes=5), 110), None),  # the last filler of a loop
        (play("builtin-default", T0 + dt.timedelta(minutes=5), 60), None),  # the player's own slide
        (play("builtin-default", T0 + dt.timedelta(minutes=5), 60, campaign="c1"), Reason.UNKNOWN_ITEM),
        (play("ad", T0 - dt.timedelta(minutes=5), 10, campaign="c1"), Reason.NOT_SERVED),  # before served
    ],
)
def test_one_claim(record: PlayRecord, reason: Reason | None) -> None:
    assert reasons([record], now=T0 + dt.timedelta(hours=1)) == [reason]


def test_a_campaign_plays_only_within_its_flight_in_the_screen_s_time_zone() -> None:
    served = [served_record(manifest(), dt.datetime(2026, 11, 19, tzinfo=dt.UTC))]
    # c2's flight starts 2026-11-20 in Shanghai = 2026-11-19 16:00 UTC
    before = play("clip", dt.datetime(2026, 11, 19, 15, 50, tzinfo=dt.UTC), 30, campaign="c2")
    inside = play("clip", dt.datetime(2026, 11, 19, 16, 5, tzinfo=dt.UTC), 30, campaign="c2")
    assert reasons([before, inside], now=T0, served=served) == [Reason.OUTSIDE_DATES, None]


def test_too_old_and_the_offline_week() -> None:
    week_ago = T0 - dt.timedelta(days=6, hours=23)
    served = [served_record(manifest(), week_ago - dt.timedelta(hours=1))]
    assert reasons([play("slide", week_ago, 10)], now=T0, served=served) == [None]
    assert reasons([play("slide", week_ago, 10)], now=T0 + dt.timedelta(hours=2), served=served) == [
        Reason.TOO_OLD
    ]


def test_an_older_manifest_still_vouches_until_it_expires() -> None:
    """A player keeps playing the version it has until the next one is fully downloaded."""
    old = served_record(manifest(version="v1", valid_until=T0 + dt.timedelta(days=2)), T0)
    new_cat = CATALOGUE.model_copy(update={"campaigns": ()})
    new = served_record(manifest(new_cat, version="v2"), T0 + dt.timedelta(hours=1))
    later = T0 + dt.timedelta(hours=1, minutes=10)
    claim = play("ad", later, 10, campaign="c1")
    assert reasons([claim], now=later + dt.timedelta(minutes=1), served=[old, new]) == [None]
    expired = T0 + dt.timedelta(days=2, hours=1)
    claim = play("ad", expired, 10, campaign="c1")
    assert reasons([claim], now=expired + dt.timedelta(minutes=1), served=[old, new]) == [
        Reason.UNKNOWN_CAMPAIGN
    ]


def test_overlapping_plays_are_refused_the_earlier_believed() -> None:
    now = T0 + dt.timedelta(hours=1)
    a = play("ad", T0 + dt.timedelta(minutes=10), 10, campaign="c1")
    b = play("slide", T0 + dt.timedelta(minutes=10, seconds=5), 10)
    c = play("slide", T0 + dt.timedelta(minutes=10, seconds=10.5), 10)  # 0.5 s overlap: a timer's slack
    assert reasons([c, b, a], now=now) == [None, Reason.OVERLAPS, None]
    stored = (Interval.of(T0 + dt.timedelta(minutes=20), 10),)
    twice = play("ad", T0 + dt.timedelta(minutes=20, seconds=2), 10, campaign="c1")
    assert reasons([twice], now=now, stored=stored) == [Reason.OVERLAPS]


def test_the_served_history_is_compact_and_round_trips() -> None:
    record = SERVED[0]
    assert record.items["clip"] == 30 and record.items["slide"] >= 120
    blob = record.model_dump_json()
    assert len(blob) < 1500
    assert ServedManifest.model_validate_json(blob) == record
    assert still_needed(record, T0 + dt.timedelta(days=14), POLICY)
    assert not still_needed(record, T0 + dt.timedelta(days=16), POLICY)


def test_dates_at_the_ends_of_the_calendar_are_refused_not_a_server_error() -> None:
    """Found by the API fuzz test: year 1 and year 9999 starts (with a long play) must be judged
    like any other date, without date arithmetic overflowing, and never reach the overlap query."""
    now = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)
    policy = PlayPolicy(offline_window=dt.timedelta(days=7))
    odd = [
        PlayRecord(id=uuid.uuid4(), item_id="i", started_at=dt.datetime(1, 1, 1, tzinfo=dt.UTC),
                   duration_s=0, completed=False),
        PlayRecord(id=uuid.uuid4(), item_id="i",
                   started_at=dt.datetime(1, 1, 1, 2, tzinfo=dt.timezone(dt.timedelta(minutes=1))),
                   duration_s=3600, completed=True),
        PlayRecord(id=uuid.uuid4(), item_id="i", started_at=dt.datetime(9999, 12, 31, 23, tzinfo=dt.UTC),
                   duration_s=86400, completed=True),
    ]
    verdicts = judge(odd, [], [], now=now, policy=policy).verdicts
    assert [str(v) for v in verdicts] == ["too_old", "too_old", "future"]
    assert span(odd, dt.timedelta(hours=1), now=now, policy=policy) is None
