"""Advertiser and operator campaign pages in-process: availability, approval, isolation, escaping."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from tests.fixtures.server import AppClient, Credentials, pair_device
from tests.portal.conftest import csrf_of, portal_login

XSS = "<script>alert(1)</script>"


def _upload(client: AppClient, path: Path) -> str:
    """What the media page's script does: the API upload with the page's CSRF token."""
    url = f"/api/v1/media?filename={path.name}"
    forged = client.post(url, content=path.read_bytes())  # another site's form: cookie, no token
    assert forged.status_code == 403 and "X-CSRF-Token" in forged.json()["detail"]
    token = csrf_of(client.get("/portal/media").text)
    r = client.post(url, content=path.read_bytes(), headers={"X-CSRF-Token": token})
    assert r.status_code == 201, r.text
    media_id: str = r.json()["id"]
    return media_id


def _campaign_form(client: AppClient, media_id: str, **over: Any) -> dict[str, Any]:
    page = client.get("/portal/campaigns/new")
    assert page.status_code == 200
    start = client.clock.now().date()
    form: dict[str, Any] = {
        "csrf_token": csrf_of(page.text),
        "name": XSS,
        "category": "bakery",
        "media_ids": [media_id],
        "screen_classes": ["outdoor_large"],
        "flight_start": start.isoformat(),
        "flight_end": (start + dt.timedelta(days=6)).isoformat(),
        "share_percent": "10",
    }
    form.update(over)
    return form


def test_campaign_from_form_to_approval_with_isolation(app_client: AppClient, media_dir: Path) -> None:
    pair_device(app_client, screen_class="outdoor_large", groups=["east-gate"], tags=["building:3"])
    shop = app_client.create_user("bakery", "advertiser")
    portal_login(app_client, shop)
    media_id = _upload(app_client, media_dir / "landscape.png")
    media_page = app_client.get("/portal/media")
    assert "1920 × 1080" in media_page.text and f"/api/v1/media/{media_id}/thumbnail" in media_page.text

    new_page = app_client.get("/portal/campaigns/new")
    assert "east-gate" in new_page.text and 'value="3"' in new_page.text  # groups and buildings to pick

    form = _campaign_form(app_client, media_id)
    check = app_client.post("/portal/campaigns/check", data=form)
    assert check.status_code == 200, check.text
    body = check.json()
    assert body["fits"] is True and body["screens"] == 1 and body["daily_plays"] > 0

    too_big = app_client.post("/portal/campaigns/check", data=dict(form, share_percent="95")).json()
    assert too_big["fits"] is False and 0 < too_big["max_share_percent"] < 95
    assert f"{too_big['max_share_percent']:g}%" in too_big["message"]

    bad = app_client.post("/portal/campaigns/check", data=dict(form, flight_end="2020-01-01"))
    assert bad.status_code == 422 and "结束日期" in bad.json()["message"]

    r = app_client.post("/portal/campaigns", data=form, follow_redirects=True)
    assert r.status_code == 200 and "投放申请已提交" in r.text
    assert XSS not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    campaign_url = str(r.url).split("?")[0]
    assert "待审核" in r.text

    # two dayparts on weekdays, as a breakfast-and-dinner shop books them
    rush = dict(form, name="rush hours", weekdays=["0", "1", "2", "3", "4"], daypart_start="07:00",
                daypart_end="09:00", daypart2_start="17:00", daypart2_end="20:00")
    half = app_client.post("/portal/campaigns/check", data=dict(rush, daypart2_end=""))
    assert half.status_code == 422  # a range needs both times
    r2 = app_client.post("/portal/campaigns", data=rush, follow_redirects=True)
    assert r2.status_code == 200 and "周一 周二 周三 周四 周五 07:00–09:00, 17:00–20:00" in r2.text
    booked = app_client.get(f"/api/v1/campaigns/{str(r2.url).split('?')[0].rsplit('/', 1)[-1]}",
                            headers=app_client.auth(shop)).json()
    assert [(d["start"], d["end"]) for d in booked["dayparts"]] == [("07:00:00", "09:00:00"),
                                                                  ("17:00:00", "20:00:00")]
    assert all(sorted(d["weekdays"]) == [0, 1, 2, 3, 4] for d in booked["dayparts"])

    # another advertiser learns nothing about it
    other = app_client.create_user("laundry", "advertiser")
    portal_login(app_client, other)
    assert app_client.get(campaign_url).status_code == 404
    assert app_client.get(campaign_url + "/report.csv").status_code == 404
    assert XSS.replace("<", "&lt;") not in app_client.get("/portal/campaigns").text

    # the operator sees it with a preview and rejects it without a reason: refused
    portal_login(app_client, app_client.operator)
    queue = app_client.get("/portal/approvals")
    assert f"/api/v1/media/{media_id}/content" in queue.text and "&lt;script&gt;" in queue.text
    campaign_id = campaign_url.rsplit("/", 1)[1]
    token = csrf_of(queue.text)
    r = app_client.post(
        f"/portal/approvals/campaigns/{campaign_id}/reject", data={"csrf_token": token, "reason": " "}
    )
    assert r.status_code == 422
    r = app_client.post(
        f"/portal/approvals/campaigns/{campaign_id}/reject",
        data={"csrf_token": token, "reason": "图片文字太小 <b>"},
        follow_redirects=True,
    )
    assert "已驳回该投放" in r.text

    portal_login(app_client, shop)
    detail = app_client.get(campaign_url)
    assert "已驳回" in detail.text and "图片文字太小 &lt;b&gt;" in detail.text


def test_pause_an_approved_campaign_and_download_csv(app_client: AppClient, media_dir: Path) -> None:
    pair_device(app_client, screen_class="indoor_small")
    shop: Credentials = app_client.create_user("pharmacy", "advertiser")
    portal_login(app_client, shop)
    media_id = _upload(app_client, media_dir / "small.jpg")
    form = _campaign_form(app_client, media_id, name="Pharmacy", screen_classes=["indoor_small"])
    r = app_client.post("/portal/campaigns", data=form, follow_redirects=True)
    campaign_id = str(r.url).split("?")[0].rsplit("/", 1)[1]
    portal_login(app_client, app_client.operator)
    token = csrf_of(app_client.get("/portal/approvals").text)
    app_client.post(f"/portal/approvals/campaigns/{campaign_id}/approve", data={"csrf_token": token})
    portal_login(app_client, shop)
    detail = app_client.get(f"/portal/campaigns/{campaign_id}")
    assert "投放中" in detail.text and "暂停投放" in detail.text  # approved, and its flight has begun
    pause = f"/portal/campaigns/{campaign_id}/pause"
    asked = app_client.post(pause, data={"csrf_token": csrf_of(detail.text)})
    assert "暂停后该广告将从所有屏幕下线" in asked.text and 'name="confirmed" value="yes"' in asked.text
    detail = app_client.get(f"/portal/campaigns/{campaign_id}")
    assert "投放中" in detail.text  # nothing paused before the confirmation
    r = app_client.post(
        f"/portal/campaigns/{campaign_id}/pause",
        data={"csrf_token": csrf_of(detail.text), "confirmed": "yes"},
        follow_redirects=True,
    )
    assert "投放已暂停" in r.text and "已暂停" in r.text and "暂停投放</button>" not in r.text
    assert "恢复投放</button>" in r.text
    r = app_client.post(
        f"/portal/campaigns/{campaign_id}/resume", data={"csrf_token": csrf_of(r.text)}, follow_redirects=True
    )
    assert "投放已恢复" in r.text and "投放中" in r.text
    csv = app_client.get(f"/portal/campaigns/{campaign_id}/report.csv")
    assert csv.status_code == 200 and csv.text.lstrip("\ufeff").startswith("日期,小时,投放,商户,屏幕")
    assert csv.headers["content-disposition"].startswith("attachment")
