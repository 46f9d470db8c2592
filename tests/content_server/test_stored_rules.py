"""A campaign stored before its RRULE was checked (BYMINUTE) plays nowhere and breaks no manifest;
an hourly RRULE booked through the API plays its hours only."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from content_server.signage.models import CampaignRow
from schedules.protocol.device import Manifest
from tests.fixtures.server import AppClient, pair_device


def test_a_stored_campaign_the_engine_now_refuses_does_not_break_manifests(
    app_client: AppClient, media_dir: Path
) -> None:
    c = app_client
    op = c.auth(c.operator)
    screen = pair_device(c, screen_class="indoor_small")
    shop = c.auth(c.create_user("shop", "advertiser"))
    img = c.post(
        "/api/v1/media?filename=a.jpg", content=(media_dir / "small.jpg").read_bytes(), headers=shop
    ).json()
    body = {
        "name": "weekend mornings", "media_ids": [img["id"]], "flight_start": "2026-11-25",
        "flight_end": "2026-12-20", "share_percent": 20, "rrule": "FREQ=WEEKLY;BYDAY=SA,SU;BYHOUR=9,10,11",
    }  # fmt: skip
    good = c.post("/api/v1/campaigns", json=body, headers=shop).json()
    assert (
        c.post(f"/api/v1/campaigns/{good['id']}/approve", json={}, headers=op).json()["state"] == "approved"
    )
    refused = c.post("/api/v1/campaigns", json={**body, "rrule": "FREQ=DAILY;BYMINUTE=30"}, headers=shop)
    assert refused.status_code == 422 and "dayparts" in refused.json()["detail"]
    with c.app.state.sessions() as session:  # type: ignore[attr-defined]
        now = c.clock.now()
        session.add(
            CampaignRow(
                advertiser_id=session.get(CampaignRow, good["id"]).advertiser_id,  # type: ignore[union-attr]
                name="legacy",
                media_ids=[img["id"]],
                flight_start=dt.date(2026, 11, 25),
                flight_end=dt.date(2026, 12, 20),
                dayparts=[],
                rrule="FREQ=DAILY;BYMINUTE=30",
                targeting={},
                share_percent=10,
                state="approved",
                submitted_at=now,
                updated_at=now,
            )
        )
        session.commit()
    r = c.get("/api/v1/device/manifest", headers=screen.headers)
    assert r.status_code == 200
    assert [x.id for x in Manifest.model_validate_json(r.content).catalogue.campaigns] == [good["id"]]
