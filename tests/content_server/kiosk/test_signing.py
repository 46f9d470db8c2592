"""HMAC notification signatures: right secret and fresh timestamp only."""

import datetime as dt

import pytest

from content_server.kiosk.errors import NotificationRejected
from content_server.kiosk.signing import SIGNATURE_HEADER, signed_headers, verify

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
SECRET = b"s3cret-s3cret-s3cret-s3cret-0000"
BODY = b'{"out_trade_no":"o1","amount_minor":3000}'


def test_round_trip() -> None:
    verify(SECRET, signed_headers(SECRET, BODY, NOW), BODY, NOW + dt.timedelta(minutes=4))


@pytest.mark.parametrize(
    ("secret", "body", "later", "reason"),
    [
        (b"wrong-secret", BODY, 0, "bad signature"),
        (SECRET, BODY.replace(b"3000", b"1"), 0, "bad signature"),
        (SECRET, BODY, 6, "tolerance"),
        (SECRET, BODY, -6, "tolerance"),
    ],
)
def test_rejections(secret: bytes, body: bytes, later: int, reason: str) -> None:
    headers = signed_headers(secret, BODY, NOW)
    with pytest.raises(NotificationRejected, match=reason):
        verify(SECRET, headers, body, NOW + dt.timedelta(minutes=later))


def test_missing_headers() -> None:
    headers = signed_headers(SECRET, BODY, NOW)
    del headers[SIGNATURE_HEADER]
    with pytest.raises(NotificationRejected, match="missing"):
        verify(SECRET, headers, BODY, NOW)
