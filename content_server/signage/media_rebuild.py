"""Uploaded pictures are rebuilt, never trusted: decoded to pixels and written out as a new file.

Why: bytes after a JPEG's end-of-image marker or a GIF's trailer, comments, EXIF and ICC
blocks are where polyglots (a picture that is also a PHP file or a script) live, and a
browser or an old decoder may act on them. Rebuilding from decoded pixels keeps the picture
and nothing else. The rebuilt file:

- has the EXIF orientation applied, so its size is the size people see (a phone photo taken
  upright is portrait), and no metadata at all (EXIF, XMP, comments, ICC after conversion to sRGB);
- is a JPEG when the upload was a JPEG, otherwise a PNG (lossless; keeps transparency);
- must suit at least one screen class (:data:`CLASS_PICTURE_MIN`) and not be a sliver
  (:data:`MAX_ASPECT`); the classes it suits are recorded.

Animated GIFs, WebPs and PNGs become short H.264 videos (:func:`animation_to_video`): frames
decoded here and handed to ffmpeg at a constant frame rate, within limits on frames, size and
length. Refusals (:class:`MediaRefused`) carry a reason for people in both languages that never
shows a server path or decoder internals; the details go to the log.

Pure of HTTP and ORM: functions over paths. ffmpeg is the only subprocess.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import re
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageCms, ImageOps, ImageSequence, UnidentifiedImageError

from schedules.bilingual import Bilingual, TextTable
from schedules.model import Orientation, ScreenClass

log = logging.getLogger(__name__)

THUMB_SIZE = (320, 320)
IMAGE_DEFAULT_DURATION_S = 10.0
MAX_ASPECT = 4.0  # long side / short side: wider than a 32:9 banner is a sliver no screen shows
JPEG_QUALITY = 90


@dataclass(frozen=True)
class PictureMin:
    """The smallest picture a class shows without turning it into a blur: long and short side."""

    long_side: int
    short_side: int


# Outdoor LED walls have few physical pixels (a 192x96 module wall is common); indoor and kiosk
# panels are full HD, where anything under 320x180 is more than six times enlarged.
CLASS_PICTURE_MIN: dict[ScreenClass, PictureMin] = {
    ScreenClass.OUTDOOR_LARGE: PictureMin(192, 96),
    ScreenClass.INDOOR_SMALL: PictureMin(320, 180),
    ScreenClass.KIOSK: PictureMin(320, 180),
}

# Animated pictures become videos within these limits.
MAX_ANIMATION_FRAMES = 1500
MAX_ANIMATION_SECONDS = 120.0
MAX_ANIMATION_DECODE_PIXELS = 600_000_000  # frames x width x height decoded (CPU and time)
ANIMATION_FPS = 25
MIN_VIDEO_SECONDS = 10.0  # a shorter animation loops whole cycles to this (dwell rules drop shorter videos)
VIDEO_BOX = (1920, 1080)  # the largest picture any class shows; bigger animations are scaled down

REASONS = TextTable(
    {
        "empty": ("文件是空的。", "The file is empty."),
        "unsupported_type": (
            "不支持此文件类型：请上传 PNG、JPEG、WebP 或 GIF 图片，或 MP4/WebM 视频。",
            "Unsupported file type: upload a PNG, JPEG, WebP or GIF picture or an MP4/WebM video.",
        ),
        "image_damaged": (
            "图片已损坏或无法解码。",
            "The picture is damaged or cannot be decoded.",
        ),
        "image_bomb": (
            "图片有 {pixels} 像素，超过上限 {limit} 像素：疑似解压炸弹，已拒绝。",
            "The picture has {pixels} pixels, over the limit of {limit}: refused as a possible "
            "decompression bomb.",
        ),
        "image_too_small": (
            "图片为 {width}×{height} 像素，对所有屏幕都太小（至少 {need}）。",
            "The picture is {width}×{height} pixels, too small for every screen (at least {need}).",
        ),
        "image_aspect": (
            "图片为 {width}×{height} 像素，宽高比超过 {ratio}:1，任何屏幕都无法显示。",
            "The picture is {width}×{height} pixels: wider or taller than {ratio}:1, no screen can show it.",
        ),
        "animation_frames": (
            "动图有 {frames} 帧以上，最多允许 {limit} 帧。",
            "The animation has more than {frames} frames; at most {limit} are allowed.",
        ),
        "animation_long": (
            "动图时长 {seconds} 秒，最多允许 {limit} 秒。",
            "The animation lasts {seconds} s; at most {limit} s are allowed.",
        ),
        "animation_large": (
            "动图画面太多太大（{frames} 帧，{width}×{height}），请缩短或缩小后再上传。",
            "The animation has too many large frames ({frames} at {width}×{height}): shorten or shrink it.",
        ),
        "animation_failed": (
            "动图无法转换为视频。",
            "The animation could not be converted to a video.",
        ),
        "video_damaged": (
            "视频已损坏或不完整。",
            "The video is damaged or incomplete.",
        ),
        "video_no_stream": ("视频中没有可读取的画面。", "The video has no readable picture stream."),
        "video_duration_mismatch": (
            "视频文件声明时长 {claimed} 秒，但画面和声音只有 {actual} 秒：文件不一致，请重新导出。",
            "The video file says it lasts {claimed} s but its pictures and sound last {actual} s: "
            "the file is inconsistent, export it again.",
        ),
        "video_length": (
            "视频时长 {seconds} 秒，需在 0 到 {limit} 秒之间。",
            "The video lasts {seconds} s; it must be between 0 and {limit} s.",
        ),
        "video_huge": (
            "视频画面为 {width}×{height}，超过可处理的 {limit} 像素边长。",
            "The video is {width}×{height}, beyond the {limit}-pixel side we can process.",
        ),
        "video_undecodable": (
            "视频的画面无法解码（编码 {codec}）。",
            "The video's pictures cannot be decoded (codec {codec}).",
        ),
        "transcode_failed": (
            "视频转码失败，请换一种格式重新导出（推荐 H.264 MP4）。",
            "The video could not be converted: export it again (H.264 MP4 is best).",
        ),
    }
)


class MediaRefused(Exception):
    """An upload refused with a reason for people (both languages); ``status`` is the HTTP status."""

    def __init__(self, code: str, status: int = 422, **values: object) -> None:
        self.code = code
        self.status = status
        self.text: Bilingual = REASONS.both(code, **values)
        super().__init__(self.text.en)


@dataclass(frozen=True)
class RebuiltPicture:
    """A still picture rebuilt into ``path``: what it is, as people see it."""

    path: Path
    media_type: str  # image/jpeg | image/png
    width: int  # displayed (orientation applied)
    height: int
    sha256: str  # of the rebuilt file
    size: int
    thumbnail_png: bytes
    screen_classes: frozenset[ScreenClass]  # classes it is big enough for
    orientation_applied: int = 1  # the EXIF orientation that was applied (1: none)
    source_sha256: str = ""  # of the upload, for duplicate detection


@dataclass(frozen=True)
class Animation:
    """An animated picture's frames, ready to become a video."""

    frames: int
    seconds: float
    width: int
    height: int
    durations_ms: tuple[int, ...] = field(repr=False)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def suited_classes(width: int, height: int) -> frozenset[ScreenClass]:
    long_side, short_side = max(width, height), min(width, height)
    return frozenset(
        cls for cls, m in CLASS_PICTURE_MIN.items() if long_side >= m.long_side and short_side >= m.short_side
    )


