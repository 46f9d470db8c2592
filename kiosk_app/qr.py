"""QR codes for payment and receipts: error correction H (30 %) so glare on the screen is survivable.

Generation (mask selection is pure Python, tens of ms) runs on a worker thread when an order
arrives (:func:`warm`), so showing the code on the UI thread is a cache hit. The cache holds
personal data (pay URLs, references): the privacy reset empties it with :func:`forget`.
"""

from __future__ import annotations

from functools import lru_cache

M, Q, H = 0, 3, 2  # qrcode.constants.ERROR_CORRECT_*, without importing qrcode at start-up


def correction_for(data: str) -> int:
    """H (30 %) for pay URLs and references; long offline tokens step down so modules stay big."""
    return H if len(data) <= 120 else Q if len(data) <= 300 else M


@lru_cache(maxsize=8)
def qr_matrix(data: str, correction: int | None = None) -> tuple[tuple[bool, ...], ...]:
    """The module grid of ``data``, with the standard 4-module quiet zone."""
    import qrcode  # ~50 ms: loaded when the first QR is needed, not at start-up

    level = correction_for(data) if correction is None else correction
    code = qrcode.QRCode(error_correction=level, border=4, box_size=1)
    code.add_data(data)
    code.make(fit=True)
    return tuple(tuple(row) for row in code.get_matrix())


def warm(data: str | None) -> None:
    """Compute a QR ahead of time (call on a worker thread)."""
    if data:
        qr_matrix(data)


def forget() -> None:
    qr_matrix.cache_clear()
