"""Benchmark: the real player loop offscreen (Qt widgets + libVLC) through thousands of item switches.

Each switch also writes its proof-of-play record to a real outbox on disk (SQLite, WAL,
synchronous FULL), as the player does (``--no-outbox`` leaves it out). Measures the gap from
each item's scheduled start to its first painted frame, RSS growth between
switch 1,000 and the last one, and cold start (Qt, libVLC, view, loop) to first frame from a warm
cache. Items are shortened ("clock accelerated") as far as the media allows: images for
``--image-s``, videos for ``--video-s``. Prints one JSON line last.

    .venv/bin/python bench/player_loop.py [--switches 10000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from schedules.clock import MovableClock
    from schedules.model import ContentItem
    from signage_player.cache import AssetCache
    from signage_player.media import VlcBackend
    from signage_player.outbox import Outbox
    from signage_player.playloop import PlayLoop
    from signage_player.view import SignageView

T_PROCESS = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_media(d: Path) -> dict[str, Path]:
    from PIL import Image, ImageDraw

    files = {}
    shapes = [(1920, 1080, (30, 90, 200)), (1080, 1920, (200, 60, 60)), (1280, 720, (40, 160, 80)),
              (800, 600, (220, 180, 40))]
    for i, (w, h, colour) in enumerate(shapes):
        img = Image.new("RGB", (w, h), colour)
        ImageDraw.Draw(img).ellipse((w // 4, h // 4, 3 * w // 4, 3 * h // 4), fill=(255, 255, 255))
        p = d / f"img{i}.png" if i % 2 == 0 else d / f"img{i}.jpg"
        img.save(p)
        files[p.name] = p
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg:
        for name, size in (("v0.mp4", "640x360"), ("v1.mp4", "480x360")):
            cmd = [ffmpeg, "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size={size}:rate=25",
                   "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                   "-movflags", "+faststart", str(d / name)]
            subprocess.run(cmd, check=True)
            files[name] = d / name
    return files


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--switches", type=int, default=10_000)
    ap.add_argument("--image-s", type=float, default=0.012, help="image duration (accelerated)")
    ap.add_argument("--video-s", type=float, default=0.25, help="video duration (cut short)")
    ap.add_argument("--video-every", type=int, default=20, help="one video item per this many items")
    ap.add_argument("--lead-s", type=float, default=0.3,
                    help="image before each video: time to preroll it (real items last seconds)")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--no-outbox", action="store_true",
                    help="skip the proof-of-play outbox (the real player writes one record per switch)")
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    width, height = (int(x) for x in args.size.split("x"))

    tmp = Path(tempfile.mkdtemp(prefix="player-bench-"))
    try:
        return run(args, tmp, width, height)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def media_sequence(tmp: Path, image_s: float, video_s: float, video_every: int,
                   lead_s: float) -> tuple[AssetCache, list[ContentItem]]:
    """Test media in a warm cache under ``tmp`` and the looped sequence: images, a lead image, a video."""
    import hashlib

    from schedules.model import ContentItem, ItemKind
    from schedules.protocol.device import AssetRef
    from signage_player.cache import AssetCache

    (tmp / "media").mkdir()
    media = make_media(tmp / "media")
    cache = AssetCache(tmp / "cache", 10**10)
    items: list[ContentItem] = []
    for name, path in sorted(media.items()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        ref = AssetRef(sha256=digest, size=path.stat().st_size, media_type="x", url="/")
        cache.fetch(ref, lambda part, path=path: part.write_bytes(path.read_bytes()))  # warm cache
        video = name.endswith(".mp4")
        kind = ItemKind.VIDEO if video else ItemKind.IMAGE
        items.append(ContentItem(id=name, kind=kind, asset_sha256=digest,
                                 duration_s=video_s if video else image_s))
    images = [i for i in items if i.kind is ItemKind.IMAGE]
    videos = [i for i in items if i.kind is ItemKind.VIDEO]
    sequence: list[ContentItem] = []
    for k in range(video_every * max(1, len(videos))):
        if videos and k % video_every == video_every - 1:
            sequence.append(videos[(k // video_every) % len(videos)])
        elif videos and k % video_every == video_every - 2:
            lead = images[k % len(images)]
            sequence.append(lead.model_copy(update={"id": lead.id + "+lead", "duration_s": lead_s}))
        else:
            sequence.append(images[k % len(images)])
    return cache, sequence


@dataclass
class Player:
    """The real player parts, offscreen: Qt application, libVLC back end, view and play loop."""

    app: QApplication
    backend: VlcBackend
    view: SignageView
    clock: MovableClock
    loop: PlayLoop


def start_player(cache: AssetCache, width: int, height: int, outbox: Outbox | None = None) -> Player:
    """Qt, libVLC, view and loop, shown at ``width`` x ``height``; the loop is not started yet."""
    from signage_player.allocator import pin_mmap_threshold
    from signage_player.qtcompat import make_singletons_immortal

    make_singletons_immortal()
    pin_mmap_threshold()  # as signage_player.main does
    from PySide6.QtWidgets import QApplication

    from schedules.clock import MovableClock
    from signage_player.media import VlcBackend
    from signage_player.playloop import PlayLoop
    from signage_player.view import SignageView

    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    backend = VlcBackend(wait=False)
    view = SignageView(backend)
    view.resize(width, height)
    view.show()
    clock = MovableClock(dt.datetime.now(dt.UTC), running=True)
    loop = PlayLoop(view, cache.path_if_valid, clock=clock, outbox=outbox)
    return Player(app, backend, view, clock, loop)


def run(args: argparse.Namespace, tmp: Path, width: int, height: int) -> int:
    cache, sequence = media_sequence(tmp, args.image_s, args.video_s, args.video_every, args.lead_s)

    # ---- cold start: Qt, libVLC, view, loop -> first painted frame (warm cache) ----
    t_cold = time.perf_counter()
    from PySide6.QtCore import QTimer

    from signage_player.outbox import Outbox
    from signage_player.program import LoopProgram

    outbox = None if args.no_outbox else Outbox(tmp / "outbox.db")  # on disk, WAL + synchronous FULL
    player = start_player(cache, width, height, outbox)
    app, backend, clock, loop = player.app, player.backend, player.clock, player.loop
    state = {"switches": 0, "first_frame_ms": None, "rss_1000": None, "rss_end": None}
    gaps: list[float] = []
    by_kind: dict[bool, list[float]] = {}

    def on_frame(item_id: str, gap_s: float) -> None:
        n = state["switches"] = int(state["switches"] or 0) + 1
        if state["first_frame_ms"] is None:
            state["first_frame_ms"] = (time.perf_counter() - t_cold) * 1000
        else:
            gaps.append(gap_s * 1000)
            if os.environ.get("BENCH_DEBUG"):
                by_kind.setdefault(item_id.endswith(".mp4"), []).append(gap_s * 1000)
                if n % 250 == 0:
                    print("debug", n, round(rss_mb(), 1), file=sys.stderr)
        if n == 1000:
            state["rss_1000"] = rss_mb()
        if n >= args.switches:
            state["rss_end"] = rss_mb()
            app.quit()

    loop.frame_shown.connect(on_frame)
    loop.set_program(LoopProgram(sequence, clock.now()))
    QTimer.singleShot(0, loop.start)
    watchdog = QTimer()
    watchdog.setSingleShot(True)
    watchdog.timeout.connect(app.quit)
    per_item = args.image_s + (args.video_s + args.lead_s) / args.video_every
    watchdog.start(int((args.switches * per_item + 120) * 1000))
    app.exec()
    loop.stop()
    backend.close()
    recorded = outbox.count() if outbox is not None else None
    if outbox is not None:
        outbox.close()

    gaps.sort()
    for video, g in by_kind.items():
        g.sort()
        print("debug video" if video else "debug image", len(g), [round(g[int(q * (len(g) - 1))], 1)
              for q in (0.5, 0.9, 0.99, 1.0)], file=sys.stderr)

    def pct(p: float) -> float:
        return round(gaps[min(len(gaps) - 1, int(p / 100 * len(gaps)))], 2) if gaps else float("nan")

    rss_growth = (state["rss_end"] or 0) - (state["rss_1000"] or 0) if state["rss_1000"] else None
    print(json.dumps({
        "bench": "player_loop",
        "switches": state["switches"],
        "switch_gap_ms_p50": pct(50),
        "switch_gap_ms_p99": pct(99),
        "rss_growth_mb": round(rss_growth, 2) if rss_growth is not None else None,
        "first_frame_ms": round(float(state["first_frame_ms"] or 0), 1),
        "plays_recorded": recorded,
    }))
    return 0 if state["switches"] >= args.switches else 1


if __name__ == "__main__":
    raise SystemExit(main())
