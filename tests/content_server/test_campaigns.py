"""Campaign booking: availability check, approval queue, reject with reason, reaching the manifest."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from schedules.protocol.device import Manifest
from schedules.timeline import timeline
from tests.fixtures.server import AppClient, pair_device


def _campaign(media_id: str, **kw: object) -> dict:
    body = {
        "name": "Bakery autumn",
        "category": "food",
        "media_ids": [media_id],
        "flight_start": "2026-11-25",
        "flight_end": "2026-12-10",
        "share_percent": 10,
        "targeting": {"groups": ["north"]},
    }
    body.update(kw)
    return body


def test_campaign_lifecycle(any_db_client: AppClient, media_dir: Path) -> None:
    c = any_db_client
    op = c.auth(c.operator)
    dev = pair_device(c, screen_class="outdoor_large", groups=["north"])
    filler = c.post(
        "/api/v1/media?filename=f.png", content=(media_dir / "landscape.png").read_bytes(), headers=op
    )
    c.patch(f"/api/v1/media/{filler.json()['id']}", json={"filler": True}, headers=op)
    shop = c.auth(c.create_user("bakery", "advertiser"))
    img = c.post(
        "/api/v1/media?filename=ad.jpg", content=(media_dir / "small.jpg").read_bytes(), headers=shop
    ).json()
    check = c.post("/api/v1/campaigns/availability", json=_campaign(img["id"]), headers=shop)
    assert check.status_code == 200 and check.json()["fits"] is True, check.text
    r = c.post("/api/v1/campaigns", json=_campaign(img["id"]), headers=shop)
    assert r.status_code == 201, r.text
    camp = r.json()
    assert camp["state"] == "pending"
    queue = c.get("/api/v1/campaigns?state=pending", headers=op).json()
    assert [q["id"] for q in queue] == [camp["id"]]
    m = Manifest.model_validate_json(c.get("/api/v1/device/manifest", headers=dev.headers).content)
    assert m.catalogue.campaigns == ()  # not approved yet
    r = c.post(f"/api/v1/campaigns/{camp['id']}/approve", json={}, headers=op)
    assert r.json()["state"] == "approved"
    m = Manifest.model_validate_json(c.get("/api/v1/device/manifest", headers=dev.headers).content)
    assert [x.id for x in m.catalogue.campaigns] == [camp["id"]]
    assert img["sha256"] in {a.sha256 for a in m.assets}
    c.post(f"/api/v1/campaigns/{camp['id']}/pause", headers=op)
    m = Manifest.model_validate_json(c.get("/api/v1/device/manifest", headers=dev.headers).content)
    assert m.catalogue.campaigns == ()

    # a second request is rejected with a reason the advertiser sees
    second = c.post("/api/v1/campaigns", json=_campaign(img["id"], name="Second"), headers=shop).json()
    r = c.post(f"/api/v1/campaigns/{second['id']}/reject", json={"reason": ""}, headers=op)
    assert r.status_code == 422
    c.post(
        f"/api/v1/campaigns/{second['id']}/reject", json={"reason": "Image too dark for outdoor"}, headers=op
    )
    seen = c.get(f"/api/v1/campaigns/{second['id']}", headers=shop).json()
    assert (seen["state"], seen["reason"]) == ("rejected", "Image too dark for outdoor")
    assert c.post(f"/api/v1/campaigns/{second['id']}/approve", headers=op).status_code == 409


def test_booking_refused_when_it_cannot_fit(app_client: AppClient, media_dir: Path) -> None:
    c = app_client
    pair_device(c, screen_class="outdoor_large", groups=["north"])
    shop = c.auth(c.create_user("bakery", "advertiser"))
    img = c.post(
        "/api/v1/media?filename=ad.jpg", content=(media_dir / "small.jpg").read_bytes(), headers=shop
    ).json()
    r = c.post("/api/v1/campaigns", json=_campaign(img["id"], share_percent=95), headers=shop)
    assert r.status_code == 409 and "does not fit" in r.json()["detail"]
    r = c.post("/api/v1/campaigns", json=_campaign(img["id"], flight_end="2026-11-01"), headers=shop)
    assert r.status_code == 422
    assert c.get("/api/v1/campaigns", headers=shop).json() == []


def test_a_day_already_over_in_the_community_does_not_refuse_a_booking(
    app_client: AppClient, media_dir: Path
) -> None:
    """At 00:30 in Shanghai (16:30 UTC the day before) yesterday is over: its full airtime no longer
    refuses a booking (checked from the UTC date, it did), and a flight that ended then is refused."""
    c = app_client
    op = c.auth(c.operator)
    pair_device(c, screen_class="outdoor_large", groups=["north"])  # ads may take 70 % of its loop
    shops = [c.auth(c.create_user(name, "advertiser")) for name in ("bakery", "florist")]
    imgs = [
        c.post(
            "/api/v1/media?filename=ad.jpg", content=(media_dir / "small.jpg").read_bytes(), headers=h
        ).json()
        for h in shops
    ]
    first = c.post(
        "/api/v1/campaigns",
        json=_campaign(imgs[0]["id"], flight_end="2026-11-25", share_percent=40),
        headers=shops[0],
    )
    assert first.status_code == 201, first.text
    assert c.post(f"/api/v1/campaigns/{first.json()['id']}/approve", json={}, headers=op).status_code == 200
    second = _campaign(imgs[1]["id"], flight_end="2026-11-27", share_percent=40)
    assert c.post("/api/v1/campaigns/availability", json=second, headers=shops[1]).json()["fits"] is False

    c.clock.advance(dt.timedelta(hours=14, minutes=30).total_seconds())  # 2026-11-26 00:30 in Shanghai
    check = c.post("/api/v1/campaigns/availability", json=second, headers=shops[1])
    assert check.status_code == 200 and check.json()["fits"] is True, check.text  # 40 + 40 only on the 25th
    assert c.post("/api/v1/campaigns", json=second, headers=shops[1]).status_code == 201
    ended = c.post(
        "/api/v1/campaigns", json=_campaign(imgs[1]["id"], flight_end="2026-11-25"), headers=shops[1]
    )
    assert ended.status_code == 422, ended.text  # its last day is over in the community


def test_a_campaign_with_both_shapes_plays_the_fitting_creative_on_each_screen(
    app_client: AppClient, media_dir: Path
) -> None:
    """A merchant uploads a landscape and a portrait version: the outdoor screen shows the wide
    one, the lobby's portrait screen the tall one, neither letterboxed."""
    c = app_client
    op = c.auth(c.operator)
    shop = c.auth(c.create_user("bakery", "advertiser"))
    ids = {}
    for name in ("landscape.png", "portrait.png"):
        r = c.post(f"/api/v1/media?filename={name}", content=(media_dir / name).read_bytes(), headers=shop)
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
    wide = pair_device(c, screen_class="outdoor_large", orientation="landscape", groups=["north"])
    tall = pair_device(c, screen_class="indoor_small", orientation="portrait", groups=["north"])
    body = _campaign(ids["landscape.png"], media_ids=list(ids.values()), share_percent=30)
    camp = c.post("/api/v1/campaigns", json=body, headers=shop).json()
    assert c.post(f"/api/v1/campaigns/{camp['id']}/approve", json={}, headers=op).status_code == 200
    for dev, mine in ((wide, "landscape.png"), (tall, "portrait.png")):
        m = Manifest.model_validate(c.get("/api/v1/device/manifest", headers=dev.headers).json())
        start = m.generated_at
        played = {
            s.item_id
            for s in timeline(m.screen, m.catalogue, start, start + dt.timedelta(hours=1)).slots()
            if s.source_id == camp["id"]
        }
        assert played == {f"m-{ids[mine]}"}, (mine, played)
