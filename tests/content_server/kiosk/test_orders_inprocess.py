"""Orders through the real app in-process, with a clock the test moves (expiry, reconciliation)."""

from __future__ import annotations

import uuid

from tests.content_server.kiosk.conftest import InProcess, pick_slot


def new_body(env: InProcess, name_en: str = "Health check visit") -> dict[str, object]:
    b = pick_slot(env.sessions, env.now(), name_en)
    return {
        "idempotency_key": str(uuid.uuid4()),
        "service_id": b.service_id,
        "slot_id": b.slot_id,
        "phone": "13812345678",
    }


def test_order_pay_and_poll(kiosk_env: InProcess) -> None:
    r = kiosk_env.order(new_body(kiosk_env))
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["state"] == "awaiting_payment" and order["phone_masked"] == "138****5678"
    assert order["payment"]["qr_payload"].startswith("http://testserver/pay/")
    path = order["payment"]["qr_payload"].removeprefix("http://testserver")
    page = kiosk_env.client.get(path)
    assert page.status_code == 200 and "¥30.00" in page.text and "上门健康检查" in page.text
    done = kiosk_env.client.post(path + "/confirm")
    assert "支付成功" in done.text
    polled = kiosk_env.client.get(
        f"/api/v1/kiosk/orders/{order['id']}", headers=kiosk_env.kiosk.headers
    ).json()
    assert polled["state"] == "paid" and polled["payment"] is None
