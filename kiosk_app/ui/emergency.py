"""Covers over the kiosk's pages: the emergency notice, the operator's screen-off, the privacy page.

Each covers the whole window and only shows; none touches the flow, so a resident's booking or
payment underneath carries on (and is there again when the cover goes).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from kiosk_app.i18n import Language, Translator
from kiosk_app.ui.widgets import make_button, make_label
from schedules.model import ContentItem

RED = "#b00020"


def notice_texts(item: ContentItem, language: Language) -> list[str]:
    """The notice in the reader's language first, then the other one (each once, none empty)."""
    first = item.text.get(language.value, "").strip()
    rest = [t.strip() for lang, t in item.text.items() if lang != language.value and t.strip()]
    return [t for t in [first, *rest] if t] or [item.title]


def notice_heading(item: ContentItem, tr: Translator) -> str:
    """The operator's title ("燃气泄漏") under the warning sign; the generic words only without one."""
    title = item.title.strip()
    return "⚠ " + (title if title and item.text else tr.t("emergency.title"))


def spoken_notice(item: ContentItem, language: Language) -> str:
    """What "read aloud" says: the operator's title, then the notice (the title once)."""
    texts = notice_texts(item, language)
    title = item.title.strip()
    return "。".join([title, *texts] if title and title not in texts else texts)


class EmergencyPanel(QFrame):
    """The emergency in large white type on red, over every page; a button reads it aloud."""

    def __init__(self, parent: QWidget, on_read_aloud: Callable[[], None]) -> None:
        super().__init__(parent)
        self.setObjectName("emergency")
        self.setStyleSheet(f"QFrame#emergency {{ background: {RED}; }} "
                           "QFrame#emergency QLabel { color: white; background: transparent; }")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(60, 80, 60, 80)
        layout.setSpacing(36)
        self.title = make_label("", "title")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setWordWrap(True)
        self.title.setProperty("testName", "emergency_title")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setProperty("testName", "emergency_text")
        self.text.setStyleSheet("font-size: 56pt; font-weight: bold;")
        self.kept = make_label("")
        self.kept.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.kept.setProperty("testName", "emergency_kept")
        self.read = make_button("", on_read_aloud, "primary", "emergency_read_aloud")
        layout.addWidget(self.title)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.kept)
        layout.addWidget(self.read)
        self.item: ContentItem | None = None
        self.painted: ContentItem | None = None  # the notice this panel last painted: what is on screen
        self.on_painted: Callable[[], None] = lambda: None  # a new notice painted for the first time
        self.hide()

    def show_item(self, item: ContentItem | None, tr: Translator, resident_here: bool) -> None:
        self.item = item
        if item is None:
            self.painted = None
            self.hide()
            return
        self.title.setText(notice_heading(item, tr))
        self.text.setText("\n\n".join(notice_texts(item, tr.language)))
        self.kept.setText(tr.t("emergency.kept"))
        self.kept.setVisible(resident_here)
        self.read.setText("♪ " + tr.t("emergency.read_aloud"))
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())
        self.show()
        self.raise_()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        # isVisible: on the screen, not a grab (a heartbeat's screen hash) of a window not yet up
        if self.item is not None and self.painted is not self.item and self.isVisible():
            self.painted = self.item
            self.on_painted()


class BlackCover(QWidget):
    """The screen switched off by an operator: black over everything but an emergency."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("screen_off")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self.setStyleSheet("QWidget#screen_off { background: black; }")
        self.hide()


class PrivacyPage(QFrame):
    """What screenshots show in place of a page holding a resident's data: its name, nothing else."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("page")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(80, 80, 80, 80)
        layout.addStretch(1)
        self.caption = make_label("", "title")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.caption)
        layout.addStretch(1)

    def describe(self, tr: Translator, page: str) -> None:
        self.caption.setText(tr.t("privacy.hidden", page=page))
