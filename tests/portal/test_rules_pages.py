"""Operator pages for house rules and CAP area mappings, the campaign form's recurrence rule and the
media library's conversion progress, in both languages, in-process."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from content_server.portal.security import LANG_COOKIE
from tests.fixtures.cap_feed import T0, feed
from tests.fixtures.server import AppClient, pair_device
from tests.portal.conftest import csrf_of, portal_login
from tests.portal.test_campaign_pages import _campaign_form, _upload


def _approve(c: AppClient, shop_upload: str) -> None:
    shop = c.auth(c.create_user("gym", "advertiser"))
    op = c.auth(c.operator)
    media = c.post(
        "/api/v1/media?filename=a.jpg", content=Path(shop_upload).read_bytes(), headers=shop
    ).json()
    body = {
        "name": "Gym open day", "media_ids": [media["id"]], "flight_start": "2026-11-25",
        "flight_end": "2026-12-20", "share_percent": 40, "targeting": {"screen_classes": ["indoor_small"]},
    }  # fmt: skip
    camp = c.post("/api/v1/campaigns", json=body, headers=shop).json()
    c.post(f"/api/v1/campaigns/{camp['id']}/approve", json={}, headers=op)


def test_house_rules_page_sets_rules_and_lists_the_campaigns_a_change_would_short(
    app_client: AppClient, media_dir: Path
) -> None:
    c = app_client
    pair_device(c, screen_class="indoor_small", groups=["school-gate"])
    _approve(c, str(media_dir / "small.jpg"))
    portal_login(c, c.operator)
    page = c.get("/portal/house-rules")
    assert page.status_code == 200 and "楼宇小屏" in page.text and "广告最高占比" in page.text
    token = csrf_of(page.text)
    refused = c.post(
        "/portal/house-rules/classes/indoor_small", data={"csrf_token": token, "max_ad_share": "20"}
    )
    assert refused.status_code == 409
    assert "Gym open day" in refused.text and "50.0%" in refused.text and "未保存" in refused.text
    saved = c.post(
        "/portal/house-rules/groups",
        data={"csrf_token": token, "group": "school-gate", "min_dwell_s": "8"},
        follow_redirects=True,
    )
    assert saved.status_code == 200 and "播放规则已保存" in saved.text and "school-gate" in saved.text
    assert (
        c.get("/api/v1/house-rules", headers=c.auth(c.operator)).json()["groups"]["school-gate"][
            "min_dwell_s"
        ]
        == 8
    )
    c.cookies.set(LANG_COOKIE, "en")
    english = c.get("/portal/house-rules")
    assert "Maximum ad share" in english.text and "Building screen" in english.text  # i18n class.indoor_small


def test_alert_feed_page_maps_areas_in_both_languages_and_explains_loudness(app_client: AppClient) -> None:
    c = app_client
    c.clock.set(T0)
    lobby = pair_device(c, screen_class="indoor_small", groups=["nanshan-lobbies"])
    portal_login(c, c.operator)
    page = c.get("/portal/alert-feeds")
    assert "红色全屏" in page.text and "提示横幅" in page.text  # how loud each kind of alert is
    created = c.post("/portal/alert-feeds", data={"csrf_token": csrf_of(page.text), "name": "广东预警"})
    assert created.status_code == 201 and "只显示这一次" in created.text
    secret = created.text.split("<dt>密钥</dt><dd><code>")[1].split("</code>")[0]
    feed_id = created.text.split("/portal/alert-feeds/")[1].split("/rules")[0]
    bad = c.post(
        f"/portal/alert-feeds/{feed_id}/rules",
        data={"csrf_token": csrf_of(created.text), "groups": ["nanshan-lobbies"], "geocodes": "440305"},
    )
    assert bad.status_code == 422 and "无法识别的地区编码行" in bad.text
    added = c.post(
        f"/portal/alert-feeds/{feed_id}/rules",
        data={
            "csrf_token": csrf_of(created.text),
            "label_zh": "南山区",
            "label_en": "Nanshan",
            "groups": ["nanshan-lobbies"],
            "new_group": "nanshan-outdoor",
            "names_zh": "南山区",
            "names_en": "Nanshan District",
            "geocodes": "GB/T 2260=440305",
            "wider_areas": "yes",
        },
        follow_redirects=True,
    )
    assert added.status_code == 200 and "GB/T 2260=440305" in added.text and "Nanshan District" in added.text
    body = feed()["typhoon"]  # coded for the city 440300: reaches us through the wider areas
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    r = c.post(f"/api/v1/alert-feeds/{feed_id}/cap", content=body, headers={"X-Signature": f"sha256={sig}"})
    assert r.status_code == 201 and r.json()["outcome"] == "show"
    assert c.get("/api/v1/device/emergency", headers=lobby.headers).json()["active"]
    c.cookies.set(LANG_COOKIE, "en")
    english = c.get("/portal/alert-feeds")
    assert "Full screen, red" in english.text and "Nanshan" in english.text


def test_campaign_form_takes_a_recurrence_rule_with_hours_and_refuses_minutes(
    app_client: AppClient, media_dir: Path
) -> None:
    c = app_client
    pair_device(c, screen_class="outdoor_large")
    shop = c.create_user("bakery", "advertiser")
    portal_login(c, shop)
    media_id = _upload(c, media_dir / "landscape.png")
    form = _campaign_form(
        c, media_id, name="weekend mornings", rrule="FREQ=WEEKLY;BYDAY=SA,SU;BYHOUR=9,10,11"
    )
    r = c.post("/portal/campaigns", data=form, follow_redirects=True)
    assert r.status_code == 200 and "投放申请已提交" in r.text
    campaign_id = str(r.url).split("?")[0].rsplit("/", 1)[-1]
    booked = c.get(f"/api/v1/campaigns/{campaign_id}", headers=c.auth(shop)).json()
    assert booked["rrule"] == "FREQ=WEEKLY;BYDAY=SA,SU;BYHOUR=9,10,11"
    minutes = _campaign_form(c, media_id, name="half past", rrule="FREQ=DAILY;BYMINUTE=30")
    refused = c.post("/portal/campaigns", data=minutes)
    assert (
        refused.status_code == 422
        and "一小时内的时间（分钟）请用上面的时段" in refused.text  # the hint, in the reader's language
        and 'value="FREQ=DAILY;BYMINUTE=30"' in refused.text
    )


def test_media_page_shows_a_conversion_in_progress(app_client: AppClient, tmp_path: Path) -> None:
    from tests.fixtures import hostile_media

    c = app_client
    portal_login(c, c.operator)
    src = hostile_media.yuv444_mp4(tmp_path / "v.mp4")
    token = csrf_of(c.get("/portal/media").text)
    # the job runs in the background; halt it so the page shows the row still waiting
    c.app.state.transcoder.halt()  # type: ignore[attr-defined]
    r = c.post("/api/v1/media?filename=v.mp4", content=src.read_bytes(), headers={"X-CSRF-Token": token})
    assert r.status_code == 201 and r.json()["status"] == "processing"
    page = c.get("/portal/media")
    assert (
        'data-processing="/api/v1/media/' in page.text and "正在转换为所有屏幕都能流畅播放的格式" in page.text
    )
    assert "编码档次" in page.text and "像素格式" in page.text