def check_shape(width: int, height: int) -> frozenset[ScreenClass]:
    """The classes a picture (or video) of this displayed size suits; refuses slivers and specks."""
    if width < 1 or height < 1:
        raise MediaRefused("image_damaged")
    if max(width, height) / min(width, height) > MAX_ASPECT:
        raise MediaRefused("image_aspect", width=width, height=height, ratio=f"{MAX_ASPECT:g}")
    classes = suited_classes(width, height)
    if not classes:
        least = min(CLASS_PICTURE_MIN.values(), key=lambda m: m.long_side * m.short_side)
        raise MediaRefused(
            "image_too_small", width=width, height=height, need=f"{least.long_side}×{least.short_side}"
        )
    return classes


def orientation_of(width: int, height: int) -> frozenset[Orientation]:
    """Landscape or portrait by displayed shape (see the catalogue's SHAPE_RATIO for mixing)."""
    if width > height:
        return frozenset({Orientation.LANDSCAPE})
    if height > width:
        return frozenset({Orientation.PORTRAIT})
    return frozenset(Orientation)


def _open_checked(path: Path, max_pixels: int) -> Image.Image:
    """Open, refuse bombs before decoding, verify the structure, then reopen for a full decode."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as probe:
                width, height = probe.size
                if width * height > max_pixels:
                    raise MediaRefused("image_bomb", pixels=f"{width * height:,}", limit=f"{max_pixels:,}")
                probe.verify()
            return Image.open(path)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            # Pillow's own ceiling, met before the header's size is known to us
            found = re.search(r"\((\d+) pixels\)", str(exc))
            pixels = f"{int(found.group(1)):,}" if found else "?"
            raise MediaRefused("image_bomb", pixels=pixels, limit=f"{max_pixels:,}") from exc


def is_animated(path: Path, max_pixels: int) -> bool:
    """Whether the picture at ``path`` has more than one frame (GIF, WebP, APNG)."""
    try:
        with _open_checked(path, max_pixels) as img:
            return bool(getattr(img, "is_animated", False))
    except MediaRefused:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        log.info("picture refused as undecodable: %s", exc)
        raise MediaRefused("image_damaged") from exc


def _to_srgb(img: Image.Image) -> Image.Image:
    """Pixels in sRGB without an embedded profile (profiles can carry arbitrary bytes)."""
    icc = img.info.get("icc_profile")
    if icc and img.mode in ("RGB", "RGBA", "CMYK"):
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
            srgb = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(img, src, srgb, outputMode=out_mode)
            if converted is not None:
                img = converted
        except (ImageCms.PyCMSError, OSError, ValueError) as exc:
            log.info("ignoring an unusable colour profile: %s", exc)
    return img


def _flatten_mode(img: Image.Image) -> Image.Image:
    """RGB, or RGBA when the picture has transparency; 16-bit and float pictures scaled to 8 bits."""
    if img.mode in ("I", "I;16", "I;16B", "I;16L"):  # 16-bit greyscale: 0..65535
        img = img.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    elif img.mode == "F":
        img = img.convert("L")
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    if has_alpha:
        return img.convert("RGBA")
    return img.convert("RGB")


def _thumbnail(img: Image.Image) -> bytes:
    thumb = img.convert("RGB")
    thumb.thumbnail(THUMB_SIZE)
    out = io.BytesIO()
    thumb.save(out, "PNG")
    return out.getvalue()


def rebuild_picture(src: Path, dst_dir: Path, *, max_pixels: int) -> RebuiltPicture:
    """Decode the still picture at ``src`` and write a clean copy into ``dst_dir``.

    Raises :class:`MediaRefused` for damaged files, bombs, slivers and specks. Animated pictures
    are not handled here (see :func:`is_animated` and :func:`animation_to_video`).
    """
    try:
        with _open_checked(src, max_pixels) as img:
            source_format = img.format
            img.load()  # a full decode: truncated or corrupt data fails here
            orientation = int(img.getexif().get(0x0112, 1) or 1)
            upright = ImageOps.exif_transpose(img)
            pixels = _flatten_mode(_to_srgb(img if upright is None else upright))
    except MediaRefused:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        log.info("picture refused as undecodable: %s", exc)
        raise MediaRefused("image_damaged") from exc
    # Pillow writes what ``info`` holds (comments, EXIF, ICC, text chunks) back out: drop it all.
    pixels.info = {}
    width, height = pixels.size
    classes = check_shape(width, height)
    as_jpeg = source_format == "JPEG" and pixels.mode == "RGB"
    out = io.BytesIO()
    if as_jpeg:
        pixels.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        pixels.save(out, "PNG", optimize=False, compress_level=6)
    data = out.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    dst_dir.mkdir(parents=True, exist_ok=True)
    path = dst_dir / f"{digest}.{'jpg' if as_jpeg else 'png'}"
    path.write_bytes(data)
    return RebuiltPicture(
        path=path,
        media_type="image/jpeg" if as_jpeg else "image/png",
        width=width,
        height=height,
        sha256=digest,
        size=len(data),
        thumbnail_png=_thumbnail(pixels),
        screen_classes=classes,
        orientation_applied=orientation if 1 <= orientation <= 8 else 1,
        source_sha256=sha256_file(src),
    )


# --- animated pictures -> video ---------------------------------------------------------------


def _frame_ms(frame: Image.Image) -> int:
    """A frame's delay as browsers play it: missing or under 20 ms means 100 ms."""
    d = int(frame.info.get("duration", 0) or 0)
    return 100 if d < 20 else d


