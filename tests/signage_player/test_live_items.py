"""Web pages and live streams in the play loop, for real: Qt WebEngine offscreen loads a page from
a loopback server, libVLC plays ffmpeg's HLS over loopback; a page that will not load and a stream
that dies give way to the schedule's fallback (never black), and proof of play counts only what
was on screen."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from schedules.clock import MovableClock
from schedules.model import ContentItem, ItemKind
from schedules.protocol.device import Manifest, PlayRecord
from signage_player.media import FakeMediaBackend, MediaBackend
from signage_player.outbox import Outbox
from signage_player.playloop import PLAYS_TOPIC, PlayLoop
from signage_player.program import ManifestProgram
from signage_player.streamwatch import StreamPolicy
from signage_player.view import MainZone, Playable, SignageView
from tests.fixtures.server import free_port
from tests.fixtures.streams import HlsSite
from tests.signage_player.manifests import T0, manifest, text_item

if QCoreApplication.instance() is None:  # Qt WebEngine wants shared GL contexts set before the app exists
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)

pytestmark = pytest.mark.qt_log_ignore(
    "QRhiGles2", "Failed to create RHI", "GPUInfo", "Failed to connect to the bus", "dbus", "Sandboxing",
    "WebEngineContext", "Release of profile requested but WebEnginePage still not deleted",
)  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "player"
GREEN = (0, 160, 80)
BOARD = (b"<html><body style='margin:0;background:rgb(0,160,80)'>"
         b"<h1 style='color:white'>Booking board</h1></body></html>")  # fmt: skip


class Board:
    """A community's booking board on loopback."""

    def __init__(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(BOARD)))
                self.end_headers()
                self.wfile.write(BOARD)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def board() -> Iterator[Board]:
    site = Board()
    yield site
    site.close()


def _closed_port() -> int:
    return free_port()  # closed on return; this worker's residue, so no other worker binds it


def web_item(id_: str, url: str, duration_s: float = 10, timeout_s: float = 8) -> ContentItem:
    return ContentItem(id=id_, kind=ItemKind.WEB, duration_s=duration_s, url=url,
                       allowed_hosts=("127.0.0.1",), load_timeout_s=timeout_s)  # fmt: skip


def stream_item(id_: str, url: str, duration_s: float = 30) -> ContentItem:
    return ContentItem(id=id_, kind=ItemKind.STREAM, duration_s=duration_s, url=url)


def _loop(
    qtbot: QtBot, backend: MediaBackend, clock: MovableClock, box: Outbox, policy: StreamPolicy | None = None
) -> PlayLoop:
    view = SignageView(backend, stream_policy=policy)
    qtbot.addWidget(view)
    view.resize(640, 360)
    view.show()
    return PlayLoop(view, {}.get, clock=clock, outbox=box)


def _starts_of(m: Manifest, item_id: str, count: int = 1) -> list[dt.datetime]:
    """When the schedule first plays ``item_id`` (``count`` times)."""
    program, at, found = ManifestProgram(m), T0, []
    while len(found) < count:
        entry = program.entry_at(at)
        if entry is not None and entry.item.id == item_id and (not found or found[-1] != entry.start):
            found.append(entry.start)
        at = program.next_change(at)
    return found


def _colours(loop: PlayLoop) -> set[int]:
    img = loop.view.picture()
    return {img.pixel(x, y) for x in range(0, 640, 20) for y in range(0, 360, 20)}


def _shows(loop: PlayLoop, rgb: tuple[int, int, int]) -> bool:
    c = loop.view.picture().pixelColor(320, 300)
    return (c.red(), c.green(), c.blue()) == rgb


def _headline(loop: PlayLoop) -> set[int]:
    """The colours where the page's white headline is: green, white and the letters' anti-aliasing."""
    img = loop.view.picture()
    return {img.pixel(x, y) for x in range(0, 320) for y in range(0, 60)}


def _records(box: Outbox) -> list[PlayRecord]:
    return [PlayRecord.model_validate_json(e.payload) for e in box.pending(PLAYS_TOPIC)]


