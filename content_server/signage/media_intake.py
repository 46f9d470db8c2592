"""One entry for every upload: what the bytes are, then the rebuilt or checked file to store.

Still pictures are rebuilt (:mod:`content_server.signage.media_rebuild`), animated pictures become
videos, videos are checked for consistency and for what players decode well
(:mod:`content_server.signage.media_video`). The result says which file to keep, what it is as people
see it, and, for a video players would not decode well, why it still needs transcoding (the
server runs that as a background job and serves nothing until it is done). Pure of HTTP and ORM.
"""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from content_server.signage.media_check import sniff
from content_server.signage.media_rebuild import (
    IMAGE_DEFAULT_DURATION_S,
    THUMB_SIZE,
    MediaRefused,
    animation_to_video,
    check_shape,
    is_animated,
    rebuild_picture,
    sha256_file,
)
from content_server.signage.media_video import VideoFacts, check_consistent, playback_problems, probe
from schedules.model import ScreenClass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Intake:
    """What to store for one upload."""

    kind: str  # image | video
    path: Path  # the file to store: rebuilt picture, converted animation, or the checked video
    media_type: str
    width: int  # as displayed
    height: int
    duration_s: float
    codec: str
    thumbnail_png: bytes
    screen_classes: frozenset[ScreenClass]
    source_sha256: str  # of the upload as it came (duplicate detection)
    needs_transcode: tuple[str, ...] = ()  # why players would not decode it well; empty: ready
    from_animation: bool = False
    facts: VideoFacts | None = None


def intake(
    upload: Path, work_dir: Path, *, max_pixels: int, ffmpeg: str = "ffmpeg", ffprobe: str = "ffprobe"
) -> Intake:
    """Decide what ``upload`` is and produce the file to store in ``work_dir`` (or refuse)."""
    with open(upload, "rb") as f:
        head = f.read(32)
    if not head:
        raise MediaRefused("empty")
    media_type = sniff(head)
    if media_type is None:
        raise MediaRefused("unsupported_type", status=415)
    source_sha = sha256_file(upload)
    if media_type.startswith("image/"):
        if not is_animated(upload, max_pixels):
            pic = rebuild_picture(upload, work_dir, max_pixels=max_pixels)
            return Intake(
                kind="image",
                path=pic.path,
                media_type=pic.media_type,
                width=pic.width,
                height=pic.height,
                duration_s=IMAGE_DEFAULT_DURATION_S,
                codec="",
                thumbnail_png=pic.thumbnail_png,
                screen_classes=pic.screen_classes,
                source_sha256=source_sha,
            )
        work_dir.mkdir(parents=True, exist_ok=True)
        converted = work_dir / f"{source_sha}.anim.mp4"
        animation_to_video(upload, converted, max_pixels=max_pixels, ffmpeg=ffmpeg)
        got = check_video(converted, ffmpeg=ffmpeg, ffprobe=ffprobe, source_sha256=source_sha)
        return dataclasses.replace(got, from_animation=True)
    return check_video(upload, ffmpeg=ffmpeg, ffprobe=ffprobe, source_sha256=source_sha)


def check_video(path: Path, *, ffmpeg: str, ffprobe: str, source_sha256: str = "") -> Intake:
    """Probe, refuse inconsistent or undecodable videos, and list what needs transcoding."""
    facts = probe(path, ffprobe=ffprobe)
    check_consistent(facts)
    if _scan_packets(path, ffmpeg):
        raise MediaRefused("video_damaged")
    width, height = facts.display_size
    classes = check_shape(width, height)
    thumb = video_thumbnail(path, ffmpeg, min(1.0, facts.seconds / 2))
    if thumb is None:
        raise MediaRefused("video_undecodable", codec=facts.video.codec or "?")
    return Intake(
        kind="video",
        path=path,
        media_type="video/mp4" if facts.container.startswith("mov,mp4") else "video/webm",
        width=width,
        height=height,
        duration_s=round(facts.seconds, 3),
        codec=facts.video.codec,
        thumbnail_png=thumb,
        screen_classes=classes,
        source_sha256=source_sha256 or sha256_file(path),
        needs_transcode=playback_problems(facts),
        facts=facts,
    )


def _scan_packets(path: Path, ffmpeg: str) -> bool:
    """True when reading every packet (no decoding) reports errors: a truncated or corrupt file."""
    cmd = [ffmpeg, "-v", "error", "-nostdin", "-i", str(path), "-map", "0", "-c", "copy", "-f", "null", "-"]
    try:
        res = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("packet scan failed: %s", exc)
        return True
    if res.returncode != 0 or res.stderr.strip():
        log.info("packet scan found problems: %s", res.stderr.decode(errors="replace")[-300:])
        return True
    return False


def video_thumbnail(path: Path, ffmpeg: str, at_s: float) -> bytes | None:
    """A PNG of the frame at ``at_s`` (decoding proves the pictures decode), or None."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "t.png"
        cmd = [
            ffmpeg, "-v", "error", "-nostdin", "-ss", f"{at_s:.2f}", "-i", str(path), "-frames:v", "1",
            "-vf", f"scale={THUMB_SIZE[0]}:-2", str(out),
        ]  # fmt: skip
        try:
            subprocess.run(cmd, capture_output=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.read_bytes() if out.exists() and out.stat().st_size else None
