"""Small building blocks shared by the kiosk pages: buttons, tiles, labels, keypads, icons, QR images."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache, partial
from pathlib import Path

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QBoxLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk_app.qr import qr_matrix
from kiosk_app.theme import FONT_FAMILY

ICONS = Path(__file__).resolve().parent.parent / "icons"  # category icons, <category id>.png


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


class ContentButton(QPushButton):
    """A large button made of other widgets: an icon above a name that wraps (a home tile), or a
    card of facts. The whole surface is the touch target; the parts let touches through to it."""

    def __init__(self, on_click: Callable[[], None], role: str, name: str, vertical: bool = True) -> None:
        super().__init__()
        self.setObjectName(role)
        self.setProperty("testName", name)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.clicked.connect(lambda _checked=False: on_click())
        self.box: QBoxLayout = QVBoxLayout(self) if vertical else QHBoxLayout(self)
        self.box.setContentsMargins(20, 16, 20, 16)
        self.box.setSpacing(8)
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        policy.setHeightForWidth(True)  # a name that wraps makes the button taller, never cut
        self.setSizePolicy(policy)

    def add(self, widget: QWidget, stretch: int = 0,
            alignment: Qt.AlignmentFlag = Qt.AlignmentFlag(0)) -> QWidget:
        widget.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.box.addWidget(widget, stretch, alignment)
        return widget

    def text_parts(self) -> list[str]:
        """The texts on the button (what it says to a screen reader, and to the tests)."""
        return [w.text() for w in self.findChildren(QLabel) if w.text()]

    def sizeHint(self) -> QSize:
        return self.box.sizeHint()

    def minimumSizeHint(self) -> QSize:
        return self.box.minimumSize()

    def hasHeightForWidth(self) -> bool:
        return self.box.hasHeightForWidth()

    def heightForWidth(self, width: int) -> int:
        return self.box.totalHeightForWidth(width)


def icon_label(pixmap: QPixmap) -> QLabel:
    label = QLabel()
    label.setPixmap(pixmap)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


@lru_cache(maxsize=32)
def category_icon(category_id: str, name: str, size_px: int, colour: str, on_colour: str) -> QPixmap:
    """The category's icon from ``kiosk_app/icons`` (the artwork in ``assets/icons``); a category
    without one gets a round badge with the first character of its name, in the same style."""
    path = ICONS / f"{category_id}.png"
    pixmap = QPixmap(str(path)) if path.is_file() else QPixmap()
    if not pixmap.isNull():
        return pixmap.scaled(size_px, size_px, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    return badge(name[:1] or "?", size_px, colour, on_colour)


def badge(char: str, size_px: int, colour: str, on_colour: str) -> QPixmap:
    image = QImage(size_px, size_px, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(colour))
    painter.drawEllipse(0, 0, size_px - 1, size_px - 1)
    font = QFont(FONT_FAMILY)
    font.setPixelSize(int(size_px * 0.5))
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QColor(on_colour))
    painter.drawText(QRect(0, 0, size_px, size_px), Qt.AlignmentFlag.AlignCenter, char)
    painter.end()
    return QPixmap.fromImage(image)


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
