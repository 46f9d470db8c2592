"""Every option visible or reached by large buttons, on the real offscreen kiosk at 1080×1920.

The home screen is a grid of category tiles (icon and name) showing every category at both
text sizes; each list (services in a category, times, "my orders", a case's timeline) with more
items than fit is walked page by page with the large "next" and "previous" buttons: every item
is reached once, none is cut off, and nothing on the kiosk scrolls. Screenshots of each page in
Chinese and English, normal and large text, go to test-artifacts/kiosk/.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QAbstractScrollArea, QLabel, QScrollBar, QWidget

from kiosk_app.api import FakeKioskApi, text
from kiosk_app.app import KioskApp
from kiosk_app.flow import Screen
from kiosk_app.i18n import Language
from kiosk_app.sample import sample_case
from kiosk_app.theme import theme_for
from kiosk_app.ui.widgets import ICONS, ContentButton
from schedules.clock import MovableClock
from schedules.protocol.kiosk import CaseEvent, CaseState, CaseStatus, ServiceCategory
from signage_demo.kiosk_catalogue import CATEGORIES as COMMUNITY_CATEGORIES  # the demo community's seven
from tests.kiosk_app.test_flow_visits import crowded_catalogue
from tests.kiosk_app.test_window import check_screen, find, tap

MODES = [(Language.ZH, False), (Language.EN, False), (Language.ZH, True), (Language.EN, True)]


def start_in(qtbot, app: KioskApp, language: Language, large: bool) -> None:  # type: ignore[no-untyped-def]
    """The resident touches the screen, then the language and text-size buttons, as they would."""
    tap(qtbot, app, "start")
    if language is not app.translator.language:
        tap(qtbot, app, "language")
    if large:
        tap(qtbot, app, "large_text")
    assert app.flow.state.large_text is large and app.translator.language is language


def mode_name(language: Language, large: bool) -> str:
    return f"{language.value}-{'large' if large else 'normal'}"


def assert_whole(window: QWidget, w: QWidget, what: str) -> None:
    """``w`` is entirely on screen: inside the window, not covered or clipped, its text not cut."""
    rect = QRect(w.mapTo(window, QPoint(0, 0)), w.size())
    assert window.rect().contains(rect), f"{what} at {rect} is outside the {window.size()} window"
    shown = w.visibleRegion().boundingRect()
    assert shown.size() == w.size(), f"{what} shows {shown.size()} of {w.size()}"
    for label in [w, *w.findChildren(QLabel)]:
        if isinstance(label, QLabel) and label.isVisible() and label.wordWrap() and label.text():
            need = label.heightForWidth(label.width())
            assert need <= label.height() + 1, f"{what}: {label.text()!r} needs {need}px of {label.height()}"


def no_scrolling(window: QWidget) -> None:
    scrollers = [w for w in window.findChildren(QAbstractScrollArea) + window.findChildren(QScrollBar)
                 if w.isVisible()]
    assert scrollers == [], "a list scrolls (a thin scroll bar an elderly resident will not notice)"


def items(window: QWidget, prefix: str) -> list[QWidget]:
    return [w for w in window.findChildren(QWidget)
            if str(w.property("testName") or "").startswith(prefix) and w.isVisible()]


def walk(qtbot, app: KioskApp, prefix: str, shot: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Every item of the list on screen, page by page with the "next" button, then back to page 1."""
    window, theme = app.window, theme_for(app.flow.state.large_text)
    mode = mode_name(app.translator.language, app.flow.state.large_text)
    seen: list[str] = []
    pages = 0
    while True:
        check_screen(app, f"{shot} {mode}/page {pages + 1}", f"{shot}-page{pages + 1}")
        no_scrolling(window)
        on_page = items(window, prefix)
        assert on_page, f"{shot}: page {pages + 1} shows nothing"
        for w in on_page:
            assert_whole(window, w, f"{shot} page {pages + 1}: {w.property('testName')}")
            if isinstance(w, ContentButton):
                assert min(w.width(), w.height()) >= theme.touch_px
        seen += [str(w.property("testName")) for w in on_page]
        pages += 1
        try:
            nxt = find(window, "page_next")
        except AssertionError:
            break  # one page: no pager at all
        assert nxt.height() >= theme.touch_px and nxt.width() >= 2 * theme.touch_px  # large, not a thin bar
        assert find(window, "page_number").text() == app.translator.t(  # type: ignore[attr-defined]
            "common.page", page=pages, pages=app.flow.current_page().count)  # type: ignore[union-attr]
        if not nxt.isEnabled():
            break
        tap(qtbot, app, "page_next")
    for _ in range(pages - 1):
        tap(qtbot, app, "page_previous")
    assert [str(w.property("testName")) for w in items(window, prefix)] == seen[:len(items(window, prefix))]
    assert len(seen) == len(set(seen)), f"{shot}: an item shown twice"
    return seen


