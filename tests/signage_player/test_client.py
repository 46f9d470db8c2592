"""HTTP client: backoff pacing, and the device key never leaves the server's origin."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from schedules.model import LIVE_KINDS
from signage_player.client import ServerClient
from signage_player.device_api import Backoff, BadResponse, NetworkError, backoff_delay


def test_backoff_grows_to_the_cap_with_full_jitter() -> None:
    assert backoff_delay(0, 2, 300, lambda: 1.0) == 2
    assert backoff_delay(5, 2, 300, lambda: 1.0) == 64
    assert backoff_delay(50, 2, 300, lambda: 1.0) == 300
    assert backoff_delay(3, 2, 300, lambda: 0.5) == 8
    b = Backoff(base_s=2, cap_s=60, rand=lambda: 1.0)
    assert [b.failed() for _ in range(7)] == [2, 4, 8, 16, 32, 60, 60]
    b.succeeded()
    assert b.failed() == 2


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str | None, str | None]]] = []
    body = bytes(range(256)) * 40

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization"), self.headers.get("Range")))
        start = int(self.headers["Range"].split("=")[1].rstrip("-")) if self.headers.get("Range") else 0
        data = self.body[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def other_host() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_resumes_and_keeps_the_key_from_other_hosts(other_host: str, tmp_path: Path) -> None:
    _Recorder.seen.clear()
    part = tmp_path / "a.part"
    part.write_bytes(_Recorder.body[:1000])
    same = ServerClient(other_host, device_key="secret")
    assert same.download("/assets/x", part, len(_Recorder.body)) == len(_Recorder.body)
    assert part.read_bytes() == _Recorder.body
    assert _Recorder.seen[-1] == ("/assets/x", "Bearer secret", "bytes=1000-")
    elsewhere = ServerClient("http://127.0.0.1:9", device_key="secret")
    (tmp_path / "b.part").unlink(missing_ok=True)
    elsewhere.download(f"{other_host}/cdn/x", tmp_path / "b.part")
    assert _Recorder.seen[-1][:2] == ("/cdn/x", None)
    with pytest.raises(NetworkError):
        elsewhere.download("/assets/x", tmp_path / "c.part")


def test_the_manifest_request_names_the_optional_kinds_the_player_plays(other_host: str) -> None:
    """The server sends web pages and streams only to a player that names them (older ones would
    refuse the whole manifest); a client that names none asks as an older player does."""
    _Recorder.seen.clear()
    for kinds in (LIVE_KINDS, frozenset()):
        client = ServerClient(other_host, device_key="k", item_kinds=kinds)
        with pytest.raises(BadResponse):  # the recorder answers bytes, not a manifest
            client.manifest()
        client.close()
    assert [path for path, _auth, _range in _Recorder.seen] == [
        "/api/v1/device/manifest?kinds=stream,web",
        "/api/v1/device/manifest",
    ]
