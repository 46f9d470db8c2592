"""Offline order tokens signed by a kiosk's Ed25519 key: valid, altered, foreign, expired."""

import base64
import datetime as dt
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from content_server.kiosk.errors import TokenRejected
from content_server.kiosk.offline_token import verify_offline_token
from schedules.protocol.kiosk import (
    OfflineOrderClaims,
    encode_offline_token,
    offline_token_payload,
    split_offline_token,
)

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def public_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def make_token(key: Ed25519PrivateKey, **over: object) -> str:
    fields: dict[str, object] = dict(
        kiosk_id="kiosk-1",
        idempotency_key=uuid.uuid4(),
        service_id="svc",
        slot_id="slot",
        phone="13812345678",
        amount_minor=3000,
        issued_at=NOW,
        expires_at=NOW + dt.timedelta(minutes=15),
        nonce="n" * 16,
    )
    fields.update(over)
    claims = OfflineOrderClaims.model_validate(fields)
    return encode_offline_token(claims, key.sign(offline_token_payload(claims).encode("ascii")))


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_valid_token(key: Ed25519PrivateKey) -> None:
    token = make_token(key)
    assert len(token) < 700 and "/" not in token and "+" not in token
    claims = verify_offline_token(token, {"kiosk-1": public_b64(key)}.get, NOW)
    assert claims.amount_minor == 3000 and claims.phone == "13812345678"


def test_altered_amount_is_refused(key: Ed25519PrivateKey) -> None:
    token = make_token(key)
    _payload, claims, _sig = split_offline_token(token)
    forged = OfflineOrderClaims.model_validate({**claims.model_dump(), "amount_minor": 1})
    tampered = offline_token_payload(forged) + "." + token.partition(".")[2]
    with pytest.raises(TokenRejected, match="bad signature"):
        verify_offline_token(tampered, {"kiosk-1": public_b64(key)}.get, NOW)


def test_token_signed_by_another_key_is_refused(key: Ed25519PrivateKey) -> None:
    other = Ed25519PrivateKey.generate()
    with pytest.raises(TokenRejected, match="bad signature"):
        verify_offline_token(make_token(other), {"kiosk-1": public_b64(key)}.get, NOW)
    with pytest.raises(TokenRejected, match="unknown kiosk"):
        verify_offline_token(make_token(key), lambda _kiosk: None, NOW)


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "!!!.???", "e30.AAAA"])
def test_garbage_is_refused(token: str, key: Ed25519PrivateKey) -> None:
    with pytest.raises(TokenRejected, match="malformed"):
        verify_offline_token(token, {"kiosk-1": public_b64(key)}.get, NOW)


def test_expired_and_overlong_tokens(key: Ed25519PrivateKey) -> None:
    keys = {"kiosk-1": public_b64(key)}.get
    with pytest.raises(TokenRejected, match="expired"):
        verify_offline_token(make_token(key), keys, NOW + dt.timedelta(minutes=16))
    with pytest.raises(TokenRejected, match="lifetime"):
        verify_offline_token(make_token(key, expires_at=NOW + dt.timedelta(days=2)), keys, NOW)
