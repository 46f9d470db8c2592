"""Offline payment: the kiosk signs the order's claims with its Ed25519 device key.

The token format is shared with the server (``schedules.protocol.kiosk``); the resident's
phone opens ``<server>/pay/offline/<token>`` over its own network and the server verifies it
with the public key this kiosk registered at pairing.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schedules.protocol.kiosk import OfflineOrderClaims, encode_offline_token, offline_token_payload


class DeviceKeySigner:
    """``OfflineSigner`` with the device's private key."""

    def __init__(self, private_key: Ed25519PrivateKey, server_url: str) -> None:
        self._key = private_key
        self.server_url = server_url.rstrip("/")

    def token(self, claims: OfflineOrderClaims) -> str:
        payload = offline_token_payload(claims)
        return encode_offline_token(claims, self._key.sign(payload.encode("ascii")))

    def pay_url(self, claims: OfflineOrderClaims) -> str:
        return f"{self.server_url}/pay/offline/{self.token(claims)}"
