"""Web pages and live streams in the library and in manifests: operators only, addresses checked,
and sent only to players that say they play them (an older player would refuse the manifest)."""

from __future__ import annotations

from pathlib import Path

import pytest

from schedules.model import ItemKind
from schedules.protocol.device import Manifest
from tests.fixtures.server import AppClient, pair_device, request_queries

BOARD = {"kind": "web", "url": "https://board.example.org/today", "allowed_hosts": ["*.cdn.example.org"],
         "title": "预约看板 Booking board", "duration_s": 20}  # fmt: skip
LOBBY = {"kind": "stream", "url": "rtsp://camera.example.org:8554/lobby", "title": "大堂 Lobby"}


def _live(c: AppClient, headers: dict[str, str], body: dict[str, object], status: int = 201) -> dict:
    r = c.post("/api/v1/media/live", json=body, headers=headers)
    assert r.status_code == status, r.text
    return r.json()


def test_operators_add_web_pages_and_streams_advertisers_may_not(app_client: AppClient) -> None:
    c = app_client
    op = c.auth(c.operator)
    page = _live(c, op, BOARD)
    assert (page["kind"], page["url"], page["load_timeout_s"]) == ("web", BOARD["url"], 15.0)
    assert page["allowed_hosts"] == ["board.example.org", "*.cdn.example.org"]  # its own host first
    assert page["duration_s"] == 20 and page["status"] == "ready"
    stream = _live(c, op, LOBBY)
    assert (stream["kind"], stream["url"], stream["allowed_hosts"]) == ("stream", LOBBY["url"], None)
    assert _live(c, op, BOARD, status=200)["id"] == page["id"]  # the same page again: the first
    assert {m["id"] for m in c.get("/api/v1/media", headers=op).json()} == {page["id"], stream["id"]}
    # no file to download or preview
    assert c.get(f"/api/v1/media/{page['id']}/content", headers=op).status_code == 404
    assert c.get(f"/api/v1/media/{stream['id']}/thumbnail", headers=op).status_code == 404
    # an advertiser can neither add one nor see the operator's
    shop = c.auth(c.create_user("shop", "advertiser"))
    refused = c.post("/api/v1/media/live", json=BOARD, headers=shop)
    assert refused.status_code == 403
    assert c.get("/api/v1/media", headers=shop).json() == []
    assert c.get(f"/api/v1/media/{page['id']}", headers=shop).status_code == 404


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"kind": "web", "url": "ftp://board.example.org/"}, "http"),
        ({"kind": "web", "url": "javascript:alert(1)"}, "host"),
        ({"kind": "web", "url": "file:///etc/passwd"}, "host"),
        ({"kind": "web", "url": "https://board.example.org/ x"}, "spaces"),
        ({"kind": "web", "url": "https://board.example.org:port/"}, "well formed"),
        ({"kind": "web", "url": "https://board.example.org/", "allowed_hosts": ["https://cdn.example.org/"]},
         "host name"),
        ({"kind": "web", "url": "https://board.example.org/", "allowed_hosts": ["*"]}, "host name"),
        ({"kind": "web", "url": "https://board.example.org/", "load_timeout_s": 600}, "timeout"),
        ({"kind": "stream", "url": "https://tv.example.org/index.html"}, ".m3u8"),
        ({"kind": "stream", "url": "udp://239.0.0.1:1234"}, "HLS"),
        ({"kind": "stream", "url": "rtsp:///nohost"}, "host"),
    ],
)  # fmt: skip
def test_bad_addresses_are_refused_with_a_reason_in_both_languages(
    app_client: AppClient, body: dict[str, object], says: str
) -> None:
    c = app_client
    op = c.auth(c.operator)
    r = c.post("/api/v1/media/live", json=body, headers=op)
    assert r.status_code == 422, r.text
    assert says in r.text
    assert c.get("/api/v1/media", headers=op).json() == []  # nothing stored


def test_the_manifest_carries_pages_and_streams_only_to_players_that_play_them(
    any_db_client: AppClient, media_dir: Path
) -> None:
    c = any_db_client
    op = c.auth(c.operator)
    page, stream = _live(c, op, BOARD), _live(c, op, LOBBY)
    img = c.post("/api/v1/media?filename=a.jpg", content=(media_dir / "small.jpg").read_bytes(), headers=op)
    mixed = c.post(
        "/api/v1/announcements",
        json={"title": "看板", "media_ids": [page["id"], img.json()["id"]], "duration_s": 20},
        headers=op,
    ).json()
    live_only = c.post(
        "/api/v1/announcements", json={"title": "直播", "media_ids": [stream["id"]]}, headers=op
    ).json()
    old, new = pair_device(c, screen_class="outdoor_large"), pair_device(c, screen_class="outdoor_large")

    # an older player (no ``kinds``): no page, no stream, no field it does not know
    raw = c.get("/api/v1/device/manifest", headers=old.headers)
    assert raw.status_code == 200
    for absent in (b"board.example.org", b"rtsp://", b'"web"', b'"stream"', b"allowed_hosts", b"timeout"):
        assert absent not in raw.content
    m_old = Manifest.model_validate_json(raw.content)
    assert {i.kind for i in m_old.catalogue.items.values()} == {ItemKind.IMAGE}
    assert [a.id for a in m_old.catalogue.announcements] == [mixed["id"]]  # the live-only one is left out
    assert m_old.catalogue.announcements[0].item_ids == (f"m-{img.json()['id']}",)

    # a player that plays them
    r = c.get("/api/v1/device/manifest?kinds=web,stream,hologram", headers=new.headers)  # unknown: ignored
    m_new = Manifest.model_validate_json(r.content)
    web = m_new.catalogue.items[f"m-{page['id']}"]
    assert (web.kind, web.url, web.allowed_hosts, web.load_timeout_s, web.duration_s) == (
        ItemKind.WEB, BOARD["url"], ("board.example.org", "*.cdn.example.org"), 15.0, 20.0,
    )  # fmt: skip
    live = m_new.catalogue.items[f"m-{stream['id']}"]
    assert (live.kind, live.url, live.asset_sha256) == (ItemKind.STREAM, LOBBY["url"], None)
    assert {a.id for a in m_new.catalogue.announcements} == {mixed["id"], live_only["id"]}
    assert [a.sha256 for a in m_new.assets] == [img.json()["sha256"]]  # nothing to download for them
    assert m_new.version != m_old.version

    # each is told its own version in heartbeats, and an unchanged poll is a 304 from memory
    for dev, m, query in ((old, m_old, ""), (new, m_new, "?kinds=web,stream")):
        beat = {"sent_at": c.clock.now().isoformat(), "player_version": "1.0", "manifest_version": m.version}
        reply = c.post("/api/v1/device/heartbeat", json=beat, headers=dev.headers)
        assert reply.json()["manifest_version"] == m.version
        queries = request_queries(c)
        unchanged = {**dev.headers, "If-None-Match": f'"{m.version}"'}
        again = c.get(f"/api/v1/device/manifest{query}", headers=unchanged)
        assert again.status_code == 304 and queries == []

    # the old player upgraded: its first poll naming the kinds gets them (not the cached 304)
    known = {**old.headers, "If-None-Match": f'"{m_old.version}"'}
    upgraded = c.get("/api/v1/device/manifest?kinds=web,stream", headers=known)
    assert upgraded.status_code == 200
    assert f"m-{page['id']}" in Manifest.model_validate_json(upgraded.content).catalogue.items

