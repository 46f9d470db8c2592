"""Orders through the real app in-process, with a clock the test moves (expiry, reconciliation)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from content_server.core.delivery.policy import DeliveryState
from content_server.kiosk.models import CommunityPayTrade, OrderRow, SlotRow
from content_server.kiosk.services.community_pay import derive_secret
from content_server.kiosk.signing import signed_headers
from tests.content_server.kiosk.conftest import InProcess, pick_slot, success_notification
from tests.fixtures.server import TEST_SECRET

NOTIFY = "/api/v1/payments/community_pay/notify"


def new_body(env: InProcess, name_en: str = "Health check visit") -> dict[str, object]:
    b = pick_slot(env.sessions, env.now(), name_en)
    return {
        "idempotency_key": str(uuid.uuid4()),
        "service_id": b.service_id,
        "slot_id": b.slot_id,
        "phone": "13812345678",
    }


def pay_path(order: dict[str, object]) -> str:
    payment = order["payment"]
    assert isinstance(payment, dict)
    return str(payment["qr_payload"]).removeprefix("http://testserver")


def poll(env: InProcess, order_id: object) -> dict[str, object]:
    r = env.client.get(f"/api/v1/kiosk/orders/{order_id}", headers=env.kiosk.headers)
    assert r.status_code == 200
    view: dict[str, object] = r.json()
    return view


def signed_success(env: InProcess, order_id: object) -> tuple[bytes, dict[str, str]]:
    body = success_notification(env.sessions, order_id, env.now())
    return body, signed_headers(derive_secret(TEST_SECRET), body, env.now())


def booked(env: InProcess, slot_id: object) -> int:
    with env.sessions() as s:
        slot = s.get(SlotRow, slot_id)
        assert slot is not None
        return slot.booked


def test_order_pay_and_poll(kiosk_env: InProcess) -> None:
    r = kiosk_env.order(new_body(kiosk_env))
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["state"] == "awaiting_payment" and order["phone_masked"] == "138****5678"
    assert order["payment"]["qr_payload"].startswith("http://testserver/pay/")
    page = kiosk_env.client.get(pay_path(order))
    assert page.status_code == 200 and "¥30.00" in page.text and "上门健康检查" in page.text
    assert page.headers["x-frame-options"] == "DENY" and page.headers["referrer-policy"] == "no-referrer"
    assert "付款码有效至 10:15" in page.text  # created 02:00 UTC, 15 minutes to pay, in the community's time
    assert kiosk_env.client.get("/pay/not-a-token").status_code == 404
    done = kiosk_env.client.post(pay_path(order) + "/confirm")
    assert "支付成功" in done.text
    assert poll(kiosk_env, order["id"])["state"] == "awaiting_payment"  # the notification is queued
    assert kiosk_env.deliver() == [DeliveryState.DELIVERED]
    polled = poll(kiosk_env, order["id"])
    assert polled["state"] == "paid" and polled["payment"] is None


def test_notification_before_expiry_pays(kiosk_env: InProcess) -> None:
    order = kiosk_env.order(new_body(kiosk_env)).json()
    kiosk_env.advance(minutes=14)
    body, headers = signed_success(kiosk_env, order["id"])
    assert kiosk_env.client.post(NOTIFY, content=body, headers=headers).status_code == 200
    assert poll(kiosk_env, order["id"])["state"] == "paid"


def test_expiry_closes_the_payment_and_a_late_notification_changes_nothing(kiosk_env: InProcess) -> None:
    body = new_body(kiosk_env)
    order = kiosk_env.order(body).json()
    assert booked(kiosk_env, body["slot_id"]) == 1
    kiosk_env.advance(minutes=10)
    assert kiosk_env.reconcile()["expired"] == 0
    kiosk_env.advance(minutes=6)
    counts = kiosk_env.reconcile()
    assert counts["expired"] == 1
    assert poll(kiosk_env, order["id"])["state"] == "expired"
    assert booked(kiosk_env, body["slot_id"]) == 0  # the place is given back
    # the phone page now says closed and cannot be confirmed
    page = kiosk_env.client.post(pay_path(order) + "/confirm")
    assert "已过期或已关闭" in page.text
    # a genuine-looking notification after expiry: nothing changes (the provider says it was never paid)
    late, headers = signed_success(kiosk_env, order["id"])
    kiosk_env.client.post(NOTIFY, content=late, headers=headers)
    assert poll(kiosk_env, order["id"])["state"] == "expired"


def test_paid_at_the_last_second_wins_over_expiry(kiosk_env: InProcess) -> None:
    order = kiosk_env.order(new_body(kiosk_env)).json()
    kiosk_env.notifier.deliver = False  # the notification is lost on the way
    kiosk_env.advance(minutes=14, seconds=59)
    assert "支付成功" in kiosk_env.client.post(pay_path(order) + "/confirm").text
    assert kiosk_env.deliver() == [DeliveryState.PENDING]  # tried, failed, to be retried later
    kiosk_env.advance(minutes=5)
    counts = kiosk_env.reconcile()
    assert counts == {"checked": 1, "paid": 1, "expired": 0}
    assert poll(kiosk_env, order["id"])["state"] == "paid"


def test_cancel_before_payment_releases_the_place(kiosk_env: InProcess) -> None:
    body = new_body(kiosk_env)
    order = kiosk_env.order(body).json()
    r = kiosk_env.client.post(f"/api/v1/kiosk/orders/{order['id']}/cancel", headers=kiosk_env.kiosk.headers)
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert booked(kiosk_env, body["slot_id"]) == 0
    assert "已过期或已关闭" in kiosk_env.client.get(pay_path(order)).text
    again = kiosk_env.client.post(
        f"/api/v1/kiosk/orders/{order['id']}/cancel", headers=kiosk_env.kiosk.headers
    )
    assert again.status_code == 409
    # a kiosk polling an overdue order sees it expire at once, without waiting for the job
    late = kiosk_env.order(dict(body, idempotency_key=str(uuid.uuid4()))).json()
    assert booked(kiosk_env, body["slot_id"]) == 1
    kiosk_env.advance(minutes=15, seconds=1)
    assert poll(kiosk_env, late["id"])["state"] == "expired"
    assert booked(kiosk_env, body["slot_id"]) == 0


def test_full_slot_and_bad_input(kiosk_env: InProcess) -> None:
    free = kiosk_env.order(new_body(kiosk_env, "Companionship"))
    assert free.status_code == 201 and free.json()["state"] == "paid" and free.json()["payment"] is None
    assert free.json()["amount_minor"] == 0
    body = new_body(kiosk_env, "Bathing help")  # capacity 2
    assert kiosk_env.order(body).status_code == 201
    assert kiosk_env.order(dict(body, idempotency_key=str(uuid.uuid4()))).status_code == 201
    full = kiosk_env.order(dict(body, idempotency_key=str(uuid.uuid4())))
    assert full.status_code == 409 and "fully booked" in full.json()["detail"]
    bad_phone = kiosk_env.order(dict(body, idempotency_key=str(uuid.uuid4()), phone="12345"))
    assert bad_phone.status_code == 422
    unknown = kiosk_env.order(dict(body, idempotency_key=str(uuid.uuid4()), slot_id="nope"))
    assert unknown.status_code == 404
    with kiosk_env.sessions() as s:
        assert len(s.scalars(select(OrderRow)).all()) == 3


def test_catalogue_etag(kiosk_env: InProcess) -> None:
    assert kiosk_env.client.app.state.scheduler.get_job("kiosk-reconcile") is not None  # type: ignore[attr-defined]
    r = kiosk_env.client.get("/api/v1/kiosk/catalogue", headers=kiosk_env.kiosk.headers)
    assert r.status_code == 200
    cat = r.json()
    assert {c["id"] for c in cat["categories"]} >= {
        "elderly_care",
        "housekeeping",
        "repairs",
        "property",
        "merchants",
        "health",
        "gov_guides",
    }
    assert r.headers["etag"] == f'"{cat["version"]}"'
    meal = next(s for s in cat["services"] if s["name"]["en"] == "Meal delivery")
    assert meal["name"]["zh"] == "助餐送餐上门" and meal["price_minor"] == 1500 and meal["slots"]
    same = kiosk_env.client.get(
        "/api/v1/kiosk/catalogue", headers={**kiosk_env.kiosk.headers, "If-None-Match": r.headers["etag"]}
    )
    assert same.status_code == 304 and same.headers["etag"] == r.headers["etag"]
    kiosk_env.order(new_body(kiosk_env))  # one place fewer: the catalogue changes
    changed = kiosk_env.client.get(
        "/api/v1/kiosk/catalogue", headers={**kiosk_env.kiosk.headers, "If-None-Match": r.headers["etag"]}
    )
    assert changed.status_code == 200 and changed.headers["etag"] != r.headers["etag"]


def test_money_arriving_after_expiry_is_refunded_not_applied(kiosk_env: InProcess) -> None:
    order = kiosk_env.order(new_body(kiosk_env)).json()
    kiosk_env.advance(minutes=16)
    assert kiosk_env.reconcile()["expired"] == 1
    with kiosk_env.sessions() as s:  # the provider took the money anyway (its close raced the payment)
        trade = s.scalars(
            select(CommunityPayTrade).where(CommunityPayTrade.out_trade_no == order["id"])
        ).one()
        trade.status, trade.paid_at = "success", kiosk_env.now()
        s.commit()
    body, headers = signed_success(kiosk_env, order["id"])
    assert kiosk_env.client.post(NOTIFY, content=body, headers=headers).status_code == 200
    assert poll(kiosk_env, order["id"])["state"] == "expired"
    with kiosk_env.sessions() as s:
        trade = s.scalars(
            select(CommunityPayTrade).where(CommunityPayTrade.out_trade_no == order["id"])
        ).one()
        assert trade.status == "refunded" and trade.refunded_minor == trade.amount_minor
    audit = kiosk_env.client.get(
        "/api/v1/kiosk-admin/audit",
        params={"entity_id": order["id"]},
        headers=kiosk_env.client.auth(kiosk_env.client.operator),
    ).json()
    assert audit[0]["action"] == "order.late_payment_refunded"
