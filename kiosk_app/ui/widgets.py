"""Small building blocks shared by the kiosk pages: buttons, labels, keypads, QR images."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache, partial

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QGridLayout,
    QLabel,
    QPushButton,
    QScroller,
    QSizePolicy,
    QWidget,
)

from kiosk_app.qr import qr_matrix


def make_button(text: str, on_click: Callable[[], None], role: str = "", name: str = "") -> QPushButton:
    """A touch button; ``role`` picks its style (primary, danger, key, tile), ``name`` finds it in tests."""
    button = QPushButton(text)
    if role:
        button.setObjectName(role)
    if name:
        button.setProperty("testName", name)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keystrokes go to the window (scanner input)
    button.clicked.connect(lambda _checked=False: on_click())
    button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return button


def make_label(text: str, role: str = "", wrap: bool = True) -> QLabel:
    label = QLabel(text)
    if role:
        label.setObjectName(role)
    label.setWordWrap(wrap)
    label.setTextFormat(Qt.TextFormat.PlainText)  # server text is never interpreted as HTML
    return label


def keypad(keys: Sequence[str], on_key: Callable[[str], None], delete_text: str,
           on_delete: Callable[[], None], columns: int = 3) -> QWidget:
    """A grid of large keys plus a delete key; each key has a ``testName`` of ``key:<char>``."""
    box = QWidget()
    grid = QGridLayout(box)
    grid.setSpacing(12)
    for i, char in enumerate(keys):
        b = make_button(char, partial(on_key, char), "key", f"key:{char}")
        grid.addWidget(b, i // columns, i % columns)
    n = len(keys)
    grid.addWidget(make_button(delete_text, on_delete, "key", "key:delete"), n // columns, n % columns,
                   1, max(1, columns - n % columns))
    return box


class TouchScrolling:
    """Finger-drag scrolling for the pages' scroll areas, all through one gesture recognizer.

    ``QScroller.grabGesture`` registers a new recognizer under a new gesture id on every call; Qt
    keeps each until exit and PySide builds a Python enum class per new id, about 2.6 KB per page
    built. One registration, on a hidden widget living as long as ``owner``, serves every page.
    """

    def __init__(self, owner: QWidget) -> None:
        self._anchor = QWidget(owner)
        self._anchor.hide()
        self._gesture = QScroller.grabGesture(self._anchor, QScroller.ScrollerGestureType.TouchGesture)

    def enable(self, area: QAbstractScrollArea) -> None:
        viewport = area.viewport()
        QScroller.scroller(viewport)  # the flick gesture moves the scroller of the widget it lands on
        viewport.grabGesture(self._gesture)
        viewport.setAttribute(Qt.WidgetAttribute.WA_AcceptTouchEvents)


@lru_cache(maxsize=4)
def qr_image(data: str, size_px: int) -> QImage:
    """A QR code drawn crisp at about ``size_px`` (whole pixels per module, black on white)."""
    matrix = qr_matrix(data)
    modules = len(matrix)
    scale = max(1, size_px // modules)
    image = QImage(modules * scale, modules * scale, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    black = QColor("black")
    for y, row in enumerate(matrix):
        x = 0
        while x < modules:  # one rectangle per run of dark modules
            if row[x]:
                start = x
                while x < modules and row[x]:
                    x += 1
                painter.fillRect(start * scale, y * scale, (x - start) * scale, scale, black)
            else:
                x += 1
    painter.end()
    return image


def qr_label(data: str, size_px: int, name: str) -> QLabel:
    label = QLabel()
    label.setPixmap(QPixmap.fromImage(qr_image(data, size_px)))
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setMinimumSize(QSize(size_px // 2, size_px // 2))
    label.setProperty("testName", name)
    label.setProperty("qrData", data)
    return label