def inspect_animation(src: Path, *, max_pixels: int) -> Animation:
    """Count frames and time without decoding more than the limits allow; refuse beyond them."""
    try:
        with _open_checked(src, max_pixels) as img:
            width, height = img.size
            durations: list[int] = []
            for i in range(MAX_ANIMATION_FRAMES + 1):
                try:
                    img.seek(i)
                except EOFError:
                    break
                if "duration" not in img.info:
                    img.load()  # WebP tells a frame's delay only once it is decoded
                durations.append(_frame_ms(img))
            else:
                limit = MAX_ANIMATION_FRAMES
                raise MediaRefused("animation_frames", frames=limit, limit=limit)
    except MediaRefused:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        log.info("animation refused as undecodable: %s", exc)
        raise MediaRefused("image_damaged") from exc
    seconds = sum(durations) / 1000
    if seconds > MAX_ANIMATION_SECONDS:
        raise MediaRefused("animation_long", seconds=f"{seconds:.0f}", limit=f"{MAX_ANIMATION_SECONDS:.0f}")
    if len(durations) * width * height > MAX_ANIMATION_DECODE_PIXELS:
        raise MediaRefused("animation_large", frames=len(durations), width=width, height=height)
    check_shape(width, height)
    return Animation(len(durations), seconds, width, height, tuple(durations))


