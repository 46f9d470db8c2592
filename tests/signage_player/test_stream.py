"""Live streams: the watch's rules by the clock, and libVLC playing ffmpeg's HLS over loopback."""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from signage_player.stream import LiveStream, StreamError, check_stream_url
from signage_player.streamwatch import Action, StreamPolicy, StreamState, StreamWatch

POLICY = StreamPolicy(connect_timeout_s=10, stall_s=3, backoff_s=(1, 2), healthy_s=30)


# --------------------------------------------------------------------------- the rules, by the clock


def test_a_stream_that_starts_plays_and_one_that_never_starts_falls_back() -> None:
    w = StreamWatch(POLICY, now=0)
    assert w.observe(1, playing=False, position_ms=0) == Action.NONE
    assert w.observe(2, playing=True, position_ms=100) == Action.NONE
    assert w.state == StreamState.PLAYING
    silent = StreamWatch(POLICY, now=0)
    assert silent.observe(10.5, playing=False, position_ms=0) == Action.NONE  # first failure: wait 1 s
    assert silent.state == StreamState.WAITING
    assert silent.observe(11.0, playing=False, position_ms=0) == Action.NONE
    assert silent.observe(11.5, playing=False, position_ms=0) == Action.RECONNECT
    assert silent.observe(22.0, playing=False, position_ms=0) == Action.NONE  # second failure: wait 2 s
    assert silent.observe(24.0, playing=False, position_ms=0) == Action.RECONNECT
    assert silent.observe(34.5, playing=False, position_ms=0) == Action.FALLBACK  # no tries left
    assert silent.state == StreamState.GAVE_UP and "did not start" in silent.last_reason
    assert silent.observe(99, playing=True, position_ms=5000) == Action.FALLBACK


def test_a_stall_or_an_error_reconnects_and_steady_play_earns_the_tries_back() -> None:
    w = StreamWatch(POLICY, now=0)
    w.observe(1, True, 100)
    w.observe(2, True, 1100)
    assert w.observe(5.5, True, 1100) == Action.NONE and w.state == StreamState.WAITING  # 3.5 s frozen
    assert "stopped" in w.last_reason
    assert w.observe(6.6, False, 0) == Action.RECONNECT
    w.observe(7, True, 50)
    assert w.state == StreamState.PLAYING and w.tries == 1
    for t in range(8, 40):
        w.observe(t, True, (t - 7) * 1000)
    assert w.tries == 0  # 30 s of steady play
    assert w.observe(41, False, 0, error=True) == Action.NONE and w.state == StreamState.WAITING


def test_only_stream_urls_are_opened() -> None:
    assert check_stream_url("rtsp://127.0.0.1:8554/lobby")
    for bad in ("file:///etc/passwd", "javascript:alert(1)", "http:///x.m3u8"):
        with pytest.raises(StreamError):
            check_stream_url(bad)


# --------------------------------------------------------------------------- libVLC and ffmpeg, for real


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


class HlsSite:
    """ffmpeg writing a live HLS stream into a folder, and an HTTP server serving that folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ffmpeg: subprocess.Popen[bytes] | None = None
        self.server: http.server.ThreadingHTTPServer | None = None
        self.port = 0

    def start_ffmpeg(self) -> None:
        self.ffmpeg = subprocess.Popen(
            [
                shutil.which("ffmpeg") or "ffmpeg",
                "-hide_banner",
                "-loglevel",
                "error",
                "-re",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=320x240:rate=25",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-tune",
                "zerolatency",
                "-g",
                "25",
                "-f",
                "hls",
                "-hls_time",
                "1",
                "-hls_list_size",
                "6",
                "-hls_flags",
                "delete_segments+omit_endlist",
                str(self.folder / "live.m3u8"),
            ],
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # wait for the event: two segments in the playlist
            playlist = self.folder / "live.m3u8"
            if playlist.exists() and playlist.read_text().count(".ts") >= 2:
                return
            time.sleep(0.1)
        raise AssertionError("ffmpeg wrote no HLS playlist")

    def start_server(self) -> None:
        handler = functools.partial(_Quiet, directory=str(self.folder))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def stop(self) -> None:
        self.stop_server()
        if self.ffmpeg is not None:
            self.ffmpeg.terminate()
            self.ffmpeg.wait(10)
            self.ffmpeg = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/live.m3u8"


@pytest.fixture
def hls(tmp_path: Path) -> Iterator[HlsSite]:
    site = HlsSite(tmp_path)
    site.start_ffmpeg()
    site.start_server()
    yield site
    site.stop()


def _step_until(
    stream: LiveStream, wanted: set[StreamState | Action], limit_s: float
) -> StreamState | Action:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        action = stream.step(time.monotonic())
        if action in wanted:
            return action
        if stream.state in wanted:
            return stream.state
        time.sleep(0.1)
    raise AssertionError(
        f"stream stayed {stream.state} (tries {stream.watch.tries}, {stream.watch.last_reason})"
    )


@pytest.mark.vlc
@pytest.mark.slow
def test_hls_over_loopback_plays_reconnects_after_an_outage_and_falls_back_when_it_dies(hls: HlsSite) -> None:
    policy = StreamPolicy(connect_timeout_s=8, stall_s=3, backoff_s=(0.5, 1.0, 1.0), healthy_s=120)
    stream = LiveStream(hls.url, policy, time.monotonic())
    try:
        _step_until(stream, {StreamState.PLAYING}, 20)
        start = stream.player.get_time()
        deadline = time.monotonic() + 10
        while stream.player.get_time() < start + 1000 and time.monotonic() < deadline:  # it advances
            assert stream.step(time.monotonic()) == Action.NONE
            time.sleep(0.1)
        assert stream.player.get_time() >= start + 1000 and stream.state == StreamState.PLAYING
        # a short outage of the web server: the stream is reconnected and plays again
        hls.stop_server()
        _step_until(stream, {StreamState.WAITING}, 20)
        hls.start_server()
        _step_until(stream, {StreamState.PLAYING}, 30)
        assert stream.reconnects >= 1
        # the source dies for good: after its tries the player falls back to the schedule
        hls.stop()
        assert _step_until(stream, {Action.FALLBACK}, 60) == Action.FALLBACK
        assert stream.state == StreamState.GAVE_UP
    finally:
        stream.close()
