"""Live streams: the watch's rules by the clock, and libVLC playing ffmpeg's HLS over loopback."""

from __future__ import annotations

import time

import pytest

from signage_player.stream import LiveStream, StreamError, check_stream_url
from signage_player.streamwatch import Action, StreamPolicy, StreamState, StreamWatch
from signage_player.vlctracks import UNKNOWN, PictureShape
from tests.fixtures.streams import HlsSite

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


def test_a_reopen_on_purpose_starts_afresh_without_spending_a_try() -> None:
    w = StreamWatch(POLICY, now=0)
    w.observe(1, True, 100)
    w.observe(2, True, 1100)
    w.reopened(2.5)  # a new buffer shape: libVLC starts the stream again from position 0
    assert w.state == StreamState.CONNECTING and w.tries == 0
    assert w.observe(11, False, 0) == Action.NONE  # a whole start timeout again
    assert w.state == StreamState.CONNECTING
    assert w.observe(12, True, 40) == Action.NONE and w.state == StreamState.PLAYING


def test_a_pictures_shape_is_its_visible_size_with_its_pixels_aspect() -> None:
    assert PictureShape(320, 240).aspect == 4 / 3
    assert PictureShape(480, 360, 4, 3).display_width == 640  # wide pixels: seen 16:9
    assert PictureShape(720, 576, 16, 15).aspect == 768 / 576
    assert PictureShape(320, 240, 0, 0).aspect == 4 / 3  # no aspect given: square pixels
    assert UNKNOWN.aspect is None and not UNKNOWN.known and UNKNOWN.display_width == 0


def test_only_stream_urls_are_opened() -> None:
    assert check_stream_url("rtsp://127.0.0.1:8554/lobby")
    for bad in ("file:///etc/passwd", "javascript:alert(1)", "http:///x.m3u8"):
        with pytest.raises(StreamError):
            check_stream_url(bad)


# --------------------------------------------------------------------------- libVLC and ffmpeg, for real


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


@pytest.mark.vlc
def test_a_closed_stream_steps_to_the_fallback_without_touching_its_released_player() -> None:
    """The view's stream timer may fire once more after the back end closed the stream (seen as a
    segfault in libvlc_media_player_get_time when a test's teardown ran the event loop)."""
    stream = LiveStream("http://127.0.0.1:9/never.m3u8", StreamPolicy(connect_timeout_s=5), time.monotonic())
    stream.close()
    stream.close()  # twice is fine
    assert stream.step(time.monotonic()) is Action.FALLBACK
