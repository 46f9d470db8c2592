"""Home services (issue 14), in-process: the order's service address and appointment on the wire
and on the status page, the provider's audited contact details, "done" only after accepting,
slots and services that can be changed or removed without losing a booking, repeating slots."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from content_server.core.audit.models import AuditRecord
from content_server.kiosk import receipts, slot_plan
from content_server.kiosk.models import OrderRow
from tests.content_server.kiosk.conftest import InProcess
from tests.content_server.kiosk.test_merchants import API, approve, provider_account, service_body
from tests.fixtures.server import Credentials
from tests.portal.conftest import csrf_of, portal_login

SHANGHAI = ZoneInfo("Asia/Shanghai")
ADDRESS = {"building": "5", "unit": "1", "room": "0602"}


def _provider_with_slot(env: InProcess, name: str, capacity: int = 3) -> tuple[dict[str, str], str, str]:
    user_id, me = provider_account(env, name)
    env.client.put(f"{API}/provider/profile", headers=me, json={"name_zh": "快修", "name_en": "QuickFix"})
    approve(env, user_id)
    service_id = env.client.post(f"{API}/provider/services", headers=me, json=service_body()).json()["id"]
    start = env.now() + dt.timedelta(days=1)
    slot = env.client.post(
        f"{API}/provider/services/{service_id}/slots",
        headers=me,
        json={
            "start": start.isoformat(),
            "end": (start + dt.timedelta(hours=1)).isoformat(),
            "capacity": capacity,
        },
    ).json()
    return me, service_id, slot["id"]


def _paid_order(env: InProcess, service_id: str, slot_id: str, **extra: Any) -> dict[str, Any]:
    body = {
        "idempotency_key": str(uuid.uuid4()),
        "service_id": service_id,
        "slot_id": slot_id,
        "phone": "13900001111",
        **extra,
    }
    created = env.order(body)
    assert created.status_code == 201, created.text
    order: dict[str, Any] = created.json()
    path = order["payment"]["qr_payload"].removeprefix("http://testserver")
    assert "支付成功" in env.client.post(path + "/confirm").text
    env.deliver()  # the merchant's notification, from the delivery queue
    return order


def test_the_order_carries_its_place_and_appointment_to_the_kiosk_and_the_phone(kiosk_env: InProcess) -> None:
    env = kiosk_env
    _, service_id, slot_id = _provider_with_slot(env, "fixer")
    body = {
        "idempotency_key": str(uuid.uuid4()),
        "service_id": service_id,
        "slot_id": slot_id,
        "phone": "13900001111",
        "address": ADDRESS,
    }
    order = env.order(body).json()
    assert order["address"] == ADDRESS and order["phone_masked"] == "139****1111"
    slot_start = dt.datetime.fromisoformat(order["appointment_start"])
    assert dt.datetime.fromisoformat(order["appointment_end"]) - slot_start == dt.timedelta(hours=1)
    link = order["status_url"]
    assert link.startswith("http://testserver/o/") and link.endswith("/" + order["reference"])
    again = env.order(body)  # a retry with the same key and address is the same order
    assert again.status_code == 200 and again.json()["id"] == order["id"]
    moved = env.order({**body, "address": {**ADDRESS, "room": "0701"}})
    assert moved.status_code == 422  # the same key for another place is another order: refused

    # an older kiosk sends no address: the order works as before, without a place
    bare = env.order(
        {
            "idempotency_key": str(uuid.uuid4()),
            "service_id": service_id,
            "slot_id": slot_id,
            "phone": "13900002222",
        }
    ).json()
    assert bare["address"] is None and bare["appointment_start"] == order["appointment_start"]

    page = env.client.get(link.removeprefix("http://testserver"))
    local = slot_start.astimezone(SHANGHAI)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert order["reference"] in page.text and f"{local:%Y-%m-%d %H:%M}" in page.text
    assert "5 1 0**2" in page.text and "0602" not in page.text  # opened from a printed receipt: masked
    assert "待付款" in page.text
    token = link.split("/")[-2]
    assert receipts.status_token_valid(
        receipts.status_secret("test-secret-key-0123456789abcdef"), order["reference"], token
    )
    forged = env.client.get(f"/o/{'A' * 22}/{order['reference']}")
    assert forged.status_code == 404 and order["reference"] not in forged.text
    other = env.client.get(f"/o/{token}/{bare['reference']}")  # one order's link opens no other
    assert other.status_code == 404


def test_contact_details_are_for_the_provider_and_every_opening_is_recorded(kiosk_env: InProcess) -> None:
    env = kiosk_env
    me, service_id, slot_id = _provider_with_slot(env, "handy")
    order = _paid_order(env, service_id, slot_id, address=ADDRESS)
    portal_login(env.client, Credentials("handy", "password-123"))
    listing = env.client.get("/portal/bookings")
    assert "139****1111" in listing.text and "13900001111" not in listing.text and "0602" not in listing.text
    assert f'/portal/bookings/{order["id"]}/done"' not in listing.text  # 已完成服务 only after 接单
    page = env.client.get(f"/portal/bookings/{order['id']}")
    assert page.status_code == 200 and "13900001111" in page.text and "0602" in page.text
    with env.sessions() as s:
        seen = s.scalars(
            select(AuditRecord).where(
                AuditRecord.entity_id == order["id"], AuditRecord.action == "booking.contact_viewed"
            )
        ).all()
        assert len(seen) == 1 and seen[0].actor_kind == "user"  # in the one audit trail

    # another provider learns nothing
    provider_account(env, "rival")
    portal_login(env.client, Credentials("rival", "password-123"))
    assert env.client.get(f"/portal/bookings/{order['id']}").status_code in (403, 404)

    # done only after accepting (the JSON API keeps the same rule)
    early = env.client.post(f"{API}/provider/bookings/{order['id']}/done", headers=me, json={})
    assert early.status_code == 409
    assert (
        env.client.post(f"{API}/provider/bookings/{order['id']}/accept", headers=me, json={}).status_code
        == 200
    )
    assert (
        env.client.post(f"{API}/provider/bookings/{order['id']}/done", headers=me, json={}).status_code == 200
    )
    with env.sessions() as s:
        row = s.get(OrderRow, order["id"])
        assert row is not None and row.state == "fulfilled" and row.room == "0602"


def test_slots_and_services_change_without_losing_a_booking(kiosk_env: InProcess) -> None:
    env = kiosk_env
    _, service_id, slot_id = _provider_with_slot(env, "cutter", capacity=2)
    order = _paid_order(env, service_id, slot_id)
    portal_login(env.client, Credentials("cutter", "password-123"))
    page = env.client.get("/portal/services")
    token = csrf_of(page.text)
    start = (env.now() + dt.timedelta(days=1)).astimezone(SHANGHAI)
    moved = {
        "csrf_token": token,
        "day": start.date().isoformat(),
        "start": "23:00",
        "end": "23:30",
        "capacity": "2",
    }
    r = env.client.post(f"/portal/slots/{slot_id}", data=moved)
    assert r.status_code == 422 and "该时段已有 1 个预约，不能改时间" in r.text
    keep = {**moved, "start": f"{start:%H:%M}", "end": f"{start + dt.timedelta(hours=1):%H:%M}"}
    none = env.client.post(f"/portal/slots/{slot_id}", data={**keep, "capacity": "0"})
    assert (
        none.status_code == 422 and "请检查这些字段：名额" in none.text
    )  # the field by its name, not "capacity"
    r = env.client.post(f"/portal/slots/{slot_id}", data={**keep, "capacity": "5"}, follow_redirects=True)
    assert "时段已保存" in r.text and "已约 1/5" in r.text
    gone = env.client.post(f"/portal/slots/{slot_id}/delete", data={"csrf_token": token})
    assert gone.status_code == 422 and "请先取消这些预约再删除" in gone.text
    refused = env.client.post(
        f"/portal/services/{service_id}/delete", data={"csrf_token": token, "confirm": "yes"}
    )
    assert refused.status_code == 422 and order["reference"] in refused.text  # the booking named

    env.client.post(
        f"/portal/bookings/{order['id']}/cancel", data={"csrf_token": token, "reason": "师傅请假"}
    )
    r = env.client.post(
        f"/portal/services/{service_id}/delete",
        data={"csrf_token": token, "confirm": "yes"},
        follow_redirects=True,
    )
    assert "服务已删除" in r.text
    catalogue = env.client.get(f"{API}/kiosk/catalogue", headers=env.kiosk.headers).json()
    assert service_id not in [s["id"] for s in catalogue["services"]]  # off the kiosks
    with env.sessions() as s:
        assert s.get(OrderRow, order["id"]) is not None  # its order's history stays


def test_repeating_slots_are_planned_on_the_communitys_wall_clock() -> None:
    first, last = dt.date(2026, 12, 7), dt.date(2026, 12, 20)  # Monday to the Sunday a fortnight on
    plan = slot_plan.plan(first, last, frozenset({0, 2, 4}), dt.time(9), dt.time(10, 30), SHANGHAI)
    assert len(plan) == 6 and all(s.weekday() in (0, 2, 4) for s, _ in plan)
    assert all((s.hour, s.minute, e.hour, e.minute) == (9, 0, 10, 30) for s, e in plan)
    assert plan[0][0].utcoffset() == dt.timedelta(hours=8)
    berlin = slot_plan.plan(
        dt.date(2026, 3, 27),
        dt.date(2026, 3, 30),
        frozenset(range(7)),
        dt.time(9),
        dt.time(10),
        ZoneInfo("Europe/Berlin"),
    )
    assert [s.hour for s, _ in berlin] == [9, 9, 9, 9]  # 09:00 local on both sides of the clock change
    for args, key in (
        ((last, first, frozenset({0}), dt.time(9), dt.time(10)), "campaign.dates_order"),
        ((first, last, frozenset(), dt.time(9), dt.time(10)), "slots.need_weekdays"),
        ((first, last, frozenset({0}), dt.time(10), dt.time(9)), "slots.times_order"),
        (
            (first, first + dt.timedelta(days=500), frozenset(range(7)), dt.time(9), dt.time(10)),
            "slots.too_many",
        ),
    ):
        with pytest.raises(slot_plan.PlanError) as refused:
            slot_plan.plan(*args, SHANGHAI)  # type: ignore[arg-type]
        assert refused.value.key == key