def test_a_web_page_plays_in_its_slot_and_one_that_fails_gives_way_to_the_schedule(
    qtbot: QtBot, board: Board, fake_backend: FakeMediaBackend, tmp_path: Path
) -> None:
    page = web_item("board", f"http://127.0.0.1:{board.port}/today")
    dead = web_item("dead", f"http://127.0.0.1:{_closed_port()}/")
    hello = text_item("hello", "你好，欢迎回家", "Welcome home")
    m = manifest([(page, None), (dead, None), (hello, None)], default_item_id="hello")
    page_at, dead_at = _starts_of(m, "board")[0], _starts_of(m, "dead")[0]
    box = Outbox(tmp_path / "o.db")
    clock = MovableClock(page_at)
    loop = _loop(qtbot, fake_backend, clock, box)
    loop.set_program(ManifestProgram(m))
    shown: list[str] = []
    loop.frame_shown.connect(lambda item_id, _gap: shown.append(item_id))
    loop.start()
    assert loop.current is not None and loop.current.item.id == "board"
    qtbot.waitUntil(lambda: _shows(loop, GREEN), timeout=20000)  # Chromium painted the page in the zone
    qtbot.waitUntil(lambda: len(_headline(loop)) > 2, timeout=10000)  # and its headline's letters
    assert shown[-1] == "board" and not loop.failed_items
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    loop.view.picture().save(str(ARTIFACTS / "web_page_item.png"))

    clock.set(dead_at)  # the page that will not load: the schedule's fallback, never black
    loop.step()
    qtbot.waitUntil(lambda: "dead" in loop.failed_items, timeout=15000)
    assert loop.current is not None and loop.current.item.id == "hello"
    assert loop.view.main.page is None
    qtbot.waitUntil(lambda: len(_colours(loop)) > 1, timeout=20_000)
    loop.view.picture().save(str(ARTIFACTS / "web_page_failed_fallback.png"))
    clock.advance(5)
    loop.stop()

    records = _records(box)
    assert [r.item_id for r in records] == ["board", "hello"]  # the dead page was never on screen
    assert records[0].started_at == page_at and records[0].duration_s == (dead_at - page_at).total_seconds()
    assert records[1].duration_s == 5 and not records[1].completed
    box.close()


_WITHOUT_WEBENGINE = """
import json, sys
sys.path.insert(0, {root!r})
sys.modules["PySide6.QtWebEngineCore"] = None  # how Python marks a module that cannot be imported
sys.modules["PySide6.QtWebEngineWidgets"] = None
from PySide6.QtWidgets import QApplication
from schedules.clock import MovableClock
from signage_player.media import FakeMediaBackend
from signage_player.playloop import PlayLoop
from signage_player.program import ManifestProgram
from signage_player.view import MainZone, Playable, SignageView
from signage_player.webpage import playable_kinds
from schedules.protocol.device import Manifest
import datetime as dt
app = QApplication([])
m = Manifest.model_validate_json(sys.stdin.read())
view = SignageView(FakeMediaBackend())
view.resize(320, 180)
view.show()
loop = PlayLoop(view, {{}}.get, clock=MovableClock(dt.datetime.fromisoformat({start!r})))
loop.set_program(ManifestProgram(m))
loop.start()
img = view.picture()
colours = len({{img.pixel(x, y) for x in range(0, 320, 10) for y in range(0, 180, 10)}})
print(json.dumps({{"failed": loop.failed_items, "current": loop.current.item.id, "colours": colours,
                  "kinds": sorted(playable_kinds())}}))
"""


