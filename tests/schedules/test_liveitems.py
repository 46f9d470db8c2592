"""Web-page and stream items on the wire: the address rules, and what an older player is sent."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from schedules.liveitems import AddressError, check_live, host_allowed
from schedules.model import (
    BASE_KINDS,
    LIVE_KINDS,
    Announcement,
    Campaign,
    Catalogue,
    ContentItem,
    ItemKind,
    for_kinds,
)
from schedules.protocol.device import kinds_query, parse_kinds

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def test_a_page_keeps_its_own_host_and_a_stream_is_hls_or_rtsp() -> None:
    hosts = ["*.CDN.example.org", "board.example.org"]
    page = check_live(ItemKind.WEB, " https://Board.example.org/today ", hosts)
    assert page.url == "https://Board.example.org/today"
    assert page.allowed_hosts == ("board.example.org", "*.cdn.example.org") and page.load_timeout_s == 15
    assert host_allowed("https://img.cdn.example.org/a.png", page.allowed_hosts)
    assert check_live(ItemKind.STREAM, "https://tv.example.org/live/index.M3U8").url.endswith(".M3U8")
    assert check_live(ItemKind.STREAM, "rtsp://10.0.0.5:554/lobby").allowed_hosts == ()
    for kind, url, field in [
        (ItemKind.WEB, "ftp://board.example.org/", "url"),
        (ItemKind.WEB, "https:///nohost", "url"),
        (ItemKind.WEB, "https://board.example.org/a\nb", "url"),
        (ItemKind.WEB, "https://" + "a" * 2000 + ".org/", "url"),
        (ItemKind.STREAM, "https://tv.example.org/watch", "url"),
        (ItemKind.STREAM, "file:///dev/video0", "url"),
        (ItemKind.IMAGE, "https://board.example.org/", "kind"),
    ]:
        with pytest.raises(AddressError) as refused:
            check_live(kind, url)
        assert refused.value.field == field and refused.value.zh and refused.value.en
    with pytest.raises(AddressError, match="allowed_hosts"):
        check_live(ItemKind.WEB, "https://board.example.org/", ["board.example.org:8080"])
    with pytest.raises(AddressError, match="load_timeout_s"):
        check_live(ItemKind.WEB, "https://board.example.org/", load_timeout_s=0.5)


def test_items_carry_an_address_exactly_when_they_are_pages_or_streams() -> None:
    with pytest.raises(ValidationError):
        ContentItem(id="w", kind=ItemKind.WEB, duration_s=10)
    with pytest.raises(ValidationError):
        ContentItem(id="i", kind=ItemKind.IMAGE, duration_s=10, url="https://a.example.org/")
    image = ContentItem(id="i", kind=ItemKind.IMAGE, duration_s=10, asset_sha256="0" * 64)
    assert set(image.model_dump(mode="json")) == {
        "id", "kind", "duration_s", "asset_sha256", "text", "title", "screen_classes", "orientations",
    }  # fmt: skip  # what a player of protocol 1.1 parses, unchanged


def _catalogue() -> Catalogue:
    items = {
        "img": ContentItem(id="img", kind=ItemKind.IMAGE, duration_s=10, asset_sha256="0" * 64),
        "web": ContentItem(id="web", kind=ItemKind.WEB, duration_s=20, url="https://board.example.org/"),
        "cam": ContentItem(id="cam", kind=ItemKind.STREAM, duration_s=60, url="rtsp://10.0.0.5/lobby"),
    }
    return Catalogue(
        items=items,
        announcements=(
            Announcement(id="mixed", item_ids=("web", "img"), valid_from=T0),
            Announcement(id="live", item_ids=("cam",), valid_from=T0, ticker_text={"zh": "直播"}),
        ),
        campaigns=(
            Campaign(id="c1", advertiser_id="shop", item_ids=("img", "web"), flight_start=T0.date(),
                     flight_end=T0.date(), share_percent=10),
            Campaign(id="c2", advertiser_id="shop", item_ids=("web",), flight_start=T0.date(),
                     flight_end=T0.date(), share_percent=10),
        ),
        filler_item_ids=("img", "web"),
    )  # fmt: skip


def test_an_older_player_gets_the_catalogue_without_what_it_cannot_parse() -> None:
    cat = _catalogue()
    old = for_kinds(cat, BASE_KINDS)
    assert set(old.items) == {"img"}
    assert [(a.id, a.item_ids) for a in old.announcements] == [("mixed", ("img",))]
    assert [(c.id, c.item_ids) for c in old.campaigns] == [("c1", ("img",))]
    assert old.filler_item_ids == ("img",)
    assert for_kinds(cat, BASE_KINDS | LIVE_KINDS) is cat  # nothing to drop: the very same catalogue
    streams_only = for_kinds(cat, BASE_KINDS | {ItemKind.STREAM})
    assert set(streams_only.items) == {"img", "cam"} and len(streams_only.announcements) == 2


def test_the_kinds_query_round_trips_and_ignores_names_it_does_not_know() -> None:
    assert kinds_query(LIVE_KINDS | {ItemKind.IMAGE}) == "stream,web"
    assert parse_kinds("web, stream,hologram") == LIVE_KINDS
    assert parse_kinds(None) == frozenset() and parse_kinds("") == frozenset()
