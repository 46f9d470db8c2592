"""The kiosk window under pytest-qt offscreen: touches, read aloud, scanner, idle reset, accessibility.

Every screen is visited in Chinese, English and large-text mode; each visit saves a screenshot
under test-artifacts/kiosk/ and checks touch-target sizes, text sizes, glyph coverage (no tofu)
and that no translation key leaked onto the screen.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import QBuffer, QEvent, QIODevice, QObject, Qt
from PySide6.QtGui import QFont, QFontMetrics, QImage, QKeyEvent
from PySide6.QtWidgets import QAbstractButton, QAbstractScrollArea, QApplication, QLabel, QWidget

from kiosk_app.api import FakeKioskApi
from kiosk_app.app import KioskApp
from kiosk_app.flow import ORDERS_TOPIC, CaseField, Screen
from kiosk_app.i18n import Language
from kiosk_app.speech import FakeSpeaker
from kiosk_app.theme import MIN_TEXT_PT, MIN_TOUCH_PX
from schedules.clock import MovableClock
from tests.kiosk_app.conftest import ARTIFACTS, PIN

RAW_KEY = re.compile(r"^[a-z_]+\.[a-z_.]+$")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
ENGLISH_WORD = re.compile(r"\b[A-Za-z]*[a-z][A-Za-z]*\b")  # codes (K23-F4K, GA2026…, MB) are not words
# What may cross languages: the button naming the other language, and what the server holds in one
# language only (a name, the documents a clerk listed). The operator's maintenance screens show
# raw facts (server URL, device id, version) and are not checked.
OTHER_LANGUAGE_OK = {Language.ZH: ("English",), Language.EN: ("中文", "Applicant:", "Documents needed:")}
OPERATOR_SCREENS = (Screen.MAINT_PIN, Screen.MAINTENANCE)


def other_language(text: str, language: Language) -> str | None:
    """The first word of the other language in ``text`` (raw English in Chinese or vice versa)."""
    if text.startswith(OTHER_LANGUAGE_OK[language]):
        return None
    found = ENGLISH_WORD.search(text) if language is Language.ZH else CJK.search(text)
    return found.group(0) if found else None


def find(window: QWidget, name: str) -> QWidget:
    for w in window.findChildren(QWidget):
        if w.property("testName") == name and w.isVisible():
            return w
    raise AssertionError(f"no visible widget {name!r} on {window.property('screen')}")


def decode_qr(label: QWidget) -> str:
    """Read the QR the way a phone camera would: from the painted pixels."""
    from PIL import Image
    from pyzbar.pyzbar import decode

    image = label.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return str(decode(Image.open(io.BytesIO(bytes(buffer.data()))))[0].data.decode())


def shown(app: KioskApp, name: str) -> bool:
    """Whether a widget named ``name`` is visible now."""
    try:
        find(app.window, name)
        return True
    except AssertionError:
        return False


def tap(qtbot, app: KioskApp, name: str) -> None:  # type: ignore[no-untyped-def]
    widget = find(app.window, name)
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def book(qtbot, app: KioskApp, category: str, service: str, slot: str, phone: str,  # type: ignore[no-untyped-def]
         address: tuple[str, str, str] = ("3", "2", "1203"), confirm: bool = True) -> None:
    """From the home tiles to "confirm booking", by touch."""
    for name in (f"category:{category}", f"service:{service}", "book", f"slot:{slot}"):
        tap(qtbot, app, name)
    type_address(qtbot, app, *address)
    tap(qtbot, app, "address_next")
    for name in (*(f"key:{c}" for c in phone), "phone_next", *(["confirm"] if confirm else [])):
        tap(qtbot, app, name)


def type_address(qtbot, app: KioskApp, building: str, unit: str, room: str) -> None:  # type: ignore[no-untyped-def]
    """Tap each field of the address, then its digits on the keypad."""
    for field, digits in (("building", building), ("unit", unit), ("room", room)):
        tap(qtbot, app, f"address_{field}")
        for ch in digits:
            tap(qtbot, app, f"key:{ch}")


def visible_texts(window: QWidget) -> list[tuple[QWidget, str]]:
    out: list[tuple[QWidget, str]] = []
    for w in window.findChildren(QWidget):
        if not w.isVisible():
            continue
        if isinstance(w, QLabel | QAbstractButton) and w.text():
            out.append((w, w.text()))
    return out


def check_screen(app: KioskApp, tag: str, name: str | None = None) -> None:
    """Screenshot + the accessibility rules every screen must keep."""
    window = app.window
    for _ in range(3):  # let nested layouts settle (a few event-loop passes, well within a frame)
        QApplication.processEvents()
    window.repaint()
    need = window.minimumSizeHint()
    assert need.width() <= 1080 and need.height() <= 1920, f"{tag}: needs {need} (portrait 1080x1920)"
    path = window.save_screenshot(ARTIFACTS, name)
    assert path.exists() and path.stat().st_size > 1000
    fonts = [QFontMetrics(QFont(f)) for f in ("Noto Sans CJK SC", "DejaVu Sans")]
    language = app.translator.language
    scrollers = [w for w in window.findChildren(QAbstractScrollArea) if w.isVisible()]
    assert not scrollers, f"{tag}: a scroll area (every option must be visible or paged)"
    for w, text in visible_texts(window):
        assert not RAW_KEY.match(text), f"{tag}: untranslated key {text!r}"
        if app.flow.state.screen not in OPERATOR_SCREENS:
            leak = other_language(text, language)
            assert leak is None, f"{tag}: {leak!r} in {text!r} is not {language.value}"
        if isinstance(w, QLabel) and w.wordWrap():
            need = w.heightForWidth(w.width())
            assert need <= w.height() + 1, f"{tag}: {text!r} is cut (needs {need}px, has {w.height()})"
        for ch in set(text) - {"\n", " "}:
            assert any(m.inFontUcs4(ord(ch)) for m in fonts), f"{tag}: no glyph for {ch!r} in {text!r}"
        if isinstance(w, QAbstractButton) and w.isEnabled() and w.property("testName"):
            assert w.width() >= MIN_TOUCH_PX and w.height() >= MIN_TOUCH_PX, f"{tag}: small button {text!r}"
        assert w.font().pointSizeF() >= MIN_TEXT_PT, f"{tag}: {text!r} is {w.font().pointSizeF()} pt"
        if isinstance(w, QAbstractButton) or (isinstance(w, QLabel) and w.wordWrap() is False):
            assert w.sizeHint().width() <= max(w.width(), 1) + 2, f"{tag}: clipped {text!r}"
        if isinstance(w, QAbstractButton):
            shown = w.visibleRegion().boundingRect()
            assert shown.height() >= w.height() - 1 and shown.width() >= w.width() - 1, (
                f"{tag}: {text!r} is cut to {shown.width()}x{shown.height()} of {w.width()}x{w.height()}"
            )


def visit_every_screen(qtbot, app: KioskApp, api: FakeKioskApi, clock: MovableClock,  # type: ignore[no-untyped-def]
                       tag: str) -> list[Screen]:
    seen: list[Screen] = []

    def at(expected: Screen) -> None:
        assert app.flow.state.screen is expected
        check_screen(app, f"{tag}/{expected.value}")
        seen.append(expected)

    at(Screen.ATTRACT)
    tap(qtbot, app, "start")
    at(Screen.HOME)
    tap(qtbot, app, "category:elderly_care")
    at(Screen.CATEGORY)
    tap(qtbot, app, "service:meal")
    at(Screen.DETAIL)
    tap(qtbot, app, "book")
    at(Screen.SLOT)
    tap(qtbot, app, "slot:meal-0")
    type_address(qtbot, app, "3", "2", "1203")
    at(Screen.ADDRESS)
    tap(qtbot, app, "address_next")
    for ch in "13812345678":
        tap(qtbot, app, f"key:{ch}")
    at(Screen.PHONE)
    tap(qtbot, app, "phone_next")
    at(Screen.CONFIRM)
    tap(qtbot, app, "confirm")
    at(Screen.PAY)
    tap(qtbot, app, "cancel")
    check_screen(app, f"{tag}/cancel_dialog", "cancel_dialog")
    tap(qtbot, app, "cancel_no")
    api.mark_paid(app.flow.state.order.id)  # type: ignore[union-attr]
    app.flow.tick(clock.advance(3))
    at(Screen.RECEIPT)
    tap(qtbot, app, "done")
    book(qtbot, app, "health", "bp", "bp-0", "13987654321")
    at(Screen.ORDER)  # free service: booked, nothing to pay
    tap(qtbot, app, "done")
    tap(qtbot, app, "my_order")
    at(Screen.ORDERS)
    tap(qtbot, app, "find_order")
    for ch in next(iter(api.orders.values())).reference:
        tap(qtbot, app, f"key:{ch}")
    tap(qtbot, app, "search")
    at(Screen.LOOKUP)
    tap(qtbot, app, "home")
    tap(qtbot, app, "cases")
    for ch in "GA20261101":
        tap(qtbot, app, f"key:{ch}")
    tap(qtbot, app, "id_last4")
    for ch in "123X":
        tap(qtbot, app, f"key:{ch}")
    at(Screen.CASE_INPUT)
    tap(qtbot, app, "case_search")
    at(Screen.CASE_RESULT)
    app.flow.touched(clock.now())
    app.flow.tick(clock.advance(app.flow.settings.idle_seconds + 1))
    check_screen(app, f"{tag}/idle_warning", "idle_warning")
    tap(qtbot, app, "more_time")
    app.flow.open_maintenance_pin()
    for ch in PIN:
        tap(qtbot, app, f"key:{ch}")
    at(Screen.MAINT_PIN)
    tap(qtbot, app, "pin_ok")
    at(Screen.MAINTENANCE)
    tap(qtbot, app, "maint_exit")
    at(Screen.ATTRACT)
    return seen


@pytest.mark.parametrize("language,large", [(Language.ZH, False), (Language.EN, False), (Language.ZH, True),
                                            (Language.EN, True)])
def test_every_screen_in_both_languages_and_large_text(qtbot, make_kiosk: Callable[..., KioskApp],  # type: ignore[no-untyped-def]
                                                       fake_api: FakeKioskApi, clock: MovableClock,
                                                       language: Language, large: bool) -> None:
    app = make_kiosk()
    app.translator.set_language(language)
    if large:
        app.flow.state.large_text = True
        app.window.refresh()
    original_reset = app.flow.reset

    def reset_keeping_mode() -> None:  # the privacy reset restores defaults; keep them for this tour
        original_reset()
        app.translator.set_language(language)
        if large:
            app.flow.state.large_text = True
            app.window.refresh()

    app.flow.reset = reset_keeping_mode  # type: ignore[method-assign]
    tag = f"{language.value}-{'large' if large else 'normal'}"
    seen = visit_every_screen(qtbot, app, fake_api, clock, tag)
    assert set(seen) == set(Screen)


def test_offline_screens_show_banner_and_saved_booking(qtbot, make_kiosk: Callable[..., KioskApp],  # type: ignore[no-untyped-def]
                                                       fake_api: FakeKioskApi, clock: MovableClock) -> None:
    app = make_kiosk()
    tap(qtbot, app, "start")
    fake_api.online = False
    book(qtbot, app, "housekeeping", "clean", "clean-0", "13812345678")
    assert app.flow.state.screen is Screen.PAY
    banner = find(app.window, "offline_banner")
    assert isinstance(banner, QLabel) and banner.text() == "⚠ 离线 — 信息更新于 10:00"  # 02:00 UTC in Beijing
    qr = find(app.window, "pay_qr")
    assert str(qr.property("qrData")).startswith("http://127.0.0.1:9/pay/offline/")
    app.window.save_screenshot(ARTIFACTS / "offline")
    assert app.outbox.count(ORDERS_TOPIC) == 1
    tap(qtbot, app, "done")
    app.translator.set_language(Language.EN)
    tap(qtbot, app, "cases")
    for ch in "GA20261101":
        tap(qtbot, app, f"key:{ch}")
    tap(qtbot, app, "id_last4")
    for ch in "123X":
        tap(qtbot, app, f"key:{ch}")
    tap(qtbot, app, "case_search")
    notice = find(app.window, "notice")
    assert isinstance(notice, QLabel) and notice.text() == "Application progress is not available offline."
    app.window.save_screenshot(ARTIFACTS / "offline")


def test_idle_reset_clears_the_phone_number_from_widgets(qtbot, make_kiosk: Callable[..., KioskApp],  # type: ignore[no-untyped-def]
                                                         clock: MovableClock) -> None:
    app = make_kiosk()
    tap(qtbot, app, "start")
    tap(qtbot, app, "category:elderly_care")
    tap(qtbot, app, "service:meal")
    tap(qtbot, app, "book")
    tap(qtbot, app, "slot:meal-0")
    type_address(qtbot, app, "3", "2", "1203")
    tap(qtbot, app, "address_next")
    for ch in "13812345678":
        tap(qtbot, app, f"key:{ch}")
    assert any("138 1234 5678" in t for _, t in visible_texts(app.window))
    app.flow.tick(clock.advance(61))
    countdown = find(app.window, "idle_countdown")
    assert isinstance(countdown, QLabel) and "14" in countdown.text()
    app.flow.tick(clock.advance(15))
    qtbot.wait(1)  # let deleteLater run
    assert app.flow.state.screen is Screen.ATTRACT
    texts = [w.text() for w in app.window.findChildren(QLabel)] + [
        w.text() for w in app.window.findChildren(QAbstractButton)]
    assert [t for t in texts if "5678" in t or "1203" in t] == []
    assert (app.flow.state.phone, app.flow.state.room) == ("", "")


def test_scanner_keystrokes_fill_the_case_number(qtbot, make_kiosk: Callable[..., KioskApp],  # type: ignore[no-untyped-def]
                                                 clock: MovableClock) -> None:
    app = make_kiosk()
    tap(qtbot, app, "start")
    tap(qtbot, app, "cases")
    for ch in "CASE:GA20261101":  # the scanner types within milliseconds
        qtbot.keyClick(app.window, ch)
    qtbot.keyClick(app.window, Qt.Key.Key_Return)
    assert app.flow.state.case_number == "GA20261101"
    for ch in "123X":
        clock.advance(0.5)  # a person typing on a keyboard
        qtbot.keyClick(app.window, ch)
    clock.advance(0.5)
    qtbot.keyClick(app.window, Qt.Key.Key_Return)  # slow Enter = submit
    assert app.flow.state.screen is Screen.CASE_RESULT
    current = find(app.window, "timeline:materials_needed")
    assert current.objectName() == "current" and "当前" in current.text()  # type: ignore[attr-defined]
    assert "租房合同" in find(app.window, "next_step").text()  # type: ignore[attr-defined]


class _Busy(QObject):
    """Holds the GUI thread for a while when its event comes up, as a repaint or a GC pause would."""

    def __init__(self, seconds: float, clock: MovableClock) -> None:
        super().__init__()
        self.seconds, self.clock, self.ran = seconds, clock, False

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.User:
            end = time.perf_counter() + self.seconds
            while time.perf_counter() < end:
                pass
            self.clock.advance(self.seconds)  # the kiosk's clock moved on meanwhile
            self.ran = True
            return True
        return super().event(event)


def _scanner_keys(text: str, start_ms: int, gap_ms: int = 8) -> Iterator[list[QKeyEvent]]:
    """A USB scanner's burst: ``text`` then Enter, each key's press and release stamped by the
    keyboard ``gap_ms`` apart (what the kiosk times a burst by, however late it handles them)."""
    t = start_ms
    for ch in [*text, "\r"]:
        key = Qt.Key.Key_Return if ch == "\r" else Qt.Key(ord(ch.upper()))
        events = []
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            event = QKeyEvent(kind, key, Qt.KeyboardModifier.NoModifier, ch)
            event.setTimestamp(t)
            events.append(event)
        yield events
        t += gap_ms


def scanner_types(window: QWidget, text: str) -> None:
    """The kiosk's USB scanner types ``text`` and Enter, now. ``qtbot.keyClicks`` would not do: its
    keys carry no timestamp, so the kiosk times them by when it handles them, and on a loaded
    machine they came slower than a scanner's and were taken for a person typing."""
    for events in _scanner_keys(text, int(time.monotonic() * 1000) % 2**31):
        for event in events:
            QApplication.sendEvent(window, event)


