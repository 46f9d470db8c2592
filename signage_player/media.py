"""Video back ends: the :class:`MediaBackend` interface, libVLC behind it, and a small fake.

libVLC decodes into a memory buffer (``video_set_callbacks`` + ``RV32``) that we turn into a
QImage, so the same path works offscreen, under Xvfb and on a real screen, and the view can
crossfade, overlay an emergency or take a screenshot of exactly what is shown. Callbacks run
on libVLC's threads: they only copy the frame and emit a queued signal, never call libVLC.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSize, QSocketNotifier, QTimer, Signal
from PySide6.QtGui import QColor, QImage

from signage_player.errors import PlayerError
from signage_player.stream import LiveStream
from signage_player.streamwatch import StreamPolicy
from signage_player.vlctracks import PictureShape, video_shape

log = logging.getLogger(__name__)


class MediaError(PlayerError):
    """A media back end could not start or play a file."""


@dataclass(frozen=True)
class VideoInfo:
    width: int  # as displayed: a picture with non-square pixels is wider or narrower than it is stored
    height: int
    duration_s: float | None


class MediaBackend(QObject):
    """Plays one video at a time and hands decoded frames to the view.

    Signals: ``frame_ready`` after a new frame is available from :meth:`frame`; ``finished``
    when the video reached its end; ``failed(reason)`` when it cannot be decoded or played.
    """

    frame_ready = Signal()
    finished = Signal()
    failed = Signal(str)
    plays_streams = False  # :meth:`play_stream` works

    def probe(self, path: Path) -> VideoInfo:
        """Read size and length without playing (used to preload the next item)."""
        raise NotImplementedError

    def preroll(self, path: Path, target: QSize, info: VideoInfo) -> None:
        """Get ready to start ``path`` quickly (called while the item before it is shown)."""

    def play(self, path: Path, target: QSize, info: VideoInfo | None = None) -> None:
        """Start ``path``, scaled to fit ``target`` without distortion."""
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def frame(self) -> QImage | None:
        """The latest decoded frame, or None before the first one."""
        raise NotImplementedError

    def frame_aspect(self) -> float | None:
        """The display aspect (width / height) to draw :meth:`frame` at; None: the frame's own shape.

        A live stream decodes into a buffer shaped before its size was known, so its frames may be
        stretched there; the view draws them at this aspect, letterboxed, never stretched or cropped."""
        return None

    def play_stream(self, url: str, target: QSize, policy: StreamPolicy, now: float) -> LiveStream:
        """Start a live stream into the frame buffer (``stop`` ends it); the caller steps the returned
        stream's watch. MediaError when this back end plays no streams."""
        raise MediaError("this media back end plays no live streams")

    def close(self) -> None:
        """Release the engine; the back end is unusable afterwards."""


def fit_size(src_w: int, src_h: int, box: QSize, max_w: int = 1920, max_h: int = 1920) -> tuple[int, int]:
    """The largest size of ``src`` aspect inside ``box`` (and the cap), even-sized for decoders."""
    bw, bh = min(max(box.width(), 2), max_w), min(max(box.height(), 2), max_h)
    if src_w <= 0 or src_h <= 0:
        return bw - bw % 2, bh - bh % 2
    scale = min(bw / src_w, bh / src_h)
    w, h = max(2, int(src_w * scale)), max(2, int(src_h * scale))
    return w - w % 2, h - h % 2


_MP4_SUFFIXES = (".mp4", ".m4v", ".mov")


