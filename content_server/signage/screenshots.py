"""Screenshots a device may send: only when asked (by an operator, or on the heartbeat's schedule),
not more often than ``min_interval``, and only real pictures, decoded and re-encoded.

A device that may upload whenever it likes fills the disk (the probe stored 20 MiB of random
bytes behind a PNG signature) or stores a polyglot file operators then open. The server asks in
the heartbeat reply (``screenshot_requested``), accepts one upload per request, decodes it under a
pixel limit and keeps only its own re-encoding; the service deletes the device's previous one.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from PIL import Image, UnidentifiedImageError


class Refusal(StrEnum):
    NOT_REQUESTED = "not_requested"  # 409: nobody asked for one
    TOO_SOON = "too_soon"  # 429: the last one was accepted less than min_interval ago
    NOT_AN_IMAGE = "not_an_image"  # 422: does not decode as a PNG
    TOO_MANY_PIXELS = "too_many_pixels"  # 422: a decompression bomb or a silly size


MAX_SCREENSHOT_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class ScreenshotPolicy:
    min_interval: dt.timedelta = dt.timedelta(seconds=30)
    every: dt.timedelta | None = None  # ask for one this often in heartbeat replies (None: only on request)
    max_bytes: int = MAX_SCREENSHOT_BYTES
    max_pixels: int = 7680 * 4320  # an 8K screen
    max_side: int = 8192

    def due(self, requested: bool, last_at: dt.datetime | None, now: dt.datetime) -> bool:
        """Whether the heartbeat reply asks the device for a screenshot."""
        if requested:
            return True
        if self.every is None:
            return False
        return last_at is None or now - last_at >= self.every

    def refusal(self, requested: bool, last_at: dt.datetime | None, now: dt.datetime) -> Refusal | None:
        """Why an upload arriving now is refused before its bytes are even read (None: accept)."""
        if not self.due(requested, last_at, now):
            return Refusal.NOT_REQUESTED
        if last_at is not None and now - last_at < self.min_interval:
            return Refusal.TOO_SOON
        return None


class BadScreenshot(ValueError):
    def __init__(self, refusal: Refusal, detail: str) -> None:
        super().__init__(detail)
        self.refusal = refusal


def reencode(path: Path, policy: ScreenshotPolicy) -> bytes:
    """The picture in ``path`` decoded and written again as a plain PNG (nothing else survives)."""
    try:
        with Image.open(path, formats=["PNG"]) as im:
            w, h = im.size
            if w < 1 or h < 1 or w > policy.max_side or h > policy.max_side or w * h > policy.max_pixels:
                raise BadScreenshot(Refusal.TOO_MANY_PIXELS, f"screenshot of {w}x{h} pixels is too large")
            im.load()
            picture = im.convert("RGBA" if "A" in im.getbands() else "RGB")
    except BadScreenshot:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own limit, met while reading the header
        raise BadScreenshot(Refusal.TOO_MANY_PIXELS, "screenshot has too many pixels") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise BadScreenshot(Refusal.NOT_AN_IMAGE, "screenshot must be a PNG image") from exc
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()