def _post_scan(window: QWidget, text: str, start_ms: int, busy: _Busy, stall_after: int) -> None:
    """Queue a scanner's burst with a GUI stall inside it."""
    for i, events in enumerate(_scanner_keys(text, start_ms)):
        for event in events:
            QApplication.postEvent(window, event)
        if i == stall_after:
            QApplication.postEvent(busy, QEvent(QEvent.Type.User))


@pytest.mark.parametrize("stall_after", [3, 9])
def test_a_gui_stall_in_the_middle_of_a_scan_still_reads_the_whole_number(
        qtbot, make_kiosk: Callable[..., KioskApp], clock: MovableClock, stall_after: int) -> None:  # type: ignore[no-untyped-def]
    """A 300 ms busy slot between two of the scanner's keys: the case number is read whole."""
    app = make_kiosk()
    tap(qtbot, app, "start")
    tap(qtbot, app, "cases")
    busy = _Busy(0.300, clock)
    _post_scan(app.window, "GA20261101", 1_000_000, busy, stall_after)
    qtbot.waitUntil(lambda: busy.ran and app.flow.state.case_field is CaseField.LAST4, timeout=5_000)
    assert app.flow.state.case_number == "GA20261101"
    assert app.flow.state.notice is None


def test_an_unreadable_scan_asks_again_and_never_counts_towards_the_lockout(
        qtbot, make_kiosk: Callable[..., KioskApp], clock: MovableClock) -> None:  # type: ignore[no-untyped-def]
    app = make_kiosk()
    tap(qtbot, app, "start")
    tap(qtbot, app, "cases")
    for _ in range(7):  # more than the lockout allows, had they been look-ups
        for ch in "522703":  # only the tail of a number came through
            qtbot.keyClick(app.window, ch)
        qtbot.keyClick(app.window, Qt.Key.Key_Return)
        assert app.flow.state.notice is not None and app.flow.state.notice.key == "scan.retry"
        assert app.flow.state.case_number == ""  # the fragment is not left in the field to submit
        assert "重新扫描" in find(app.window, "notice").text()  # type: ignore[attr-defined]
        clock.advance(2)
    for ch in "GA20261101":
        qtbot.keyClick(app.window, ch)
    qtbot.keyClick(app.window, Qt.Key.Key_Return)
    for ch in "123X":
        clock.advance(0.5)
        qtbot.keyClick(app.window, ch)
    clock.advance(0.5)
    qtbot.keyClick(app.window, Qt.Key.Key_Return)
    assert app.flow.state.screen is Screen.CASE_RESULT  # not locked out


