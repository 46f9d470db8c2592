"""A web page as a playlist item, in Qt WebEngine, kept on its own page and its allowed hosts.

Guards: every request (navigation, frames, scripts, images) outside the allow-list is blocked; the
main frame never leaves the page it was given (links, scripts and redirects to elsewhere are
refused); no pop-ups, no JavaScript dialogs, no permissions (camera, location, notifications);
an off-the-record profile. The page has ``load_timeout_s`` to load; a failure, a timeout or a
crashed renderer emits :attr:`WebPageView.failed`, and the player shows the scheduled content
instead, never a black or error page.

Qt WebEngine comes with PySide6-Addons. Where it is not installed, or cannot start,
:func:`load_web_engine` raises :class:`WebUnavailable`: the player then treats web items as
unplayable and plays the rest of the schedule. Offscreen and without a GPU it runs on Chromium's
software path (``QTWEBENGINE_CHROMIUM_FLAGS="--no-sandbox --disable-gpu"`` as root).
"""

from __future__ import annotations

import importlib.util
import logging
import urllib.parse
from types import ModuleType
from typing import Any

from PySide6.QtCore import QTimer, QUrl, Signal
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from schedules.model import ItemKind
from signage_player.errors import PlayerError
from signage_player.webpolicy import WebPagePolicy, host_allowed

log = logging.getLogger(__name__)


class WebUnavailable(PlayerError):
    """Qt WebEngine is not installed or cannot start here."""


def load_web_engine() -> tuple[ModuleType, ModuleType]:
    """(QtWebEngineCore, QtWebEngineWidgets), or :class:`WebUnavailable`."""
    try:
        from PySide6 import QtWebEngineCore, QtWebEngineWidgets
    except ImportError as exc:
        raise WebUnavailable(f"Qt WebEngine is not available ({exc}); web pages are skipped") from exc
    return QtWebEngineCore, QtWebEngineWidgets


def playable_kinds() -> frozenset[ItemKind]:
    """The optional item kinds this player names in its manifest requests: live streams (libVLC is
    always there) and web pages where Qt WebEngine is installed (found, not loaded), so a server
    does not schedule pages a player would only skip."""
    web = importlib.util.find_spec("PySide6.QtWebEngineWidgets") is not None
    return frozenset({ItemKind.STREAM, *([ItemKind.WEB] if web else [])})


def off_the_record_profile() -> Any:
    """A profile that stores nothing on disk, owned by the application.

    A profile must outlive its pages (Qt WebEngine crashes otherwise), so it belongs to the
    application, not to a page's widget; the player makes one and passes it to every web item.
    """
    core, _widgets = load_web_engine()
    return core.QWebEngineProfile(QApplication.instance())


_PROFILE: list[Any] = []  # the application's one off-the-record profile, made on first use


def shared_profile() -> Any:
    """The player's one off-the-record profile (made on first use, owned by the application): every
    web item's page uses it, so no page outlives it and nothing of any page is kept on disk."""
    if not _PROFILE:
        _PROFILE.append(off_the_record_profile())
    return _PROFILE[0]


class WebPageView(QWidget):
    loaded = Signal()
    failed = Signal(str)

    def __init__(
        self, policy: WebPagePolicy, profile: Any | None = None, parent: QWidget | None = None
    ) -> None:
        """``profile``: the player's one off-the-record profile (see :func:`off_the_record_profile`)."""
        core, widgets = load_web_engine()
        super().__init__(parent)
        self.policy = policy
        self.blocked: list[str] = []  # what the guards refused, for the log and tests
        self._done = False
        profile = profile or off_the_record_profile()
        self._interceptor = _interceptor_class(core)(policy.allowed_hosts, self.blocked)
        self.page = _page_class(core)(profile, self, policy, self.blocked)
        self.page.setUrlRequestInterceptor(self._interceptor)  # per page: each item has its own allow-list
        settings = self.page.settings()
        attrs = core.QWebEngineSettings.WebAttribute
        for attr, on in (
            (attrs.JavascriptCanOpenWindows, False),
            (attrs.JavascriptCanAccessClipboard, False),
            (attrs.JavascriptCanPaste, False),
            (attrs.LocalContentCanAccessRemoteUrls, False),
            (attrs.LocalContentCanAccessFileUrls, False),
            (attrs.PluginsEnabled, False),
            (attrs.FullScreenSupportEnabled, False),
            (attrs.ScreenCaptureEnabled, False),
            (attrs.ErrorPageEnabled, False),
            (attrs.ShowScrollBars, False),
        ):
            settings.setAttribute(attr, on)
        self.view = widgets.QWebEngineView(self)
        self.view.setPage(self.page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.page.loadFinished.connect(self._on_load_finished)
        self.page.renderProcessTerminated.connect(self._on_render_process_terminated)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_timeout)

    def start(self) -> None:
        self._done = False
        self._timer.start(int(self.policy.load_timeout_s * 1000))
        self.page.load(QUrl(self.policy.url))

    def stop(self) -> None:
        self._timer.stop()
        self.page.triggerAction(self.page.WebAction.Stop)

    def _finish(self, error: str | None) -> None:
        if self._done:
            return
        self._done = True
        self._timer.stop()
        if error is None:
            self.loaded.emit()
        else:
            log.warning("web page %s: %s", self.policy.url, error)
            self.failed.emit(error)

    def _on_load_finished(self, ok: bool) -> None:
        self._finish(None if ok else "the page did not load")

    def _on_timeout(self) -> None:
        self.page.triggerAction(self.page.WebAction.Stop)
        self._finish(f"the page did not load within {self.policy.load_timeout_s:g} s")

    def _on_render_process_terminated(self, *_args: Any) -> None:
        self._done = False  # a crash after loading is a failure too
        self._finish("the page's renderer stopped")


def _interceptor_class(core: ModuleType) -> type:
    class HostGuard(core.QWebEngineUrlRequestInterceptor):  # type: ignore[name-defined]
        def __init__(self, allowed: tuple[str, ...], blocked: list[str]) -> None:
            super().__init__()
            self.allowed, self.blocked = allowed, blocked

        def interceptRequest(self, info: Any) -> None:
            url = info.requestUrl().toString()
            if not host_allowed(url, self.allowed):
                self.blocked.append(url)
                info.block(True)

    return HostGuard


def _page_class(core: ModuleType) -> type:
    class GuardedPage(core.QWebEnginePage):  # type: ignore[name-defined]
        def __init__(self, profile: Any, parent: QWidget, policy: WebPagePolicy, blocked: list[str]) -> None:
            super().__init__(profile, parent)
            self.policy, self.blocked = policy, blocked
            self._home = urllib.parse.urldefrag(QUrl(policy.url).toString())[0]
            self.permissionRequested.connect(lambda permission: permission.deny())

        def acceptNavigationRequest(self, url: QUrl, kind: Any, main_frame: bool) -> bool:
            text = url.toString()
            if not host_allowed(text, self.policy.allowed_hosts):
                self.blocked.append(text)
                return False
            if main_frame and urllib.parse.urldefrag(text)[0] != self._home:
                self.blocked.append(text)  # the screen stays on its page
                return False
            return True

        def createWindow(self, kind: Any) -> None:
            return None

        def javaScriptAlert(self, origin: QUrl, message: str) -> None:
            pass

        def javaScriptConfirm(self, origin: QUrl, message: str) -> bool:
            return False

        def javaScriptPrompt(self, origin: QUrl, message: str, default: str) -> tuple[bool, str]:
            return False, ""

    return GuardedPage
