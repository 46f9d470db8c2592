"""Live data: the SSRF-safe fetcher against real loopback servers, feeds, JSON mappings, time-to-live."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from content_server.studio.canvas import canvas_for
from content_server.studio.datamap import PRESETS, JsonMapping, apply_mapping
from content_server.studio.designs import resolve
from content_server.studio.errors import DataProblem, FetchFailed, FetchRefused
from content_server.studio.feeds import parse_feed
from content_server.studio.fetcher import Fetcher, FetchPolicy, StaticResolver, address_allowed
from content_server.studio.fonts import FontBook
from content_server.studio.freshness import is_showable
from content_server.studio.render import render
from content_server.studio.sources import SourceKind, SourceSpec, SourceState, refresh
from schedules.clock import MovableClock
from schedules.model import Orientation, ScreenClass
from tests.content_server.studio.feed_server import FeedSite, serve

LOOPBACK = FetchPolicy.with_allow(["127.0.0.1/32"], timeout_s=3.0, max_bytes=2 * 1024 * 1024)
NOW = dt.datetime(2026, 12, 6, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def site() -> Iterator[tuple[FeedSite, str]]:
    s = FeedSite()
    with serve(s) as base:
        yield s, base


@pytest.fixture
def forbidden_site() -> Iterator[tuple[FeedSite, str]]:
    """A server on 127.0.0.2: loopback too, but not on the test's allow-list."""
    s = FeedSite()
    with serve(s, "127.0.0.2") as base:
        yield s, base


# --------------------------------------------------------------------------- the address rule


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "fe80::1",
        "fc00::1",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "240.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
        "2002:a00:1::",
        "64:ff9b::a00:1",
        "ff02::1",
        "192.0.0.8",
        "198.18.0.1",
    ],
)
def test_private_loopback_link_local_multicast_and_reserved_are_forbidden(ip: str) -> None:
    assert not address_allowed(ip)


@pytest.mark.parametrize("ip", ["93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8", "1.1.1.1"])
def test_public_addresses_are_allowed(ip: str) -> None:
    assert address_allowed(ip)


def test_an_allow_listed_network_is_allowed_and_nothing_beside_it() -> None:
    assert address_allowed("127.0.0.1", LOOPBACK.allow)
    assert not address_allowed("127.0.0.2", LOOPBACK.allow)
    assert not address_allowed("::1", LOOPBACK.allow)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.org/x",
        "gopher://127.0.0.1:70/",
        "http://user:pw@example.org/",
        "http:///nohost",
    ],
)
def test_only_plain_http_and_https_urls_are_fetched(url: str) -> None:
    with pytest.raises(FetchRefused):
        Fetcher(LOOPBACK, StaticResolver({})).fetch(url)


def test_a_loopback_source_is_refused_unless_allow_listed(site: tuple[FeedSite, str]) -> None:
    s, base = site
    with pytest.raises(FetchRefused, match="forbidden address"):
        Fetcher(FetchPolicy()).fetch(base + "/feed.xml")
    assert s.hits == []
    assert Fetcher(LOOPBACK).fetch(base + "/feed.xml").status == 200


# --------------------------------------------------------------------------- fetching


def test_etag_and_last_modified_make_an_unchanged_feed_a_304(site: tuple[FeedSite, str]) -> None:
    s, base = site
    fetcher = Fetcher(LOOPBACK)
    first = fetcher.fetch(base + "/feed.xml")
    assert first.status == 200 and first.validators.etag == '"v1"' and first.validators.last_modified
    assert first.peer == "127.0.0.1"
    again = fetcher.fetch(base + "/feed.xml", first.validators)
    assert again.not_modified and again.body is None
    s.version = 2
    changed = fetcher.fetch(base + "/feed.xml", again.validators)
    assert changed.status == 200 and b"v2" in (changed.body or b"")


def test_a_redirect_to_a_forbidden_address_is_refused_before_connecting(
    site: tuple[FeedSite, str], forbidden_site: tuple[FeedSite, str]
) -> None:
    s, base = site
    target, target_base = forbidden_site
    for location in (target_base + "/feed.xml", "http://169.254.169.254/latest/meta-data/"):
        s.redirect_to = location
        with pytest.raises(FetchRefused, match="forbidden"):
            Fetcher(LOOPBACK).fetch(base + "/redirect")
    assert target.hits == []
    s.redirect_to = "/feed.xml"  # a redirect inside the allowed host is followed
    assert Fetcher(LOOPBACK).fetch(base + "/redirect").url.endswith("/feed.xml")


