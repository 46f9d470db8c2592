"""Operator pages in-process: screens (claim, status, edit, screenshot, timeline), announcements,
emergency broadcast with its confirmation step, USB bundle download."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import httpx

from signage_player.bundle_reader import open_bundle
from tests.fixtures.server import AppClient, pair_device
from tests.portal.conftest import csrf_of, portal_login
from tests.portal.test_campaign_pages import _upload


def _heartbeat(client: AppClient, key: str, **extra: object) -> None:
    body = {
        "sent_at": client.clock.now().isoformat(),
        "player_version": "t",
        "free_disk_bytes": 8_000_000_000,
        **extra,
    }
    r = client.post("/api/v1/device/heartbeat", json=body, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text


def test_claim_a_pairing_code_from_the_qr_link(app_client: AppClient) -> None:
    r = app_client.post(
        "/api/v1/devices/pairing",
        json={"device_kind": "player", "player_version": "1", "public_key": "A" * 44},
    )
    started = r.json()
    portal_login(app_client, app_client.operator)
    claim_path = httpx.URL(started["claim_url"]).raw_path.decode()
    page = app_client.get(claim_path)
    assert f'value="{started["code"]}"' in page.text  # the QR's link fills the code in
    form = {
        "csrf_token": csrf_of(page.text), "code": started["code"], "name": "东门大屏",
        "screen_class": "outdoor_large",
        "orientation": "landscape", "width": "1920", "height": "1080", "groups": "east-gate， phase-1",
        "tags": "building:3", "timezone": "Asia/Shanghai", "hours_on": "07:00", "hours_off": "22:00",
    }  # fmt: skip
    r = app_client.post("/portal/screens/claim", data=form, follow_redirects=True)
    assert r.status_code == 200 and "屏幕已绑定" in r.text and "东门大屏" in r.text
    assert 'value="07:00"' in r.text and 'value="east-gate, phase-1"' in r.text
    again = app_client.post("/portal/screens/claim", data=form)
    assert again.status_code == 422 and "没有待绑定的这个绑定码" in again.text
    poll = app_client.post(
        f"/api/v1/devices/pairing/{started['pairing_id']}/poll", json={"poll_secret": started["poll_secret"]}
    )
    assert poll.json()["claimed"] is True


def test_screens_list_shows_health_and_edits_stick(app_client: AppClient, media_dir: Path) -> None:
    dev = pair_device(app_client, screen_class="indoor_small", name="3号楼大堂", groups=["lobby"])
    portal_login(app_client, app_client.operator)
    listing = app_client.get("/portal/screens")
    assert "3号楼大堂" in listing.text and "未上线" in listing.text
    media_id = _upload(app_client, media_dir / "small.jpg")
    _heartbeat(app_client, dev.device_key, current_item_id=f"m-{media_id}", missing_assets=["ab" * 32])
    listing = app_client.get("/portal/screens")
    assert "在线" in listing.text and ">small.jpg</td>" in listing.text and "8.0 GB" in listing.text
    assert "缺少 1 个素材" in listing.text
    _heartbeat(app_client, dev.device_key, failed_items=["m-broken"])
    assert "1 块屏幕内容播放失败：3号楼大堂" in app_client.get("/portal/screens").text
    app_client.clock.advance(dt.timedelta(minutes=10).total_seconds())
    assert "1 块屏幕离线：3号楼大堂" in app_client.get("/portal/screens").text

    page = app_client.get(f"/portal/screens/{dev.device_id}")
    form = {
        "csrf_token": csrf_of(page.text), "name": "3号楼大堂", "screen_class": "indoor_small",
        "orientation": "portrait", "width": "1080", "height": "1920", "groups": "lobby, building-3",
        "tags": "building:3, floor:1", "timezone": "Asia/Shanghai", "hours_on": "", "hours_off": "",
    }  # fmt: skip
    r = app_client.post(f"/portal/screens/{dev.device_id}", data=form, follow_redirects=True)
    assert "屏幕设置已保存" in r.text, (r.url, re.findall(r"error.*?</div>", r.text, re.S))
    assert 'value="building-3, lobby"' in r.text
    assert '<option value="portrait" selected>' in r.text
    bad = app_client.post(f"/portal/screens/{dev.device_id}", data=dict(form, timezone="Mars/Base"))
    assert bad.status_code == 422 and "时区名称不正确" in bad.text and "unknown time zone" not in bad.text

    r = app_client.post(
        f"/portal/screens/{dev.device_id}/screenshot",
        data={"csrf_token": csrf_of(r.text)},
        follow_redirects=True,
    )
    assert "已请求截图" in r.text
    reply = app_client.post(
        "/api/v1/device/heartbeat",
        json={"sent_at": app_client.clock.now().isoformat(), "player_version": "t"},
        headers=dev.headers,
    )  # fmt: skip
    assert reply.json()["screenshot_requested"] is True


def test_announcement_appears_on_the_timeline_with_an_explanation(app_client: AppClient) -> None:
    dev = pair_device(app_client, screen_class="outdoor_large", groups=["east-gate"])
    portal_login(app_client, app_client.operator)
    page = app_client.get("/portal/announcements")
    form = {
        "csrf_token": csrf_of(page.text), "title": "停水通知 <i>", "text_zh": "明天 9:00-12:00 停水",
        "text_en": "No water tomorrow 9-12", "priority": "important", "groups": ["east-gate"],
        "valid_from": "2026-11-25T09:00", "valid_until": "",
    }  # fmt: skip
    r = app_client.post("/portal/announcements", data=form, follow_redirects=True)
    assert "公告已发布" in r.text and "停水通知 &lt;i&gt;" in r.text
    bad = app_client.post("/portal/announcements", data=dict(form, text_zh="", text_en=""))
    assert bad.status_code == 422 and "请至少填写" in bad.text
    bad = app_client.post("/portal/announcements", data=dict(form, tag_expr="building:3 AND ("))
    assert bad.status_code == 422 and "标签条件写法有误" in bad.text and "tag_expr:" not in bad.text

    screen = app_client.get(f"/portal/screens/{dev.device_id}")
    starts = re.findall(r'class="slot slot-announcement"[^>]*data-start="([^"]+)"', screen.text)
    assert starts, "the announcement is not on the timeline picture"
    explained = app_client.get(f"/portal/screens/{dev.device_id}/explain", params={"at": starts[0]})
    assert explained.status_code == 200 and "停水通知" in explained.json()["text"]
    app_client.get("/portal/lang/en")
    explained = app_client.get(f"/portal/screens/{dev.device_id}/explain", params={"at": starts[0]}).json()
    assert "announcement" in explained["text"].lower()


def test_the_timeline_opened_at_the_end_of_an_hour_shows_that_whole_hour(
    app_client: AppClient, media_dir: Path
) -> None:
    """Opened at 10:59:50 the first hour row is 10:00-11:00 as played, not the last ten seconds of it
    (that sliver read "nothing plays" and left out the announcement; CI caught it at 23:59)."""
    dev = pair_device(app_client, screen_class="indoor_small", groups=["lobby"])
    portal_login(app_client, app_client.operator)
    media_id = _upload(app_client, media_dir / "small.jpg")
    token = csrf_of(app_client.get("/portal/media").text)
    app_client.post(f"/portal/media/{media_id}/filler", data={"csrf_token": token, "filler": "true"})
    page = app_client.get("/portal/announcements")
    form = {
        "csrf_token": csrf_of(page.text), "title": "停水通知", "text_zh": "明天 9:00-12:00 停水",
        "text_en": "No water tomorrow 9-12", "priority": "important", "groups": ["lobby"],
        "valid_from": "2026-11-25T09:00", "valid_until": "",
    }  # fmt: skip
    assert "公告已发布" in app_client.post("/portal/announcements", data=form, follow_redirects=True).text
    app_client.clock.advance(dt.timedelta(minutes=59, seconds=50).total_seconds())  # 10:59:50 in Shanghai

    screen = app_client.get(f"/portal/screens/{dev.device_id}").text
    rows = re.findall(r"<tr><td[^>]*>([^<]+)</td><td[^>]*>([^<]+)</td><td[^>]*>([^<]*)</td></tr>", screen)
    assert [r[0] for r in rows[:2]] == ["11-25 10:00", "11-25 11:00"] and len(rows) == 24
    assert all("此时屏幕关闭或无内容" not in r[1] for r in rows), rows[0]  # always on: every hour plays
    assert "公告" in rows[0][1] and "停水通知" in rows[0][2]
    drawn = [dt.datetime.fromisoformat(s) for s in re.findall(r'data-start="([^"]+)"', screen)]
    assert min(drawn) == dt.datetime(2026, 11, 25, 2, tzinfo=dt.UTC)  # the picture begins at 10:00 too


def test_emergency_needs_a_confirmation_and_can_be_ended(app_client: AppClient) -> None:
    dev = pair_device(app_client, screen_class="outdoor_large")
    portal_login(app_client, app_client.operator)
    page = app_client.get("/portal/emergency")
    form = {
        "csrf_token": csrf_of(page.text),
        "title": "燃气泄漏",
        "text_zh": "请立即撤离3号楼",
        "text_en": "Leave now",
    }
    review = app_client.post("/portal/emergency/send", data=form)
    assert "确认发出紧急广播" in review.text and 'name="confirmed" value="yes"' in review.text
    state = app_client.get("/api/v1/device/emergency", headers=dev.headers).json()
    assert state["active"] is False  # nothing sent before the confirmation
    sent = app_client.post("/portal/emergency/send", data=dict(form, confirmed="yes"), follow_redirects=True)
    assert "紧急广播已发出" in sent.text and "结束紧急广播" in sent.text
    state = app_client.get("/api/v1/device/emergency", headers=dev.headers).json()
    assert state["active"] is True and "请立即撤离3号楼" in state["item"]["text"]["zh"]
    end_action = re.search(r'action="(/portal/emergency/[^/]+/end)"', sent.text)
    assert end_action
    ended = app_client.post(
        end_action.group(1), data={"csrf_token": csrf_of(sent.text)}, follow_redirects=True
    )
    assert "紧急广播已结束" in ended.text
    assert app_client.get("/api/v1/device/emergency", headers=dev.headers).json()["active"] is False


def test_bundle_for_a_group_downloads_as_a_signed_tar(app_client: AppClient, tmp_path: Path) -> None:
    dev = pair_device(app_client, screen_class="indoor_small", groups=["no-network"])
    portal_login(app_client, app_client.operator)
    page = app_client.get("/portal/bundles")
    assert '<option value="no-network">' in page.text and 'action="/api/v1/bundles"' in page.text
    r = app_client.get("/api/v1/bundles", params={"group": "no-network"})
    assert r.status_code == 200
    bundle = tmp_path / "usb.tar"
    bundle.write_bytes(r.content)
    index, _ = open_bundle(bundle, dev.server_public_key)  # the player's own check of the signature
    assert index.group == "no-network" and [m.screen.id for m in index.manifests] == [dev.device_id]
