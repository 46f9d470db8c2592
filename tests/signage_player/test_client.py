"""HTTP client: backoff pacing, and the device key never leaves the server's origin."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from schedules.model import LIVE_KINDS
from signage_player.client import ServerClient, retry_after
from signage_player.device_api import Backoff, BadResponse, HttpStatusError, NetworkError, backoff_delay


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


def test_a_servers_retry_after_is_the_wait_spread_by_a_fifth_and_does_not_grow_the_backoff() -> None:
    top, bottom = (
        Backoff(base_s=2, cap_s=600, rand=lambda: 1.0),
        Backoff(base_s=2, cap_s=600, rand=lambda: 0.0),
    )
    assert top.failed(100) == pytest.approx(120) and bottom.failed(100) == 100
    assert top.failed() == 2  # the server answered: the exponential backoff starts from the bottom
    assert top.failed(10_000) == 600  # never past the cap


def test_retry_after_reads_seconds_and_http_dates_and_ignores_nonsense() -> None:
    now = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)
    assert retry_after("120") == 120
    assert retry_after(" 7 ") == 7
    assert retry_after("Mon, 07 Dec 2026 08:01:30 GMT", now) == 90
    assert retry_after("Mon, 07 Dec 2026 07:00:00 GMT", now) == 0  # a date gone by: ask now
    assert retry_after("99999999") == 3600  # an hour at most
    for nonsense in (None, "", "soon", "-5", "1.5", "Mon, 07 Dec 2026 08:01:30"):
        assert retry_after(nonsense, now) is None, nonsense


class _Busy(http.server.BaseHTTPRequestHandler):
    retry_after: ClassVar[str | None] = "42"
    status: ClassVar[int] = 503

    def do_GET(self) -> None:
        body = b'{"detail": "the server is busy"}'
        self.send_response(self.status)
        if self.retry_after is not None:
            self.send_header("Retry-After", self.retry_after)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_the_client_carries_the_servers_retry_after_on_503_and_429_only() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = ServerClient(f"http://127.0.0.1:{server.server_address[1]}", device_key="k")
    try:
        for status, header, expected in (
            (503, "42", 42.0),
            (429, "5", 5.0),
            (503, None, None),
            (500, "42", None),
        ):
            _Busy.status, _Busy.retry_after = status, header
            with pytest.raises(HttpStatusError) as refused:
                client.manifest()
            assert refused.value.status == status and refused.value.retry_after_s == expected
    finally:
        client.close()
        server.shutdown()
        server.server_close()
