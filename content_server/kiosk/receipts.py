"""QR codes as PNG images (case receipts, payment pages) and the order status links receipts carry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io

import qrcode
from qrcode.constants import ERROR_CORRECT_M


def qr_png(payload: str, box_size: int = 8) -> bytes:
    """A PNG of a QR code that decodes to exactly ``payload``."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=4)
    code.add_data(payload)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer)  # PIL image factory by default: PNG
    return buffer.getvalue()


STATUS_PREFIX = "/o"  # the kiosk's scanner reads the reference from the last part of an ``/o/`` link


def status_secret(server_secret: str) -> bytes:
    """The key of order status links, derived from the server secret (no extra setting to leak)."""
    return hmac.new(server_secret.encode(), b"order-status-link-v1", hashlib.sha256).digest()


def status_token(secret: bytes, reference: str) -> str:
    """The capability part of an order's status link: 22 URL-safe characters that only we can make."""
    digest = hmac.new(secret, reference.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def status_path(secret: bytes, reference: str) -> str:
    """``/o/<token>/<reference>``: what a receipt's QR opens on a phone (and a kiosk's scanner reads)."""
    return f"{STATUS_PREFIX}/{status_token(secret, reference)}/{reference}"


def status_token_valid(secret: bytes, reference: str, token: str) -> bool:
    return hmac.compare_digest(status_token(secret, reference), token)
