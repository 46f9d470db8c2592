"""Soak: the real player and the real kiosk offscreen for a long accelerated run; fails on growth.

The player (Qt widgets + libVLC, proof of play into its SQLite outbox, uploads acknowledged
every few hundred switches) runs ``--switches`` item switches; the kiosk (fake API in process,
real Qt thread-pool runner) runs ``--sessions`` resident sessions, each ending in the idle reset:
attract -> start -> category -> service -> slot -> phone -> confirm -> pay, then untouched while
the clock moves until the warning counts down and the kiosk is back on the attract loop.

Each part runs in its own process (clean per-app RSS; one QApplication per process), both at
once. RSS, open fds and threads are sampled after a warm-up and then at ``SAMPLES`` even
intervals; growth is the floor (minimum) of the last ``WINDOW`` samples minus the floor of the
first ``WINDOW`` (a transient decoder thread or fd is not growth, a leak raises the floor).
Caches (decoded images, video probes, posters, QR lru caches, pixmaps), live widgets and the
outbox files are checked too. Data lives on /dev/shm when present so fsync does not set the pace.
The last stdout line is one JSON object; the exit status is 1 when a bound is exceeded.

    .venv/bin/python bench/soak.py [--switches 50000] [--sessions 5000]
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import datetime as dt
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

RSS_GROWTH_MB = 10.0  # after warm-up: 50,000 switches leaking 200 bytes each would already pass it
FD_GROWTH = 2  # every file, pipe and socket is opened per use and closed; a leak of one per item fails
THREAD_GROWTH = 2  # libVLC and the kiosk's pool reuse their threads; a thread per video or job fails
WIDGET_GROWTH = 0  # back on the attract loop the kiosk window holds the same widgets every time
OUTBOX_MB = 16.0  # acknowledged entries free their pages; the WAL is checkpointed at ~4 MB
CACHE_ENTRIES = 300  # the bounded caches cap at 256 video probes and a few dozen images or QR codes

SAMPLES = 40  # sampling points after the warm-up
WINDOW = 5  # samples whose minimum is taken at the start and at the end
ACK_EVERY = 500  # the player's proof-of-play upload acknowledges its outbox every this many switches
TICK_S = 30  # simulated seconds between kiosk ticks on the untouched pay screen (real: 1 s)


@dataclass(frozen=True)
class Sample:
    rss_mb: float
    heap_used_mb: float  # C heap in use (malloc'd and not freed: Qt, libVLC, SQLite)
    heap_free_mb: float  # freed C heap the allocator keeps in its arenas (RSS, but no leak)
    fds: int
    threads: int


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
        "keepcost")]


def _heap_mb() -> tuple[float, float]:
    """glibc's totals over all arenas (0, 0 elsewhere); reading them changes nothing, unlike a trim."""
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except AttributeError:
        return 0.0, 0.0
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return (info.uordblks + info.hblkhd) / 2**20, info.fordblks / 2**20


def sample() -> Sample:
    """RSS, C heap, open file descriptors and threads of this process, from /proc and glibc."""
    rss_kb = threads = 0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    used, free = _heap_mb()
    return Sample(rss_kb / 1024, used, free, len(os.listdir("/proc/self/fd")), threads)


