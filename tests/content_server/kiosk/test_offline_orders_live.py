"""Orders a kiosk signed while offline, opened by the resident's phone on a live server."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import httpx
import requests
from sqlalchemy import func, select

from content_server.kiosk.models import OrderRow
from schedules.protocol.kiosk import OfflineOrderClaims, encode_offline_token, offline_token_payload
from tests.content_server.kiosk.conftest import Live, pick_slot


def signed_token(live: Live, **over: object) -> tuple[str, OfflineOrderClaims]:
    now = dt.datetime.now(dt.UTC)
    b = pick_slot(live.sessions, now, "Seniors' haircut")
    fields: dict[str, object] = dict(
        kiosk_id=live.kiosk.device_id,
        idempotency_key=uuid.uuid4(),
        service_id=b.service_id,
        slot_id=b.slot_id,
        phone="13812345678",
        amount_minor=b.price_minor,
        issued_at=now,
        expires_at=now + dt.timedelta(minutes=30),
        nonce=uuid.uuid4().hex,
    )
    fields.update(over)
    claims = OfflineOrderClaims.model_validate(fields)
    sig = live.kiosk.private_key.sign(offline_token_payload(claims).encode("ascii"))
    return encode_offline_token(claims, sig), claims


def test_valid_token_creates_one_order_and_takes_payment(live_kiosk: Live) -> None:
    token, claims = signed_token(live_kiosk)
    phone = requests.Session()
    first = phone.get(f"{live_kiosk.server.url}/pay/offline/{token}", timeout=10)
    assert first.status_code == 200 and "¥15.00" in first.text and "老年理发" in first.text
    assert first.history and first.history[0].status_code == 303
    pay_url = first.url
    # the same QR opened again (reload, second phone, replay) finds the same order: no second order
    again = requests.get(f"{live_kiosk.server.url}/pay/offline/{token}", timeout=10)
    assert again.url == pay_url
    with live_kiosk.sessions() as s:
        assert (
            s.scalar(select(func.count()).select_from(OrderRow).where(OrderRow.offline_nonce == claims.nonce))
            == 1
        )
    assert "支付成功" in phone.post(pay_url + "/confirm", timeout=10).text
    # back online, the kiosk re-sends the order with the same idempotency key and learns the outcome
    body = {
        "idempotency_key": str(claims.idempotency_key),
        "service_id": claims.service_id,
        "slot_id": claims.slot_id,
        "phone": claims.phone,
    }
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=10)
    while True:
        r = live_kiosk.order(body)
        if r.json()["state"] == "paid" or dt.datetime.now(dt.UTC) > deadline:
            break
        time.sleep(0.1)
    assert r.status_code == 200 and r.json()["state"] == "paid"


def test_altered_foreign_and_expired_tokens_are_refused(live_kiosk: Live) -> None:
    token, claims = signed_token(live_kiosk)
    cheaper = OfflineOrderClaims.model_validate({**claims.model_dump(), "amount_minor": 1})
    altered = offline_token_payload(cheaper) + "." + token.partition(".")[2]
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    expired, _ = signed_token(live_kiosk, issued_at=past, expires_at=past + dt.timedelta(minutes=30))
    wrong_price, _ = signed_token(live_kiosk, amount_minor=1)
    # the phone reads why in both languages, never the server's own words ("bad signature")
    refused = ("无法使用此付款码", "This payment code cannot be used.")
    for bad, says in (
        (altered, refused),
        (token[:-4] + "AAAA", refused),
        ("x.y", refused),
        (expired, ("此付款码已过期", "This payment code has expired.")),
        (wrong_price, ("无法使用此付款码：价格已变动", "The price changed since the kiosk showed it.")),
    ):
        r = httpx.get(f"{live_kiosk.server.url}/pay/offline/{bad}", follow_redirects=False)
        assert r.status_code == 400, (says, r.status_code)
        assert all(text in r.text for text in says), (says, r.text[-400:])
        assert not any(raw in r.text for raw in ("signature", "malformed", "please order again")), r.text
    with live_kiosk.sessions() as s:
        assert (
            s.scalar(select(func.count()).select_from(OrderRow).where(OrderRow.offline_nonce == claims.nonce))
            == 0
        )
