"""What the portal tells operators and merchants, in-process on a movable clock (issue 14): proof
of play counted by the community's day with names, who has an emergency ("delivered to N of M"),
media that cannot be deleted while shown and that can be replaced, campaigns' phases."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

from content_server.signage import campaign_view
from content_server.signage.services import delivery
from content_server.signage.services.library import replace
from tests.fixtures.server import START, AppClient, PairedDevice, pair_device
from tests.portal.conftest import csrf_of, portal_login

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _booked(
    c: AppClient, media_dir: Path, name: str = "晨间豆浆"
) -> tuple[dict[str, str], str, str, PairedDevice]:
    op = c.auth(c.operator)
    dev = pair_device(c, screen_class="outdoor_large", name="东门大屏", groups=["east"])
    filler = c.post(
        "/api/v1/media?filename=f.png", content=(media_dir / "small.jpg").read_bytes(), headers=op
    )
    c.patch(f"/api/v1/media/{filler.json()['id']}", json={"filler": True}, headers=op)
    shop = c.auth(c.create_user("soymilk", "advertiser"))
    media = c.post(
        "/api/v1/media?filename=ad.png", content=(media_dir / "landscape.png").read_bytes(), headers=shop
    ).json()
    body = {
        "name": name,
        "media_ids": [media["id"]],
        "flight_start": "2026-11-24",
        "flight_end": "2026-12-01",
        "share_percent": 10,
        "targeting": {"groups": ["east"]},
    }
    campaign = c.post("/api/v1/campaigns", json=body, headers=shop).json()
    assert c.post(f"/api/v1/campaigns/{campaign['id']}/approve", json={}, headers=op).status_code == 200
    return shop, campaign["id"], media["id"], dev


def test_proof_of_play_counts_the_communitys_days_and_names_things(
    app_client: AppClient, media_dir: Path
) -> None:
    c = app_client
    start = c.clock.now()
    c.clock.set(dt.datetime(2026, 11, 24, 16, 0, tzinfo=dt.UTC))  # plays count from the manifest served
    _, campaign_id, _, dev = _booked(c, media_dir)
    manifest = c.get("/api/v1/device/manifest", headers=dev.headers).json()
    item = manifest["catalogue"]["campaigns"][0]["item_ids"][0]
    c.clock.set(start)
    # 00:30 in Shanghai is still the previous day in UTC: the report must say the 25th, not the 24th
    at = [dt.datetime(2026, 11, 24, 16, 30, tzinfo=dt.UTC), dt.datetime(2026, 11, 25, 1, 5, tzinfo=dt.UTC)]
    records = [
        {
            "id": str(uuid.uuid4()),
            "item_id": item,
            "campaign_id": campaign_id,
            "started_at": t.isoformat(),
            "duration_s": 8.0,
            "completed": True,
        }
        for t in at
    ]
    assert (
        c.post("/api/v1/device/plays", json={"records": records}, headers=dev.headers).json()["accepted"] == 2
    )

    utc = c.get(
        "/api/v1/reports/plays", params={"campaign_id": campaign_id}, headers=c.auth(c.operator)
    ).json()
    assert sorted(r["date_utc"] for r in utc) == ["2026-11-24", "2026-11-25"]  # the API stays in UTC

    portal_login(c, c.operator)
    page = c.get("/portal/report", params={"first": "2026-11-20", "last": "2026-11-26"})
    assert page.status_code == 200 and "2026-11-25" in page.text and "2026-11-24" not in page.text
    assert "晨间豆浆" in page.text and "soymilk" in page.text
    csv = c.get("/portal/report.csv", params={"first": "2026-11-20", "last": "2026-11-26"})
    lines = csv.text.lstrip("\ufeff").splitlines()
    assert lines[0] == "日期,小时,投放,商户,屏幕,屏幕类型,播放次数,完整播放次数,播放时长（秒）"
    assert sorted(lines[1:]) == [
        "2026-11-25,00:00,晨间豆浆,soymilk,东门大屏,户外大屏,1,1,8.0",
        "2026-11-25,09:00,晨间豆浆,soymilk,东门大屏,户外大屏,1,1,8.0",
    ]
    c.get("/portal/lang/en")
    english = c.get(f"/portal/campaigns/{campaign_id}/report.csv").text.lstrip("\ufeff").splitlines()
    assert (
        english[0]
        == "Day,Hour,Campaign,Advertiser,Screen,Screen class,Plays,Played to the end,Seconds on air"
    )
    assert english[1].split(",")[5] == "Outdoor screen"


def test_delivery_counts_the_screens_that_report_the_emergency_in_play(app_client: AppClient) -> None:
    c = app_client
    op = c.auth(c.operator)
    one = pair_device(c, screen_class="indoor_small", name="A座大堂", groups=["a"])
    two = pair_device(c, screen_class="indoor_small", name="A座电梯厅", groups=["a"])
    pair_device(c, screen_class="outdoor_large", name="B座", groups=["b"])
    body = {
        "title": "停电",
        "text": {"zh": "A座停电检修"},
        "priority": "emergency",
        "targeting": {"groups": ["a"]},
    }
    ann = c.post("/api/v1/announcements", json=body, headers=op).json()
    state = c.get("/api/v1/device/emergency", headers=one.headers).json()
    with c.app.state.sessions() as session:  # type: ignore[attr-defined]
        assert delivery.deliveries(session, c.clock.now())[ann["id"]].waiting == ("A座大堂", "A座电梯厅")
    beat = {
        "sent_at": c.clock.now().isoformat(),
        "player_version": "t",
        "emergency_version": state["version"],
    }
    assert c.post("/api/v1/device/heartbeat", json=beat, headers=one.headers).status_code == 200
    old = c.post(
        "/api/v1/device/heartbeat",
        json={"sent_at": c.clock.now().isoformat(), "player_version": "t"},
        headers=two.headers,
    )  # a player that does not report it yet: not counted
    assert old.status_code == 200
    with c.app.state.sessions() as session:  # type: ignore[attr-defined]
        d = delivery.deliveries(session, c.clock.now())[ann["id"]]
    assert (d.delivered, d.waiting, d.targeted) == (("A座大堂",), ("A座电梯厅",), 2)
    portal_login(c, c.operator)
    page = c.get("/portal/emergency")
    assert "已送达 1 / 2 块屏幕" in page.text and "尚未确认：A座电梯厅" in page.text
    live = c.get("/portal/emergency/live")
    version = live.text.split('data-version="')[1].split('"')[0]
    assert c.get("/portal/emergency/live", params={"v": version}).status_code == 204  # nothing new: no swap


def test_media_in_use_is_named_when_deletion_is_refused_and_can_be_replaced(
    app_client: AppClient, media_dir: Path
) -> None:
    c = app_client
    shop, campaign_id, media_id, _ = _booked(c, media_dir)
    refused = c.delete(f"/api/v1/media/{media_id}", headers=shop)
    assert refused.status_code == 409 and "晨间豆浆" in refused.json()["detail"]
    new = c.post(
        "/api/v1/media?filename=v2.png", content=(media_dir / "portrait.png").read_bytes(), headers=shop
    )
    with c.app.state.sessions() as session:  # type: ignore[attr-defined]
        from content_server.core.models import User
        from content_server.signage.models import CampaignRow, Media

        owner = session.query(User).filter_by(username="soymilk").one()
        requeued = replace(session, owner, media_id, new.json()["id"], discard_upload=True, now=c.clock.now())
        assert [r.id for r in requeued] == [campaign_id]
        row = session.get(Media, media_id)
        assert row is not None and (row.width, row.height, row.filename) == (1080, 1920, "v2.png")
        assert session.get(Media, new.json()["id"]) is None  # no second entry left behind
        campaign = session.get(CampaignRow, campaign_id)
        assert campaign is not None and campaign.state == "pending"  # the approver sees the new picture


def test_campaign_phases_split_approved_by_the_flight() -> None:
    start, end = dt.date(2026, 11, 25), dt.date(2026, 11, 30)
    assert campaign_view.phase("approved", start, end, dt.date(2026, 11, 24)) == "scheduled"
    assert campaign_view.phase("approved", start, end, dt.date(2026, 11, 25)) == "running"
    assert campaign_view.phase("approved", start, end, dt.date(2026, 12, 1)) == "finished"
    assert campaign_view.phase("paused", start, end, dt.date(2026, 11, 26)) == "paused"
    assert campaign_view.phase("pending", start, end, dt.date(2026, 11, 26)) == "pending"
    assert START.astimezone(SHANGHAI).date() == dt.date(2026, 11, 25)


def test_operators_open_the_campaign_list_and_merchants_cannot_change_an_approved_one(
    app_client: AppClient, media_dir: Path
) -> None:
    c = app_client
    _, campaign_id, _, _ = _booked(c, media_dir)
    portal_login(c, c.operator)
    listing = c.get("/portal/campaigns")
    assert listing.status_code == 200 and "晨间豆浆" in listing.text and "投放中" in listing.text
    assert "晨间豆浆" in c.get("/portal/campaigns", params={"show": "running"}).text
    assert "晨间豆浆" not in c.get("/portal/campaigns", params={"show": "paused"}).text
    from tests.fixtures.server import Credentials

    portal_login(c, Credentials("soymilk", "password-123"))
    edit = c.get(f"/portal/campaigns/{campaign_id}/edit")
    assert edit.status_code == 409 and "只有待审核的投放可以修改" in edit.text
    # the community pauses it, saying why: the merchant reads the reason and cannot resume it
    portal_login(c, c.operator)
    token = csrf_of(c.get(f"/portal/campaigns/{campaign_id}").text)
    asked = c.post(f"/portal/campaigns/{campaign_id}/pause", data={"csrf_token": token, "confirmed": "yes"})
    assert "原因（商户会看到）" in asked.text and "投放中" in asked.text  # no reason yet: asked again
    paused = c.post(
        f"/portal/campaigns/{campaign_id}/pause",
        follow_redirects=True,
        data={"csrf_token": token, "confirmed": "yes", "reason": "画面含未经许可的商标"},
    )
    assert "投放已暂停" in paused.text
    portal_login(c, Credentials("soymilk", "password-123"))
    page = c.get(f"/portal/campaigns/{campaign_id}")
    assert "画面含未经许可的商标" in page.text and "恢复投放</button>" not in page.text
    resumed = c.post(f"/portal/campaigns/{campaign_id}/resume", data={"csrf_token": csrf_of(page.text)})
    assert resumed.status_code == 403 and "请联系运营人员恢复" in resumed.text