def test_english_switch_and_read_aloud(qtbot, make_kiosk: Callable[..., KioskApp]) -> None:  # type: ignore[no-untyped-def]
    app = make_kiosk()
    tap(qtbot, app, "start")
    tap(qtbot, app, "language")
    assert app.translator.language is Language.EN
    assert find(app.window, "cases").text_parts() == ["Application progress"]  # type: ignore[attr-defined]
    tap(qtbot, app, "category:elderly_care")
    tap(qtbot, app, "service:meal")
    tap(qtbot, app, "read_aloud")
    speaker = app.window.speaker
    assert isinstance(speaker, FakeSpeaker)
    text, lang = speaker.spoken[-1]
    assert lang is Language.EN and "Seniors' lunch" in text and "¥12.00" in text
    tap(qtbot, app, "language")
    assert find(app.window, "book").text().startswith("预约")  # type: ignore[attr-defined]


def test_large_text_is_one_tap_and_bigger(qtbot, make_kiosk: Callable[..., KioskApp]) -> None:  # type: ignore[no-untyped-def]
    app = make_kiosk()
    tap(qtbot, app, "start")
    before = find(app.window, "cases").findChild(QLabel).font().pointSizeF()
    tap(qtbot, app, "large_text")
    after = find(app.window, "cases").findChild(QLabel).font().pointSizeF()
    assert app.flow.state.large_text and after > before


