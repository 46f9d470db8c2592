"""Uploaded videos: refused when inconsistent, transcoded when players would not decode them well.

Three steps, each a function over paths (no HTTP, no ORM):

1. :func:`probe` asks ffprobe for the container and stream facts *and* for every packet's
   timestamps, and :func:`check_consistent` refuses a file whose container claims a duration its
   streams do not have (a lying header, or a truncated file whose index survived). Packets
   are the truth: they are what a player will actually play.
2. :func:`playback_problems` lists why a consistent video would not play well on the players
   (H.264 High/Main/Baseline, 8-bit 4:2:0, within :data:`TARGET_BOX`, constant frame rate at most
   60 fps, progressive, unrotated, AAC or no sound, MP4): an empty list means store it as it came.
3. :func:`transcode` rewrites the rest into that shape with ffmpeg, reporting progress through a
   callback (ffmpeg's ``-progress`` stream, parsed by :func:`parse_progress`) and stopping when
   asked. The job that runs it in the background belongs to the server; this is the work.

Refusal reasons are :class:`~content_server.signage.media_rebuild.MediaRefused` (people's words in both
languages); ffmpeg's own messages, which name paths and memory addresses, only go to the log.
"""

from __future__ import annotations

import itertools
import logging
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from content_server.signage.media_rebuild import MediaRefused

log = logging.getLogger(__name__)

MAX_SECONDS = 3600.0
MAX_SIDE = 8192  # beyond this ffmpeg decodes too slowly to transcode in reasonable time
TARGET_BOX = (1920, 1080)  # the largest picture any screen class shows (either orientation)
MAX_FPS = 60.0
PLAYABLE_PROFILES = frozenset({"Constrained Baseline", "Baseline", "Main", "High"})
PLAYABLE_PIX_FMTS = frozenset({"yuv420p", "yuvj420p"})
PLAYABLE_CONTAINERS = ("mov,mp4,m4a,3gp,3g2,mj2",)
DURATION_TOLERANCE_S = 1.0  # and 5 %: muxers round, audio and video end a frame apart
VFR_TOLERANCE = 0.10  # a frame interval this far from the usual one is a variable-rate frame
VFR_SHARE = 0.02  # more than this share of such intervals: variable frame rate


@dataclass(frozen=True)
class StreamFacts:
    index: int
    kind: str  # video | audio | subtitle | data
    codec: str
    profile: str = ""
    pix_fmt: str = ""
    width: int = 0
    height: int = 0
    declared_s: float | None = None  # the stream's own duration claim
    frame_rate: float = 0.0  # average
    field_order: str = ""
    rotation: int = 0  # degrees, from the display matrix
    channels: int = 0


@dataclass(frozen=True)
class PacketTiming:
    """What the packets of one stream say: count, span and frame intervals."""

    count: int
    start_s: float
    end_s: float  # the last packet's time plus its duration
    intervals: tuple[float, ...] = field(repr=False)

    @property
    def seconds(self) -> float:
        return max(0.0, self.end_s - self.start_s)


@dataclass(frozen=True)
class VideoFacts:
    container: str
    declared_s: float | None  # the container's duration claim
    streams: tuple[StreamFacts, ...]
    packets: dict[int, PacketTiming]  # by stream index

    @property
    def video(self) -> StreamFacts:
        return next(s for s in self.streams if s.kind == "video")

    @property
    def audio(self) -> tuple[StreamFacts, ...]:
        return tuple(s for s in self.streams if s.kind == "audio")

    @property
    def seconds(self) -> float:
        """The playing time: the longest stream by its packets."""
        spans = [self.packets[s.index].seconds for s in self.streams if s.index in self.packets]
        return max(spans, default=0.0)

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as people see the video (rotation applied)."""
        v = self.video
        return (v.height, v.width) if v.rotation % 180 else (v.width, v.height)


def _float(value: object) -> float | None:
    try:
        f = float(str(value))
    except (TypeError, ValueError):
        return None
    return f if f == f and f not in (float("inf"), float("-inf")) else None


def _rate(value: object) -> float:
    try:
        r = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(r) if r > 0 else 0.0


class _SideData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    rotation: float | None = None


class _ProbeStream(BaseModel):
    """One stream as ffprobe's JSON describes it (only what we use)."""

    model_config = ConfigDict(extra="ignore")

    index: int = 0
    codec_type: str = ""
    codec_name: str = ""
    profile: str = ""
    pix_fmt: str = ""
    width: int = 0
    height: int = 0
    duration: str | None = None
    avg_frame_rate: str = ""
    r_frame_rate: str = ""
    field_order: str = ""
    channels: int = 0
    disposition: dict[str, int] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    side_data_list: list[_SideData] = Field(default_factory=list)

    def rotation(self) -> int:
        for side in self.side_data_list:
            if side.rotation is not None:
                return int(side.rotation) % 360
        return int(_float(self.tags.get("rotate")) or 0) % 360


