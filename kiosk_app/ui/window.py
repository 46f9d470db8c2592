"""The kiosk's main window: top bar, offline banner, the current page, the idle warning overlay.

It only shows the flow's state and forwards input: touches restart the idle clock, keystrokes
(a USB scanner is a keyboard) go to the flow, and a one-second timer drives ``flow.tick``.
Over the pages it shows what the device is told: an emergency (on top of everything, read
aloud), the operator's screen-off and identify. Its screenshots (:meth:`KioskWindow.screenshot`)
never show a page that holds a resident's data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QImage, QKeyEvent, QMouseEvent, QPixmap
from PySide6.QtWidgets import QApplication, QFrame, QHBoxLayout, QStackedWidget, QVBoxLayout, QWidget

from kiosk_app.flow import PRIVATE_SCREENS, KioskFlow, KioskState, Screen, in_session
from kiosk_app.i18n import Translator
from kiosk_app.maintenance import MaintenanceInfo
from kiosk_app.scan import BurstKind, HiddenGesture, ScanDetector
from kiosk_app.speech import Speaker
from kiosk_app.store import CatalogueStore
from kiosk_app.theme import stylesheet, theme_for
from kiosk_app.ui.emergency import BlackCover, EmergencyPanel, PrivacyPage, spoken_notice
from kiosk_app.ui.pages import PageBuilder
from kiosk_app.ui.widgets import make_button, make_label, qr_image
from schedules.clock import Clock
from schedules.model import ContentItem
from signage_player import IdentifyBanner

log = logging.getLogger(__name__)


class _Corner(QWidget):
    """An unmarked square in the top-left corner: five quick taps open the operator PIN screen."""

    def __init__(self, on_tap: Callable[[], None]) -> None:
        super().__init__()
        self.setFixedSize(90, 90)
        self._on_tap = on_tap

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._on_tap()
        event.accept()


class AttractPanel(QWidget):
    """The idle screen: signage content (the player's view when given) and a clear call to action."""

    def __init__(self, on_start: Callable[[], None], content: QWidget | None = None) -> None:
        super().__init__()
        self.setObjectName("page")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 40)
        self.content = content
        if content is not None:
            layout.addWidget(content, 1)
        else:
            layout.addStretch(1)
        self.title = make_label("", "title")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.subtitle = make_label("", "muted")
        self.subtitle.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.start = make_button("", on_start, "primary", "start")
        self.start.setMinimumHeight(200)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        if content is None:
            layout.addStretch(1)
        inner = QHBoxLayout()
        inner.setContentsMargins(80, 20, 80, 0)
        inner.addWidget(self.start)
        layout.addLayout(inner)
        self._on_start = on_start

    def set_content(self, content: QWidget) -> None:
        """Put the signage view above the call to action (the player's widget, built after the window)."""
        layout = self.layout()
        assert isinstance(layout, QVBoxLayout)
        if self.content is not None:
            layout.removeWidget(self.content)
            self.content.deleteLater()
        else:
            stretch = layout.itemAt(0)
            if stretch is not None:
                layout.removeItem(stretch)
            last = layout.itemAt(layout.count() - 2)  # the stretch between subtitle and button
            if last is not None and last.spacerItem() is not None:
                layout.removeItem(last)
        layout.insertWidget(0, content, 1)
        content.show()  # a widget added to a visible parent stays hidden until shown
        self.content = content

    def retranslate(self, tr: Translator) -> None:
        self.title.setText(tr.t("app.title"))
        self.subtitle.setText(tr.t("attract.subtitle"))
        self.start.setText(tr.t("attract.touch_to_start"))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._on_start()  # a touch anywhere on the loop starts, not only on the button
        event.accept()


