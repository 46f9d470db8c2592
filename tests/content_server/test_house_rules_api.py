"""House rules per class and per group through the API: set, refused with the shorted bookings,
and on the screens' manifests (a group's rules written in as the screen's own class rules)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from schedules.protocol.device import Manifest
from tests.fixtures.server import AppClient, PairedDevice, pair_device


def _book(
    c: AppClient, shop: dict[str, str], op: dict[str, str], media_id: str, name: str, share: float
) -> str:
    body = {
        "name": name, "media_ids": [media_id], "flight_start": "2026-11-25", "flight_end": "2026-12-20",
        "share_percent": share, "targeting": {"screen_classes": ["indoor_small"]},
    }  # fmt: skip
    r = c.post("/api/v1/campaigns", json=body, headers=shop)
    assert r.status_code == 201, r.text
    camp = r.json()
    assert (
        c.post(f"/api/v1/campaigns/{camp['id']}/approve", json={}, headers=op).json()["state"] == "approved"
    )
    return str(camp["id"])


def _rules_of(c: AppClient, screen: PairedDevice) -> dict[str, Any]:
    raw = c.get("/api/v1/device/manifest", headers=screen.headers).content
    assert b"group_house_rules" not in raw  # older players could not parse it
    rules: dict[str, Any] = (
        Manifest.model_validate_json(raw).catalogue.house_rules["indoor_small"].model_dump()
    )
    return rules


def test_house_rules_are_set_per_class_and_group_and_refused_when_they_short_bookings(
    app_client: AppClient, media_dir: Path
) -> None:
    c = app_client
    op = c.auth(c.operator)
    lobby = pair_device(c, screen_class="indoor_small", groups=["lobbies"])
    gate = pair_device(c, screen_class="indoor_small", groups=["school-gate"])
    shop = c.auth(c.create_user("bakery", "advertiser"))
    img = c.post(
        "/api/v1/media?filename=ad.jpg", content=(media_dir / "small.jpg").read_bytes(), headers=shop
    ).json()
    bakery = _book(c, shop, op, img["id"], "Bakery spring offer", 20)
    gym = _book(c, shop, op, img["id"], "Gym", 20)

    assert c.get("/api/v1/house-rules", headers=op).json()["classes"]["indoor_small"]["max_ad_share"] == 50
    # 40 % booked on every indoor screen: an ad share of 30 % would give each 75 % of its booking
    r = c.put("/api/v1/house-rules/classes/indoor_small", json={"max_ad_share": 30}, headers=op)
    assert r.status_code == 409, r.text
    refused = r.json()
    assert {(u["campaign_id"], u["name"], u["delivered_percent"]) for u in refused["under_delivered"]} == {
        (bakery, "Bakery spring offer", 75.0),
        (gym, "Gym", 75.0),
    }
    assert set(refused["under_delivered"][0]["screen_ids"]) == {lobby.device_id, gate.device_id}
    assert "Bakery spring offer" in refused["reason"]["en"] and "无法足额投放" in refused["reason"]["zh"]
    assert _rules_of(c, lobby)["max_ad_share"] == 50  # nothing changed

    r = c.put("/api/v1/house-rules/classes/indoor_small", json={"max_ad_share": 45}, headers=op)
    assert r.status_code == 200 and r.json()["classes"]["indoor_small"]["max_ad_share"] == 45
    assert _rules_of(c, lobby)["max_ad_share"] == 45 == _rules_of(c, gate)["max_ad_share"]

    # a group: only its screens, and only bookings there are checked
    r = c.put("/api/v1/house-rules/groups/school-gate", json={"min_announcement_share": 70}, headers=op)
    assert r.status_code == 409
    assert {tuple(u["screen_ids"]) for u in r.json()["under_delivered"]} == {(gate.device_id,)}
    r = c.put(
        "/api/v1/house-rules/groups/school-gate", json={"min_dwell_s": 8, "loop_seconds": 90}, headers=op
    )
    assert r.status_code == 200 and r.json()["groups"]["school-gate"]["min_dwell_s"] == 8
    gate_rules, lobby_rules = _rules_of(c, gate), _rules_of(c, lobby)
    assert (gate_rules["min_dwell_s"], gate_rules["loop_seconds"], gate_rules["max_ad_share"]) == (8, 90, 45)
    assert (lobby_rules["min_dwell_s"], lobby_rules["loop_seconds"]) == (5, 120)
    assert c.delete("/api/v1/house-rules/groups/school-gate", headers=op).status_code == 204
    assert _rules_of(c, gate)["min_dwell_s"] == 5

    # rules the engine cannot honour, and who may set them
    r = c.put("/api/v1/house-rules/classes/indoor_small", json={"loop_seconds": 2}, headers=op)
    assert r.status_code == 422
    assert (
        c.put("/api/v1/house-rules/classes/indoor_small", json={"max_ad_share": 10}, headers=shop).status_code
        == 403
    )
    assert c.put("/api/v1/house-rules/classes/billboard", json={}, headers=op).status_code == 404
