"""Generated QR codes decode (with zbar) to exactly their payload, long offline-token URLs included."""

from __future__ import annotations

import datetime as dt
import io
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image
from pyzbar.pyzbar import decode

from content_server.kiosk.receipts import qr_png
from schedules.protocol.kiosk import OfflineOrderClaims, encode_offline_token, offline_token_payload


def decoded(png: bytes) -> list[str]:
    return [d.data.decode("utf-8") for d in decode(Image.open(io.BytesIO(png)))]


def offline_url() -> str:
    now = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
    claims = OfflineOrderClaims(
        kiosk_id=uuid.uuid4().hex,
        idempotency_key=uuid.uuid4(),
        service_id=uuid.uuid4().hex,
        slot_id=uuid.uuid4().hex,
        phone="13812345678",
        amount_minor=8000,
        issued_at=now,
        expires_at=now + dt.timedelta(minutes=30),
        nonce=uuid.uuid4().hex,
    )
    key = Ed25519PrivateKey.generate()
    token = encode_offline_token(claims, key.sign(offline_token_payload(claims).encode("ascii")))
    return f"http://192.168.10.5:8080/pay/offline/{token}"


@pytest.mark.parametrize(
    "payload", ["GA-20261125-004217", "http://127.0.0.1:8080/pay/3q2-xY_ab9" + "k" * 20, "张小三的回执 GA-1"]
)
def test_qr_round_trip(payload: str) -> None:
    assert decoded(qr_png(payload)) == [payload]


def test_offline_order_url_fits_a_scannable_qr() -> None:
    url = offline_url()
    png = qr_png(url)
    assert decoded(png) == [url]
    assert Image.open(io.BytesIO(png)).size[0] <= 1000  # still printable/displayable at kiosk size
