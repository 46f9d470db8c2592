"""QR codes as PNG images: case receipts (the case number) and payment pages (the pay URL)."""

from __future__ import annotations

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