class _ProbeFormat(BaseModel):
    model_config = ConfigDict(extra="ignore")

    format_name: str = ""
    duration: str | None = None


class _Probe(BaseModel):
    model_config = ConfigDict(extra="ignore")

    format: _ProbeFormat = Field(default_factory=_ProbeFormat)
    streams: list[_ProbeStream] = Field(default_factory=list)


def parse_streams(raw_json: bytes | str) -> tuple[str, float | None, tuple[StreamFacts, ...]]:
    """Container name, its duration claim and the streams, from ffprobe's format/streams JSON."""
    info = _Probe.model_validate_json(raw_json)
    streams: list[StreamFacts] = []
    for raw in info.streams:
        kind = raw.codec_type
        if kind == "video" and raw.disposition.get("attached_pic"):
            kind = "cover"  # an album-art picture, not the video
        streams.append(
            StreamFacts(
                index=raw.index,
                kind=kind,
                codec=raw.codec_name,
                profile=raw.profile,
                pix_fmt=raw.pix_fmt,
                width=raw.width,
                height=raw.height,
                declared_s=_float(raw.duration),
                frame_rate=_rate(raw.avg_frame_rate) or _rate(raw.r_frame_rate),
                field_order=raw.field_order,
                rotation=raw.rotation(),
                channels=raw.channels,
            )
        )
    return info.format.format_name, _float(info.format.duration), tuple(streams)


def parse_packets(lines: Iterable[str]) -> dict[int, PacketTiming]:
    """Per-stream timing from ffprobe's packet list (``stream_index,pts_time,duration_time`` as CSV)."""
    times: dict[int, list[tuple[float, float]]] = {}
    for line in lines:
        parts = line.strip().split(",")
        if len(parts) < 2 or not parts[0].isdigit():
            continue
        pts = _float(parts[1])
        if pts is None:
            continue
        times.setdefault(int(parts[0]), []).append((pts, _float(parts[2]) or 0.0 if len(parts) > 2 else 0.0))
    out: dict[int, PacketTiming] = {}
    for index, packets in times.items():
        packets.sort()
        starts = [p for p, _ in packets]
        end = max(p + d for p, d in packets)
        out[index] = PacketTiming(
            count=len(packets),
            start_s=starts[0],
            end_s=end,
            intervals=tuple(b - a for a, b in itertools.pairwise(starts)),
        )
    return out


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("%s failed: %s", cmd[0], exc)
        raise MediaRefused("video_damaged") from exc


def probe(path: Path, *, ffprobe: str = "ffprobe") -> VideoFacts:
    """Container, streams and packet timing of the video at ``path``; refuses unreadable files."""
    res = _run([ffprobe, "-v", "error", "-of", "json", "-show_format", "-show_streams", str(path)], 60)
    if res.returncode != 0:
        log.info("ffprobe could not read an upload: %s", res.stderr.decode(errors="replace")[-300:])
        raise MediaRefused("video_damaged")
    try:
        container, declared, streams = parse_streams(res.stdout)
    except ValidationError as exc:
        raise MediaRefused("video_damaged") from exc
    if not any(s.kind == "video" and s.width > 0 and s.height > 0 for s in streams):
        raise MediaRefused("video_no_stream")
    pk = _run(
        [ffprobe, "-v", "error", "-show_entries", "packet=stream_index,pts_time,duration_time",
         "-of", "csv=p=0", str(path)],
        300,
    )  # fmt: skip
    packets = parse_packets(pk.stdout.decode(errors="replace").splitlines())
    return VideoFacts(container, declared, streams, packets)


