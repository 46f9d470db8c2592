"""Isolation: every API route, called as every role against objects another tenant owns.

The routes come from the served OpenAPI document; ``ALLOW`` names, for each one, the roles
that may get through when the object in the path belongs to someone else (advertiser A's
media and campaign, provider A's service and booking, the operator's screen and
announcement, a clerk's case). Everyone else must get 401, 403 or 404 (404 where "not yours"
must look like "does not exist"), and a second tenant of the same role never sees the first
one's ids in any answer. A route without an entry fails the test, so a new route needs a
decision here.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from content_server.kiosk.models import ServiceRow, SlotRow
from signage_demo.kiosk_catalogue import seed_demo_catalogue
from tests.content_server.studio.pdfs import notice
from tests.content_server.studio.samples import SAMPLES
from tests.fixtures.media import make_image
from tests.fixtures.server import AppClient, PairedDevice, pair_device

ROLES = ("anonymous", "operator", "adv_a", "adv_b", "clerk", "prov_a", "prov_b", "player", "kiosk")
USERS = frozenset({"operator", "adv_a", "adv_b", "clerk", "prov_a", "prov_b"})
ADS = frozenset({"operator", "adv_a"})  # advertiser A's things: A and the operator
ADVERTISERS = frozenset({"operator", "adv_a", "adv_b"})  # routes scoped to the caller's own things
OP = frozenset({"operator"})
CLERKS = frozenset({"operator", "clerk"})
PROVIDERS = frozenset({"prov_a", "prov_b"})
DEVICES = frozenset({"player", "kiosk"})
EVERYONE = frozenset(ROLES)

# (method, path) -> roles that get through when the path names another tenant's object.
ALLOW: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/api/v1/health"): EVERYONE,
    ("POST", "/api/v1/auth/login"): EVERYONE,  # body carries the credentials
    ("POST", "/api/v1/auth/token"): EVERYONE,
    ("POST", "/api/v1/auth/logout"): USERS,
    ("GET", "/api/v1/auth/me"): USERS,
    ("POST", "/api/v1/auth/signup"): EVERYONE,
    ("GET", "/api/v1/users"): OP,
    ("POST", "/api/v1/users"): OP,
    ("POST", "/api/v1/users/{user_id}/approval"): OP,
    ("POST", "/api/v1/devices/pairing"): EVERYONE,
    ("POST", "/api/v1/devices/pairing/{pairing_id}/poll"): EVERYONE,  # the poll secret is the credential
    ("GET", "/api/v1/device/manifest"): DEVICES,
    ("POST", "/api/v1/device/heartbeat"): DEVICES,
    ("POST", "/api/v1/device/plays"): DEVICES,
    ("POST", "/api/v1/device/screenshot"): DEVICES,
    ("GET", "/api/v1/device/emergency"): DEVICES,
    ("POST", "/api/v1/screens/claim"): OP,
    ("GET", "/api/v1/screens"): OP,
    ("GET", "/api/v1/screens/{screen_id}"): OP,
    ("PATCH", "/api/v1/screens/{screen_id}"): OP,
    ("GET", "/api/v1/screens/{screen_id}/status"): OP,
    ("POST", "/api/v1/screens/{screen_id}/screenshot-request"): OP,
    ("GET", "/api/v1/screens/{screen_id}/screenshot"): OP,
    ("POST", "/api/v1/screens/{screen_id}/revoke"): OP,
    ("POST", "/api/v1/media"): ADVERTISERS,
    ("POST", "/api/v1/media/live"): OP,  # a page or camera feed is the operator's to vouch for
    ("GET", "/api/v1/media"): ADVERTISERS,
    ("GET", "/api/v1/media/{media_id}"): ADS,
    ("PATCH", "/api/v1/media/{media_id}"): ADS,
    ("DELETE", "/api/v1/media/{media_id}"): ADS,
    ("GET", "/api/v1/media/{media_id}/content"): ADS,
    ("GET", "/api/v1/media/{media_id}/thumbnail"): ADS,
    ("GET", "/api/v1/assets/{sha256}"): frozenset({"player"}),  # its own manifests' files only
    ("GET", "/api/v1/announcements"): OP,
    ("POST", "/api/v1/announcements"): OP,
    ("GET", "/api/v1/announcements/{ann_id}"): OP,
    ("POST", "/api/v1/announcements/{ann_id}/{action}"): OP,
    ("POST", "/api/v1/campaigns/availability"): frozenset({"adv_a"}),  # the body names A's media
    ("POST", "/api/v1/campaigns"): frozenset({"adv_a"}),
    ("GET", "/api/v1/campaigns"): ADVERTISERS,
    ("GET", "/api/v1/campaigns/{campaign_id}"): ADS,
    ("POST", "/api/v1/campaigns/{campaign_id}/withdraw"): frozenset({"adv_a"}),
    ("POST", "/api/v1/campaigns/{campaign_id}/{action}"): OP,
    ("GET", "/api/v1/reports/plays"): ADVERTISERS,
    ("GET", "/api/v1/reports/refused-plays"): OP,
    ("GET", "/api/v1/bundles"): OP,
    ("POST", "/api/v1/alert-feeds"): OP,
    ("POST", "/api/v1/alert-feeds/{feed_id}/cap"): EVERYONE,  # the feed secret in the URL is the credential
    ("GET", "/api/v1/alert-feeds"): OP,
    ("PUT", "/api/v1/alert-feeds/{feed_id}/area-mapping"): OP,
    ("GET", "/api/v1/house-rules"): OP,
    ("PUT", "/api/v1/house-rules/classes/{screen_class}"): OP,
    ("PUT", "/api/v1/house-rules/groups/{group}"): OP,
    ("DELETE", "/api/v1/house-rules/groups/{group}"): OP,
    ("GET", "/api/v1/kiosk/catalogue"): frozenset({"kiosk"}),
    ("GET", "/api/v1/kiosk/images/{sha256}"): frozenset({"kiosk"}),  # pictures of active services only
    ("POST", "/api/v1/kiosk/orders"): frozenset({"kiosk"}),
    ("GET", "/api/v1/kiosk/orders/by-reference/{reference}"): frozenset({"kiosk"}),
    ("GET", "/api/v1/kiosk/orders/{order_id}"): frozenset({"kiosk"}),
    ("POST", "/api/v1/kiosk/orders/{order_id}/cancel"): frozenset({"kiosk"}),
    ("POST", "/api/v1/kiosk/cases/lookup"): frozenset({"kiosk"}),
    ("POST", "/api/v1/payments/{provider_name}/notify"): EVERYONE,  # signed body is the credential
    ("GET", "/pay/offline/{token}"): EVERYONE,  # signed token is the credential
    ("GET", "/pay/{token}"): EVERYONE,
    ("POST", "/pay/{token}/confirm"): EVERYONE,
    ("GET", "/o/{token}/{reference}"): EVERYONE,  # the signed link is the credential (receipt QR)
    ("GET", "/api/v1/cases/types"): CLERKS,
    ("POST", "/api/v1/cases"): CLERKS,
    ("GET", "/api/v1/cases"): CLERKS,
    ("GET", "/api/v1/cases/{case_number}"): CLERKS,
    ("POST", "/api/v1/cases/{case_number}/changes"): CLERKS,
    ("GET", "/api/v1/cases/{case_number}/receipt.png"): CLERKS,
    ("GET", "/api/v1/provider/profile"): PROVIDERS,
    ("PUT", "/api/v1/provider/profile"): PROVIDERS,
    ("POST", "/api/v1/provider/images"): PROVIDERS,
    ("GET", "/api/v1/provider/services"): PROVIDERS,
    ("POST", "/api/v1/provider/services"): PROVIDERS,
    ("PUT", "/api/v1/provider/services/{service_id}"): frozenset({"prov_a"}),
    ("POST", "/api/v1/provider/services/{service_id}/slots"): frozenset({"prov_a"}),
    ("GET", "/api/v1/provider/bookings"): PROVIDERS,
    ("POST", "/api/v1/provider/bookings/{order_id}/{action}"): frozenset({"prov_a"}),
    ("GET", "/api/v1/kiosk-admin/audit"): OP,
    ("POST", "/api/v1/kiosk-admin/reconcile"): OP,
    # fleet operations: alert rules and channels, acknowledgements, deliveries, the audit trail
    ("GET", "/api/v1/fleet/rules"): OP,
    ("POST", "/api/v1/fleet/rules"): OP,
    ("PUT", "/api/v1/fleet/rules/{rule_id}"): OP,
    ("DELETE", "/api/v1/fleet/rules/{rule_id}"): OP,
    ("GET", "/api/v1/fleet/channels"): OP,
    ("POST", "/api/v1/fleet/channels"): OP,
    ("PUT", "/api/v1/fleet/channels/{channel_id}"): OP,
    ("DELETE", "/api/v1/fleet/channels/{channel_id}"): OP,
    ("POST", "/api/v1/fleet/channels/{channel_id}/test"): OP,
    ("GET", "/api/v1/fleet/alerts"): OP,
    ("POST", "/api/v1/fleet/alerts/{incident_id}/acknowledge"): OP,
    ("GET", "/api/v1/deliveries"): OP,
    ("GET", "/api/v1/deliveries/{delivery_id}"): OP,
    ("POST", "/api/v1/deliveries/{delivery_id}/send-again"): OP,
    ("GET", "/api/v1/audit"): OP,
    ("GET", "/api/v1/audit.csv"): OP,
    ("GET", "/api/v1/audit/verify"): OP,
    ("GET", "/api/v1/studio/designs"): ADVERTISERS,
    ("GET", "/api/v1/studio/palettes"): ADVERTISERS,
    ("POST", "/api/v1/studio/preview"): ADVERTISERS,
    ("POST", "/api/v1/studio/slides"): ADVERTISERS,
    ("GET", "/api/v1/studio/slides"): ADVERTISERS,
    ("GET", "/api/v1/studio/slides/{slide_id}"): ADS,
    ("PUT", "/api/v1/studio/slides/{slide_id}"): frozenset({"adv_a"}),  # only the author edits
    ("POST", "/api/v1/studio/pdfs"): ADVERTISERS,
    ("GET", "/api/v1/studio/pdfs/{doc_id}"): ADS,
    ("POST", "/api/v1/studio/pdfs/{doc_id}/announcement"): OP,  # operators publish announcements
    ("POST", "/api/v1/studio/sources"): OP,
    ("GET", "/api/v1/studio/sources"): OP,
    ("POST", "/api/v1/studio/sources/{source_id}/refresh"): OP,
    ("DELETE", "/api/v1/studio/sources/{source_id}"): OP,
    # software updates: devices read the TUF repository; everything else is the operator's
    ("GET", "/api/v1/updates/metadata/{name}"): DEVICES,
    ("GET", "/api/v1/updates/targets/{name}"): DEVICES,
    ("GET", "/api/v1/updates/repository"): OP,
    ("GET", "/api/v1/updates/repository/targets.json"): OP,
    ("POST", "/api/v1/updates/repository/root"): OP,
    ("POST", "/api/v1/updates/releases"): OP,
    ("GET", "/api/v1/updates/releases"): OP,
    ("POST", "/api/v1/updates/rollouts"): OP,
    ("GET", "/api/v1/updates/rollouts"): OP,
    ("POST", "/api/v1/updates/rollouts/{rollout_id}/{action}"): OP,
    ("GET", "/api/v1/updates/pins"): OP,
    ("PUT", "/api/v1/updates/pins/{group}"): OP,
    ("DELETE", "/api/v1/updates/pins/{group}"): OP,
    ("GET", "/api/v1/updates/alerts"): OP,
    ("POST", "/api/v1/updates/alerts/{alert_id}/acknowledge"): OP,
    # remote commands: operators send and follow them; each device polls and answers its own
    ("POST", "/api/v1/commands"): OP,
    ("GET", "/api/v1/commands"): OP,
    ("GET", "/api/v1/commands/{send_id}"): OP,
    ("GET", "/api/v1/device/commands"): DEVICES,
    ("POST", "/api/v1/device/commands/{command_id}/ack"): frozenset({"player"}),  # the player's command
}
# routes whose answer for an allowed role may be a refusal of the *content* (bad signature,
# wrong secret, wrong state): what matters there is that nobody else gets further
CONTENT_CHECKED = {
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/signup"),
    ("POST", "/api/v1/devices/pairing/{pairing_id}/poll"),
    ("POST", "/api/v1/alert-feeds/{feed_id}/cap"),
    ("POST", "/api/v1/payments/{provider_name}/notify"),
    ("GET", "/pay/offline/{token}"),
    ("GET", "/pay/{token}"),
    ("POST", "/pay/{token}/confirm"),
    ("GET", "/o/{token}/{reference}"),
    ("POST", "/api/v1/screens/claim"),
    ("POST", "/api/v1/kiosk/orders"),
    ("POST", "/api/v1/provider/images"),
    ("POST", "/api/v1/media"),
    ("POST", "/api/v1/device/screenshot"),
    ("POST", "/api/v1/studio/pdfs"),  # an empty body is not a PDF (415) for the allowed roles too
    # this world has no update repository set up: the files a device asks for do not exist (404)
    ("GET", "/api/v1/updates/metadata/{name}"),
    ("GET", "/api/v1/updates/targets/{name}"),
}
DESTRUCTIVE = ("DELETE", "/revoke", "/withdraw", "/cancel", "/{action}", "/logout")


@dataclass
class World:
    client: AppClient
    headers: dict[str, dict[str, str]]
    ids: dict[str, str]
    bodies: dict[tuple[str, str], Callable[[], Any]]
    secrets: list[str]  # A's ids that B must never see


def _build(c: AppClient, media_dir: Path, tmp_path: Path) -> World:
    with c.app.state.sessions() as s:  # type: ignore[attr-defined]
        seed_demo_catalogue(s, c.clock.now(), days=2)
    creds = {
        "adv_a": c.create_user("iso-adv-a", "advertiser"),
        "adv_b": c.create_user("iso-adv-b", "advertiser"),
        "clerk": c.create_user("iso-clerk", "clerk"),
        "prov_a": c.create_user("iso-prov-a", "provider"),
        "prov_b": c.create_user("iso-prov-b", "provider"),
    }
    headers = {"anonymous": {}, "operator": c.auth(c.operator)}
    headers.update({role: c.auth(cr) for role, cr in creds.items()})
    player: PairedDevice = pair_device(c, screen_class="indoor_small", groups=["north"])
    kiosk: PairedDevice = pair_device(c, kind="kiosk")
    headers["player"], headers["kiosk"] = player.headers, kiosk.headers
    op, a = headers["operator"], headers["adv_a"]

    # the community's slide: every screen's manifest holds it, so the player may download it
    filler_file = make_image(tmp_path / "iso-filler.png", (1920, 1080), label="iso filler")
    filler = c.post("/api/v1/media?filename=filler.png", content=filler_file.read_bytes(), headers=op)
    assert filler.status_code == 201, filler.text
    flagged = c.patch(f"/api/v1/media/{filler.json()['id']}", json={"filler": True}, headers=op)
    assert flagged.status_code == 200, flagged.text
    served = c.get("/api/v1/device/manifest", headers=player.headers)
    assert served.status_code == 200 and filler.json()["sha256"] in served.text, served.text[:300]

    png = (media_dir / "small.jpg").read_bytes()
    media = c.post("/api/v1/media?filename=a.jpg", content=png, headers=a).json()
    campaign_body = {
        "name": "A's campaign",
        "media_ids": [media["id"]],
        "flight_start": "2026-11-25",
        "flight_end": "2026-11-30",
        "share_percent": 5,
        "targeting": {"groups": ["north"]},
    }
    camp = c.post("/api/v1/campaigns", json=campaign_body, headers=a)
    assert camp.status_code == 201, camp.text
    ann_r = c.post("/api/v1/announcements", json={"title": "Op's notice", "text": {"en": "x"}}, headers=op)
    assert ann_r.status_code == 201, ann_r.text
    ann = ann_r.json()
    feed = c.post("/api/v1/alert-feeds", json={"name": "iso feed"}, headers=op)
    assert feed.status_code in (200, 201), feed.text
    feed_id = feed.json().get("id", "x")
    channel = c.post(
        "/api/v1/fleet/channels",
        headers=op,
        json={"name": "iso hook", "kind": "webhook", "config": {"url": "http://127.0.0.1:9/hook"}},
    )
    assert channel.status_code == 201, channel.text
    rule = c.get("/api/v1/fleet/rules", headers=op).json()[0]
    rule_body = {k: v for k, v in rule.items() if k not in ("id", "builtin")}
    command_body = {"kind": "identify", "selector": {"screen_ids": [player.device_id]}}
    sent = c.post("/api/v1/commands", headers=op, json=command_body)
    assert sent.status_code == 201, sent.text
    case_types = c.get("/api/v1/cases/types", headers=op).json()
    case = c.post(
        "/api/v1/cases",
        json={
            "case_type": case_types[0]["code"],
            "applicant_name": "张三",
            "id_number": "11010519491231002X",
            "phone": "13800138000",
        },
        headers=headers["clerk"],
    )
    assert case.status_code == 201, case.text
    catalogue = c.get("/api/v1/kiosk/catalogue", headers=kiosk.headers).json()
    category_id = catalogue["categories"][0]["id"]
    pa = headers["prov_a"]
    c.put("/api/v1/provider/profile", json={"name_zh": "甲", "name_en": "Provider A"}, headers=pa)
    c.put(
        "/api/v1/provider/profile", json={"name_zh": "乙", "name_en": "Provider B"}, headers=headers["prov_b"]
    )
    service_body = {
        "category_id": category_id,
        "name_zh": "甲的服务",
        "name_en": "A's secret service",
        "price_minor": 1000,
        "duration_minutes": 30,
    }
    photo = c.post("/api/v1/provider/images", content=(media_dir / "landscape.png").read_bytes(), headers=pa)
    assert photo.status_code == 201, photo.text
    service = c.post(
        "/api/v1/provider/services", json={**service_body, "image_sha256": photo.json()["sha256"]}, headers=pa
    )
    assert service.status_code == 201, service.text
    start = (c.clock.now() + dt.timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    slot_body = {
        "start": start.isoformat(),
        "end": (start + dt.timedelta(minutes=30)).isoformat(),
        "capacity": 3,
    }
    slot = c.post(f"/api/v1/provider/services/{service.json()['id']}/slots", json=slot_body, headers=pa)
    assert slot.status_code == 201, slot.text
    with c.app.state.sessions() as s:  # type: ignore[attr-defined]
        svc = s.scalars(select(ServiceRow).where(ServiceRow.id == service.json()["id"])).one()
        slot_id = s.scalars(select(SlotRow.id).where(SlotRow.service_id == svc.id)).first()
    order_body = lambda: {  # noqa: E731
        "idempotency_key": str(uuid.uuid4()),
        "service_id": service.json()["id"],
        "slot_id": slot_id,
        "phone": "13800138000",
    }
    order = c.post("/api/v1/kiosk/orders", json=order_body(), headers=kiosk.headers)
    assert order.status_code in (200, 201), order.text
    order_json = order.json()
    users = c.get("/api/v1/users", headers=op).json()
    adv_a_id = next(u["id"] for u in users if u["username"] == "iso-adv-a")
    pairing = c.post(
        "/api/v1/devices/pairing",
        json={"device_kind": "player", "player_version": "t", "public_key": "A" * 43 + "="},
    ).json()
    slide_body = {"content": {"design": "offer", "fields": SAMPLES["offer"]}, "title": "a slide"}
    slide = c.post("/api/v1/studio/slides", json={**slide_body, "title": "A's secret slide"}, headers=a)
    assert slide.status_code == 201, slide.text
    doc = c.post("/api/v1/studio/pdfs", content=notice(1), headers=a)
    assert doc.status_code == 201, doc.text
    source_body = {
        "spec": {"name": "iso", "kind": "feed", "url": "http://127.0.0.1:9/feed.xml"}
    }  # never allowed
    source = c.post("/api/v1/studio/sources", json=source_body, headers=op)
    assert source.status_code == 201, source.text
    ids = {
        "slide_id": slide.json()["id"],
        "doc_id": doc.json()["id"],
        "source_id": source.json()["id"],
        "user_id": adv_a_id,
        "pairing_id": pairing["pairing_id"],
        "screen_id": player.device_id,
        "media_id": media["id"],
        "sha256": media["sha256"],
        "ann_id": ann["id"],
        "action": "pause",
        "campaign_id": camp.json()["id"],
        "feed_id": feed_id,
        "reference": str(order_json.get("reference", "x")),
        "order_id": str(order_json.get("order_id") or order_json.get("id")),
        "provider_name": "community",
        "token": "not-a-token",
        "case_number": case.json()["case_number"],
        "service_id": service.json()["id"],
        "rule_id": rule["id"],
        "channel_id": channel.json()["id"],
        "incident_id": "no-such-alert",
        "delivery_id": "no-such-delivery",
        "send_id": sent.json()["id"],
        "command_id": sent.json()["devices"][0]["command_id"],
        "service_image": photo.json()["sha256"],
        "served_asset": filler.json()["sha256"],
        "screen_class": "indoor_small",
        "group": "north",
        "name": "timestamp.json",  # a TUF file a device asks for
        "rollout_id": "1",
        "alert_id": "1",
    }
    now = c.clock.now()
    bodies: dict[tuple[str, str], Callable[[], Any]] = {
        ("POST", "/api/v1/auth/login"): lambda: {"username": "iso-adv-a", "password": "wrong-password"},
        ("POST", "/api/v1/auth/token"): lambda: {"username": "iso-adv-a", "password": "wrong-password"},
        ("POST", "/api/v1/auth/signup"): lambda: {
            "username": f"s{uuid.uuid4().hex[:8]}",
            "password": "password-123",
            "role": "advertiser",
        },
        ("POST", "/api/v1/users"): lambda: {
            "username": f"u{uuid.uuid4().hex[:8]}",
            "password": "password-123",
            "role": "advertiser",
        },
        ("POST", "/api/v1/users/{user_id}/approval"): lambda: {"approved": True},
        ("POST", "/api/v1/devices/pairing"): lambda: {
            "device_kind": "player",
            "player_version": "t",
            "public_key": "A" * 43 + "=",
        },
        ("POST", "/api/v1/devices/pairing/{pairing_id}/poll"): lambda: {"poll_secret": "guess"},
        ("POST", "/api/v1/device/heartbeat"): lambda: {"sent_at": now.isoformat(), "player_version": "t"},
        ("POST", "/api/v1/device/plays"): lambda: {"records": []},
        ("POST", "/api/v1/screens/claim"): lambda: {
            "code": "000-000",
            "name": "x",
            "screen_class": "indoor_small",
        },
        ("PATCH", "/api/v1/screens/{screen_id}"): lambda: {"name": "renamed"},
        ("PATCH", "/api/v1/media/{media_id}"): lambda: {"title": "renamed"},
        ("POST", "/api/v1/announcements"): lambda: {"title": "another"},
        ("POST", "/api/v1/campaigns/availability"): lambda: campaign_body,
        ("POST", "/api/v1/campaigns"): lambda: campaign_body,
        ("POST", "/api/v1/alert-feeds"): lambda: {"name": f"f{uuid.uuid4().hex[:6]}"},
        ("PUT", "/api/v1/alert-feeds/{feed_id}/area-mapping"): lambda: {
            "rules": [{"groups": ["north"], "area_descs": ["North gate"]}]
        },
        ("PUT", "/api/v1/house-rules/classes/{screen_class}"): lambda: {"min_dwell_s": 6},
        ("PUT", "/api/v1/house-rules/groups/{group}"): lambda: {"min_dwell_s": 8},
        ("POST", "/api/v1/kiosk/orders"): order_body,
        ("POST", "/api/v1/kiosk/cases/lookup"): lambda: {"case_number": ids["case_number"]},
        ("POST", "/api/v1/cases"): lambda: {
            "case_type": ids.get("case_type", ""),
            "applicant_name": "李四",
            "id_number": "11010519491231002X",
            "phone": "13800138000",
        },
        ("POST", "/api/v1/cases/{case_number}/changes"): lambda: {"target": "in_review"},
        ("PUT", "/api/v1/provider/profile"): lambda: {"name_zh": "乙", "name_en": "Provider"},
        ("POST", "/api/v1/provider/services"): lambda: {**service_body, "name_en": "another"},
        ("PUT", "/api/v1/provider/services/{service_id}"): lambda: {**service_body, "name_en": "A's renamed"},
        ("POST", "/api/v1/provider/services/{service_id}/slots"): lambda: {
            **slot_body,
            "start": (start + dt.timedelta(hours=1)).isoformat(),
            "end": (start + dt.timedelta(hours=1, minutes=30)).isoformat(),
        },
        ("POST", "/api/v1/provider/bookings/{order_id}/{action}"): lambda: {"reason": "isolation test"},
        ("PUT", "/api/v1/fleet/rules/{rule_id}"): lambda: rule_body,
        ("POST", "/api/v1/fleet/alerts/{incident_id}/acknowledge"): lambda: {"note": "isolation test"},
        ("POST", "/api/v1/commands"): lambda: command_body,
        ("POST", "/api/v1/device/commands/{command_id}/ack"): lambda: {
            "outcome": "done",
            "finished_at": now.isoformat(),
        },
        ("POST", "/api/v1/studio/preview"): lambda: slide_body,
        ("POST", "/api/v1/studio/slides"): lambda: slide_body,
        ("PUT", "/api/v1/studio/slides/{slide_id}"): lambda: slide_body,
        ("POST", "/api/v1/studio/sources"): lambda: source_body,
        ("POST", "/api/v1/media/live"): lambda: {"kind": "web", "url": "https://board.example.org/queue"},
        ("POST", "/api/v1/studio/pdfs/{doc_id}/announcement"): lambda: {"title": "isolation notice"},
    }
    ct = case_types[0]
    ids["case_type"] = ct["code"]
    secrets = [
        media["id"],
        media["sha256"],
        camp.json()["id"],
        ids["order_id"],
        "A's secret service",
        ids["slide_id"],
        ids["doc_id"],
        "A's secret slide",
    ]
    return World(c, headers, ids, bodies, secrets)


def _fill(path: str, ids: dict[str, str], method: str) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "action" and "/provider/bookings/" in path:
            return "accept"
        if name == "sha256" and "/kiosk/images/" in path:
            return ids["service_image"]  # a kiosk fetches its services' pictures, not the screens' files
        if name == "sha256" and path.startswith("/api/v1/assets/"):
            return ids["served_asset"]  # a screen downloads what its manifests name, nothing else
        return ids[name]

    return re.sub(r"\{(\w+)\}", one, path)


@pytest.mark.slow
def test_every_route_as_every_role(app_client: AppClient, media_dir: Path, tmp_path: Path) -> None:
    world = _build(app_client, media_dir, tmp_path)
    c = world.client
    schema = c.get("/api/v1/openapi.json").json()
    routes = [(m.upper(), p) for p, ops in schema["paths"].items() for m in ops]
    missing = sorted(set(routes) - set(ALLOW))
    assert missing == [], f"routes without an isolation decision (add them to ALLOW): {missing}"
    stale = sorted(set(ALLOW) - set(routes))
    assert stale == [], f"ALLOW names routes that no longer exist: {stale}"

    # read-only first, destructive last, so every call still finds the objects in place
    routes.sort(
        key=lambda r: (r[1].endswith("/logout"), r[0] == "DELETE" or any(d in r[1] for d in DESTRUCTIVE), r)
    )
    failures: list[str] = []
    for method, path in routes:
        allowed = ALLOW[(method, path)]
        url = _fill(path, world.ids, method)
        # refused roles first: a refused call must change nothing the allowed ones then use
        for role in sorted(ROLES, key=lambda r: r in allowed):
            kw: dict[str, Any] = {"headers": world.headers[role]}
            body = world.bodies.get((method, path))
            if body is not None:
                kw["json"] = body()
            elif path in ("/api/v1/media", "/api/v1/provider/images") and method == "POST":
                kw["content"] = (media_dir / "portrait.png").read_bytes()  # not A's file
            elif method in ("POST", "PUT", "PATCH"):
                kw["json"] = {}
            r = c.request(method, url, **kw)
            code = r.status_code
            label = f"{method} {path} as {role}: {code} {r.text[:160]!r}"
            if code >= 500:
                failures.append("5xx " + label)
            elif role in allowed and (method, path) not in CONTENT_CHECKED:
                if code in (401, 403) or (code == 404 and "{" in path and role != "operator"):
                    failures.append("refused but allowed " + label)
            elif role not in allowed and code not in (401, 403, 404):
                failures.append("got through " + label)
            if role in ("adv_b", "prov_b", "player", "kiosk", "clerk") and 200 <= code < 300:
                leaked = [s for s in world.secrets if s in r.text]
                own_feed = (role in DEVICES and path.startswith("/api/v1/device/")) or (
                    role == "kiosk" and path.startswith("/api/v1/kiosk/")
                )  # a screen's manifest names the ads it plays; a kiosk its own orders
                if leaked and not own_feed:
                    failures.append(f"leak {leaked} " + label)
    assert failures == [], "\n".join(failures)