def test_without_qt_webengine_web_items_are_skipped_and_not_asked_for() -> None:
    """In a process where Qt WebEngine cannot be imported: the player does not name web pages in its
    manifest requests, and a web item that reaches it anyway is failed and the default slide plays."""
    page = web_item("board", "http://127.0.0.1:9/")
    hello = text_item("hello", "你好", "Hello")
    m = manifest([(page, None), (hello, None)], default_item_id="hello")
    script = _WITHOUT_WEBENGINE.format(root=str(ROOT), start=_starts_of(m, "board")[0].isoformat())
    out = subprocess.run(
        [sys.executable, "-c", script], input=m.model_dump_json(), capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert "Qt WebEngine is not available" in seen["failed"]["board"]
    assert seen["current"] == "hello" and seen["colours"] > 1
    assert seen["kinds"] == ["stream"]


@pytest.mark.vlc
@pytest.mark.slow
def test_a_live_stream_plays_in_its_slot_and_when_it_dies_the_schedule_plays(
    qtbot: QtBot, hls: HlsSite, vlc_backend: MediaBackend, tmp_path: Path
) -> None:
    lobby = stream_item("lobby", hls.url, duration_s=60)
    hello = text_item("hello", "你好，欢迎回家", "Welcome home")
    m = manifest([(lobby, None), (hello, None)], default_item_id="hello")
    start = _starts_of(m, "lobby")[0]
    box = Outbox(tmp_path / "o.db")
    clock = MovableClock(start)
    policy = StreamPolicy(connect_timeout_s=10, stall_s=2, backoff_s=(0.5,), healthy_s=60)
    loop = _loop(qtbot, vlc_backend, clock, box, policy)
    loop.set_program(ManifestProgram(m))
    with qtbot.waitSignal(loop.frame_shown, timeout=20000, check_params_cb=lambda i, _gap: i == "lobby"):
        loop.start()
    qtbot.waitUntil(lambda: len(_colours(loop)) > 8, timeout=10000)  # ffmpeg's test pattern, not black
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    loop.view.picture().save(str(ARTIFACTS / "stream_item.png"))
    clock.advance(4)  # four seconds of it on screen

    hls.stop()  # the source dies for good: one reconnect, then the schedule
    qtbot.waitUntil(lambda: "lobby" in loop.failed_items, timeout=30000)
    assert loop.current is not None and loop.current.item.id == "hello"
    assert len(_colours(loop)) > 1
    loop.view.picture().save(str(ARTIFACTS / "stream_died_fallback.png"))
    loop.stop()
    lobby_plays = [r for r in _records(box) if r.item_id == "lobby"]
    assert [(r.started_at, r.duration_s, r.completed) for r in lobby_plays] == [(start, 4.0, False)]
    box.close()


# --------------------------------------------------------------------------- a stream's shape on screen


def _lit(img: QImage, x: int, y: int) -> bool:
    c = img.pixelColor(x, y)
    return max(c.red(), c.green(), c.blue()) > 48


def _red(img: QImage, x: int, y: int) -> bool:
    c = img.pixelColor(x, y)
    return c.red() > 150 and c.green() < 100 and c.blue() < 100


def _picture_box(img: QImage) -> tuple[int, int, int, int] | None:
    """Where the stream's picture lies in the zone (left, top, right, bottom; inclusive), found along
    the middle row and column (its red border is lit, the bars are black); None while all black."""
    mid_x, mid_y = img.width() // 2, img.height() // 2
    xs = [x for x in range(img.width()) if _lit(img, x, mid_y)]
    ys = [y for y in range(img.height()) if _lit(img, mid_x, y)]
    return (xs[0], ys[0], xs[-1], ys[-1]) if xs and ys else None


@pytest.mark.vlc
@pytest.mark.slow
@pytest.mark.parametrize(
    ("size", "sar", "aspect"),
    [("320x240", "1/1", 4 / 3), ("640x360", "1/1", 16 / 9), ("480x360", "4/3", 16 / 9)],
    ids=["4x3", "16x9", "16x9-wide-pixels"],
)
def test_a_live_stream_is_letterboxed_at_its_own_shape_in_landscape_and_portrait_zones(
    qtbot: QtBot, vlc_backend: MediaBackend, tmp_path: Path, size: str, sar: str, aspect: float
) -> None:
    """Black bars, never stretched, never cropped, on every frame painted: before libVLC knows the
    shape (the last picture stays), while a new shape reopens the stream, and when the same stream
    plays again in a zone of the other orientation (opened at its remembered shape at once)."""
    site = HlsSite(tmp_path, size=size, sar=sar, border=12)
    site.start_ffmpeg()
    site.start_server()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    zone = MainZone(vlc_backend, stream_policy=StreamPolicy(connect_timeout_s=15, stall_s=5))
    qtbot.addWidget(zone)
    try:
        for n, (zw, zh) in enumerate([(640, 360), (360, 640)]):
            zone.resize(zw, zh)
            zone.show()
            item = stream_item(f"cam{n}", site.url)
            seen: list[tuple[int, int, int, int]] = []

            def settled(seen: list[tuple[int, int, int, int]] = seen) -> bool:
                box = _picture_box(zone.picture())
                if box is not None:
                    seen.append(box)
                return len(seen) >= 8 and zone._stream is not None and zone._stream.shape.known

            with qtbot.waitSignal(zone.frame_painted, timeout=25000):
                zone.show_prepared(zone.prepare(Playable(item)))
            qtbot.waitUntil(settled, timeout=20000)
            stream = zone._stream
            assert stream is not None
            # the 4:3 stream opened 16:9 the first time is reopened once at its shape, never again
            assert stream.reopens == (1 if n == 0 and aspect < 1.7 else 0)
            img = zone.picture()
            img.save(str(ARTIFACTS / f"stream_{size}_sar{sar.replace('/', 'x')}_in_{zw}x{zh}.png"))
            for left, top, right, bottom in seen:  # every picture sampled on the way, not only the last
                w, h = right - left + 1, bottom - top + 1
                assert abs(w / h - aspect) < 0.03 * aspect, (zw, zh, left, top, right, bottom)
                assert w >= zw - 2 or h >= zh - 2  # as large as the zone allows
                assert abs(left - (zw - 1 - right)) <= 2 and abs(top - (zh - 1 - bottom)) <= 2  # centred
            left, top, right, bottom = seen[-1]
            mid_x, mid_y = (left + right) // 2, (top + bottom) // 2
            for x, y in [(left + 3, mid_y), (right - 3, mid_y), (mid_x, top + 3), (mid_x, bottom - 3)]:
                assert _red(img, x, y), (x, y, img.pixelColor(x, y).name())  # the whole border: no crop
            if left > 4:
                assert not _lit(img, left // 2, mid_y)  # bars are black
            if top > 4:
                assert not _lit(img, mid_x, top // 2)
            zone.clear()
    finally:
        zone.clear()
        site.stop()
