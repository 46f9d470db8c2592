"""Heartbeats and proof-of-play batches before FastAPI's layers (issue 20): the same answers as the
routes, and every request the fast path cannot take (news to write, a malformed or oversized body,
another content type, an unknown or revoked key) answered by the route as before."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

from content_server.signage.models import Device
from content_server.signage.services import screens
from tests.fixtures.plays import book_campaign, fetch_manifest, scheduled_plays
from tests.fixtures.server import AppClient, PairedDevice, pair_device

HEARTBEAT = "/api/v1/device/heartbeat"
PLAYS = "/api/v1/device/plays"


def _fast(c: AppClient) -> int:
    return Counter(c.app.state.counters.take())["device_writes_fast"]  # type: ignore[attr-defined]


def _beat(c: AppClient, dev: PairedDevice, version: str, **extra: object) -> dict[str, object]:
    hb = {"sent_at": c.clock.now().isoformat(), "player_version": "1.0", "manifest_version": version,
          "screen_hash": "aa", **extra}  # fmt: skip
    r = c.post(HEARTBEAT, json=hb, headers=dev.headers)
    assert r.status_code == 200, r.text
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["cache-control"] == "no-store"
    reply: dict[str, object] = r.json()
    return reply


def test_steady_beats_and_play_batches_take_the_fast_path_with_the_routes_answers(
    any_db_client: AppClient, media_dir: Path
) -> None:
    c = any_db_client
    op = c.auth(c.operator)
    dev = pair_device(c, screen_class="indoor_small", groups=["lobby"])
    shop = c.auth(c.create_user("bakery", "advertiser"))
    today = c.clock.now().date()
    camp = book_campaign(c, op, shop, media_dir / "small.jpg", groups=["lobby"], start=today,
                         end=today + dt.timedelta(days=10))  # fmt: skip
    manifest = fetch_manifest(c, dev.headers)
    start = c.clock.now()
    played = scheduled_plays(manifest, start, start + dt.timedelta(hours=1))
    records = [r for r in played if r["campaign_id"] == camp][:10]
    c.clock.advance(dt.timedelta(hours=1, minutes=1).total_seconds())
    _fast(c)
    written = _beat(c, dev, manifest.version)  # the first beat is news: the route writes it
    assert _fast(c) == 0
    steady = _beat(c, dev, manifest.version)
    assert _fast(c) == 1
    assert steady.keys() == written.keys()
    assert (steady["manifest_version"], steady["screenshot_requested"]) == (manifest.version, False)
    _beat(c, dev, manifest.version, failed_items=["clip-7"])  # news: written before the reply
    assert _fast(c) == 0
    with c.app.state.sessions() as s:  # type: ignore[attr-defined]
        row = s.get(Device, dev.device_id)
        assert row is not None and row.last_heartbeat is not None
        assert row.last_heartbeat["failed_items"] == ["clip-7"]

    r = c.post(PLAYS, json={"records": records}, headers=dev.headers)
    assert r.json() == {"accepted": 10, "duplicates": 0, "refused": 0, "refused_reasons": {}}
    assert r.headers["content-type"] == "application/json"
    r = c.post(PLAYS, json={"records": records}, headers=dev.headers)  # resent: counted once
    assert r.json() == {"accepted": 0, "duplicates": 10, "refused": 0, "refused_reasons": {}}
    assert _fast(c) == 2
    rows = c.get("/api/v1/reports/plays", headers=op).json()
    assert sum(row["plays"] for row in rows) == 10


def test_what_the_fast_path_cannot_take_the_route_answers(any_db_client: AppClient) -> None:
    c = any_db_client
    dev = pair_device(c, screen_class="indoor_small")
    manifest = fetch_manifest(c, dev.headers)
    _beat(c, dev, manifest.version)
    _fast(c)
    malformed = c.post(PLAYS, content=b'{"records": [{"id": 1}', headers={**dev.headers,
                       "Content-Type": "application/json"})  # fmt: skip
    assert malformed.status_code == 422 and "detail" in malformed.json()
    invalid = c.post(PLAYS, json={"records": [{"id": "x"}]}, headers=dev.headers)
    assert invalid.status_code == 422
    oversized = b'{"records": [], "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    too_big = c.post(PLAYS, content=oversized, headers={**dev.headers, "Content-Type": "application/json"})
    assert too_big.status_code == 413
    text = c.post(HEARTBEAT, content=b"{}", headers={**dev.headers, "Content-Type": "text/plain"})
    assert text.status_code == 422
    stranger = c.post(PLAYS, json={"records": []}, headers={"Authorization": "Bearer not-a-key"})
    assert stranger.status_code == 401 and stranger.headers["www-authenticate"] == "Bearer"
    assert _fast(c) == 0
    assert c.post(PLAYS, json={"records": []}, headers=dev.headers).json()["accepted"] == 0
    assert _fast(c) == 1
    with c.app.state.sessions() as s:  # type: ignore[attr-defined]
        screens.revoke(s, dev.device_id, now=c.clock.now())
    beat = {
        "sent_at": c.clock.now().isoformat(),
        "player_version": "1.0",
        "manifest_version": manifest.version,
    }
    assert c.post(HEARTBEAT, json=beat, headers=dev.headers).status_code == 401
    assert c.post(PLAYS, json={"records": []}, headers=dev.headers).status_code == 401
    assert _fast(c) == 0