def test_network_waits_show_at_once_and_the_ui_stays_usable(qtbot, make_kiosk: Callable[..., KioskApp],  # type: ignore[no-untyped-def]
                                                            tmp_path) -> None:
    from kiosk_app.jobs import ManualRunner

    runner = ManualRunner()
    app = make_kiosk(runner=runner)
    tap(qtbot, app, "start")
    assert "正在加载" in find(app.window, "notice").text()  # type: ignore[attr-defined]
    runner.run_all()
    tap(qtbot, app, "cases")
    app.flow.scanned("GA20261101")
    for ch in "123X":
        tap(qtbot, app, f"key:{ch}")
    tap(qtbot, app, "case_search")
    assert find(app.window, "busy").isVisible()
    tap(qtbot, app, "language")  # still answers while the lookup is out
    runner.run_all()
    assert app.flow.state.screen is Screen.CASE_RESULT
    assert not app.window.busy.isVisible()


def test_ticking_countdowns_do_not_rebuild_buttons_under_a_finger(qtbot, make_kiosk: Callable[..., KioskApp],  # type: ignore[no-untyped-def]
                                                                  clock: MovableClock) -> None:
    app = make_kiosk()
    tap(qtbot, app, "start")
    book(qtbot, app, "elderly_care", "meal", "meal-0", "13812345678")
    cancel = find(app.window, "cancel")
    before = find(app.window, "countdown").text()  # type: ignore[attr-defined]
    app.flow.tick(clock.advance(1))
    assert find(app.window, "cancel") is cancel  # same widget: a press in progress survives
    assert find(app.window, "countdown").text() != before  # type: ignore[attr-defined]
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    assert app.flow.state.confirming_cancel  # asked, not cancelled
    tap(qtbot, app, "cancel_yes")
    assert app.flow.state.notice is not None and app.flow.state.notice.key == "pay.cancelled"


