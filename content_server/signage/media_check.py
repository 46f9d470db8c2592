"""Checking uploaded media: type from the bytes, Pillow verification with a bomb limit, ffprobe for video.

Pure of HTTP and ORM: takes a file path, returns :class:`MediaInfo` or raises
:class:`~content_server.core.errors.UnsupportedMedia` / :class:`~content_server.core.errors.Invalid`.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from content_server.core.errors import Invalid, UnsupportedMedia

log = logging.getLogger(__name__)

THUMB_SIZE = (320, 320)
IMAGE_DEFAULT_DURATION_S = 10.0
VIDEO_CODECS = frozenset({"h264", "hevc", "vp8", "vp9", "av1", "mpeg4"})


@dataclass(frozen=True)
class MediaInfo:
    kind: str  # image | video
    media_type: str
    width: int
    height: int
    duration_s: float
    codec: str
    thumbnail_png: bytes


def sniff(head: bytes) -> str | None:
    """MIME type from the first bytes of a file, or None when it is nothing we play."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return None


def inspect(path: Path, *, max_pixels: int, ffprobe: str = "ffprobe", ffmpeg: str = "ffmpeg") -> MediaInfo:
    """Decide what the file really is and check that it decodes; raise with a reason if not."""
    with open(path, "rb") as f:
        head = f.read(32)
    if not head:
        raise Invalid("the file is empty")
    media_type = sniff(head)
    if media_type is None:
        raise UnsupportedMedia(
            "unsupported file type: upload a PNG, JPEG, WebP or GIF image or an MP4/WebM video"
        )
    if media_type.startswith("image/"):
        return _inspect_image(path, media_type, max_pixels)
    return _inspect_video(path, media_type, ffprobe, ffmpeg)


def _inspect_image(path: Path, media_type: str, max_pixels: int) -> MediaInfo:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as probe:
                width, height = probe.size
                if width * height > max_pixels:
                    raise Invalid(
                        f"image is {width}x{height} pixels, over the limit of {max_pixels} (a bomb?)"
                    )
                probe.verify()
            with Image.open(path) as img:
                img.load()  # a full decode: truncated or corrupt data fails here
                thumb = ImageOps.exif_transpose(img).convert("RGB")
                thumb.thumbnail(THUMB_SIZE)
                out = io.BytesIO()
                thumb.save(out, "PNG")
    except Invalid:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Invalid(f"image refused as a decompression bomb: {exc}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise Invalid(f"image is damaged or cannot be decoded: {exc}") from exc
    if width < 1 or height < 1:
        raise Invalid("image has no pixels")
    return MediaInfo("image", media_type, width, height, IMAGE_DEFAULT_DURATION_S, "", out.getvalue())


def _inspect_video(path: Path, media_type: str, ffprobe: str, ffmpeg: str) -> MediaInfo:
    cmd = [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    try:
        res = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Invalid(f"video could not be probed: {exc}") from exc
    if res.returncode != 0:
        reason = res.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["unreadable"]
        raise Invalid(f"video is damaged or unreadable: {reason[0][:200]}")
    try:
        info = json.loads(res.stdout)
        video = next(s for s in info.get("streams", []) if s.get("codec_type") == "video")
        duration = float(video.get("duration") or info.get("format", {}).get("duration") or 0)
        width, height = int(video["width"]), int(video["height"])
        codec = str(video.get("codec_name", ""))
    except (StopIteration, KeyError, ValueError, TypeError) as exc:
        raise Invalid("video has no readable video stream") from exc
    if codec not in VIDEO_CODECS:
        raise UnsupportedMedia(f"video codec {codec!r} is not supported; use H.264, HEVC, VP8/VP9 or AV1")
    if not 0 < duration <= 3600:
        raise Invalid(f"video duration {duration:.1f} s is not between 0 and 3600 s")
    problem = _scan_packets(path, ffmpeg)
    if problem:
        raise Invalid(f"video is damaged or incomplete: {problem[:200]}")
    thumb = _video_thumbnail(path, ffmpeg, min(1.0, duration / 2))
    if thumb is None:
        raise Invalid("video frames cannot be decoded")
    return MediaInfo("video", media_type, width, height, round(duration, 3), codec, thumb)


def _scan_packets(path: Path, ffmpeg: str) -> str:
    """Read every packet without decoding (cheap); a truncated or corrupt file reports errors."""
    cmd = [ffmpeg, "-v", "error", "-i", str(path), "-map", "0", "-c", "copy", "-f", "null", "-"]
    try:
        res = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    err = res.stderr.decode(errors="replace").strip()
    if res.returncode != 0:
        return err or f"ffmpeg exited with {res.returncode}"
    return err.splitlines()[-1] if err else ""


def _video_thumbnail(path: Path, ffmpeg: str, at_s: float) -> bytes | None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "t.png"
        cmd = [
            ffmpeg, "-v", "error", "-ss", f"{at_s:.2f}", "-i", str(path), "-frames:v", "1",
            "-vf", f"scale={THUMB_SIZE[0]}:-2", str(out),
        ]  # fmt: skip
        try:
            subprocess.run(cmd, capture_output=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.read_bytes() if out.exists() and out.stat().st_size else None
