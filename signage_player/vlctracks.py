"""The shape of a libVLC media's picture: the first video track's visible size and sample aspect.

A live stream's size is known only once libVLC has decoded its first pictures (about a second
into HLS: until then the track reads 0×0), and a picture may have non-square pixels, so the shape
to draw is ``width × sar_num / sar_den`` by ``height``, never the size of our decode buffer.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PictureShape:
    """The visible size in pixels and the sample (pixel) aspect ratio."""

    width: int
    height: int
    sar_num: int = 1
    sar_den: int = 1

    @property
    def known(self) -> bool:
        return self.width > 0 and self.height > 0

    @property
    def display_width(self) -> int:
        """The width the picture is seen at: square pixels, height kept (0 when unknown)."""
        if not self.known:
            return 0
        if self.sar_num <= 0 or self.sar_den <= 0:
            return self.width  # libVLC says 0:0 when the stream does not say: square pixels
        return max(1, round(self.width * self.sar_num / self.sar_den))

    @property
    def aspect(self) -> float | None:
        """The display aspect ratio (width / height), None while the size is unknown."""
        return self.display_width / self.height if self.known else None


UNKNOWN = PictureShape(0, 0)


def video_shape(vlc: Any, media: Any) -> PictureShape:
    """The first video track's shape (:data:`UNKNOWN` when there is none yet).

    python-vlc's ``tracks_get`` misreads C's union of pointers, so the array is read by hand; it is
    released with the pointer type libVLC allocated (``libvlc_media_track_t**``), which is what
    ``libvlc_media_tracks_release`` expects: called with anything else it crashes.
    """
    raw = ctypes.POINTER(vlc.MediaTrack)()  # really a libvlc_media_track_t**
    n = vlc.libvlc_media_tracks_get(media, ctypes.byref(raw))
    tracks = ctypes.cast(raw, ctypes.POINTER(ctypes.POINTER(vlc.MediaTrack)))
    try:
        for i in range(n):
            track = tracks[i].contents
            if track.type == vlc.TrackType.video:
                video = ctypes.cast(track.audio, ctypes.POINTER(vlc.VideoTrack)).contents
                return PictureShape(video.width, video.height, video.sar_num, video.sar_den)
        return UNKNOWN
    finally:
        if n:
            vlc.libvlc_media_tracks_release(tracks, n)