def check_consistent(facts: VideoFacts) -> None:
    """Refuse a file whose container or stream headers claim a duration the packets do not have."""
    v = facts.video
    timing = facts.packets.get(v.index)
    if timing is None or timing.count < 1:
        raise MediaRefused("video_no_stream")
    actual = facts.seconds
    claims = [facts.declared_s] + [s.declared_s for s in facts.streams if s.kind in ("video", "audio")]
    for claim in claims:
        if claim is None:
            continue
        if abs(claim - actual) > max(DURATION_TOLERANCE_S, 0.05 * actual):
            log.info("duration mismatch: claims %s s, packets %.3f s", claims, actual)
            raise MediaRefused("video_duration_mismatch", claimed=f"{claim:.1f}", actual=f"{actual:.1f}")
    if not 0 < actual <= MAX_SECONDS:
        raise MediaRefused("video_length", seconds=f"{actual:.1f}", limit=f"{MAX_SECONDS:.0f}")
    w, h = v.width, v.height
    if max(w, h) > MAX_SIDE:
        raise MediaRefused("video_huge", width=w, height=h, limit=MAX_SIDE)


def is_variable_rate(timing: PacketTiming) -> bool:
    """Whether frame intervals vary (a phone's VFR recording, a screen capture), not just jitter."""
    gaps = [g for g in timing.intervals if g > 0]
    if len(gaps) < 4:
        return False
    usual = statistics.median(gaps)
    odd = sum(1 for g in gaps if abs(g - usual) > VFR_TOLERANCE * usual)
    return odd > VFR_SHARE * len(gaps)


def playback_problems(facts: VideoFacts) -> tuple[str, ...]:
    """Why this video would not play well as it is (empty: store it unchanged). Stable codes."""
    v = facts.video
    out: list[str] = []
    if not facts.container.startswith(PLAYABLE_CONTAINERS):
        out.append("container")
    if v.codec != "h264":
        out.append("codec")
    elif v.profile not in PLAYABLE_PROFILES:
        out.append("profile")
    if v.pix_fmt not in PLAYABLE_PIX_FMTS:
        out.append("pixel_format")
    width, height = facts.display_size
    if max(width, height) > max(TARGET_BOX) or min(width, height) > min(TARGET_BOX):
        out.append("resolution")
    if v.frame_rate > MAX_FPS + 0.01:
        out.append("frame_rate")
    timing = facts.packets.get(v.index)
    if timing is not None and is_variable_rate(timing):
        out.append("variable_frame_rate")
    if v.field_order not in ("", "progressive", "unknown"):
        out.append("interlaced")
    if v.rotation:
        out.append("rotation")
    if any(a.codec != "aac" or a.channels > 2 for a in facts.audio) or len(facts.audio) > 1:
        out.append("audio")
    return tuple(out)


# --- transcoding ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TranscodeProgress:
    fraction: float  # 0..1 of the output written
    done_s: float  # seconds of the video written so far
    speed: float | None  # times real time, as ffmpeg reports it


