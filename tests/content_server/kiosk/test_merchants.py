"""Providers: approval by an operator, own services and slots, bookings accepted/done/cancelled+refunded."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from pathlib import Path

from sqlalchemy import select

from content_server.kiosk.models import CommunityPayTrade, SlotRow
from tests.content_server.kiosk.conftest import InProcess

API = "/api/v1"


def provider_account(env: InProcess, username: str) -> tuple[str, dict[str, str]]:
    r = env.client.post(
        f"{API}/auth/signup",
        json={"username": username, "password": "password-123", "role": "provider", "display_name": username},
    )
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    token = env.client.post(f"{API}/auth/token", json={"username": username, "password": "password-123"})
    return user_id, {"Authorization": f"Bearer {token.json()['token']}"}


def approve(env: InProcess, user_id: str, approved: bool = True) -> None:
    r = env.client.post(
        f"{API}/users/{user_id}/approval",
        json={"approved": approved},
        headers=env.client.auth(env.client.operator),
    )
    assert r.status_code == 200, r.text


def service_body(**over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "category_id": "repairs",
        "name_zh": "疏通下水道",
        "name_en": "Drain unblocking",
        "description_zh": "厨房、卫生间下水道疏通",
        "description_en": "Kitchen and bathroom drains",
        "price_minor": 6000,
        "duration_minutes": 60,
    }
    body.update(over)
    return body


def pay(env: InProcess, slot_id: str, service_id: str) -> dict[str, object]:
    order = env.order(
        {
            "idempotency_key": str(uuid.uuid4()),
            "service_id": service_id,
            "slot_id": slot_id,
            "phone": "13900001111",
        }
    ).json()
    path = order["payment"]["qr_payload"].removeprefix("http://testserver")
    assert "支付成功" in env.client.post(path + "/confirm").text
    env.deliver()  # the merchant's notification, from the delivery queue
    paid: dict[str, object] = order
    return paid


def test_provider_lifecycle(kiosk_env: InProcess, media_dir: Path) -> None:
    env = kiosk_env
    user_id, me = provider_account(env, "plumber")
    profile = env.client.put(
        f"{API}/provider/profile",
        headers=me,
        json={"name_zh": "快修管道", "name_en": "QuickFix Plumbing", "phone": "13700002222"},
    )
    assert profile.status_code == 200 and profile.json()["approved"] is False
    assert env.client.post(f"{API}/provider/services", headers=me, json=service_body()).status_code == 403
    approve(env, user_id)

    foreign_image = env.client.post(
        f"{API}/provider/services", headers=me, json=service_body(image_sha256="a" * 64)
    )
    assert foreign_image.status_code == 422 and "image" in foreign_image.json()["detail"]
    image = env.client.post(
        f"{API}/provider/images", headers=me, content=(media_dir / "small.jpg").read_bytes()
    )
    assert image.status_code == 201, image.text
    sha = image.json()["sha256"]
    not_image = env.client.post(
        f"{API}/provider/images", headers=me, content=(media_dir / "clip.mp4").read_bytes()
    )
    assert not_image.status_code in (415, 422)
    created = env.client.post(f"{API}/provider/services", headers=me, json=service_body(image_sha256=sha))
    assert created.status_code == 201, created.text
    service_id = created.json()["id"]
    start = env.now() + dt.timedelta(days=1)
    slot = env.client.post(
        f"{API}/provider/services/{service_id}/slots",
        headers=me,
        json={"start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat(), "capacity": 2},
    )
    assert slot.status_code == 201, slot.text
    slot_id = slot.json()["id"]
    past = env.client.post(
        f"{API}/provider/services/{service_id}/slots",
        headers=me,
        json={"start": env.now().isoformat(), "end": start.isoformat(), "capacity": 1},
    )
    assert past.status_code == 422

    catalogue = env.client.get(f"{API}/kiosk/catalogue", headers=env.kiosk.headers).json()
    offer = next(s for s in catalogue["services"] if s["id"] == service_id)
    assert offer["provider_name"]["en"] == "QuickFix Plumbing" and offer["slots"][0]["remaining"] == 2
    assert offer["image_sha256"] == sha
    picture = env.client.get(offer["image_url"], headers=env.kiosk.headers)
    assert picture.status_code == 200 and hashlib.sha256(picture.content).hexdigest() == sha  # rebuilt
    assert (
        picture.headers["x-content-type-options"] == "nosniff"
        and picture.headers["content-type"] == "image/jpeg"
    )
    elsewhere = env.client.get(f"{API}/assets/{sha}", headers=env.kiosk.headers)
    assert elsewhere.status_code == 404  # not in any manifest of this kiosk: not its business

    # another provider cannot see or touch it
    other_id, other = provider_account(env, "barber2")
    approve(env, other_id)
    env.client.put(f"{API}/provider/profile", headers=other, json={"name_zh": "理发", "name_en": "Cuts"})
    assert (
        env.client.put(
            f"{API}/provider/services/{service_id}", headers=other, json=service_body(price_minor=1)
        ).status_code
        == 404
    )

    first = pay(env, slot_id, service_id)
    second = pay(env, slot_id, service_id)
    bookings = env.client.get(f"{API}/provider/bookings", headers=me).json()
    assert {b["order_id"] for b in bookings} == {first["id"], second["id"]}
    assert all(b["phone"] == "13900001111" and b["state"] == "paid" for b in bookings)
    assert env.client.get(f"{API}/provider/bookings", headers=other).json() == []

    accepted = env.client.post(f"{API}/provider/bookings/{first['id']}/accept", headers=me, json={})
    assert accepted.status_code == 200 and accepted.json()["booking_state"] == "accepted"
    done = env.client.post(f"{API}/provider/bookings/{first['id']}/done", headers=me, json={})
    assert done.json()["state"] == "fulfilled" and done.json()["booking_state"] == "done"

    no_reason = env.client.post(f"{API}/provider/bookings/{second['id']}/cancel", headers=me, json={})
    assert no_reason.status_code == 422
    cancelled = env.client.post(
        f"{API}/provider/bookings/{second['id']}/cancel",
        headers=me,
        json={"reason": "师傅生病 The plumber is ill"},
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "refunded" and cancelled.json()["cancel_reason"].startswith(
        "师傅生病"
    )
    with env.sessions() as s:
        trade = s.scalars(
            select(CommunityPayTrade).where(CommunityPayTrade.out_trade_no == second["id"])
        ).one()
        assert trade.status == "refunded" and trade.refunded_minor == 6000
        assert s.get(SlotRow, slot_id).booked == 1  # type: ignore[union-attr]
    kiosk_view = env.client.get(f"{API}/kiosk/orders/{second['id']}", headers=env.kiosk.headers).json()
    assert kiosk_view["state"] == "refunded"

    approve(env, user_id, approved=False)  # an operator withdraws approval: the services leave the kiosks
    catalogue = env.client.get(f"{API}/kiosk/catalogue", headers=env.kiosk.headers).json()
    assert service_id not in {s["id"] for s in catalogue["services"]}
