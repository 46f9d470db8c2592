"""Screenshot rules (pure) and the decoder: asked for, not too often, real pictures only."""

from __future__ import annotations

import datetime as dt
import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from content_server.signage.screenshots import BadScreenshot, Refusal, ScreenshotPolicy, reencode

T0 = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)
S = dt.timedelta(seconds=1)


def test_only_when_asked_and_not_too_often() -> None:
    p = ScreenshotPolicy(min_interval=30 * S)
    assert p.refusal(requested=False, last_at=None, now=T0) is Refusal.NOT_REQUESTED
    assert p.refusal(requested=True, last_at=None, now=T0) is None
    assert p.refusal(requested=True, last_at=T0, now=T0 + 10 * S) is Refusal.TOO_SOON
    assert p.refusal(requested=True, last_at=T0, now=T0 + 30 * S) is None


def test_the_heartbeat_schedule_asks_by_itself() -> None:
    p = ScreenshotPolicy(every=dt.timedelta(minutes=15))
    assert p.due(False, None, T0)
    assert not p.due(False, T0, T0 + dt.timedelta(minutes=14))
    assert p.due(False, T0, T0 + dt.timedelta(minutes=15))
    assert p.refusal(False, T0, T0 + dt.timedelta(minutes=1)) is Refusal.NOT_REQUESTED


def png(size: tuple[int, int], mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "navy").save(out, format="PNG", pnginfo=None)
    return out.getvalue()


def test_a_real_picture_is_re_encoded_and_nothing_else_survives(tmp_path: Path) -> None:
    path = tmp_path / "shot.png"
    path.write_bytes(png((64, 36)) + b"<script>alert(1)</script>" * 10)  # a polyglot tail
    out = reencode(path, ScreenshotPolicy())
    assert out.startswith(b"\x89PNG") and b"<script>" not in out
    with Image.open(io.BytesIO(out)) as im:
        assert im.size == (64, 36)


def test_random_bytes_behind_a_png_signature_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "shot.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(1024 * 1024))
    with pytest.raises(BadScreenshot) as caught:
        reencode(path, ScreenshotPolicy())
    assert caught.value.refusal is Refusal.NOT_AN_IMAGE


def test_other_formats_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "shot.png"
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, format="JPEG")
    path.write_bytes(out.getvalue())
    with pytest.raises(BadScreenshot):
        reencode(path, ScreenshotPolicy())


def bomb(width: int, height: int) -> bytes:
    """A PNG header claiming ``width x height`` with a tiny compressed body (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\0" * (width + 1) * 64, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


@pytest.mark.parametrize("size", [(60_000, 60_000), (9000, 9000), (8000, 5000)])
def test_a_decompression_bomb_is_refused_before_decoding(tmp_path: Path, size: tuple[int, int]) -> None:
    """3.6 gigapixels (Pillow's own limit), 81 megapixels and 40 megapixels in a few kilobytes."""
    path = tmp_path / "shot.png"
    path.write_bytes(bomb(*size))
    assert path.stat().st_size < 100_000
    with pytest.raises(BadScreenshot) as caught:
        reencode(path, ScreenshotPolicy())
    assert caught.value.refusal is Refusal.TOO_MANY_PIXELS
