"""The whole payment lifecycle over real HTTP on loopback: kiosk, phone (requests), provider, server.

The phone step is driven with ``requests`` against the community-pay page, exactly what a
phone browser does: GET the page from the QR URL, POST the confirm form.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
from sqlalchemy import func, select

from content_server.core.audit.models import AuditRecord
from content_server.kiosk.models import CommunityPayTrade, OrderRow, SlotRow
from content_server.kiosk.services.community_pay import derive_secret
from content_server.kiosk.signing import signed_headers
from tests.content_server.kiosk.conftest import Live, pick_slot, success_notification
from tests.fixtures.postgres import create_database
from tests.fixtures.server import TEST_SECRET, free_port, pair_device

SECRET = derive_secret(TEST_SECRET)


def order_body(live: Live, name_en: str = "Health check visit") -> dict[str, Any]:
    b = pick_slot(live.sessions, dt.datetime.now(dt.UTC), name_en)
    return {
        "idempotency_key": str(uuid.uuid4()),
        "service_id": b.service_id,
        "slot_id": b.slot_id,
        "phone": "13812345678",
        "local_reference": "K-0001",
    }


def poll(live: Live, order_id: str, until: str, timeout_s: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        view: dict[str, Any] = httpx.get(
            f"{live.server.api}/kiosk/orders/{order_id}", headers=live.kiosk.headers
        ).json()
        if view["state"] == until or time.monotonic() > deadline:
            return view
        time.sleep(0.1)


def phone_pays(qr_payload: str) -> str:
    """What the resident's phone does: open the QR URL, read the page, press confirm."""
    phone = requests.Session()
    page = phone.get(qr_payload, timeout=10)
    assert page.status_code == 200 and "确认付款" in page.text
    done = phone.post(qr_payload + "/confirm", timeout=10)
    assert done.status_code == 200
    return done.text


def notification(live: Live, order_id: str, **override: Any) -> bytes:
    return success_notification(live.sessions, order_id, dt.datetime.now(dt.UTC), **override)


def notify(live: Live, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(live.server.api + "/payments/community_pay/notify", content=body, headers=headers)


def state_of(live: Live, order_id: str) -> str:
    with live.sessions() as s:
        return s.get(OrderRow, order_id).state  # type: ignore[union-attr]


def audit_count(live: Live, order_id: str, action: str) -> int:
    with live.sessions() as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(AuditRecord)
                .where(AuditRecord.entity_id == order_id, AuditRecord.action == action)
            )
            or 0
        )


def test_whole_lifecycle_with_phone_and_signed_notification(live_kiosk: Live) -> None:
    body = order_body(live_kiosk)
    r = live_kiosk.order(body)
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["state"] == "awaiting_payment" and order["amount_minor"] == 3000
    assert order["reference"] and order["local_reference"] == "K-0001"
    qr = order["payment"]["qr_payload"]
    assert qr.startswith(live_kiosk.server.url + "/pay/")

    page = requests.get(qr, timeout=10).text
    assert "社区卫生服务中心" in page and "上门健康检查" in page and "¥30.00" in page
    assert "支付成功" in phone_pays(qr)

    paid = poll(live_kiosk, order["id"], "paid")
    assert paid["state"] == "paid" and paid["paid_at"] and paid["payment"] is None
    by_ref = httpx.get(
        f"{live_kiosk.server.api}/kiosk/orders/by-reference/{order['reference'].lower()}",
        headers=live_kiosk.kiosk.headers,
    ).json()
    assert by_ref["id"] == order["id"]
    # a retried request with the same key returns the original (now paid) order, never a second payment
    again = live_kiosk.order(body)
    assert again.status_code == 200 and again.json()["id"] == order["id"] and again.json()["state"] == "paid"
    # confirming again does not charge twice: one paid audit entry, one trade
    phone = requests.post(qr + "/confirm", timeout=10)
    assert "支付成功" in phone.text
    assert audit_count(live_kiosk, order["id"], "order.paid_by_notification") == 1
    with live_kiosk.sessions() as s:
        trades = select(func.count()).select_from(CommunityPayTrade)
        assert s.scalar(trades.where(CommunityPayTrade.out_trade_no == order["id"])) == 1
    # the audit trail shows who did what, with before/after
    trail = httpx.get(
        f"{live_kiosk.server.api}/kiosk-admin/audit",
        params={"entity_id": order["id"]},
        headers=live_kiosk.server.auth(live_kiosk.server.operator),
    ).json()
    actions = [a["action"] for a in reversed(trail)]
    assert actions == ["order.created", "order.payment_created", "order.paid_by_notification"]
    assert trail[0]["before"]["state"] == "awaiting_payment" and trail[0]["after"]["state"] == "paid"
    # another kiosk cannot see this order
    other = pair_device(live_kiosk.server, kind="kiosk")
    assert (
        httpx.get(f"{live_kiosk.server.api}/kiosk/orders/{order['id']}", headers=other.headers).status_code
        == 404
    )