def test_hidden_corner_and_pin_open_maintenance_with_the_devices_facts(  # type: ignore[no-untyped-def]
    qtbot, make_kiosk: Callable[..., KioskApp], fake_api: FakeKioskApi, clock: MovableClock
) -> None:
    from kiosk_app.ui.window import _Corner

    app = make_kiosk()
    tap(qtbot, app, "start")
    fake_api.online = False
    book(qtbot, app, "housekeeping", "clean", "clean-0", "13812345678")  # one booking waits offline
    tap(qtbot, app, "done")
    corner = app.window.findChildren(_Corner)[0]
    for _ in range(4):
        qtbot.mouseClick(corner, Qt.MouseButton.LeftButton)
    assert app.flow.state.screen is not Screen.MAINT_PIN  # four taps: nothing
    clock.advance(5)  # too slow: the count starts again
    for _ in range(5):
        qtbot.mouseClick(corner, Qt.MouseButton.LeftButton)
    assert app.flow.state.screen is Screen.MAINT_PIN
    for ch in "0000":
        tap(qtbot, app, f"key:{ch}")
    tap(qtbot, app, "pin_ok")
    assert app.flow.state.screen is Screen.MAINT_PIN  # a wrong PIN opens nothing
    assert any("密码错误" in text for _, text in visible_texts(app.window))
    for ch in PIN:
        tap(qtbot, app, f"key:{ch}")
    tap(qtbot, app, "pin_ok")
    assert app.flow.state.screen is Screen.MAINTENANCE
    texts = " | ".join(text for _, text in visible_texts(app.window))
    device_id = app.device.identity.device_id
    assert device_id is not None
    facts = (f"设备编号：{device_id}", "配对状态：已配对", "待发送：1 条", "Honeywell 1900",
             "网络：离线", "版本：")
    for fact in facts:
        assert fact in texts, (fact, texts)
    tap(qtbot, app, "maint_exit")
    assert app.flow.state.screen is Screen.ATTRACT


def test_taps_on_buttons_restart_the_idle_clock(qtbot, make_kiosk: Callable[..., KioskApp],  # type: ignore[no-untyped-def]
                                                 clock: MovableClock) -> None:
    """A resident who keeps tapping is never sent back to the attract loop."""
    app = make_kiosk()
    tap(qtbot, app, "start")
    idle = app.flow.settings.idle_seconds
    for name in ("category:elderly_care", "service:meal"):
        app.flow.tick(clock.advance(idle - 5))
        tap(qtbot, app, name)  # a press on a button, not on the window
    app.flow.tick(clock.advance(idle - 5))
    assert app.flow.state.screen is not Screen.ATTRACT and app.flow.state.idle_seconds_left is None
    assert not app.window.overlay.isVisible()