def growth(samples: list[Sample], field: str) -> float:
    """Floor of the last WINDOW samples minus the floor of the first WINDOW."""
    values = [getattr(s, field) for s in samples]
    if not values:
        return 0.0
    window = max(1, min(WINDOW, len(values) // 2))
    return min(values[-window:]) - min(values[:window])


def type_counts() -> collections.Counter[str]:
    gc.collect()
    return collections.Counter(type(o).__qualname__ for o in gc.get_objects())


def top_growth(before: collections.Counter[str], after: collections.Counter[str],
               n: int = 8) -> dict[str, int]:
    """The Python object types whose live count grew most (the first place to look for a leak)."""
    diff = after.copy()
    diff.subtract(before)
    return {k: v for k, v in diff.most_common(n) if v > 0}


def file_mb(*paths: Path) -> float:
    return sum(p.stat().st_size for p in paths if p.exists()) / 2**20


def outbox_files(db: Path) -> list[Path]:
    return [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]


def scratch_dir(prefix: str) -> Path:
    shm = Path("/dev/shm")
    return Path(tempfile.mkdtemp(prefix=prefix, dir=shm if shm.is_dir() else None))


class Sampler:
    """Takes a sample after ``warmup`` steps and then every ``interval`` steps up to ``total``."""

    def __init__(self, warmup: int, total: int) -> None:
        self.warmup = warmup
        self.interval = max(1, (total - warmup) // SAMPLES)
        self.samples: list[Sample] = []
        self.types_before: collections.Counter[str] | None = None

    def due(self, n: int) -> bool:
        return n >= self.warmup and (n - self.warmup) % self.interval == 0

    def take(self) -> None:
        if self.types_before is None:
            self.types_before = type_counts()
        self.samples.append(sample())

    def summary(self) -> dict[str, Any]:
        return {
            "rss_growth_mb": round(growth(self.samples, "rss_mb"), 2),
            "heap_used_growth_mb": round(growth(self.samples, "heap_used_mb"), 2),
            "fd_growth": int(growth(self.samples, "fds")),
            "thread_growth": int(growth(self.samples, "threads")),
            "rss_mb": [round(s.rss_mb, 1) for s in self.samples],
            "heap_used_mb": [round(s.heap_used_mb, 1) for s in self.samples],
            "heap_free_mb": [round(s.heap_free_mb, 1) for s in self.samples],
            "fds": [s.fds for s in self.samples],
            "threads": [s.threads for s in self.samples],
            "top_type_growth": top_growth(self.types_before or collections.Counter(), type_counts()),
        }


# ---- the player ---------------------------------------------------------------------------------


def run_player(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from bench.player_loop import media_sequence, start_player

    tmp = scratch_dir("soak-player-")
    try:
        from PySide6.QtCore import QTimer

        from signage_player.outbox import Outbox
        from signage_player.playloop import PLAYS_TOPIC
        from signage_player.program import LoopProgram

        cache, sequence = media_sequence(tmp, args.image_s, args.video_s, args.video_every, args.lead_s)
        db = tmp / "player" / "outbox.sqlite3"
        outbox = Outbox(db)
        width, height = (int(x) for x in args.size.split("x"))
        player = start_player(cache, width, height, outbox)
        app, loop = player.app, player.loop
        warmup = min(args.player_warmup, args.switches // 3)
        sampler = Sampler(warmup, args.switches)
        done = {"switches": 0, "acked": 0}

        def upload() -> None:  # what the proof-of-play upload does once the server has the batch
            while batch := outbox.pending(PLAYS_TOPIC, 500):
                outbox.ack(PLAYS_TOPIC, [e.key for e in batch])
                done["acked"] += len(batch)

        def on_frame(item_id: str, gap_s: float) -> None:
            n = done["switches"] = done["switches"] + 1
            if n % ACK_EVERY == 0:
                upload()
            if sampler.due(n):
                sampler.take()
            if n >= args.switches:
                app.quit()

        loop.frame_shown.connect(on_frame)
        loop.set_program(LoopProgram(sequence, player.clock.now()))
        QTimer.singleShot(0, loop.start)
        watchdog = QTimer()
        watchdog.setSingleShot(True)
        watchdog.timeout.connect(app.quit)
        per_item = args.image_s + (args.video_s + args.lead_s) / args.video_every
        # a hang guard, not a speed bar: five suites side by side ran a 70 s soak in over 200 s
        watchdog.start(int((args.switches * per_item * 10 + 300) * 1000))
        t0 = time.perf_counter()
        app.exec()
        seconds = time.perf_counter() - t0
        loop.stop()
        upload()
        main = player.view.main
        caches = {  # private on purpose: these are the places an unbounded cache would hide
            "decoded_images": len(main._images),
            "video_probes": len(main._videos),
            "video_posters": len(player.backend._posters),
        }
        result = {
            "part": "player",
            "switches": done["switches"],
            "warmup": warmup,
            "seconds": round(seconds, 1),
            **sampler.summary(),
            "caches": caches,
            "outbox_mb": round(file_mb(*outbox_files(db)), 2),
            "plays_acked": done["acked"],
            "failed_items": dict(loop.failed_items),
            "loop_errors": list(loop.errors),
        }
        player.backend.close()
        outbox.close()
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- the kiosk ----------------------------------------------------------------------------------


class SessionFailed(Exception):
    """A soak session did not go the way a resident's would."""


def run_kiosk(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QWidget

    from kiosk_app.api import FakeKioskApi
    from kiosk_app.app import build_app, open_device
    from kiosk_app.flow import ORDERS_TOPIC, Screen
    from kiosk_app.jobs import ImmediateRunner, Runner
    from kiosk_app.peripherals import FakePeripherals
    from kiosk_app.qr import qr_matrix
    from kiosk_app.sample import T0, sample_catalogue
    from kiosk_app.settings import KioskSettings
    from kiosk_app.speech import FakeSpeaker
    from kiosk_app.ui.widgets import qr_image
    from kiosk_app.worker import QtRunner
    from schedules.clock import MovableClock
    from signage_player.allocator import pin_mmap_threshold
    from signage_player.device_api import FakeDeviceServer

    tmp = scratch_dir("soak-kiosk-")
    try:
        pin_mmap_threshold()  # as kiosk_app.main does
        app = QApplication.instance() or QApplication([])
        clock = MovableClock(T0)
        api = FakeKioskApi(sample_catalogue(), now=clock.now())
        runner: Runner = QtRunner() if args.runner == "qt" else ImmediateRunner()
        settings = KioskSettings(data_dir=tmp / "kiosk")
        device = open_device(settings, FakeDeviceServer(clock).client(), clock)
        kiosk = build_app(settings, device, api, FakeSpeaker(), FakePeripherals(), runner=runner)
        window, flow = kiosk.window, kiosk.flow
        window.resize(1080, 1920)
        window.show()

        def idle() -> bool:
            return not isinstance(runner, QtRunner) or runner.pool.activeThreadCount() == 0

        def settle(until: Callable[[], bool] = lambda: True, what: str = "") -> None:
            """Deliver worker answers until ``until()`` holds and no job is out, then free deleted pages."""
            deadline = time.monotonic() + 30
            while True:
                app.processEvents()
                if idle() and until():
                    app.processEvents()  # an answer queued just before the pool went idle
                    if idle() and until():
                        break
                if time.monotonic() > deadline:
                    raise SessionFailed(f"timed out waiting for {what or 'the worker'} "
                                        f"on {flow.state.screen.value}")
                if isinstance(runner, QtRunner):
                    runner.pool.waitForDone(2)
            # what returning to the event loop does: widgets given to deleteLater() are freed
            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)

        seen = {"taps": 0, "taps_seen_by_idle_clock": 0}

        def tap(name: str) -> None:
            # search the current page only: findChildren() ties a Python wrapper of every widget found
            # to the object searched, and wrappers of Qt-made widgets (scroll bars, viewports) outlive
            # them; on the long-lived window that would be the soak's own leak
            for w in window.stack.currentWidget().findChildren(QWidget):
                if w.property("testName") == name and w.isVisible():
                    clock.advance(0.5)  # a resident's finger, not a test's
                    QTest.mouseClick(w, Qt.MouseButton.LeftButton)
                    seen["taps"] += 1
                    if flow._last_touch == clock.now():
                        seen["taps_seen_by_idle_clock"] += 1
                    else:
                        # The window's event filter sees presses on itself, not on its buttons, so a
                        # tap does not restart the idle clock; stand in for it so the idle phase
                        # starts at the resident's last tap (counted in the result).
                        flow.touched(clock.now())
                    return
            raise SessionFailed(f"no visible {name!r} on {flow.state.screen.value}")

        def session(i: int) -> None:
            if flow.state.screen is not Screen.ATTRACT:
                raise SessionFailed(f"session {i} began on {flow.state.screen.value}")
            api.now = clock.now()  # the fake server's clock: payments expire 15 min after this
            phone = f"139{i:08d}"[-11:]
            tap("start")
            settle(lambda: not flow.state.catalogue_loading, "the catalogue")
            for name in ("category:elderly_care", "service:meal", "book", "slot:meal-0",
                         "address_building", "key:3", "address_room", *(f"key:{c}" for c in "1203"),
                         "address_next", *(f"key:{c}" for c in phone), "phone_next", "confirm"):
                tap(name)
                app.processEvents()
            settle(lambda: flow.state.screen is Screen.PAY, "the order")
            # untouched: ticks while the pay screen waits (each polls the order), then into the idle
            # warning, a tick of its countdown, and past its end: the privacy reset
            last_touch, limit = clock.now(), flow.settings.pay_idle_seconds
            warning = flow.settings.warning_seconds
            warned = False
            steps = (*range(TICK_S, limit, TICK_S), limit + 1, limit + warning - 1, limit + warning + 1)
            for idle_s in steps:
                clock.set(last_touch + dt.timedelta(seconds=idle_s))
                flow.tick(clock.now())
                settle()
                warned |= window.overlay.isVisible()
                if flow.state.screen is Screen.ATTRACT:
                    break
            if flow.state.screen is not Screen.ATTRACT or not warned:
                raise SessionFailed(f"session {i}: no idle reset (screen {flow.state.screen.value}, "
                                    f"warning shown: {warned})")
            if flow.state.phone or flow.state.order is not None:
                raise SessionFailed(f"session {i}: personal data survived the reset")
            # the fake server's ledger is not the kiosk's memory: drop it so it does not count
            api.orders.clear()
            api._by_key.clear()

        warmup = min(args.kiosk_warmup, args.sessions // 4)
        sampler = Sampler(warmup, args.sessions)
        widgets: list[int] = []
        t0 = time.perf_counter()
        for i in range(1, args.sessions + 1):
            session(i)
            if sampler.due(i):
                sampler.take()
                widgets.append(len(window.findChildren(QObject)))
                leftover = [w.text() for w in window.findChildren(QWidget)
                            if callable(getattr(w, "text", None)) and f"{i:08d}"[-4:] in str(w.text())]
                if leftover:
                    raise SessionFailed(f"session {i}: the phone number is still on screen: {leftover}")
        seconds = time.perf_counter() - t0
        data = Path(tmp / "kiosk")
        result = {
            "part": "kiosk",
            "kiosk_sessions": args.sessions,
            "warmup": warmup,
            "runner": args.runner,
            "seconds": round(seconds, 1),
            **sampler.summary(),
            "widget_growth": widgets[-1] - widgets[0] if widgets else 0,
            "widgets": widgets[0] if widgets else 0,
            "caches": {
                "qr_matrix": qr_matrix.cache_info().currsize,
                "qr_image": qr_image.cache_info().currsize,
                "pixmaps": len(window._pixmaps),
                "retired_pages": len(window._retired),  # replaced pages not yet deleted
                "flow_listeners": len(flow._listeners),
                "delivered": len(flow.delivered),
            },
            "outbox_mb": round(file_mb(*outbox_files(data / "outbox.sqlite3")), 2),
            "outbox_waiting": kiosk.outbox.count(ORDERS_TOPIC),
            **seen,
            "data_dir_files": sum(1 for p in data.rglob("*") if p.is_file()),
        }
        kiosk.close()
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- both, and the verdict ----------------------------------------------------------------------


def violations(player: dict[str, Any] | None, kiosk: dict[str, Any] | None) -> list[str]:
    """Every bound a part exceeded, in words (empty when the run is within bounds)."""
    out: list[str] = []
    for name, part in (("player", player), ("kiosk", kiosk)):
        if part is None:
            continue
        if "error" in part:
            out.append(f"{name}: {part['error']}")
            continue
        if part["rss_growth_mb"] > RSS_GROWTH_MB:
            out.append(f"{name}: RSS grew {part['rss_growth_mb']} MB (bound {RSS_GROWTH_MB})")
        if part["fd_growth"] > FD_GROWTH:
            out.append(f"{name}: {part['fd_growth']} more open fds (bound {FD_GROWTH})")
        if part["thread_growth"] > THREAD_GROWTH:
            out.append(f"{name}: {part['thread_growth']} more threads (bound {THREAD_GROWTH})")
        if part["outbox_mb"] > OUTBOX_MB:
            out.append(f"{name}: outbox files are {part['outbox_mb']} MB (bound {OUTBOX_MB})")
        for cache, size in part["caches"].items():
            if size > CACHE_ENTRIES:
                out.append(f"{name}: {cache} holds {size} entries (bound {CACHE_ENTRIES})")
    if player is not None and "error" not in player:
        if player["switches"] < player.get("wanted", 0):
            out.append(f"player: only {player['switches']} of {player['wanted']} switches")
        if player["loop_errors"]:
            out.append(f"player: play loop errors {player['loop_errors'][-3:]}")
    if kiosk is not None and "error" not in kiosk:
        if kiosk["widget_growth"] > WIDGET_GROWTH:
            out.append(f"kiosk: {kiosk['widget_growth']} more live Qt objects (bound {WIDGET_GROWTH})")
        if kiosk["outbox_waiting"]:
            out.append(f"kiosk: {kiosk['outbox_waiting']} booking(s) left in the outbox")
    return out


def run_part(part: str, argv: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *argv, "--part", part],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)


def last_json(text: str) -> dict[str, Any] | None:
    lines = [ln for ln in text.strip().splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--switches", type=int, default=50_000, help="player item switches")
    ap.add_argument("--sessions", type=int, default=5_000,
                    help="kiosk sessions, each ending in an idle reset")
    ap.add_argument("--part", choices=("both", "player", "kiosk"), default="both",
                    help="run one part in this process (what the two child processes do)")
    ap.add_argument("--image-s", type=float, default=0.005, help="image duration (accelerated)")
    ap.add_argument("--video-s", type=float, default=0.25, help="video duration (cut short)")
    ap.add_argument("--video-every", type=int, default=40, help="one video item per this many items")
    ap.add_argument("--lead-s", type=float, default=0.3, help="image before each video (preroll time)")
    ap.add_argument("--size", default="1280x720", help="player view size")
    ap.add_argument("--player-warmup", type=int, default=2000, help="switches before the first sample")
    ap.add_argument("--kiosk-warmup", type=int, default=100, help="sessions before the first sample")
    ap.add_argument("--runner", choices=("qt", "immediate"), default="qt",
                    help="kiosk jobs on the app's Qt thread pool (as deployed) or inline")
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    if args.part != "both":
        try:
            result = run_player(args) if args.part == "player" else run_kiosk(args)
        except Exception as exc:  # reported in the JSON line so the parent names the failing part
            import traceback

            traceback.print_exc()
            result = {"part": args.part, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(result))
        return 0 if "error" not in result else 1

    t0 = time.perf_counter()
    child_argv = list(argv if argv is not None else sys.argv[1:])
    procs = {part: run_part(part, child_argv) for part in ("player", "kiosk") if
             (args.switches if part == "player" else args.sessions) > 0}
    parts: dict[str, dict[str, Any] | None] = {}
    for part, proc in procs.items():
        out, _ = proc.communicate()
        parts[part] = last_json(out) or {"error": f"exited {proc.returncode} without a result"}
    player, kiosk = parts.get("player"), parts.get("kiosk")
    if player is not None and "error" not in player:
        player["wanted"] = args.switches
    problems = violations(player, kiosk)
    for name, part in parts.items():  # the detail (samples, caches, object types) for a human
        print(f"{name}: {json.dumps(part)}", file=sys.stderr)
    for problem in problems:
        print("SOAK FAIL", problem, file=sys.stderr)
    if kiosk is not None and kiosk.get("taps_seen_by_idle_clock", 0) < kiosk.get("taps", 0):
        print(f"SOAK NOTE kiosk: {kiosk['taps'] - kiosk['taps_seen_by_idle_clock']} of {kiosk['taps']} "
              "taps did not restart the idle clock (the window's event filter misses button presses)",
              file=sys.stderr)
    ok_player = player if player is not None and "error" not in player else {}
    ok_kiosk = kiosk if kiosk is not None and "error" not in kiosk else {}
    print(json.dumps({
        "bench": "soak",
        "switches": ok_player.get("switches", 0),
        "kiosk_sessions": ok_kiosk.get("kiosk_sessions", 0),
        "seconds": round(time.perf_counter() - t0, 1),
        "player_rss_growth_mb": ok_player.get("rss_growth_mb"),
        "player_fd_growth": ok_player.get("fd_growth"),
        "player_thread_growth": ok_player.get("thread_growth"),
        "kiosk_rss_growth_mb": ok_kiosk.get("rss_growth_mb"),
        "kiosk_fd_growth": ok_kiosk.get("fd_growth"),
        "kiosk_thread_growth": ok_kiosk.get("thread_growth"),
        "ok": not problems,
    }))
    return 0 if not problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
