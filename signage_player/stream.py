"""A live stream (HLS or RTSP) played with libVLC and watched by a pure StreamWatch.

The adapter owns one libVLC player; :meth:`LiveStream.step` is called on a timer (or by a test)
with the monotonic time: it reads libVLC's state and play position, asks the watch what to do,
and reconnects (a fresh media for the same URL) or reports :attr:`Action.FALLBACK`, when the
caller shows the scheduled content instead. While playing it also learns the picture's shape
(known only once libVLC has decoded it) and tells ``on_shape``, which may :meth:`~LiveStream.reopen`
the stream into a buffer of that shape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from schedules import liveitems
from signage_player.errors import PlayerError
from signage_player.streamwatch import Action, StreamPolicy, StreamState, StreamWatch
from signage_player.vlctracks import UNKNOWN, PictureShape, video_shape

log = logging.getLogger(__name__)

HEADLESS_ARGS = ("--vout=dummy", "--aout=dummy", "--no-xlib", "--intf=dummy", "--quiet")


class StreamError(PlayerError):
    """A stream URL the player will not open."""


def check_stream_url(url: str) -> str:
    """The server's rule (:func:`schedules.liveitems.check_stream_url`), as the player's error."""
    try:
        return liveitems.check_stream_url(url)
    except liveitems.AddressError as exc:
        raise StreamError(exc.en) from exc


class LiveStream:
    def __init__(
        self,
        url: str,
        policy: StreamPolicy,
        now: float,
        instance: Any | None = None,
        network_caching_ms: int = 1000,
        attach: Callable[[Any], None] | None = None,
        on_shape: Callable[[LiveStream, PictureShape], None] | None = None,
    ) -> None:
        """``attach(player)`` runs before the first play: the player's view hands libVLC its frame
        buffer there (:meth:`signage_player.media.VlcBackend.play_stream`). ``on_shape(stream, shape)``
        runs from :meth:`step` once the picture's shape is known (again after each reconnect)."""
        import vlc  # loaded here: importing the module starts nothing

        self.url = check_stream_url(url)
        self._vlc = vlc
        self._instance = instance or vlc.Instance(list(HEADLESS_ARGS))
        if self._instance is None:
            raise StreamError("libVLC did not start (are libvlc5 and vlc-plugin-base installed?)")
        self._caching = network_caching_ms
        self.player = self._instance.media_player_new()
        self.watch = StreamWatch(policy, now)
        self.reconnects = 0
        self.reopens = 0
        self.shape = UNKNOWN
        self._on_shape = on_shape
        self._closed = False
        if attach is not None:
            attach(self.player)
        self._open()

    def _open(self) -> None:
        media = self._instance.media_new(self.url, f":network-caching={self._caching}")
        self.player.set_media(media)
        media.release()
        self.player.play()

    @property
    def state(self) -> StreamState:
        return self.watch.state

    def step(self, now: float) -> Action:
        if self._closed:  # a step queued before the close (the view's timer): the player is released
            return Action.FALLBACK
        vlc_state = self.player.get_state()
        playing = vlc_state == self._vlc.State.Playing
        error = vlc_state in (self._vlc.State.Error, self._vlc.State.Ended)
        action = self.watch.observe(now, playing, int(self.player.get_time()), error)
        if action == Action.RECONNECT:
            self.reconnects += 1
            log.info(
                "stream %s: reconnecting (%s), try %d", self.url, self.watch.last_reason, self.watch.tries
            )
            self.player.stop()
            self.shape = UNKNOWN  # the source may come back in another shape
            self._open()
        elif action == Action.FALLBACK:
            self.player.stop()
        elif playing and not self.shape.known:
            self._learn_shape()
        return action

    def _learn_shape(self) -> None:
        media = self.player.get_media()  # retained for us: released below
        if media is None:
            return
        try:
            shape = video_shape(self._vlc, media)
        finally:
            media.release()
        if shape.known:
            self.shape = shape
            log.info("stream %s: %dx%d, pixels %d:%d", self.url, shape.width, shape.height,
                     shape.sar_num, shape.sar_den)  # fmt: skip
            if self._on_shape is not None:
                self._on_shape(self, shape)

    def reopen(self, now: float, prepare: Callable[[], None]) -> None:
        """Stop, let ``prepare`` reshape the decode buffer (libVLC takes a new format only between
        plays), and open the same URL again; not a reconnect, so no try is spent."""
        if self._closed:
            return
        self.reopens += 1
        self.player.stop()
        prepare()
        self._open()
        self.watch.reopened(now)

    def close(self) -> None:
        """Stop and release the player; later calls and steps do nothing (never a released player)."""
        if self._closed:
            return
        self._closed = True
        self.player.stop()
        self.player.release()