def check_complete(path: Path) -> None:
    """Refuse files cut short: missing, empty, or an MP4/MOV whose top-level boxes run past the end.

    A download or copy cut short still parses (the index is at the front), then stops half-way;
    the box sizes tell without decoding anything.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise MediaError(f"{path.name}: missing") from exc
    if size == 0:
        raise MediaError(f"{path.name}: empty file")
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 8 or head[4:8] != b"ftyp":
            return  # not an ISO-BMFF file: let the decoder judge
        pos = 0
        while pos < size:
            fh.seek(pos)
            header = fh.read(16)
            if len(header) < 8:
                raise MediaError(f"{path.name}: truncated (partial box header at {pos})")
            box = int.from_bytes(header[:4], "big")
            if box == 1:
                if len(header) < 16:
                    raise MediaError(f"{path.name}: truncated (partial box header at {pos})")
                box = int.from_bytes(header[8:16], "big")
            elif box == 0:  # runs to the end of the file
                return
            if box < 8:
                raise MediaError(f"{path.name}: corrupt box size at {pos}")
            if pos + box > size:
                raise MediaError(f"{path.name}: truncated ({size} of {pos + box} bytes)")
            pos += box


_VLC_ARGS = ("--vout=dummy", "--aout=dummy", "--no-xlib", "--intf=dummy", "--quiet", "--no-video-title-show",
             "--no-osd", "--no-snapshot-preview", "--no-stats")


class _FrameSink:
    """One libVLC media player's decode target: a buffer, its lock, and the latest frame's bytes.

    The decoder thread only copies bytes and writes a byte to a pipe; the GUI thread turns them
    into a QImage. No Qt object is touched from libVLC's threads.
    """

    def __init__(self, vlc: Any, player: Any, wake_fd: int) -> None:
        self.player = player
        self.lock = threading.Lock()
        self.buf: Any = None
        self.size = (0, 0)
        self.pending: bytes | None = None
        self.pending_size = (0, 0)
        self.generation = 0  # bumped on stop/play: frames of an earlier video are dropped
        self.active = False
        self._wake_fd = wake_fd
        cb = vlc.CallbackDecorators
        self._cbs = (cb.VideoLockCb(self._on_lock), cb.VideoUnlockCb(self._on_unlock),
                     cb.VideoDisplayCb(self._on_display))  # referenced for as long as libVLC may call them
        player.video_set_callbacks(*self._cbs, None)

    def configure(self, w: int, h: int) -> None:
        with self.lock:
            self.generation += 1
            self.pending = None
            if self.buf is None or ctypes.sizeof(self.buf) < w * h * 4:
                # grow only: one buffer serves every video size (reallocating per video leaked memory)
                self.buf = (ctypes.c_ubyte * (w * h * 4))()
            self.size = (w, h)
            self.active = True
        self.player.video_set_format("RV32", w, h, w * 4)

    def deactivate(self) -> None:
        with self.lock:
            self.generation += 1
            self.active = False
            self.pending = None

    def take(self) -> QImage | None:
        """The newest decoded frame as a QImage (GUI thread), or None."""
        with self.lock:
            data, (w, h), self.pending = self.pending, self.pending_size, None
            if data is None or not self.active:
                return None
        img = QImage(w, h, QImage.Format.Format_RGB32)
        bits = img.bits()
        ctypes.memmove((ctypes.c_char * (w * h * 4)).from_buffer(bits), data, w * h * 4)
        del bits
        return img

    def _on_lock(self, _opaque: Any, planes: Any) -> Any:
        self.lock.acquire()
        planes[0] = ctypes.cast(self.buf, ctypes.c_void_p)
        return 0  # not None: see signage_player.qtcompat (None's refcount on Python 3.11)

    def _on_unlock(self, _opaque: Any, _picture: Any, _planes: Any) -> None:
        self.lock.release()

    def _on_display(self, _opaque: Any, _picture: Any) -> None:
        with self.lock:
            if not self.active or self.buf is None:
                return
            w, h = self.size
            self.pending = ctypes.string_at(self.buf, w * h * 4)
            self.pending_size = (w, h)
        with contextlib.suppress(BlockingIOError):  # full pipe: the GUI thread is already due to look
            os.write(self._wake_fd, b"f")


class VlcBackend(MediaBackend):
    """libVLC decoding into buffers: one player for what is on screen, one that prerolls the next video.

    :meth:`preroll` decodes the first frame of the next video while the current item is shown;
    :meth:`play` then paints that frame at once and the main player takes over from it, so a
    switch to a video costs about one frame instead of libVLC's start-up time.
    """

    POSTERS = 8
    STREAM_SHAPES = 32  # shapes of the streams played lately, by URL: they open at their shape
    STREAM_SHAPE_WAIT_S = 3.0  # a new stream's frames wait this long at most for libVLC to know its shape
    SHAPE_TOLERANCE = 0.02  # buffer and picture aspects this close are the same shape (even-size rounding)
    plays_streams = True

    def __init__(self, extra_args: tuple[str, ...] = (), audio: bool = False, wait: bool = True) -> None:
        """Start libVLC; MediaError if it cannot. With ``wait=False`` it starts on a helper thread
        (it takes ~0.5 s) so a first image or text can already be on screen; the first video call
        then waits for it, and a failure shows as MediaError there (the item is skipped)."""
        super().__init__()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._pre_key: tuple[str, int, int] | None = None
        self._stream: LiveStream | None = None
        self._stream_sink: _FrameSink | None = None
        self._stream_shapes: dict[str, PictureShape] = {}
        self._stream_aspect: float | None = None
        self._stream_target = QSize()
        self._stream_started = 0.0
        self._posters: dict[tuple[str, int, int], QImage] = {}
        self._latest: QImage | None = None
        self._ready = threading.Event()
        self._start_error: str | None = None
        self._notifier = QSocketNotifier(self._wake_r, QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._on_wake)
        # end and error are polled from the GUI thread, for the same reason as the frames
        self._state_timer = QTimer(self)
        self._state_timer.setInterval(40)
        self._state_timer.timeout.connect(self._on_state_poll)
        threading.Thread(target=self._start_engine, args=(extra_args, audio), name="libvlc-start",
                         daemon=True).start()
        if wait:
            self._engine()

    def _start_engine(self, extra_args: tuple[str, ...], audio: bool) -> None:
        try:
            import vlc  # loaded here: starting libVLC is part of start-up, not of importing the module

            args = [a for a in _VLC_ARGS if audio is False or not a.startswith("--aout")]
            instance = vlc.Instance([*args, *extra_args])
            if instance is None:
                raise MediaError("libVLC did not start (are libvlc5 and vlc-plugin-base installed?)")
            self._vlc = vlc
            self._instance = instance
            self._main = _FrameSink(vlc, instance.media_player_new(), self._wake_w)
            self._pre = _FrameSink(vlc, instance.media_player_new(), self._wake_w)
        except Exception as exc:  # reported to the first caller that needs video
            self._start_error = str(exc)
            log.error("libVLC failed to start: %s", exc)
        finally:
            self._ready.set()

    def _engine(self) -> None:
        """Wait for libVLC; MediaError when it could not start (videos are then skipped, not fatal)."""
        if not self._ready.wait(30):
            raise MediaError("libVLC is still starting")
        if self._start_error is not None:
            raise MediaError(self._start_error)

    def probe(self, path: Path) -> VideoInfo:
        check_complete(path)
        self._engine()
        vlc = self._vlc
        media = self._instance.media_new_path(str(path))
        try:
            status = media.parse_with_options(vlc.MediaParseFlag.local, 3000)
            if status != 0:
                raise MediaError(f"{path.name}: cannot start parsing")
            waited = 0
            while media.get_parsed_status() == 0 and waited < 3000:
                threading.Event().wait(0.005)
                waited += 5
            if media.get_parsed_status() != vlc.MediaParsedStatus.done:
                raise MediaError(f"{path.name}: not a playable video ({media.get_parsed_status()})")
            shape = video_shape(vlc, media)
            if not shape.known:
                raise MediaError(f"{path.name}: no video track")
            length_ms = media.get_duration()
            duration = length_ms / 1000 if length_ms and length_ms > 0 else None
            return VideoInfo(shape.display_width, shape.height, duration)  # non-square pixels: as seen
        finally:
            media.release()

    def preroll(self, path: Path, target: QSize, info: VideoInfo) -> None:
        self._engine()
        w, h = fit_size(info.width, info.height, target)
        key = (str(path), w, h)
        if key in self._posters or key == self._pre_key:
            return
        self._pre.player.stop()
        self._pre_key = key
        self._pre.configure(w, h)
        self._start(self._pre.player, path)

    def play(self, path: Path, target: QSize, info: VideoInfo | None = None) -> None:
        info = info or self.probe(path)
        self._engine()
        w, h = fit_size(info.width, info.height, target)
        self._state_timer.stop()
        self._stop_stream()
        if self._pre_key == (str(path), w, h):  # still prerolling this very file: no use any more
            self._pre.deactivate()
            self._pre.player.stop()
            self._pre_key = None
        self._main.player.stop()
        self._main.configure(w, h)
        self._latest = self._posters.get((str(path), w, h))
        self._start(self._main.player, path)
        self._state_timer.start()
        if self._latest is not None:
            self.frame_ready.emit()  # the prerolled first frame, painted now

    def play_stream(self, url: str, target: QSize, policy: StreamPolicy, now: float) -> LiveStream:
        """A live stream on its own libVLC player decoding into its own buffer; the view paints its
        frames at :meth:`frame_aspect`.

        A stream's shape is known only once it plays: a URL played before opens at the shape it had
        then; a new one opens 16:9 within ``target`` and its frames wait (the last picture stays)
        until libVLC reports the shape, at most ``STREAM_SHAPE_WAIT_S``. When that shape differs
        from the buffer's, the stream is reopened once into a buffer of its own shape, so a 4:3 or
        portrait picture keeps its full resolution; until it is, its frames are drawn at the right
        aspect from the stretched buffer (letterboxed, never stretched or cropped).
        """
        self._engine()
        self.stop()
        known = self._stream_shapes.get(url)
        w, h = fit_size(known.display_width, known.height, target) if known else fit_size(16, 9, target)
        self._stream_target = target
        self._stream_aspect = known.aspect if known else None
        self._stream_started = time.monotonic()

        def attach(player: Any) -> None:
            self._stream_sink = _FrameSink(self._vlc, player, self._wake_w)
            self._stream_sink.configure(w, h)

        self._stream = LiveStream(url, policy, now, instance=self._instance, attach=attach,
                                  on_shape=self._on_stream_shape)  # fmt: skip
        return self._stream

    def _on_stream_shape(self, stream: LiveStream, shape: PictureShape) -> None:
        sink = self._stream_sink
        if stream is not self._stream or sink is None or shape.aspect is None:
            return
        self._stream_aspect = shape.aspect
        self._stream_shapes[stream.url] = shape
        while len(self._stream_shapes) > self.STREAM_SHAPES:
            self._stream_shapes.pop(next(iter(self._stream_shapes)))
        w, h = fit_size(shape.display_width, shape.height, self._stream_target)
        bw, bh = sink.size
        if abs(w / h - bw / bh) > self.SHAPE_TOLERANCE * (w / h):
            log.info("stream %s: reopened into %dx%d (was %dx%d)", stream.url, w, h, bw, bh)
            stream.reopen(time.monotonic(), lambda: sink.configure(w, h))

    def frame_aspect(self) -> float | None:
        return self._stream_aspect if self._stream is not None else None

    def _stop_stream(self) -> None:
        stream, sink, self._stream, self._stream_sink = self._stream, self._stream_sink, None, None
        self._stream_aspect = None
        if sink is not None:
            sink.deactivate()
        if stream is not None:
            stream.close()

    def stop(self) -> None:
        self._state_timer.stop()
        self._latest = None
        if not self._ready.is_set() or self._start_error is not None:
            return
        self._stop_stream()
        self._main.deactivate()
        self._main.player.stop()

    def frame(self) -> QImage | None:
        return self._latest

    def close(self) -> None:
        self.stop()
        self._notifier.setEnabled(False)
        if self._ready.wait(30) and self._start_error is None:
            self._pre.deactivate()
            self._pre.player.stop()
            self._main.player.release()
            self._pre.player.release()
            self._instance.release()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _start(self, player: Any, path: Path) -> None:
        media = self._instance.media_new_path(str(path))
        player.set_media(media)
        media.release()
        if player.play() != 0:
            raise MediaError(f"{path.name}: libVLC refused to play it")

    def _on_wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_r, 4096):
                pass
        if not self._ready.is_set() or self._start_error is not None:
            return
        poster = self._pre.take()
        if poster is not None and self._pre_key is not None:
            self._posters[self._pre_key] = poster
            while len(self._posters) > self.POSTERS:
                self._posters.pop(next(iter(self._posters)))
            self._pre_key = None
            self._pre.deactivate()
            self._pre.player.stop()
        frame = self._main.take()
        if self._stream_sink is not None:
            frame = self._stream_sink.take() or frame
            if frame is not None and self._stream_aspect is None:
                if time.monotonic() - self._stream_started < self.STREAM_SHAPE_WAIT_S:
                    return  # its shape is not known yet: the last picture stays, never a stretched one
                log.warning("stream: libVLC did not report the picture's shape; drawn at the buffer's")
                self._stream_aspect = frame.width() / max(1, frame.height())
        if frame is not None:
            self._latest = frame
            self.frame_ready.emit()

    def _on_state_poll(self) -> None:
        state = self._main.player.get_state()
        if state == self._vlc.State.Ended:
            self._state_timer.stop()
            self.finished.emit()
        elif state == self._vlc.State.Error:
            self._state_timer.stop()
            self.failed.emit("libVLC could not play the file")


class FakeMediaBackend(MediaBackend):
    """A real, tiny back end for tests without libVLC: 'plays' a file as coloured frames.

    The file's first byte picks the colour; an empty file fails like a broken video would.
    Frames arrive every ``frame_ms``; the video ends after ``duration_s``.
    """

    def __init__(self, duration_s: float = 1.0, frame_ms: int = 40) -> None:
        super().__init__()
        self.duration_s = duration_s
        self.played: list[Path] = []
        self._frame: QImage | None = None
        self._colour = QColor("black")
        self._ticks = 0
        self._timer = QTimer(self)
        self._timer.setInterval(frame_ms)
        self._timer.timeout.connect(self._on_tick)

    def probe(self, path: Path) -> VideoInfo:
        check_complete(path)
        return VideoInfo(320, 240, self.duration_s)

    def play(self, path: Path, target: QSize, info: VideoInfo | None = None) -> None:
        self.probe(path)
        self.played.append(path)
        first = path.read_bytes()[:1][0]
        self._colour = QColor.fromHsv(first * 360 // 256, 200, 220)
        self._frame = None
        self._ticks = 0
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self._frame = None

    def frame(self) -> QImage | None:
        return self._frame

    def close(self) -> None:
        self._timer.stop()

    def _on_tick(self) -> None:
        img = QImage(320, 240, QImage.Format.Format_RGB32)
        img.fill(self._colour)
        self._frame = img
        self._ticks += 1
        self.frame_ready.emit()
        if self._ticks * self._timer.interval() >= self.duration_s * 1000:
            self._timer.stop()
            self.finished.emit()