def test_forged_tampered_replayed_and_duplicate_notifications(live_kiosk: Live) -> None:
    order = live_kiosk.order(order_body(live_kiosk)).json()
    oid = order["id"]
    good = notification(live_kiosk, oid)
    now = dt.datetime.now(dt.UTC)

    forged = notify(live_kiosk, good, signed_headers(b"not-the-secret", good, now))
    assert forged.status_code == 400 and "signature" in forged.json()["detail"]
    cheap = good.replace(b'"amount_minor": 3000', b'"amount_minor": 1')
    assert cheap != good
    tampered = notify(live_kiosk, cheap, signed_headers(SECRET, good, now))  # body changed after signing
    assert tampered.status_code == 400
    wrong_amount = notify(
        live_kiosk, cheap, signed_headers(SECRET, cheap, now)
    )  # validly signed, wrong amount
    assert wrong_amount.status_code == 400
    other_currency = notification(live_kiosk, oid, currency="USD", notification_id="n-usd")
    assert notify(live_kiosk, other_currency, signed_headers(SECRET, other_currency, now)).status_code == 400
    stale = notify(live_kiosk, good, signed_headers(SECRET, good, now - dt.timedelta(minutes=6)))
    assert stale.status_code == 400 and "tolerance" in stale.json()["detail"]
    assert state_of(live_kiosk, oid) == "awaiting_payment"
    assert audit_count(live_kiosk, oid, "order.payment_rejected") == 2

    first = notify(live_kiosk, good, signed_headers(SECRET, good, now))
    assert first.status_code == 200 and first.text == "success"
    assert state_of(live_kiosk, oid) == "paid"
    for _ in range(2):  # duplicate and replay within tolerance: acknowledged, nothing changes
        assert (
            notify(live_kiosk, good, signed_headers(SECRET, good, dt.datetime.now(dt.UTC))).status_code == 200
        )
    assert audit_count(live_kiosk, oid, "order.paid_by_notification") == 1


def test_concurrent_double_submission_with_one_key(live_kiosk: Live) -> None:
    body = order_body(live_kiosk, "Bathing help")
    results: list[httpx.Response] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def submit() -> None:
        barrier.wait()
        r = live_kiosk.order(body)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in results) == [200] * 5 + [201], [r.text for r in results]
    assert len({r.json()["id"] for r in results}) == 1
    assert len({r.json()["payment"]["qr_payload"] for r in results}) == 1
    with live_kiosk.sessions() as s:
        assert s.get(SlotRow, body["slot_id"]).booked == 1  # type: ignore[union-attr]
        assert (
            s.scalar(
                select(func.count())
                .select_from(OrderRow)
                .where(OrderRow.idempotency_key == body["idempotency_key"])
            )
            == 1
        )
    changed = dict(body, phone="13900000000")
    r = live_kiosk.order(changed)
    assert r.status_code == 422 and "idempotency" in r.json()["detail"]


@pytest.mark.slow
@pytest.mark.postgres
def test_orders_on_postgresql_with_a_lost_notification(
    live_kiosk_factory: Callable[..., Live], postgres_url: str
) -> None:
    """On PostgreSQL, with the provider's notifications going nowhere: reconciliation finds the payment."""
    dead = f"http://127.0.0.1:{free_port()}"
    live = live_kiosk_factory(database_url=create_database(postgres_url), SIGNAGE_PUBLIC_URL=dead)
    test_concurrent_double_submission_with_one_key(live)
    order = live.order(order_body(live)).json()
    assert order["payment"]["qr_payload"].startswith(dead + "/pay/")
    assert "支付成功" in phone_pays(order["payment"]["qr_payload"].replace(dead, live.server.url))
    assert poll(live, order["id"], "paid", timeout_s=0.5)["state"] == "awaiting_payment"
    operator = live.server.auth(live.server.operator)
    counts = httpx.post(live.server.api + "/kiosk-admin/reconcile", headers=operator).json()
    assert counts["paid"] == 1
    assert poll(live, order["id"], "paid", timeout_s=1.0)["state"] == "paid"
    assert audit_count(live, order["id"], "order.paid_by_query") == 1
    cancel = httpx.post(f"{live.server.api}/kiosk/orders/{order['id']}/cancel", headers=live.kiosk.headers)
    assert cancel.status_code == 409  # a paid order is not cancelled from the kiosk