def target_size(width: int, height: int) -> tuple[int, int]:
    """The even-sided output size within TARGET_BOX (either orientation), never enlarged."""
    long_box, short_box = max(TARGET_BOX), min(TARGET_BOX)
    scale = min(1.0, long_box / max(width, height), short_box / min(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def output_rate(facts: VideoFacts) -> float:
    """A constant output frame rate: the source's average, at most MAX_FPS, else 25."""
    rate = facts.video.frame_rate
    timing = facts.packets.get(facts.video.index)
    if timing is not None and timing.count > 1 and timing.seconds > 0:
        rate = (timing.count - 1) / timing.seconds if rate <= 0 else rate
    if rate <= 0:
        return 25.0
    return round(min(rate, MAX_FPS), 3)


def transcode_command(src: Path, dst: Path, facts: VideoFacts, *, ffmpeg: str = "ffmpeg") -> list[str]:
    """ffmpeg's arguments that turn ``src`` into a player-friendly MP4 at ``dst`` with progress on stdout."""
    width, height = target_size(*facts.display_size)
    filters = []
    if facts.video.field_order not in ("", "progressive", "unknown"):
        filters.append("yadif")
    filters += [f"scale={width}:{height}:flags=lanczos", "setsar=1", "format=yuv420p"]
    cmd = [
        ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error", "-i", str(src),
        "-map", "0:v:0", "-map", "0:a:0?", "-vf", ",".join(filters),
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-crf", "21",
        "-fps_mode", "cfr", "-r", f"{output_rate(facts):g}",
        "-c:a", "aac", "-b:a", "128k", "-ac", "2",
        "-map_metadata", "-1", "-movflags", "+faststart",
        "-progress", "pipe:1", "-stats_period", "0.25", "-nostats", str(dst),
    ]  # fmt: skip
    return cmd


def parse_progress(lines: Iterable[str], total_s: float) -> Iterable[TranscodeProgress]:
    """ffmpeg ``-progress`` key=value blocks (each ends with ``progress=``) as progress reports."""
    done_s = 0.0
    speed: float | None = None
    for line in lines:
        key, _, value = line.strip().partition("=")
        if key in ("out_time_us", "out_time_ms"):  # both are microseconds in ffmpeg
            us = _float(value)
            if us is not None and us >= 0:
                done_s = us / 1_000_000
        elif key == "speed":
            speed = _float(value.rstrip("x"))
        elif key == "progress":
            fraction = 1.0 if value == "end" else min(done_s / total_s, 0.999) if total_s > 0 else 0.0
            yield TranscodeProgress(round(fraction, 4), round(done_s, 3), speed)


def transcode(
    src: Path,
    dst: Path,
    facts: VideoFacts,
    *,
    on_progress: Callable[[TranscodeProgress], None] = lambda _p: None,
    stop: threading.Event | None = None,
    ffmpeg: str = "ffmpeg",
    ffprobe: str = "ffprobe",
    timeout_s: float = 4 * 3600,
) -> VideoFacts:
    """Rewrite ``src`` as a player-friendly MP4 at ``dst``; returns the output's facts (checked).

    ``on_progress`` is called from this thread after each ffmpeg report; setting ``stop`` ends
    the work (the partial output is removed) with :class:`TranscodeStopped`.
    """
    cmd = transcode_command(src, dst, facts, ffmpeg=ffmpeg)
    started = time.monotonic()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1)
        assert proc.stdout is not None
        watchdog = threading.Thread(target=_watch, args=(proc, stop, started, timeout_s), daemon=True)
        watchdog.start()
        try:
            for report in parse_progress(proc.stdout, facts.seconds):
                on_progress(report)
        finally:
            proc.stdout.close()
            proc.wait()
            watchdog.join(timeout=5)
        err.seek(0)
        message = err.read()[-500:].decode(errors="replace")
    if stop is not None and stop.is_set():
        dst.unlink(missing_ok=True)
        raise TranscodeStopped()
    if proc.returncode != 0:
        log.warning("transcoding failed (exit %s): %s", proc.returncode, message)
        dst.unlink(missing_ok=True)
        raise MediaRefused("transcode_failed")
    out = probe(dst, ffprobe=ffprobe)
    check_consistent(out)
    left = playback_problems(out)
    if left:
        log.warning("transcoded output still has problems: %s", left)
        dst.unlink(missing_ok=True)
        raise MediaRefused("transcode_failed")
    return out


class TranscodeStopped(Exception):
    """The transcoding was asked to stop (the upload was deleted, the server is shutting down)."""


def _watch(
    proc: subprocess.Popen[str], stop: threading.Event | None, started: float, timeout_s: float
) -> None:
    """Terminate ffmpeg when asked to stop or when it runs past ``timeout_s``."""
    while proc.poll() is None:
        if (stop is not None and stop.wait(0.2)) or time.monotonic() - started > timeout_s:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            return
        if stop is None:
            time.sleep(0.2)
