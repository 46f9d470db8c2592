"""Alerts reaching the duty team through real receivers on loopback: e-mail (aiosmtpd), a signed
webhook, WeCom / DingTalk / Feishu robots (their Apprise plugins through an HTTPS proxy). The
server's jobs run as the test steps the movable clock; nothing sleeps."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from urllib.parse import unquote

from sqlalchemy import select, update

from content_server.core.audit.models import AuditRecord
from content_server.core.delivery import services as deliveries
from content_server.core.delivery.models import Delivery
from content_server.fleet.models import AlertRule, Incident
from content_server.fleet.rule_kinds import DEFAULT_RULES
from content_server.kiosk.services.community_pay import NOTIFY_SENDER
from content_server.signage.models import Device
from tests.content_server.fleet.conftest import DING_SECRET, Fleet
from tests.fixtures.server import PairedDevice
from tests.portal.conftest import csrf_of, portal_login

ALL = ("email", "webhook", "wecom", "dingtalk", "feishu")


def run_until(fleet: Fleet, seconds: float, *, every: float = 5.0, beating: tuple[str, ...] = ()) -> None:
    """Step the clock ``every`` seconds for ``seconds``; screens in ``beating`` beat every minute."""
    elapsed = 0.0
    while elapsed < seconds:
        fleet.advance(seconds=every)
        elapsed += every
        if beating and int(elapsed) % 60 == 0:
            for name in beating:
                fleet.beat(fleet.screens[name])
        fleet.step()


def emergency_screens(fleet: Fleet, name: str, building: str, group: str, n: int) -> list[PairedDevice]:
    """``n`` screens in ``group`` that have said they show no emergency."""
    screens = [fleet.screen(f"{name} {k}", building=building, groups=(group,)) for k in range(n)]
    for d in screens:
        fleet.beat(d, emergency_version="none")
    return screens


def post_emergency(fleet: Fleet, title: str, text: dict[str, str], group: str, **extra: str) -> None:
    body = {"title": title, "text": text, "priority": "emergency", "targeting": {"groups": [group]}, **extra}
    r = fleet.client.post("/api/v1/announcements", headers=fleet.op, json=body)
    assert r.status_code == 201, r.text


def test_a_building_going_dark_is_one_message_per_channel_listing_its_twenty_screens(fleet: Fleet) -> None:
    lobby = [f"3号楼-{n:02d}" for n in range(20)]
    others = ["4号楼-a", "4号楼-b"]
    for name in lobby:
        fleet.screen(name, building="3")
    for name in others:
        fleet.screen(name, building="4")
    for name in lobby + others:  # last heartbeats spread over a minute, as players send them
        fleet.beat(fleet.screens[name])
        fleet.advance(seconds=3)
    # building 3's network goes down; building 4 keeps beating
    run_until(fleet, 12 * 60, beating=tuple(others))
    assert fleet.messages() == dict.fromkeys(ALL, 1)

    mail = fleet.smtp.received()[0]
    assert "3号楼" in mail.subject and "Building 3" in mail.subject
    assert all(name in mail.text for name in lobby) and not any(name in mail.text for name in others)
    assert "离线" in mail.text and "offline" in mail.text
    assert mail.message["Message-ID"].endswith("@community-signage>")
    hook = fleet.hooks.accepted()[0]
    assert hook.verified and hook.id.startswith("msg_")
    event = hook.json()
    assert event["type"] == "fleet.alert.firing" and event["incident"]["group"] == "building:3"
    assert sorted(m["name"] for m in event["members"]) == sorted(lobby)
    assert event["rule"]["kind"] == "offline"
    wecom = fleet.robots.received("qyapi.weixin.qq.com")[0]
    assert wecom.query["key"] == ["duty-room-key"] and "3号楼-07" in wecom.text
    ding = fleet.robots.received("oapi.dingtalk.com")[0]
    timestamp, sign = ding.query["timestamp"][0], unquote(ding.query["sign"][0])
    expected = base64.b64encode(
        hmac.new(DING_SECRET.encode(), f"{timestamp}\n{DING_SECRET}".encode(), hashlib.sha256).digest()
    ).decode()
    assert sign == expected and ding.query["access_token"] == ["abc123"]
    assert "Building 3" in fleet.robots.received("open.feishu.cn")[0].text

    # it comes back: one recovery per channel, naming the building again
    for name in lobby:
        fleet.beat(fleet.screens[name])
    run_until(fleet, 3 * 60, beating=tuple(lobby + others))
    assert fleet.messages() == dict.fromkeys(ALL, 2)
    recovery = fleet.hooks.accepted()[1].json()
    assert recovery["type"] == "fleet.alert.recovery" and len(recovery["members"]) == 20
    assert "恢复" in fleet.smtp.received()[1].subject


def test_an_offline_screen_reaches_the_duty_mailbox_within_30_s_of_its_threshold(fleet: Fleet) -> None:
    d = fleet.screen("Gate 1", building="7")
    fleet.beat(d)
    last_heartbeat = fleet.now()
    received_at = None
    for _ in range(14 * 12):
        fleet.advance(seconds=5)
        fleet.step()
        if fleet.smtp.received():
            received_at = fleet.now()
            break
    assert received_at is not None
    latency = (received_at - last_heartbeat - dt.timedelta(minutes=10)).total_seconds()
    assert 0 <= latency <= 30, latency


def test_quiet_hours_hold_messages_and_a_problem_that_heals_overnight_is_never_sent(fleet: Fleet) -> None:
    """The e-mail channel sleeps 22:00-07:00; the webhook does not. 23:00: a screen goes silent."""
    email = fleet.channels["email"]
    r = fleet.client.put(
        f"/api/v1/fleet/channels/{email}",
        headers=fleet.op,
        json={
            "name": "email duty",
            "kind": "email",
            "config": fleet.smtp.config(),
            "quiet_start": "22:00",
            "quiet_end": "07:00",
        },
    )
    assert r.status_code == 200, r.text
    fleet.client.clock.set(dt.datetime(2026, 11, 25, 14, 50, tzinfo=dt.UTC))  # 22:50 in Shanghai
    night = fleet.screen("Night 1", building="5")
    fleet.beat(night)
    run_until(fleet, 12 * 60)
    counts = fleet.messages()
    assert counts["webhook"] == 1 and counts["email"] == 0
    with fleet.client.app.state.sessions() as s:  # type: ignore[attr-defined]
        held = s.scalars(select(Delivery).where(Delivery.target == email)).one()
        assert held.state == "pending" and held.next_attempt_at == dt.datetime(
            2026, 11, 25, 23, 0, tzinfo=dt.UTC
        )
    # it heals at 01:00: the webhook hears of it, the sleeping mailbox never hears anything
    fleet.client.clock.set(dt.datetime(2026, 11, 25, 17, 0, tzinfo=dt.UTC))
    fleet.beat(night)
    run_until(fleet, 3 * 60, beating=("Night 1",))
    assert fleet.messages()["webhook"] == 2
    fleet.client.clock.set(dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.UTC))  # 07:30
    fleet.step()
    assert fleet.messages()["email"] == 0
    with fleet.client.app.state.sessions() as s:  # type: ignore[attr-defined]
        assert s.scalars(select(Delivery.state).where(Delivery.target == email)).all() == ["cancelled"]


def test_a_problem_still_there_in_the_morning_is_sent_when_quiet_hours_end(fleet: Fleet) -> None:
    email = fleet.channels["email"]
    fleet.client.put(
        f"/api/v1/fleet/channels/{email}",
        headers=fleet.op,
        json={
            "name": "email duty",
            "kind": "email",
            "config": fleet.smtp.config(),
            "quiet_start": "22:00",
            "quiet_end": "07:00",
        },
    )
    fleet.client.clock.set(dt.datetime(2026, 11, 25, 18, 0, tzinfo=dt.UTC))  # 02:00
    fleet.beat(fleet.screen("Night 2", building="5"))
    run_until(fleet, 12 * 60)
    assert fleet.messages()["email"] == 0
    fleet.client.clock.set(dt.datetime(2026, 11, 25, 23, 0, 5, tzinfo=dt.UTC))  # 07:00:05
    fleet.step()
    assert fleet.messages()["email"] == 1


def test_emergencies_are_not_held_by_quiet_hours_and_name_the_screens_they_missed(fleet: Fleet) -> None:
    for channel in ("email", "webhook"):
        config = (
            fleet.smtp.config()
            if channel == "email"
            else {"url": fleet.hooks.url, "secret": fleet.hooks.state.secret}
        )
        fleet.client.put(
            f"/api/v1/fleet/channels/{fleet.channels[channel]}",
            headers=fleet.op,
            json={
                "name": f"{channel} duty",
                "kind": channel,
                "config": config,
                "quiet_start": "00:00",
                "quiet_end": "23:59",
            },
        )
    screens = emergency_screens(fleet, "Hall", "2", "lobby", 3)
    post_emergency(
        fleet, "Gas leak", {"zh": "3号楼燃气泄漏，请勿使用明火", "en": "Gas leak: no open flames"}, "lobby"
    )
    version = fleet.client.get("/api/v1/device/emergency", headers=screens[0].headers).json()["version"]
    fleet.advance(seconds=4)
    fleet.beat(screens[0], emergency_version=version)  # two show it within seconds
    fleet.beat(screens[1], emergency_version=version)
    fleet.beat(screens[2], emergency_version="none")  # this one does not
    run_until(fleet, 40)
    counts = fleet.messages()
    assert counts["email"] == 1 and counts["webhook"] == 1  # quiet hours did not hold it
    event = fleet.hooks.accepted()[0].json()
    assert event["type"] == "fleet.alert.firing" and event["incident"]["urgent"] is True
    assert [m["name"] for m in event["members"]] == ["Hall 2"]
    assert "紧急" in fleet.smtp.received()[0].subject
    # passes between the heartbeat rules' (every 5 s, most of them) still see what Hall 2 shows:
    # no recovery while it misses the emergency, one once it shows it
    run_until(fleet, 120)
    assert [e.json()["type"] for e in fleet.hooks.accepted()] == ["fleet.alert.firing"]
    fleet.beat(screens[2], emergency_version=version)
    run_until(fleet, 40)
    assert [e.json()["type"] for e in fleet.hooks.accepted()] == [
        "fleet.alert.firing",
        "fleet.alert.recovery",
    ]


def test_an_emergency_entered_with_a_past_start_gets_its_30_s_from_when_it_was_sent(fleet: Fleet) -> None:
    screens = emergency_screens(fleet, "Gate", "6", "gates", 2)
    started = fleet.now() - dt.timedelta(minutes=5)  # "since 5 minutes ago", typed in afterwards
    text = {"zh": "6号楼停水", "en": "No water in building 6"}
    post_emergency(fleet, "Water off", text, "gates", valid_from=started.isoformat())
    fleet.step()  # a pass right away: the screens have not beaten since, and need not have
    fleet.advance(seconds=3)
    version = fleet.client.get("/api/v1/device/emergency", headers=screens[0].headers).json()["version"]
    for d in screens:
        fleet.beat(d, emergency_version=version)  # both show it within seconds of its sending
    run_until(fleet, 60, beating=tuple(f"Gate {n}" for n in range(2)))
    assert fleet.messages()["email"] == 0


def test_unacknowledged_alerts_escalate_and_acknowledging_with_a_note_stops_it(fleet: Fleet) -> None:
    wecom = fleet.channels["wecom"]
    fleet.client.put(
        f"/api/v1/fleet/channels/{wecom}",
        headers=fleet.op,
        json={
            "name": "manager robot",
            "kind": "wecom",
            "escalation": True,
            "config": {"url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=manager"},
        },
    )
    fleet.beat(fleet.screen("A1", building="1"))
    fleet.beat(fleet.screen("B1", building="2"))
    run_until(fleet, 11 * 60)
    assert fleet.messages()["wecom"] == 0 and fleet.messages()["email"] == 2  # two buildings, two incidents
    with fleet.client.app.state.sessions() as s:  # type: ignore[attr-defined]
        acked = s.scalars(select(Incident).where(Incident.group == "building:2")).one().id
    portal_login(fleet.client, fleet.client.operator)
    page = fleet.client.get(f"/portal/fleet/alerts/{acked}")
    assert page.status_code == 200 and "B1" in page.text
    empty = fleet.client.post(
        f"/portal/fleet/alerts/{acked}/acknowledge", data={"note": " ", "csrf_token": csrf_of(page.text)}
    )
    assert empty.status_code == 422
    done = fleet.client.post(
        f"/portal/fleet/alerts/{acked}/acknowledge",
        data={"note": "电工已去 2 号楼弱电间", "csrf_token": csrf_of(page.text)},
        follow_redirects=True,
    )
    assert done.status_code == 200 and "电工已去 2 号楼弱电间" in done.text
    run_until(fleet, 35 * 60, every=30)  # the default rule escalates 30 minutes after its message
    escalations = fleet.robots.received("qyapi.weixin.qq.com")
    assert len(escalations) == 1 and "A1" in escalations[0].text and "B1" not in escalations[0].text
    assert escalations[0].query["key"] == ["manager"]
    with fleet.client.app.state.sessions() as s:  # type: ignore[attr-defined]
        note = s.scalars(select(AuditRecord).where(AuditRecord.action == "alert.acknowledged")).one()
        assert note.actor_name == "operator" and note.after and note.after["note"] == "电工已去 2 号楼弱电间"


def test_payment_notifications_failing_on_the_queue_raise_an_alert(fleet: Fleet) -> None:
    with fleet.client.app.state.sessions() as s:  # type: ignore[attr-defined]
        deliveries.enqueue(
            s,
            key="community_pay:T1-success",
            sender=NOTIFY_SENDER,
            target="http://127.0.0.1:9/notify",
            payload={"body": base64.b64encode(b"{}").decode()},
            source="kiosk",
            now=fleet.now(),
        )
        s.commit()
    for _ in range(3):  # the merchant's URL refuses connections: three failures in a row
        fleet.deliver()
        fleet.advance(minutes=2)
    fleet.step()
    hooks = [h.json() for h in fleet.hooks.accepted()]
    assert [h["rule"]["kind"] for h in hooks] == ["payments"]
    assert "ConnectionError" in hooks[0]["members"][0]["detail"]["en"]


def test_a_silent_cap_feed_and_kiosk_peripherals_and_failing_sync_raise_their_alerts(fleet: Fleet) -> None:
    r = fleet.client.post(
        "/api/v1/alert-feeds", headers=fleet.op, json={"name": "District weather", "area_groups": {}}
    )
    assert r.status_code == 201
    kiosk = fleet.screen("Kiosk 1", building="6", kind="kiosk")
    player = fleet.screen("Lobby 6", building="6")
    # the kiosk side will report its peripherals in heartbeats; stored here as the server stores a heartbeat
    with fleet.client.app.state.sessions() as s:  # type: ignore[attr-defined]
        s.execute(
            update(Device)
            .where(Device.id == kiosk.device_id)
            .values(
                last_seen_at=fleet.now(),
                last_heartbeat={
                    "peripherals": [
                        {"name": "printer", "present": False, "working": False},
                        {"name": "scanner", "present": True, "working": True},
                    ]
                },
            )
        )
        s.commit()
    fleet.beat(player, failed_items=["clip-1"], errors=["decoder: cannot open clip-1.mp4"])
    run_until(fleet, 3 * 60, beating=("Lobby 6",))
    kinds = sorted(h.json()["rule"]["kind"] for h in fleet.hooks.accepted())
    assert kinds == ["peripheral"]
    detail = fleet.hooks.accepted()[0].json()["members"][0]["detail"]
    assert detail == {"zh": "打印机未连接", "en": "printer missing"}
    with fleet.client.app.state.sessions() as s:  # type: ignore[attr-defined]
        s.execute(
            update(Device)
            .where(Device.id == kiosk.device_id)
            .values(last_seen_at=fleet.now() + dt.timedelta(hours=30))
        )
        s.commit()
    for _ in range(12):  # the player keeps reporting the clip it cannot play
        fleet.advance(minutes=1)
        fleet.beat(player, failed_items=["clip-1"], errors=["decoder: cannot open clip-1.mp4"])
        fleet.step()
    assert "sync" in [
        h.json()["rule"]["kind"] for h in fleet.hooks.accepted()
    ]  # failing items, after its hold
    fleet.advance(hours=24)
    fleet.beat(player)
    fleet.step()
    kinds = [h.json()["rule"]["kind"] for h in fleet.hooks.accepted()]
    assert "cap_silent" in kinds


def test_every_channel_gets_its_test_message(fleet: Fleet) -> None:
    for kind, channel in fleet.channels.items():
        r = fleet.client.post(f"/api/v1/fleet/channels/{channel}/test", headers=fleet.op)
        assert r.status_code == 202 and r.json()["urgent"], (kind, r.text)
    fleet.deliver()
    assert fleet.messages() == dict.fromkeys(ALL, 1)
    assert "测试" in fleet.smtp.received()[0].subject and "[Test]" in fleet.smtp.received()[0].subject
    assert fleet.hooks.accepted()[0].json()["type"] == "fleet.test"


def test_only_one_process_evaluates_at_a_time(fleet: Fleet) -> None:
    from content_server.fleet.services import evaluator

    with fleet.client.app.state.sessions() as s:  # type: ignore[attr-defined]
        settings = fleet.client.app.state.settings  # type: ignore[attr-defined]
        first = evaluator.evaluate_all(s, now=fleet.now(), settings=settings, owner="process-a")
        second = evaluator.evaluate_all(s, now=fleet.now(), settings=settings, owner="process-b")
        later = fleet.now() + dt.timedelta(seconds=3 * settings.fleet_evaluate_every_s + 11)
        taken_over = evaluator.evaluate_all(s, now=later, settings=settings, owner="process-b")
    assert first.evaluated and not second.evaluated and taken_over.evaluated
    listed = fleet.client.get("/api/v1/fleet/rules", headers=fleet.op).json()
    assert first.rules == len(listed) == len(DEFAULT_RULES)


def test_channels_keep_their_secrets_and_show_them_nowhere(fleet: Fleet) -> None:
    listed = fleet.client.get("/api/v1/fleet/channels", headers=fleet.op).json()
    text = str(listed)
    assert "duty-room-key" not in text and DING_SECRET not in text and fleet.hooks.state.secret not in text
    ding = next(c for c in listed if c["kind"] == "dingtalk")
    assert ding["config"] == {"url": "https://oapi.dingtalk.com/***", "secret": "***"}
    # sending the masked values back keeps the real ones
    r = fleet.client.put(
        f"/api/v1/fleet/channels/{ding['id']}",
        headers=fleet.op,
        json={"name": "dingtalk renamed", "kind": "dingtalk", "config": ding["config"]},
    )
    assert r.status_code == 200, r.text
    fleet.client.post(f"/api/v1/fleet/channels/{ding['id']}/test", headers=fleet.op)
    fleet.deliver()
    assert fleet.robots.received("oapi.dingtalk.com")[0].query["access_token"] == ["abc123"]
    bad = fleet.client.post(
        "/api/v1/fleet/channels",
        headers=fleet.op,
        json={"name": "x", "kind": "wecom", "config": {"url": "https://example.org/hook"}},
    )
    assert bad.status_code == 422 and "config.url" in bad.json()["detail"]
    with fleet.client.app.state.sessions() as s:  # type: ignore[attr-defined]
        trail = str([r.after for r in s.scalars(select(AuditRecord).where(AuditRecord.entity == "channel"))])
    assert "duty-room-key" not in trail and DING_SECRET not in trail and "***" in trail


def test_rules_are_validated_and_a_changed_threshold_applies_at_the_next_pass(fleet: Fleet) -> None:
    rules = fleet.client.get("/api/v1/fleet/rules", headers=fleet.op).json()
    offline = next(r for r in rules if r["kind"] == "offline")
    body = {
        k: offline[k]
        for k in (
            "name",
            "kind",
            "enabled",
            "selector",
            "hold_for_s",
            "clear_for_s",
            "group_wait_s",
            "group_by",
            "escalate_after_s",
            "channel_ids",
            "escalate_channel_ids",
        )
    }
    bad = fleet.client.put(
        f"/api/v1/fleet/rules/{offline['id']}", headers=fleet.op, json=body | {"params": {"minutes": -1}}
    )
    assert bad.status_code == 422 and "minutes" in bad.json()["detail"]
    ok = fleet.client.put(
        f"/api/v1/fleet/rules/{offline['id']}", headers=fleet.op, json=body | {"params": {"minutes": 3}}
    )
    assert ok.status_code == 200
    fleet.beat(fleet.screen("Quick", building="8"))
    run_until(fleet, 4 * 60)
    assert fleet.messages()["email"] == 1
    with fleet.client.app.state.sessions() as s:  # type: ignore[attr-defined]
        assert s.get(AlertRule, offline["id"]).params == {"minutes": 3.0}  # type: ignore[union-attr]
    # a threshold shorter than the heartbeats' "late" time (two intervals, 2 min) still fires on time
    ok = fleet.client.put(
        f"/api/v1/fleet/rules/{offline['id']}", headers=fleet.op, json=body | {"params": {"minutes": 1}}
    )
    assert ok.status_code == 200
    fleet.beat(fleet.screen("Quicker", building="9"))
    run_until(fleet, 110)
    assert fleet.messages()["email"] == 2
