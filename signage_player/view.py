"""The playback widget: images, libVLC video, live streams, web pages and CJK text in zones, ticker,
clock, emergency overlay.

:class:`SignageView` only shows things; what to show and when comes from the play loop
(:mod:`signage_player.playloop`), which the kiosk's attract loop reuses. Items are prepared
(decoded, probed, laid out) before their turn, so a switch is one repaint. The previous
picture stays on screen until the next one has its first frame: never black. A web page shows
once it has loaded (until then the last picture stays); a page that fails to load, or a stream its
:class:`~signage_player.streamwatch.StreamWatch` gives up on, is reported as ``video_failed`` and
the play loop shows the schedule's fallback instead.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from PySide6.QtCore import QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QHideEvent,
    QImage,
    QImageReader,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import QWidget

from schedules.clock import Clock, SystemClock
from schedules.liveitems import DEFAULT_LOAD_TIMEOUT_S
from schedules.model import ContentItem, ItemKind, ScreenClass
from schedules.protocol.device import Loudness
from signage_player.media import MediaBackend, MediaError, VideoInfo
from signage_player.stream import LiveStream, StreamError, check_stream_url
from signage_player.streamwatch import Action, StreamPolicy
from signage_player.webpage import WebPageView, WebUnavailable, load_web_engine, shared_profile
from signage_player.webpolicy import WebPagePolicy

log = logging.getLogger(__name__)

CJK_FAMILY = "Noto Sans CJK SC"
DEFAULT_LANGS = ("zh", "en")
MAX_IMAGE_PIXELS = 40_000_000  # refuse decompression bombs before decoding
FILL_MAX_CROP = 0.15  # fill the zone when that crops at most this share of the image, else fit
IMAGE_CACHE_BYTES = 96 * 1024 * 1024  # decoded pictures kept for the next loop round


@dataclass(frozen=True)
class Playable:
    """An item and, for images and videos, its verified local file."""

    item: ContentItem
    path: Path | None = None


@dataclass
class Prepared:
    playable: Playable
    image: QImage | None = None
    video: VideoInfo | None = None
    text: str = ""
    web: WebPagePolicy | None = None  # a web page, shown once loaded
    stream: str | None = None  # a live stream's address
    prepared_at: float = field(default_factory=time.monotonic)

    @property
    def item_id(self) -> str:
        return self.playable.item.id


def item_text(item: ContentItem, langs: Sequence[str] = DEFAULT_LANGS) -> str:
    """The item's text in the preferred languages first, each language once, blank-line separated."""
    order = [lang for lang in langs if item.text.get(lang)]
    order += [lang for lang in item.text if lang not in order and item.text[lang]]
    return "\n\n".join(item.text[lang].strip() for lang in order) or item.title