class KioskWindow(QWidget):
    def __init__(
        self,
        flow: KioskFlow,
        tr: Translator,
        speaker: Speaker,
        clock: Clock,
        maintenance: Callable[[], MaintenanceInfo],
        catalogue_store: CatalogueStore,
        attract_content: QWidget | None = None,
        screenshot_dir: Path | None = None,
        tick_ms: int = 1000,
        read_aloud: bool = True,
    ) -> None:
        """``read_aloud``: emergencies are spoken as they start (the kiosk offers read-aloud)."""
        super().__init__()
        self.setObjectName("kioskRoot")
        self.setWindowTitle("Community kiosk")
        self.flow, self.translator, self.speaker, self.clock = flow, tr, speaker, clock
        self.catalogue_store = catalogue_store
        self.screenshot_dir = screenshot_dir
        self._maintenance = maintenance
        self._pixmaps: dict[str, QPixmap | None] = {}
        self._images_version = 0
        self._gesture = HiddenGesture()
        self._scan = ScanDetector()
        self._large: bool | None = None
        self._page_key: object = None
        self.builder: PageBuilder | None = None
        self._retired: list[QWidget] = []  # pages replaced, deleted on the next turn of the event loop

        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(0)
        self.top = QFrame()
        top = QVBoxLayout(self.top)
        top.setContentsMargins(0, 0, 24, 8)
        head = QHBoxLayout()
        head.addWidget(_Corner(self._on_corner_tapped))
        self.title = make_label("", "title")
        head.addWidget(self.title, 1)
        top.addLayout(head)
        bar = QHBoxLayout()
        bar.setContentsMargins(24, 0, 0, 0)
        self.large_button = make_button("", self.flow.toggle_large_text, name="large_text")
        self.language_button = make_button("", self.translator.toggle, name="language")
        self.speak_button = make_button("", self.read_aloud, name="read_aloud")
        for b in (self.large_button, self.language_button, self.speak_button):
            bar.addWidget(b)
        top.addLayout(bar)
        root.addWidget(self.top)
        self.banner = make_label("", "banner")
        self.banner.setProperty("testName", "offline_banner")
        root.addWidget(self.banner)
        self.busy = make_label("", "banner")  # shown at once while the server works: no touch seems lost
        self.busy.setProperty("testName", "busy")
        root.addWidget(self.busy)
        self.stack = QStackedWidget()
        self.attract = AttractPanel(self.flow.start, attract_content)
        self.stack.addWidget(self.attract)
        self.page: QWidget = QWidget()
        self.stack.addWidget(self.page)
        root.addWidget(self.stack, 1)

        self.overlay = QFrame(self)
        self.overlay.setObjectName("overlay")
        box = QVBoxLayout(self.overlay)
        box.setContentsMargins(80, 500, 80, 500)
        card = QFrame()
        card.setObjectName("card")
        col = QVBoxLayout(card)
        col.setContentsMargins(40, 40, 40, 40)
        self.overlay_title = make_label("", "title")
        self.overlay_text = make_label("")
        self.overlay_text.setProperty("testName", "idle_countdown")
        self.more_time = make_button("", lambda: self.flow.touched(self.clock.now()), "primary", "more_time")
        for w in (self.overlay_title, self.overlay_text, self.more_time):
            col.addWidget(w)
        box.addWidget(card)
        self.overlay.hide()
        self.speak_emergencies = read_aloud
        self.screen_off = BlackCover(self)
        self.identify = IdentifyBanner(self, clock)
        self.emergency = EmergencyPanel(self, self.read_aloud)
        self.privacy = PrivacyPage()  # put in place of a private page only while a screenshot is taken

        flow.subscribe(self._on_state_changed)
        tr.subscribe(self.refresh)
        self.timer = QTimer(self)
        self.timer.setInterval(tick_ms)
        self.timer.timeout.connect(self._on_tick)
        # Presses go to the button under the finger, never to this window: watch the whole
        # application and count those aimed at a widget of this window as touches.
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self.refresh()

    # -- input ----------------------------------------------------------------------------------

    def start_timers(self) -> None:
        self.timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.MouseButtonPress, QEvent.Type.TouchBegin) and (
            isinstance(watched, QWidget) and (watched is self or self.isAncestorOf(watched))
        ):
            self.flow.touched(self.clock.now())  # any touch restarts the idle clock
        return False

    def stop_watching_touches(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Keyboard and USB scanner input: characters into the current field, Enter submits or scans."""
        now = self.clock.now()
        self.flow.touched(now)
        at = _key_time(event, now)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            burst = self._scan.enter(at)
            if burst is not None:
                if burst.kind is BurstKind.BROKEN:
                    log.info("scan came in parts: reading the whole input (%d chars)", len(burst.text))
                self.flow.scanned(burst.text)
            elif self.flow.state.screen is Screen.CASE_INPUT:
                self.flow.submit_case(now)
            return
        if event.key() == Qt.Key.Key_Backspace:
            self.flow.delete()
            return
        text = event.text()
        if len(text) == 1 and text.isprintable():
            self._scan.char(text, at)
            self.flow.key(text)

    def _on_corner_tapped(self) -> None:
        self.flow.touched(self.clock.now())
        if self._gesture.tap(self.clock.now()):
            self.flow.open_maintenance_pin()

    def _on_tick(self) -> None:
        self.flow.tick(self.clock.now())

    def read_aloud(self) -> None:
        item = self.emergency.item
        if item is not None:
            language = self.translator.language
            self.speaker.say(spoken_notice(item, language), language)
            return
        if self.flow.state.screen is Screen.ATTRACT:
            text = f"{self.translator.t('app.title')}。{self.translator.t('attract.touch_to_start')}"
        else:
            text = "。".join(self.builder.spoken) if self.builder else ""
        self.speaker.say(text, self.translator.language)

    # -- drawing --------------------------------------------------------------------------------

    def _image(self, service_id: str) -> QPixmap | None:
        if self._images_version != self.flow.images_version:
            self._pixmaps.clear()
            self._images_version = self.flow.images_version
        if service_id not in self._pixmaps:
            data = self.catalogue_store.image(service_id)
            pixmap = QPixmap()
            self._pixmaps[service_id] = pixmap if data and pixmap.loadFromData(data) else None
        return self._pixmaps[service_id]

    def _on_state_changed(self, state: KioskState) -> None:
        self.refresh()

    def refresh(self) -> None:
        state = self.flow.state
        theme = theme_for(state.large_text)
        if self._large is not state.large_text:
            self.setStyleSheet(stylesheet(theme))
            self._large = state.large_text
        t = self.translator.t
        self.title.setText(t("app.title"))
        size_key = "common.normal_text" if state.large_text else "common.large_text"
        self.large_button.setText(t(size_key))
        self.language_button.setText(t("common.language"))
        self.speak_button.setText("♪ " + t("common.read_aloud"))
        offline = not state.online
        if offline and state.catalogue_as_of is not None:
            self.banner.setText("⚠ " + t("offline.banner", time=self.translator.time(state.catalogue_as_of)))
        elif offline:
            self.banner.setText("⚠ " + t("offline.no_catalogue"))
        self.banner.setVisible(offline)
        self.busy.setText("… " + t("common.loading"))
        self.busy.setVisible(state.busy and state.screen is not Screen.ORDER)
        self._render_page(state, theme)
        if state.idle_seconds_left is not None:
            self.overlay_title.setText(t("idle.title"))
            self.overlay_text.setText(t("idle.countdown", seconds=state.idle_seconds_left))
            self.more_time.setText(t("idle.more_time"))
            self.overlay.setGeometry(self.rect())
            self.overlay.setStyleSheet("QFrame#overlay { background: rgba(0, 0, 0, 150); }")
            self.overlay.show()
            self.overlay.raise_()
        else:
            self.overlay.hide()
        if self.emergency.item is not None:  # the language may have changed: redraw it
            self.emergency.show_item(self.emergency.item, self.translator, in_session(state))
        self._keep_on_top()
        if self.screenshot_dir is not None:
            self.save_screenshot(self.screenshot_dir)

    # -- what the device is told ----------------------------------------------------------------

    def show_emergency(self, item: ContentItem | None) -> None:
        """An emergency starts (or ends): over every page, the resident's flow kept underneath."""
        self.emergency.show_item(item, self.translator, in_session(self.flow.state))
        self._keep_on_top()
        if item is not None and self.speak_emergencies:
            self.read_aloud()
        elif item is None:
            self.speaker.stop()

    def set_screen_off(self, off: bool) -> None:
        """An operator switched the screen off (black) or on; an emergency still shows."""
        self.screen_off.setGeometry(self.rect())
        self.screen_off.setVisible(off)
        self._keep_on_top()

    def _keep_on_top(self) -> None:
        """Covers above the pages, in order: screen off, identify, the emergency above all."""
        self.screen_off.raise_()
        self.identify.keep_on_top()
        if self.emergency.isVisible():
            self.emergency.setGeometry(self.rect())
            self.emergency.raise_()

    def screenshot(self) -> QImage:
        """What an operator may see: the window, but a page holding a resident's data is replaced
        by the privacy page while the picture is taken (never painted on the real screen)."""
        screen = self.flow.state.screen
        if screen not in PRIVATE_SCREENS:
            return self.grab().toImage()
        self.privacy.describe(self.translator, screen.value)
        self.stack.addWidget(self.privacy)
        self.stack.setCurrentWidget(self.privacy)
        try:
            return self.grab().toImage()
        finally:
            self.stack.setCurrentWidget(self.page)
            self.stack.removeWidget(self.privacy)

    def _render_page(self, state: KioskState, theme: object) -> None:
        if state.screen is Screen.ATTRACT:
            self.attract.retranslate(self.translator)
            self.stack.setCurrentWidget(self.attract)
            self._replace_page(QWidget(), None)  # nothing of the last resident stays in the window
            self._page_key = None
            qr_image.cache_clear()
            return
        key = (self.translator.language, self.flow.images_version, tuple(state.history),
               dataclasses.replace(state, history=[], pay_seconds_left=None, idle_seconds_left=None))
        if key == self._page_key and self.builder is not None:
            self.builder.update_countdown(self.page)  # a ticking clock must not rebuild a button mid-press
            return
        builder = PageBuilder(self.flow, self.translator, theme_for(state.large_text), self.clock,
                              self._maintenance, self._image)
        page = builder.build()
        self._replace_page(page, builder)
        self.stack.setCurrentWidget(page)
        self._page_key = key

    def _replace_page(self, page: QWidget, builder: PageBuilder | None) -> None:
        old = self.page
        self.stack.addWidget(page)
        self.stack.removeWidget(old)
        old.hide()
        old.setParent(None)  # out of the window at once; freed when control returns to the event loop
        self._retired.append(old)
        QTimer.singleShot(0, self._free_retired)
        self.page, self.builder = page, builder

    def _free_retired(self) -> None:
        """Delete replaced pages (a tap's handler on one of them has returned by now).

        Through the Python wrapper, not ``deleteLater()``: PySide leaves about 30 bytes behind for
        every Python-made widget that Qt deletes on its own, a leak of kilobytes per session.
        """
        retired, self._retired = self._retired, []
        for page in retired:
            if shiboken6.isValid(page):
                shiboken6.delete(page)

    def save_screenshot(self, directory: Path, name: str | None = None) -> Path:
        """``<screen>-<language>-<normal|large>.png`` (or ``name`` instead of the screen) in ``directory``."""
        mode = "large" if self.flow.state.large_text else "normal"
        label = name or self.flow.state.screen.value
        path = Path(directory) / f"{label}-{self.translator.language.value}-{mode}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.grab().save(str(path))
        return path

    def resizeEvent(self, event: object) -> None:
        self.overlay.setGeometry(self.rect())
        self.screen_off.setGeometry(self.rect())
        self._keep_on_top()


def _key_time(event: QKeyEvent, now: dt.datetime) -> float:
    """When the keyboard sent the key, in seconds: the event's own timestamp, so a GUI thread that
    was busy for a moment does not split a scanner's even burst. Synthetic events carry none (0):
    then the clock's reading is the best there is."""
    stamp = event.timestamp()
    return stamp / 1000.0 if stamp else now.timestamp()