def _fit(width: int, height: int, box: tuple[int, int]) -> tuple[int, int]:
    """The even-sided size that fits ``box`` (either orientation) without enlarging."""
    long_box, short_box = max(box), min(box)
    scale = min(1.0, long_box / max(width, height), short_box / min(width, height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def _cfr_frames(img: Image.Image, anim: Animation, size: tuple[int, int]) -> Iterator[bytes]:
    """RGB frames at ANIMATION_FPS, each source frame repeated for its delay, whole cycles until
    MIN_VIDEO_SECONDS (the clock is kept exact over the run, so delays do not drift)."""
    cycles = max(1, math.ceil(MIN_VIDEO_SECONDS / anim.seconds)) if anim.seconds > 0 else 1
    emitted = 0
    elapsed_ms = 0
    for _ in range(cycles):
        for frame, ms in zip(ImageSequence.Iterator(img), anim.durations_ms, strict=False):
            rgb = frame.convert("RGBA")
            flat = Image.new("RGB", rgb.size, (0, 0, 0))
            flat.paste(rgb, mask=rgb.getchannel("A"))
            if flat.size != size:
                flat = flat.resize(size, Image.Resampling.LANCZOS)
            data = flat.tobytes()
            elapsed_ms += ms
            due = round(elapsed_ms * ANIMATION_FPS / 1000)
            while emitted < due:
                yield data
                emitted += 1


def animation_to_video(src: Path, dst: Path, *, max_pixels: int, ffmpeg: str = "ffmpeg") -> Animation:
    """Write the animated picture at ``src`` as an H.264 MP4 at ``dst`` (constant frame rate)."""
    anim = inspect_animation(src, max_pixels=max_pixels)
    size = _fit(anim.width, anim.height, VIDEO_BOX)
    cmd = [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size[0]}x{size[1]}", "-r", str(ANIMATION_FPS),
        "-i", "pipe:0", "-an", "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high",
        "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(dst),
    ]  # fmt: skip
    try:
        with Image.open(src) as img, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
            assert proc.stdin is not None
            try:
                for data in _cfr_frames(img, anim, size):
                    proc.stdin.write(data)
                proc.stdin.close()
            except BrokenPipeError:
                pass  # ffmpeg stopped reading: its exit status and message say why
            proc.wait(timeout=600)
            err.seek(0)
            message = err.read()[-500:].decode(errors="replace")
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        log.warning("animation conversion failed: %s", exc)
        raise MediaRefused("animation_failed") from exc
    if proc.returncode != 0 or not dst.exists() or dst.stat().st_size == 0:
        log.warning("ffmpeg refused the animation (exit %s): %s", proc.returncode, message)
        raise MediaRefused("animation_failed")
    return anim