def fit_or_fill(src: QSize, box: QSize) -> QRect:
    """Where to draw ``src`` in ``box`` keeping its aspect: fill when the crop is small, else fit."""
    if src.isEmpty() or box.isEmpty():
        return QRect(0, 0, box.width(), box.height())
    fit = min(box.width() / src.width(), box.height() / src.height())
    fill = max(box.width() / src.width(), box.height() / src.height())
    crop = 1 - (fit / fill) ** 2  # share of the filled image area that falls outside the box
    scale = fill if crop <= FILL_MAX_CROP else fit
    w, h = round(src.width() * scale), round(src.height() * scale)
    return QRect((box.width() - w) // 2, (box.height() - h) // 2, w, h)


def text_font(text: str, box: QSize, max_px: int = 400, min_px: int = 10, bold: bool = True) -> QFont:
    """The largest CJK font in which ``text`` word-wraps inside ``box`` (binary search)."""
    font = QFont(CJK_FAMILY)
    font.setBold(bold)
    lo, hi = min_px, max(min_px, min(max_px, box.height()))
    flags = int(Qt.AlignmentFlag.AlignCenter) | int(Qt.TextFlag.TextWordWrap)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        font.setPixelSize(mid)
        r = QFontMetrics(font).boundingRect(QRect(0, 0, box.width(), 100000), flags, text)
        if r.width() <= box.width() and r.height() <= box.height():
            lo = mid
        else:
            hi = mid - 1
    font.setPixelSize(lo)
    return font


def draw_text_block(p: QPainter, rect: QRect, text: str, colour: QColor, font: QFont | None = None) -> None:
    margin = max(8, min(rect.width(), rect.height()) // 20)
    inner = rect.adjusted(margin, margin, -margin, -margin)
    p.setFont(font or text_font(text, inner.size()))
    p.setPen(colour)
    p.drawText(inner, int(Qt.AlignmentFlag.AlignCenter) | int(Qt.TextFlag.TextWordWrap), text)


class MainZone(QWidget):
    """Shows one prepared item; keeps the last picture until the next one can paint."""

    frame_painted = Signal(str, float)  # item id, monotonic time of its first painted frame
    video_finished = Signal(str)
    video_failed = Signal(str, str)  # a video, stream or page that failed: item id, reason

    def __init__(self, backend: MediaBackend, parent: QWidget | None = None, crossfade_ms: int = 0,
                 langs: Sequence[str] = DEFAULT_LANGS, stream_policy: StreamPolicy | None = None) -> None:
        super().__init__(parent)
        self.stream_policy = stream_policy or StreamPolicy()
        self.page: WebPageView | None = None  # the web page on show (or loading)
        self._stream: LiveStream | None = None
        self._stream_timer = QTimer(self)
        self._stream_timer.setInterval(STREAM_STEP_MS)
        self._stream_timer.timeout.connect(self._on_stream_step)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.backend = backend
        self.crossfade_ms = crossfade_ms
        self.langs = tuple(langs)
        self.current: Prepared | None = None
        self._last_picture: QImage | None = None  # what was last on screen, for never-black and fades
        self._last_aspect: float | None = None  # the aspect a stream frame in _last_picture is seen at
        self._fade_from: QImage | None = None
        self._fade_start = 0.0
        self._first_frame_pending = False
        self._video_started = 0.0
        self._text_font: QFont | None = None
        self._images: dict[tuple[str, int, int, int, int], QImage] = {}  # LRU of decoded images
        self._videos: dict[tuple[str, int, int], VideoInfo] = {}
        self._fade_timer = QTimer(self)
        self._fade_timer.setInterval(16)
        self._fade_timer.timeout.connect(self.update)
        backend.frame_ready.connect(self._on_frame_ready)
        backend.finished.connect(self._on_backend_finished)
        backend.failed.connect(self._on_backend_failed)

    def prepare(self, playable: Playable) -> Prepared:
        """Decode/probe/lay out ``playable`` ahead of time; MediaError when it cannot be shown."""
        item = playable.item
        if item.kind is ItemKind.TEXT:
            text = item_text(item, self.langs)
            if not text.strip():
                raise MediaError(f"{item.id}: text item without text")
            return Prepared(playable, text=text)
        if item.kind is ItemKind.WEB:
            return Prepared(playable, web=_web_policy(item))
        if item.kind is ItemKind.STREAM:
            if not self.backend.plays_streams:
                raise MediaError(f"{item.id}: this media back end plays no live streams")
            try:
                return Prepared(playable, stream=check_stream_url(item.url or ""))
            except StreamError as exc:
                raise MediaError(f"{item.id}: {exc}") from exc
        if playable.path is None:
            raise MediaError(f"{item.id}: no local file")
        try:
            st = playable.path.stat()
        except OSError as exc:
            raise MediaError(f"{item.id}: cannot read {playable.path.name}: {exc}") from exc
        if item.kind is ItemKind.VIDEO:
            info = self._probe(playable.path, st)
            self.backend.preroll(playable.path, self.size(), info)
            return Prepared(playable, video=info)
        return Prepared(playable, image=self._decoded_image(playable.path, st))

    def _decoded_image(self, path: Path, st: os.stat_result) -> QImage:
        """Decode (or reuse a decoded copy of) an image, sized for this zone; MediaError if it won't.

        Keyed by inode and size, not mtime: the cache touches files on use (LRU) and replaces them
        by rename, which gives a new inode.
        """
        key = (str(path), st.st_size, st.st_ino, self.width(), self.height())
        hit = self._images.pop(key, None)
        if hit is not None:
            self._images[key] = hit  # most recently used last
            return hit
        image = self._decode(path)
        self._images[key] = image
        total = sum(i.sizeInBytes() for i in self._images.values())
        while total > IMAGE_CACHE_BYTES and len(self._images) > 1:
            oldest = next(iter(self._images))
            total -= self._images.pop(oldest).sizeInBytes()
        return image

    def _probe(self, path: Path, st: os.stat_result) -> VideoInfo:
        key = (str(path), st.st_size, st.st_ino)
        info = self._videos.get(key)
        if info is None:
            info = self.backend.probe(path)
            if len(self._videos) > 256:
                self._videos.clear()
            self._videos[key] = info
        return info

    def _decode(self, path: Path) -> QImage:
        item_id = path.name[:12]
        reader = QImageReader(str(path))
        reader.setAutoTransform(True)
        src = reader.size()
        if src.isValid() and src.width() * src.height() > MAX_IMAGE_PIXELS:
            raise MediaError(f"{item_id}: image of {src.width()}x{src.height()} pixels is too large")
        if src.isValid() and not src.isEmpty():
            target = fit_or_fill(src, self.size()).size()
            if target.width() < src.width():
                reader.setScaledSize(target)
        image = reader.read()
        if image.isNull():
            raise MediaError(f"{item_id}: image does not decode ({reader.errorString()})")
        return image.convertToFormat(QImage.Format.Format_RGB32)

    def show_prepared(self, prepared: Prepared) -> None:
        previous = self.current
        if previous is not None and (previous.video is not None or previous.stream is not None):
            self.backend.stop()
            if self._last_picture is not None:  # kept on screen until the next item paints
                self._last_picture = reshaped(self._last_picture, self._last_aspect)
        self._last_aspect = None
        self._stream_timer.stop()
        self._stream = None
        self._close_page()
        self.current = prepared
        self._text_font = None
        self._first_frame_pending = True
        if self.crossfade_ms > 0 and self._last_picture is not None and prepared.image is not None:
            self._fade_from = self._last_picture
            self._fade_start = time.monotonic()
            self._fade_timer.start()
        else:
            self._fade_from = None
        if prepared.video is not None and prepared.playable.path is not None:
            self._video_started = time.monotonic()
            self.backend.play(prepared.playable.path, self.size(), prepared.video)
            return  # the first frame paints when libVLC delivers it; until then the last picture stays
        if prepared.stream is not None:
            self._start_stream(prepared)
            return
        if prepared.web is not None:
            self._open_page(prepared, prepared.web)
            self.update()
            return  # the page shows once loaded; until then the last picture stays
        self.repaint()

    # -- live streams and web pages ----------------------------------------------------------

    def _start_stream(self, prepared: Prepared) -> None:
        try:
            self._stream = self.backend.play_stream(
                prepared.stream or "", self.size(), self.stream_policy, time.monotonic()
            )
        except (MediaError, StreamError) as exc:
            reason = str(exc)  # reported once this switch is over, as libVLC's own failures are
            QTimer.singleShot(0, lambda: self._stream_failed(prepared, reason))
            return
        self._stream_timer.start()

    def _on_stream_step(self) -> None:
        """The stream's watch, every ``STREAM_STEP_MS``: it reconnects, or gives up (the schedule plays)."""
        stream, cur = self._stream, self.current
        if stream is None or cur is None or cur.stream is None:
            self._stream_timer.stop()
            return
        if stream.step(time.monotonic()) is Action.FALLBACK:
            self._stream_timer.stop()
            self._stream_failed(cur, f"live stream: {stream.watch.last_reason}")

    def _stream_failed(self, prepared: Prepared, reason: str) -> None:
        if self.current is prepared:
            self.video_failed.emit(prepared.item_id, reason)

    def _open_page(self, prepared: Prepared, policy: WebPagePolicy) -> None:
        page = WebPageView(policy, shared_profile(), self)
        page.setGeometry(self.rect())
        page.hide()
        page.loaded.connect(lambda: self._on_page_loaded(page, prepared))
        page.failed.connect(lambda reason: self._on_page_failed(page, prepared, reason))
        self.page = page
        page.start()

    def _on_page_loaded(self, page: WebPageView, prepared: Prepared) -> None:
        if page is not self.page or self.current is not prepared:
            return
        page.show()
        page.raise_()
        self._first_frame_pending = False
        self.frame_painted.emit(prepared.item_id, time.monotonic())

    def _on_page_failed(self, page: WebPageView, prepared: Prepared, reason: str) -> None:
        if page is not self.page or self.current is not prepared:
            return
        self._close_page(keep_picture=False)
        self.video_failed.emit(prepared.item_id, f"web page: {reason}")

    def _close_page(self, keep_picture: bool = True) -> None:
        """Take the page off screen; its last picture stays until the next item paints (never black)."""
        page, self.page = self.page, None
        if page is None:
            return
        if keep_picture and page.isVisible():
            self._last_picture = page.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
        page.stop()
        page.hide()
        page.deleteLater()

    def clear(self) -> None:
        """Stop video, stream or page and forget the current item (screen off)."""
        if self.current is not None and (self.current.video is not None or self.current.stream is not None):
            self.backend.stop()
        self._stream_timer.stop()
        self._stream = None
        self._close_page(keep_picture=False)
        self.current = None
        self._last_picture = None
        self.update()

    def picture(self) -> QImage:
        return self.grab().toImage()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        try:
            painted = self._paint(p)
        finally:
            p.end()
        if painted and self._first_frame_pending and self.current is not None:
            self._first_frame_pending = False
            self.frame_painted.emit(self.current.item_id, time.monotonic())

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._text_font = None
        if self.page is not None:
            self.page.setGeometry(self.rect())
        super().resizeEvent(event)

    def _paint(self, p: QPainter) -> bool:
        """Paint the current item; False when it has nothing of its own yet (the last picture stays)."""
        p.fillRect(self.rect(), QColor("black"))
        cur = self.current
        if cur is None:
            return False
        if cur.web is not None:  # the page widget covers the zone once loaded; until then, the last picture
            if self._last_picture is not None:
                p.drawImage(fit_or_fill(self._last_picture.size(), self.size()), self._last_picture)
            return False
        if cur.video is not None or cur.stream is not None:
            frame = self.backend.frame()
            if frame is None:
                if self._last_picture is not None:
                    p.drawImage(fit_or_fill(self._last_picture.size(), self.size()), self._last_picture)
                return False
            self._last_picture = frame
            self._last_aspect = self.backend.frame_aspect()
            target = letterbox(self._last_aspect or _aspect(frame.size()), self.size())
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, target.size() != frame.size())
            p.drawImage(target, frame)
            return True
        if cur.image is not None:
            target = fit_or_fill(cur.image.size(), self.size())
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, target.size() != cur.image.size())
            p.drawImage(target, cur.image)
            self._paint_fade(p)
            self._last_picture = cur.image
            return True
        if self._text_font is None:
            self._text_font = text_font(cur.text, _text_box(self.rect()).size())
        p.fillRect(self.rect(), QColor("#0b3d6b"))
        draw_text_block(p, self.rect(), cur.text, QColor("white"), self._text_font)
        return True

    def _paint_fade(self, p: QPainter) -> None:
        if self._fade_from is None:
            return
        t = (time.monotonic() - self._fade_start) * 1000 / self.crossfade_ms
        if t >= 1:
            self._fade_from = None
            self._fade_timer.stop()
            return
        p.setOpacity(1 - t)
        p.drawImage(fit_or_fill(self._fade_from.size(), self.size()), self._fade_from)
        p.setOpacity(1)

    def _on_frame_ready(self) -> None:
        if self.current is not None and (self.current.video is not None or self.current.stream is not None):
            self.repaint() if self._first_frame_pending else self.update()

    def _on_backend_finished(self) -> None:
        cur = self.current
        if cur is None or cur.video is None:
            return
        expected = cur.video.duration_s
        played = time.monotonic() - self._video_started
        if expected is not None and played < 0.6 * expected - 0.5:  # stopped far too early: damaged file
            self.video_failed.emit(cur.item_id, f"video ended after {played:.1f} s of {expected:.1f} s")
        else:
            self.video_finished.emit(cur.item_id)

    def _on_backend_failed(self, reason: str) -> None:
        if self.current is not None and self.current.video is not None:
            self.video_failed.emit(self.current.item_id, reason)


