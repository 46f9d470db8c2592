"""Kiosk widget building blocks: finger-drag scrolling through one shared gesture recognizer."""

from __future__ import annotations

import enum
import gc

from PySide6.QtCore import QPoint
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from kiosk_app.ui.widgets import TouchScrolling


def gesture_types() -> int:
    """Python enum classes PySide made for gesture ids (one per id it had not seen)."""
    return sum(1 for o in gc.get_objects() if isinstance(o, enum.EnumType) and o.__name__ == "GestureType")


def long_list(owner: QWidget) -> QScrollArea:
    area = QScrollArea(owner)
    inner = QWidget()
    col = QVBoxLayout(inner)
    for i in range(60):
        col.addWidget(QLabel(f"row {i}"))
    area.setWidget(inner)
    area.setWidgetResizable(True)
    area.resize(400, 400)
    area.show()
    return area


def test_pages_scroll_by_finger_without_a_new_gesture_each(qtbot) -> None:  # type: ignore[no-untyped-def]
    window = QWidget()
    window.resize(400, 400)
    qtbot.addWidget(window)
    window.show()
    touch = TouchScrolling(window)
    known = gesture_types()
    device = QTest.createTouchDevice()
    for _ in range(3):  # pages come and go; each new one still scrolls
        area = long_list(window)
        touch.enable(area)
        qtbot.wait(1)  # laid out
        viewport = area.viewport()
        QTest.touchEvent(viewport, device).press(0, QPoint(100, 300), viewport).commit()
        for k in range(1, 21):
            qtbot.wait(10)
            QTest.touchEvent(viewport, device).move(0, QPoint(100, 300 - 12 * k), viewport).commit()
        QTest.touchEvent(viewport, device).release(0, QPoint(100, 60), viewport).commit()
        qtbot.waitUntil(lambda area=area: area.verticalScrollBar().value() > 100, timeout=3000)
        area.setParent(None)
        area.deleteLater()
    # QScroller.grabGesture per page made a new gesture id (and PySide a new enum class) every time
    assert gesture_types() == known