@pytest.mark.parametrize("language,large", MODES)
def test_home_shows_every_category_as_a_tile_with_its_icon(qtbot, make_kiosk: Callable[..., KioskApp],  # type: ignore[no-untyped-def]
                                                           fake_api: FakeKioskApi, language: Language,
                                                           large: bool) -> None:
    fake_api.catalogue_doc = fake_api.catalogue_doc.model_copy(update={"categories": tuple(
        ServiceCategory(id=cid, name=text(zh, en)) for cid, zh, en, _ in COMMUNITY_CATEGORIES)})
    app = make_kiosk()
    start_in(qtbot, app, language, large)
    window = app.window
    check_screen(app, f"home tiles {mode_name(language, large)}", "home_tiles")
    no_scrolling(window)
    theme = theme_for(large)
    tiles = items(window, "category:")
    assert [t.property("testName") for t in tiles] == [f"category:{c[0]}" for c in COMMUNITY_CATEGORIES]
    with pytest.raises(AssertionError):
        find(window, "page_next")  # all seven on one screen: nothing to page to
    for tile, (cid, zh, en, _) in zip(tiles, COMMUNITY_CATEGORIES, strict=True):
        assert isinstance(tile, ContentButton)
        assert_whole(window, tile, str(cid))
        assert tile.text_parts() == [zh if language is Language.ZH else en]
        assert tile.height() >= 2 * theme.touch_px and tile.width() >= 2 * theme.touch_px
        icon = next(label.pixmap() for label in tile.findChildren(QLabel) if not label.pixmap().isNull())
        asset = QPixmap(str(ICONS / f"{cid}.png")).scaled(icon.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                          Qt.TransformationMode.SmoothTransformation)
        assert icon.toImage().convertToFormat(QImage.Format.Format_ARGB32) == asset.toImage().convertToFormat(
            QImage.Format.Format_ARGB32), f"{cid}: not the icon from assets/icons"
    for name in ("cases", "my_order"):
        assert_whole(window, find(window, name), name)
    tap(qtbot, app, "category:gov_guides")  # the last tile works like the first
    assert app.flow.state.screen is Screen.CATEGORY and app.flow.state.category_id == "gov_guides"


@pytest.mark.parametrize("language,large", MODES)
def test_every_list_is_reached_page_by_page_with_large_buttons(qtbot, make_kiosk: Callable[..., KioskApp],  # type: ignore[no-untyped-def]
                                                               fake_api: FakeKioskApi, clock: MovableClock,
                                                               language: Language, large: bool) -> None:
    fake_api.catalogue_doc = crowded_catalogue(clock.now())
    app = make_kiosk()
    start_in(qtbot, app, language, large)
    categories = walk(qtbot, app, "category:", "list_home")
    assert categories == [f"category:{c.id}" for c in fake_api.catalogue_doc.categories]
    tap(qtbot, app, "category:cat00")
    services = walk(qtbot, app, "service:", "list_services")
    assert services == [f"service:svc{i:02d}" for i in range(11)]
    tap(qtbot, app, "service:svc02")  # on the first page at either size
    tap(qtbot, app, "book")
    slots = walk(qtbot, app, "slot:", "list_slots")
    assert slots == [f"slot:svc02-{k}" for k in range(23)]

    # seven orders on this visit (booked through the flow: the booking screens have their own tests)
    flow = app.flow
    for i in range(7):
        flow.home()
        flow.open_category("cat00")
        flow.open_service(f"svc{2 * (i % 5):02d}")
        flow.book()
        flow.pick_slot(f"svc{2 * (i % 5):02d}-{i}")
        for ch in ("3", "1203"):
            for c in ch:
                flow.key(c)
            flow.address_next()
        for ch in "13812345678":
            flow.key(ch)
        flow.phone_next()
        flow.confirm_booking(clock.now())
    tap(qtbot, app, "keep_order")  # the last one is still to be paid: keep it for later
    tap(qtbot, app, "my_order")
    assert flow.state.screen is Screen.ORDERS
    orders = walk(qtbot, app, "order:", "list_orders")
    assert orders == [f"order:o{n}" for n in range(7, 0, -1)]  # newest first

    tap(qtbot, app, "home")
    fake_api.cases[("GA20261101", "123X")] = long_case(clock.now())
    tap(qtbot, app, "cases")
    flow.scanned("GA20261101")
    for ch in "123X":
        tap(qtbot, app, f"key:{ch}")
    tap(qtbot, app, "case_search")
    events = walk(qtbot, app, "event:", "list_timeline")
    assert events == [f"event:{i}" for i in range(9)]


def long_case(now: dt.datetime) -> CaseStatus:
    """A case with nine steps (a few sent back for documents), for the timeline's pages."""
    case = sample_case(now)
    steps = [CaseState.SUBMITTED, CaseState.ACCEPTED, CaseState.MATERIALS_NEEDED, CaseState.UNDER_REVIEW,
             CaseState.MATERIALS_NEEDED, CaseState.UNDER_REVIEW, CaseState.APPROVED, CaseState.IN_PRODUCTION,
             CaseState.READY_FOR_PICKUP]
    asked = {"note": text("请补充租房合同", "Please bring your tenancy agreement"),
             "missing_documents": ("租房合同",), "deadline": (now + dt.timedelta(days=7)).date()}
    timeline = tuple(
        CaseEvent(state=state, at=now - dt.timedelta(days=9 - i),
                  **(asked if state is CaseState.MATERIALS_NEEDED else {}))
        for i, state in enumerate(steps))
    return case.model_copy(update={"timeline": timeline, "state": CaseState.READY_FOR_PICKUP})

