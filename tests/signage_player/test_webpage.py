"""Web-page items in Qt WebEngine (offscreen, software): they show the page, stay on it, and fail over."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, Qt
from pytestqt.qtbot import QtBot

from signage_player.webpage import WebPageView
from signage_player.webpolicy import WebPagePolicy, host_allowed, normalise_hosts

if QCoreApplication.instance() is None:  # Qt WebEngine wants shared GL contexts set before the app exists
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)

pytestmark = pytest.mark.qt_log_ignore(
    "QRhiGles2",
    "Failed to create RHI",
    "GPUInfo",
    "Failed to connect to the bus",
    "dbus",
    "Sandboxing",
    "WebEngineContext",
    "Release of profile requested but WebEnginePage still not deleted",
)
ROOT = Path(__file__).resolve().parents[2]


def test_the_allow_list_rule() -> None:
    allowed = normalise_hosts(["Board.Example.org", "*.cdn.example.org"])
    assert host_allowed("https://board.example.org/today", allowed)
    assert host_allowed("https://img.cdn.example.org/a.png", allowed)
    assert not host_allowed("https://cdn.example.org/a.png", allowed)  # "*." means subdomains only
    assert not host_allowed("https://board.example.org.evil.test/", allowed)
    assert not host_allowed("file:///etc/passwd", allowed)
    assert host_allowed("data:image/png;base64,AAAA", allowed)
    with pytest.raises(ValueError):
        WebPagePolicy("https://elsewhere.example.com/", allowed)
    with pytest.raises(ValueError):
        normalise_hosts(["https://board.example.org/"])


PAGES = {
    "/board": b"<html><body style='margin:0;background:rgb(0,160,80)'>"
    b"<h1 style='color:white'>Booking board</h1><img src='http://127.0.0.2:{other}/tracker.png'></body></html>",
    "/popup": b"<html><body style='background:rgb(0,160,80)'>"
    b"<script>window.open('http://127.0.0.1:{port}/opened');"
    b"alert('hi');</script></body></html>",
    "/away": b"<html><body style='background:rgb(0,160,80)'><script>setTimeout(function(){{"
    b"location.href='http://127.0.0.2:{other}/away';}}, 50);</script></body></html>",
}


class Site:
    def __init__(self, host: str) -> None:
        self.hits: list[str] = []
        self.release = threading.Event()
        self.other = 0
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                site.hits.append(self.path)
                if self.path == "/stall":
                    site.release.wait(20)
                body = PAGES.get(self.path, b"<html><body>x</body></html>")
                body = (
                    body.replace(b"{other}", str(site.other).encode())
                    .replace(b"{port}", str(site.port).encode())
                    .replace(b"{{", b"{")
                    .replace(b"}}", b"}")
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sites() -> Iterator[tuple[Site, Site]]:
    own, other = Site("127.0.0.1"), Site("127.0.0.2")
    own.other = other.port
    yield own, other
    own.close()
    other.close()


@pytest.fixture(scope="module")
def profile(qapp: object) -> object:
    from signage_player.webpage import off_the_record_profile

    return off_the_record_profile()


def _view(qtbot: QtBot, profile: object, url: str, timeout_s: float = 10.0) -> WebPageView:
    view = WebPageView(WebPagePolicy(url, ("127.0.0.1",), load_timeout_s=timeout_s), profile)
    view.resize(640, 360)
    qtbot.addWidget(view)
    view.show()
    return view


def test_an_allowed_page_shows_and_other_hosts_are_blocked(
    qtbot: QtBot, profile: object, sites: tuple[Site, Site]
) -> None:
    own, other = sites
    view = _view(qtbot, profile, f"http://127.0.0.1:{own.port}/board")
    with qtbot.waitSignal(view.loaded, timeout=15000):
        view.start()
    qtbot.waitUntil(lambda: any("tracker" in u for u in view.blocked), timeout=20_000)

    def painted() -> bool:  # the page's own green, once Chromium has delivered a frame: not black, not blank
        c = view.grab().toImage().pixelColor(320, 300)
        return (c.red(), c.green(), c.blue()) == (0, 160, 80)

    qtbot.waitUntil(painted, timeout=10000)
    assert other.hits == []


def test_no_popups_no_dialogs_and_no_navigation_away(
    qtbot: QtBot, profile: object, sites: tuple[Site, Site]
) -> None:
    own, other = sites
    popup = _view(qtbot, profile, f"http://127.0.0.1:{own.port}/popup")
    with qtbot.waitSignal(popup.loaded, timeout=15000):
        popup.start()
    away = _view(qtbot, profile, f"http://127.0.0.1:{own.port}/away")
    with qtbot.waitSignal(away.loaded, timeout=15000):
        away.start()
    qtbot.waitUntil(
        lambda: any(u.endswith("/away") and "127.0.0.2" in u for u in away.blocked),
        timeout=20_000,
    )
    assert away.page.url().toString().endswith(f"{own.port}/away")
    assert "/opened" not in own.hits and other.hits == []


def test_a_page_that_does_not_load_in_time_fails_over(
    qtbot: QtBot, profile: object, sites: tuple[Site, Site]
) -> None:
    own, _other = sites
    view = _view(qtbot, profile, f"http://127.0.0.1:{own.port}/stall", timeout_s=1.0)
    with qtbot.waitSignal(view.failed, timeout=10000) as failed:
        view.start()
    assert "within 1 s" in failed.args[0]
    refused = _view(qtbot, profile, "http://127.0.0.1:9/nothing-listens", timeout_s=10.0)
    with qtbot.waitSignal(refused.failed, timeout=15000) as failed:
        refused.start()
    assert "did not load" in failed.args[0]


_WITHOUT_WEBENGINE = """
import sys
sys.path.insert(0, {root!r})
sys.modules["PySide6.QtWebEngineCore"] = None
sys.modules["PySide6.QtWebEngineWidgets"] = None
from signage_player.webpage import WebUnavailable, load_web_engine
try:
    load_web_engine()
except WebUnavailable as exc:
    print("skipped:", exc)
"""


def test_without_qt_webengine_web_items_are_reported_unplayable() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _WITHOUT_WEBENGINE.format(root=str(ROOT))],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.startswith("skipped: Qt WebEngine is not available")
