"""Kiosk widget building blocks: tiles made of parts are one touch target; category icons."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QWidget

from kiosk_app.ui.widgets import ICONS, ContentButton, category_icon, icon_label, make_label


def test_a_tile_is_pressed_wherever_the_finger_lands(qtbot) -> None:  # type: ignore[no-untyped-def]
    window = QWidget()
    window.resize(400, 600)
    qtbot.addWidget(window)
    pressed: list[str] = []
    tile = ContentButton(lambda: pressed.append("tile"), "tile", "category:x")
    tile.setParent(window)
    icon = tile.add(icon_label(category_icon("elderly_care", "居家养老", 120, "#0B5394", "#FFFFFF")))
    name = tile.add(make_label("Government service guides, a name long enough to wrap", "tileName"))
    tile.resize(300, tile.heightForWidth(300))
    window.show()
    qtbot.waitExposed(window)
    for part in (icon, name, tile):  # on the icon, on the words, on the tile's margin
        qtbot.mouseClick(part, Qt.MouseButton.LeftButton)
    assert pressed == ["tile", "tile", "tile"]
    assert tile.text_parts() == ["Government service guides, a name long enough to wrap"]
    assert tile.heightForWidth(200) > tile.heightForWidth(600)  # narrower: the name wraps, the tile grows


def test_category_icons_come_from_the_artwork_or_a_badge(qtbot) -> None:  # type: ignore[no-untyped-def]
    assert {p.stem for p in ICONS.glob("*.png")} >= {"elderly_care", "housekeeping", "repairs", "property",
                                                     "merchants", "health", "gov_guides"}
    art = category_icon("health", "健康服务", 96, "#0B5394", "#FFFFFF")
    assert (art.width(), art.height()) == (96, 96)
    badge = category_icon("barbers", "理发", 96, "#0B5394", "#FFFFFF").toImage()  # no artwork for it
    assert badge.pixelColor(48, 6) == QColor("#0B5394")  # the round badge in the theme's colour
    assert badge.pixelColor(1, 1).alpha() == 0  # outside the circle: transparent
    glyph = {badge.pixelColor(x, y).name() for x in range(24, 72) for y in range(24, 72)}
    assert "#ffffff" in glyph  # the name's first character drawn on it
    assert isinstance(icon_label(art), QLabel)