def test_dns_rebinding_never_reaches_the_second_answer(
    site: tuple[FeedSite, str], forbidden_site: tuple[FeedSite, str]
) -> None:
    """The name answers 127.0.0.1 (allowed), then 127.0.0.2 (not): every answer is checked and used."""
    s, base = site
    target, _target_base = forbidden_site
    port = base.rsplit(":", 1)[1]
    resolver = StaticResolver({"feeds.example": [["127.0.0.1"], ["127.0.0.2"]]})
    fetcher = Fetcher(LOOPBACK, resolver)
    assert fetcher.fetch(f"http://feeds.example:{port}/feed.xml").peer == "127.0.0.1"
    with pytest.raises(FetchRefused, match=r"127\.0\.0\.2"):
        fetcher.fetch(f"http://feeds.example:{port}/feed.xml")
    s.redirect_to = f"http://feeds.example:{port}/feed.xml"  # a redirect back to itself resolves again
    with pytest.raises(FetchRefused):
        Fetcher(LOOPBACK, StaticResolver({"feeds.example": [["127.0.0.1"], ["127.0.0.2"]]})).fetch(
            f"http://feeds.example:{port}/redirect"
        )
    mixed = StaticResolver({"feeds.example": [["127.0.0.1", "10.0.0.1"]]})
    with pytest.raises(FetchRefused):
        Fetcher(LOOPBACK, mixed).fetch(f"http://feeds.example:{port}/feed.xml")
    assert target.hits == []


def test_a_stalled_source_times_out(site: tuple[FeedSite, str]) -> None:
    _s, base = site
    policy = FetchPolicy.with_allow(["127.0.0.1/32"], timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="did not answer"):
        Fetcher(policy).fetch(base + "/stall")
    assert time.monotonic() - started < 10  # the source holds on for 30 s


def test_a_source_dripping_bytes_cannot_outlast_the_deadline(site: tuple[FeedSite, str]) -> None:
    _s, base = site
    policy = FetchPolicy.with_allow(["127.0.0.1/32"], timeout_s=0.6)
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="did not answer"):
        Fetcher(policy).fetch(base + "/drip")
    assert time.monotonic() - started < 10  # the source holds on for 30 s


def test_fifty_megabytes_are_cut_off_at_the_limit(site: tuple[FeedSite, str]) -> None:
    s, base = site
    with pytest.raises(FetchFailed, match="more than"):
        Fetcher(LOOPBACK).fetch(base + "/flood")
    with pytest.raises(FetchFailed, match="over the limit"):
        Fetcher(LOOPBACK).fetch(base + "/flood-declared")
    s.release.set()


def test_errors_and_compressed_bodies_are_failures(site: tuple[FeedSite, str]) -> None:
    _s, base = site
    with pytest.raises(FetchFailed, match="500"):
        Fetcher(LOOPBACK).fetch(base + "/error")
    with pytest.raises(FetchFailed, match="compressed"):
        Fetcher(LOOPBACK).fetch(base + "/gzip")


# --------------------------------------------------------------------------- feeds and JSON


def test_rss_and_atom_become_plain_headlines() -> None:
    from tests.content_server.studio.feed_server import rss

    feed = parse_feed(rss(3))
    assert feed.title == "幸福里新闻 v3"
    assert feed.headlines[0].title.startswith("社区新闻 3-1")
    assert feed.headlines[0].summary == "Details 1"  # HTML dropped
    assert feed.headlines[0].published == dt.datetime(2026, 12, 6, 1, 0, tzinfo=dt.UTC)
    atom = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom news</title>'
        b"<entry><title>Lift maintenance &amp; checks</title><updated>2026-12-06T08:00:00Z</updated>"
        b'<link href="https://e.org/1"/></entry></feed>'
    )
    assert parse_feed(atom).ticker() == "Lift maintenance & checks"
    with pytest.raises(DataProblem):
        parse_feed(b"<rss><channel><title>half a feed</tit")
    with pytest.raises(DataProblem):
        parse_feed(b"\x89PNG not a feed at all")

SHANGHAI = ZoneInfo("Asia/Shanghai")


OPEN_METEO = {
    "latitude": 31.22,
    "longitude": 121.46,
    "timezone": "Asia/Shanghai",
    "current_units": {"time": "iso8601", "temperature_2m": "°C"},
    "current": {
        "time": "2026-12-06T16:00",
        "interval": 900,
        "temperature_2m": 8.6,
        "relative_humidity_2m": 71,
        "weather_code": 61,
        "wind_speed_10m": 12.3,
    },
    "daily": {"time": ["2026-12-06"], "temperature_2m_max": [11.2], "temperature_2m_min": [4.8]},
}


def test_open_meteo_weather_maps_onto_the_data_panel() -> None:
    content = apply_mapping(PRESETS["open_meteo_weather"], OPEN_METEO, SHANGHAI)
    assert content.fields["value.zh"] == "9°C"
    assert content.fields["caption.zh"] == "小雨" and content.fields["caption.en"] == "Light rain"
    assert "最高 11°C  最低 5°C" in content.fields["rows.zh"]
    assert content.fields["source.en"] == "Open-Meteo · 16:00"
    book = FontBook.system()
    resolved = resolve(content, book, strict=False)
    png = render(resolved, canvas_for(ScreenClass.OUTDOOR_LARGE, Orientation.LANDSCAPE), book)
    assert png.startswith(b"\x89PNG")


