"""HMAC-SHA256 notification signatures over timestamp and body, the way payment providers sign.

Signature = hex(HMAC-SHA256(secret, ``<timestamp>`` + ``"\\n"`` + body)), sent in the
``X-Pay-Timestamp`` and ``X-Pay-Signature`` headers. A notification older or newer than the
tolerance (5 minutes) is refused, so a captured one cannot be replayed later.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping

from content_server.kiosk.errors import NotificationRejected

TIMESTAMP_HEADER = "X-Pay-Timestamp"
SIGNATURE_HEADER = "X-Pay-Signature"
TOLERANCE = dt.timedelta(minutes=5)


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The hex signature of ``body`` sent at ``timestamp`` (Unix seconds)."""
    return hmac.new(secret, str(timestamp).encode() + b"\n" + body, hashlib.sha256).hexdigest()


def signed_headers(secret: bytes, body: bytes, now: dt.datetime) -> dict[str, str]:
    """Headers a sender attaches to ``body``."""
    ts = int(now.timestamp())
    return {
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: sign(secret, ts, body),
        "Content-Type": "application/json",
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    return lowered.get(name.lower())


def verify(
    secret: bytes,
    headers: Mapping[str, str],
    body: bytes,
    now: dt.datetime,
    tolerance: dt.timedelta = TOLERANCE,
) -> None:
    """Raise :class:`NotificationRejected` unless the signature is right and the timestamp fresh."""
    raw_ts, signature = _header(headers, TIMESTAMP_HEADER), _header(headers, SIGNATURE_HEADER)
    if not raw_ts or not signature:
        raise NotificationRejected("missing signature headers")
    try:
        ts = int(raw_ts)
    except ValueError:
        raise NotificationRejected("malformed timestamp") from None
    if not hmac.compare_digest(sign(secret, ts, body), signature.strip().lower()):
        raise NotificationRejected("bad signature")
    sent = dt.datetime.fromtimestamp(ts, dt.UTC)
    if abs(now - sent) > tolerance:
        raise NotificationRejected("timestamp outside tolerance")