STREAM_STEP_MS = 250


def _web_policy(item: ContentItem) -> WebPagePolicy:
    """The page's guards from its item; MediaError where Qt WebEngine is missing (the item is skipped)."""
    try:
        load_web_engine()
    except WebUnavailable as exc:
        raise MediaError(f"{item.id}: {exc}") from exc
    try:
        timeout = item.load_timeout_s or DEFAULT_LOAD_TIMEOUT_S
        return WebPagePolicy(item.url or "", item.allowed_hosts, timeout)
    except ValueError as exc:
        raise MediaError(f"{item.id}: {exc}") from exc


def _aspect(size: QSize) -> float:
    return size.width() / max(1, size.height())


def letterbox(aspect: float, box: QSize) -> QRect:
    """The largest rectangle of ``aspect`` (width / height) centred in ``box``: bars, never a crop."""
    if aspect <= 0 or box.isEmpty():
        return QRect(0, 0, box.width(), box.height())
    w, h = box.width(), round(box.width() / aspect)
    if h > box.height():
        w, h = round(box.height() * aspect), box.height()
    return QRect((box.width() - w) // 2, (box.height() - h) // 2, w, h)


def reshaped(image: QImage, aspect: float | None) -> QImage:
    """``image`` scaled to ``aspect`` (a stream's frame from a buffer of another shape), so that the
    picture kept on screen after it is drawn as it was seen; unchanged when it has that shape."""
    if aspect is None or image.isNull() or abs(_aspect(image.size()) - aspect) <= 0.01 * aspect:
        return image
    w, h = image.width(), round(image.width() / aspect)
    if h < image.height():  # grow, never shrink, the other side
        w, h = round(image.height() * aspect), image.height()
    mode = Qt.TransformationMode.SmoothTransformation
    return image.scaled(w, h, Qt.AspectRatioMode.IgnoreAspectRatio, mode)


def _text_box(rect: QRect) -> QRect:
    margin = max(8, min(rect.width(), rect.height()) // 20)
    return rect.adjusted(margin, margin, -margin, -margin)


class _Refreshing(QWidget):
    """A widget repainted by a timer that runs only while it is visible and has something to show."""

    def __init__(self, interval_ms: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.update)

    def _active(self) -> bool:
        return True

    def _refresh_timer(self) -> None:
        if self.isVisible() and self._active():
            self._timer.start()
        else:
            self._timer.stop()

    def showEvent(self, event: QShowEvent) -> None:
        self._refresh_timer()

    def hideEvent(self, event: QHideEvent) -> None:
        self._timer.stop()


class Ticker(_Refreshing):
    """Announcement texts scrolling right to left; position follows the monotonic clock, not frame count."""

    def __init__(self, clock: Clock, parent: QWidget | None = None, speed_px_s: float = 120.0) -> None:
        super().__init__(33, parent)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.speed_px_s = speed_px_s
        self._clock = clock
        self._text = ""
        self._start = clock.monotonic()
        self._font = QFont(CJK_FAMILY)

    @property
    def text(self) -> str:
        return self._text

    def set_texts(self, texts: Sequence[str]) -> None:
        text = "　　◆　　".join(t.strip() for t in texts if t.strip())
        if text == self._text:
            return
        self._text = text
        self._start = self._clock.monotonic()
        self._refresh_timer()
        self.update()

    def _active(self) -> bool:
        return bool(self._text)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#14213d"))
        if self._text:
            self._font.setPixelSize(max(10, int(self.height() * 0.6)))
            p.setFont(self._font)
            p.setPen(QColor("#ffd166"))
            width = QFontMetrics(self._font).horizontalAdvance(self._text)
            travel = width + self.width()
            # starts fully visible at the left edge, then loops in from the right
            offset = ((self._clock.monotonic() - self._start) * self.speed_px_s + self.width()) % travel
            p.drawText(QRectF(self.width() - offset, 0, width + 10, self.height()),
                       int(Qt.AlignmentFlag.AlignVCenter), self._text)
        p.end()


class ClockLabel(_Refreshing):
    """Local date and time for the screen's time zone."""

    def __init__(self, tz: ZoneInfo, clock: Clock, parent: QWidget | None = None) -> None:
        super().__init__(1000, parent)
        self.tz = tz
        self._clock = clock
        self._font = QFont(CJK_FAMILY)

    def text(self) -> str:
        local = self._clock.now().astimezone(self.tz)
        weekday = "一二三四五六日"[local.weekday()]
        return f"{local:%Y-%m-%d} 星期{weekday}  {local:%H:%M}"

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#0d1b2a"))
        text = self.text()
        size = max(10, int(self.height() * 0.45))
        self._font.setPixelSize(size)
        advance = QFontMetrics(self._font).horizontalAdvance(text)
        if advance > self.width() * 0.92:
            self._font.setPixelSize(max(8, int(size * self.width() * 0.92 / advance)))
        p.setFont(self._font)
        p.setPen(QColor("white"))
        p.drawText(self.rect(), int(Qt.AlignmentFlag.AlignCenter), text)
        p.end()


BANNER_SHARE: Mapping[Loudness, float] = {  # of the screen's height
    Loudness.BANNER_WARNING: 0.24,
    Loudness.BANNER_NOTICE: 0.18,
}
ALERT_COLOURS: Mapping[Loudness, str] = {
    Loudness.FULL_SCREEN: "#b00020",
    Loudness.BANNER_WARNING: "#b00020",
    Loudness.BANNER_NOTICE: "#1d3557",
}


class EmergencyOverlay(QWidget):
    """An emergency until the operator (or the alert's expiry) ends it, as loud as the alert is:
    full screen red over everything, or a banner across the top over the programme (red for a
    warning, dark blue for a notice), so residents still see what plays beneath."""


    def __init__(self, parent: QWidget | None = None, langs: Sequence[str] = DEFAULT_LANGS) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.langs = tuple(langs)
        self.item: ContentItem | None = None
        self.loudness = Loudness.FULL_SCREEN
        self._font: QFont | None = None
        self._area = QRect()

    @property
    def is_banner(self) -> bool:
        return self.loudness is not Loudness.FULL_SCREEN

    def set_item(self, item: ContentItem | None, loudness: Loudness = Loudness.FULL_SCREEN) -> None:
        self.item = item
        self.loudness = loudness
        self._font = None
        self.place(self._area)
        self.setVisible(item is not None)
        if item is not None:
            self.raise_()
            self.repaint()

    def text(self) -> str:
        """What the overlay says: the operator's title first (issue 14), then the message."""
        if self.item is None:
            return ""
        body = item_text(self.item, self.langs)
        title = self.item.title.strip()
        return f"{title}\n\n{body}" if title and title != body else body

    def place(self, area: QRect) -> None:
        """Cover ``area`` (the whole view), or its top strip for a banner."""
        self._area = QRect(area)
        if self.is_banner:
            height = max(48, int(area.height() * BANNER_SHARE[self.loudness]))
            self.setGeometry(area.x(), area.y(), area.width(), height)
        else:
            self.setGeometry(area)
        self._font = None

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(ALERT_COLOURS[self.loudness]))
        if self.is_banner:  # a light edge between the banner and the programme
            p.fillRect(0, self.height() - 4, self.width(), 4, QColor("#ffd166"))
        if self.item is not None:
            text = self.text()
            if self._font is None:
                self._font = text_font(text, _text_box(self.rect()).size())
            draw_text_block(p, self.rect(), text, QColor("white"), self._font)
        p.end()


class SignageView(QWidget):
    """The screen: zones laid out per screen class, plus emergency overlay and screen-off black."""

    def __init__(
        self,
        backend: MediaBackend,
        screen_class: ScreenClass = ScreenClass.OUTDOOR_LARGE,
        *,
        tz: ZoneInfo | None = None,
        clock: Clock | None = None,
        crossfade_ms: int = 0,
        langs: Sequence[str] = DEFAULT_LANGS,
        stream_policy: StreamPolicy | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAutoFillBackground(False)
        self.screen_class = screen_class
        self.main = MainZone(backend, self, crossfade_ms, langs, stream_policy)
        clock = clock or SystemClock()
        self.ticker = Ticker(clock, self)
        self.clock = ClockLabel(tz or ZoneInfo("Asia/Shanghai"), clock, self)
        self.emergency = EmergencyOverlay(self, langs)
        self.emergency.hide()
        self._off = False
        self.set_screen_class(screen_class)

    def set_screen_class(self, screen_class: ScreenClass) -> None:
        self.screen_class = screen_class
        bars = screen_class is ScreenClass.INDOOR_SMALL
        self.ticker.setVisible(bars and not self._off)
        self.clock.setVisible(bars and not self._off)
        self._layout()

    @property
    def off(self) -> bool:
        return self._off

    def set_off(self, off: bool) -> None:
        """Outside operating hours: black, video stopped."""
        if off == self._off:
            return
        self._off = off
        if off:
            self.main.clear()
        self.main.setVisible(not off)
        self.set_screen_class(self.screen_class)
        self.update()

    def picture(self) -> QImage:
        """Exactly what is on screen now (for screenshots and the frozen-screen hash)."""
        return self.grab().toImage()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("black"))
        p.end()

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._layout()
        super().resizeEvent(event)

    def _layout(self) -> None:
        r = self.rect()
        self.emergency.place(r)
        if self.screen_class is ScreenClass.INDOOR_SMALL:
            bar = max(40, r.height() // 9)
            clock_w = max(240, r.width() // 4)
            self.main.setGeometry(0, 0, r.width(), r.height() - bar)
            self.ticker.setGeometry(0, r.height() - bar, r.width() - clock_w, bar)
            self.clock.setGeometry(r.width() - clock_w, r.height() - bar, clock_w, bar)
        else:
            self.main.setGeometry(r)