def test_parcel_lists_show_only_the_last_four_digits() -> None:
    data = {
        "locker": "3号楼快递柜",
        "count": 2,
        "parcels": [{"phone": "138-1234-5678", "code": "884512"}, {"phone": "13987654321", "code": "120045"}],
    }
    content = apply_mapping(PRESETS["parcel_locker"], data, SHANGHAI)
    assert content.fields["rows.zh"] == "手机尾号 5678\n手机尾号 4321"
    assert "884512" not in json.dumps(content.fields) and "1234" not in json.dumps(content.fields)


def test_times_in_the_data_are_shown_on_the_communitys_clock() -> None:
    """Real feeds send instants as ISO with ``Z`` or an offset, or as Unix time in seconds or
    milliseconds: a Shanghai screen shows them at Shanghai's time (08:30Z is 16:30), and a time
    without an offset (Open-Meteo's, already local) as written; nonsense is a data problem."""
    mapping = JsonMapping(design="data_panel", fields={"value": "{t|time}"})
    for sent, shown in [
        ("2026-12-07T08:30:00Z", "16:30"),
        ("2026-12-07T08:30:00+00:00", "16:30"),
        ("2026-12-07T16:30:00+08:00", "16:30"),
        ("2026-12-07T09:30:00-05:00", "22:30"),
        ("2026-12-07T16:30", "16:30"),
        (1796632200, "16:30"),  # 2026-12-07T08:30:00Z
        (1796632200000, "16:30"),
    ]:
        assert apply_mapping(mapping, {"t": sent}, SHANGHAI).fields["value"] == shown, sent
    assert apply_mapping(mapping, {"t": "2026-12-07T08:30:00Z"}, dt.UTC).fields["value"] == "08:30"
    for bad in ["soon", True, 10**30, None]:
        with pytest.raises(DataProblem, match="cannot be shown with 'time'"):
            apply_mapping(mapping, {"t": bad}, SHANGHAI)


def test_a_mapping_that_does_not_match_the_data_is_a_data_problem() -> None:
    with pytest.raises(DataProblem, match=r"current\.temperature_2m"):
        apply_mapping(PRESETS["open_meteo_weather"], {"hourly": {}}, SHANGHAI)


# --------------------------------------------------------------------------- freshness and refresh


def test_data_past_its_ttl_is_not_showable() -> None:
    ttl = dt.timedelta(hours=1)
    assert is_showable(NOW, ttl, NOW + dt.timedelta(minutes=59))
    assert not is_showable(NOW, ttl, NOW + dt.timedelta(hours=1))
    assert not is_showable(None, ttl, NOW)
    assert not is_showable(NOW + dt.timedelta(hours=2), ttl, NOW)  # stamped in the future: a wrong clock
    with pytest.raises(ValueError):
        is_showable(NOW.replace(tzinfo=None), ttl, NOW)


def test_refresh_keeps_the_last_good_slides_through_failures_until_they_expire(
    site: tuple[FeedSite, str],
) -> None:
    s, base = site
    book = FontBook.system()
    clock = MovableClock(NOW)
    canvases = (canvas_for(ScreenClass.INDOOR_SMALL, Orientation.PORTRAIT),)
    spec = SourceSpec(name="news", kind=SourceKind.FEED, url=base + "/feed.xml", ttl_s=3600)
    fetcher = Fetcher(LOOPBACK, clock=clock)
    state = refresh(spec, SourceState(), fetcher, canvases, book, clock.now(), SHANGHAI)
    assert state.fetched_at == NOW and state.slides and "Water notice 1" in state.ticker
    first_slides = state.slides
    clock.advance(600)  # unchanged: a 304 confirms the data, same slides
    state = refresh(spec, state, fetcher, canvases, book, clock.now(), SHANGHAI)
    assert state.slides == first_slides and state.fetched_at == clock.now()
    clock.advance(600)  # the feed changes: new slides
    s.version = 2
    state = refresh(spec, state, fetcher, canvases, book, clock.now(), SHANGHAI)
    assert state.slides != first_slides and "2-1" in state.ticker
    good_at = state.fetched_at
    broken = spec.model_copy(update={"url": base + "/broken.xml"})
    clock.advance(600)
    state = refresh(broken, state, fetcher, canvases, book, clock.now(), SHANGHAI)
    assert state.failures == 1 and "cannot be read" in state.last_error and state.fetched_at == good_at
    assert is_showable(state.fetched_at, dt.timedelta(seconds=spec.ttl_s), clock.now())
    clock.advance(3600)
    assert not is_showable(state.fetched_at, dt.timedelta(seconds=spec.ttl_s), clock.now())


def test_a_json_source_with_a_preset(site: tuple[FeedSite, str]) -> None:
    s, base = site
    s.json_body = json.dumps(
        {"station": "社区卫生服务站", "now_serving": "A023", "window": 2, "waiting": 5}
    ).encode()
    spec = SourceSpec(name="queue", kind=SourceKind.JSON, url=base + "/data.json", preset="queue_numbers")
    state = refresh(
        spec,
        SourceState(),
        Fetcher(LOOPBACK),
        (canvas_for(ScreenClass.KIOSK, Orientation.LANDSCAPE),),
        FontBook.system(),
        NOW,
        SHANGHAI,
    )
    assert state.content is not None and state.content.fields["value.zh"] == "A023"
    assert state.slides and state.last_error == ""
