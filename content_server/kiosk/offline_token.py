"""Verification of order tokens a kiosk signed with its Ed25519 device key while offline.

Format and encoding are shared with the kiosk (``schedules.protocol.kiosk``). The server
accepts a token only if the signature verifies with the public key stored when that kiosk
was paired, the token has not expired and its lifetime is sane. Single use is the caller's
job: the nonce is stored with the order, so opening the same token again finds that order.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from content_server.kiosk.errors import TokenRejected
from schedules.protocol.kiosk import OfflineOrderClaims, split_offline_token

MAX_LIFETIME = dt.timedelta(hours=2)
CLOCK_SKEW = dt.timedelta(minutes=10)


def load_public_key(b64: str) -> Ed25519PublicKey:
    """An Ed25519 public key from base64 of its 32 raw bytes (as sent at pairing)."""
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(b64, validate=True))
    except (ValueError, binascii.Error) as exc:
        raise TokenRejected("kiosk has no usable public key") from exc


def verify_offline_token(
    token: str, public_key_for: Callable[[str], str | None], now: dt.datetime
) -> OfflineOrderClaims:
    """Return the claims of a genuine, unexpired token; raise :class:`TokenRejected` otherwise.

    ``public_key_for(kiosk_id)`` returns the base64 public key of a paired kiosk, or None.
    """
    try:
        payload, claims, signature = split_offline_token(token)
    except (ValueError, ValidationError):
        raise TokenRejected("malformed") from None
    key_b64 = public_key_for(claims.kiosk_id)
    if key_b64 is None:
        raise TokenRejected("unknown kiosk")
    try:
        load_public_key(key_b64).verify(signature, payload.encode("ascii"))
    except InvalidSignature:
        raise TokenRejected("bad signature") from None
    if claims.issued_at.tzinfo is None or claims.expires_at.tzinfo is None:
        raise TokenRejected("naive timestamps")
    if claims.expires_at <= now:
        raise TokenRejected("expired")
    if claims.issued_at > now + CLOCK_SKEW or claims.expires_at - claims.issued_at > MAX_LIFETIME:
        raise TokenRejected("implausible lifetime")
    return claims
