"""QR codes for payment and receipts: error correction H (30 %) so glare on the screen is survivable."""

from __future__ import annotations

import qrcode
import qrcode.constants


def qr_matrix(data: str, correction: int = qrcode.constants.ERROR_CORRECT_H) -> list[list[bool]]:
    """The module grid of ``data``, with the standard 4-module quiet zone."""
    code = qrcode.QRCode(error_correction=correction, border=4, box_size=1)
    code.add_data(data)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]
