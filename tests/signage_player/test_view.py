"""The playback widget: real pixels offscreen, images without distortion, CJK text, video via libVLC."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from schedules.model import ContentItem, ItemKind, ScreenClass
from schedules.protocol.device import Loudness
from signage_player.media import FakeMediaBackend, MediaError, VlcBackend, fit_size
from signage_player.view import Playable, SignageView, fit_or_fill, letterbox, reshaped, text_font

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "player"


def _item(kind: ItemKind, id_: str, **kw: object) -> ContentItem:
    return ContentItem(id=id_, kind=kind, duration_s=5, **kw)  # type: ignore[arg-type]


def _view(qtbot: QtBot, backend: object, cls: ScreenClass, w: int = 960, h: int = 540) -> SignageView:
    view = SignageView(backend, cls)  # type: ignore[arg-type]
    qtbot.addWidget(view)
    view.resize(w, h)
    view.show()
    return view


def _distinct_colours(img: QImage, step: int = 16) -> int:
    return len({img.pixel(x, y) for x in range(0, img.width(), step) for y in range(0, img.height(), step)})


def test_fit_or_fill_keeps_aspect() -> None:
    # same shape: fills; very different shape: fits whole image, centred
    r = fit_or_fill(QSize(1920, 1080), QSize(960, 540))
    assert (r.width(), r.height()) == (960, 540)
    r = fit_or_fill(QSize(360, 640), QSize(960, 540))
    assert r.height() == 540 and abs(r.width() / r.height() - 360 / 640) < 0.01 and r.x() > 0
    assert fit_size(320, 240, QSize(1000, 300)) == (400, 300)


def test_letterbox_puts_bars_beside_or_above_and_never_crops() -> None:
    r = letterbox(4 / 3, QSize(1920, 1080))
    assert (r.x(), r.y(), r.width(), r.height()) == (240, 0, 1440, 1080)  # pillarbox
    r = letterbox(16 / 9, QSize(1080, 1920))
    assert (r.x(), r.y(), r.width(), r.height()) == (0, 656, 1080, 608)  # letterbox
    r = letterbox(16 / 9, QSize(1920, 1080))
    assert (r.x(), r.y(), r.width(), r.height()) == (0, 0, 1920, 1080)


def test_a_stream_frame_kept_on_screen_is_reshaped_to_how_it_was_seen(qapp: object) -> None:
    stretched = QImage(640, 360, QImage.Format.Format_RGB32)  # a 4:3 picture in a 16:9 buffer
    stretched.fill(QColor("red"))
    kept = reshaped(stretched, 4 / 3)
    assert (kept.width(), kept.height()) == (640, 480)  # grown, never shrunk
    assert reshaped(stretched, 16 / 9) is stretched and reshaped(stretched, None) is stretched


def test_text_font_grows_to_the_zone_and_wraps(qapp: object) -> None:
    small = text_font("停水通知", QSize(200, 100)).pixelSize()
    big = text_font("停水通知", QSize(800, 400)).pixelSize()
    assert big > small * 2
    long = text_font("本周六上午九点至下午三点小区东区停水，请提前储水。" * 3, QSize(800, 400)).pixelSize()
    assert long < big


def test_image_is_shown_undistorted(qtbot: QtBot, media_dir: Path, fake_backend: FakeMediaBackend) -> None:
    view = _view(qtbot, fake_backend, ScreenClass.OUTDOOR_LARGE)
    prepared = view.main.prepare(Playable(_item(ItemKind.IMAGE, "p"), media_dir / "portrait.png"))
    with qtbot.waitSignal(view.main.frame_painted, timeout=20_000) as sig:
        view.main.show_prepared(prepared)
    assert sig.args[0] == "p"
    img = view.picture()
    # portrait image in a landscape zone: letterboxed, black bars left and right, white circle centred
    assert QColor(img.pixel(5, 270)).name() == "#000000"
    assert QColor(img.pixel(480, 270)).name() != "#000000"
    assert view.main.current is not None and view.main.current.image is not None
    shown = view.main.current.image
    assert abs(shown.width() / shown.height() - 1080 / 1920) < 0.01
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    img.save(str(ARTIFACTS / "image_portrait_in_landscape.png"))


def test_broken_images_refuse_to_prepare(qtbot: QtBot, media_dir: Path,
                                         fake_backend: FakeMediaBackend) -> None:
    view = _view(qtbot, fake_backend, ScreenClass.OUTDOOR_LARGE)
    with pytest.raises(MediaError):
        view.main.prepare(Playable(_item(ItemKind.IMAGE, "z"), media_dir / "zero.png"))
    with pytest.raises(MediaError):
        view.main.prepare(Playable(_item(ItemKind.IMAGE, "m"), media_dir / "missing.png"))
    with pytest.raises(MediaError):
        view.main.prepare(Playable(_item(ItemKind.IMAGE, "b"), media_dir / "bomb.png"))
    with pytest.raises(MediaError):
        view.main.prepare(Playable(_item(ItemKind.IMAGE, "n"), media_dir / "not_an_image.png"))


def test_indoor_layout_with_chinese_text_ticker_and_clock(
    qtbot: QtBot, fake_backend: FakeMediaBackend
) -> None:
    view = _view(qtbot, fake_backend, ScreenClass.INDOOR_SMALL, 1280, 720)
    item = _item(ItemKind.TEXT, "t", text={"zh": "电梯维护通知：3号楼电梯周三停用", "en": "Lift maintenance"})
    view.ticker.set_texts(["今晚八点业主大会", "Residents meeting 8 pm"])
    with qtbot.waitSignal(view.main.frame_painted, timeout=20_000):
        view.main.show_prepared(view.main.prepare(Playable(item)))
    assert view.ticker.isVisible() and view.clock.isVisible()
    assert "星期" in view.clock.text()
    img = view.picture()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    img.save(str(ARTIFACTS / "layout_indoor_small.png"))
    main = img.copy(0, 0, 1280, view.main.height())
    assert _distinct_colours(main, 4) >= 2  # text drawn on the background, not an empty panel


def test_emergency_covers_everything(
    qtbot: QtBot, media_dir: Path, fake_backend: FakeMediaBackend
) -> None:
    view = _view(qtbot, fake_backend, ScreenClass.OUTDOOR_LARGE)
    landscape = Playable(_item(ItemKind.IMAGE, "l"), media_dir / "landscape.png")
    view.main.show_prepared(view.main.prepare(landscape))
    view.emergency.set_item(_item(ItemKind.TEXT, "e", text={"zh": "紧急疏散", "en": "Evacuate now"},
                                  title="燃气泄漏"))
    assert view.emergency.text().startswith("燃气泄漏\n\n紧急疏散")  # the operator's title on the screen
    img = view.picture()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    img.save(str(ARTIFACTS / "emergency_outdoor_large.png"))
    assert QColor(img.pixel(3, 3)).name() == "#b00020"
    view.emergency.set_item(None)
    assert QColor(view.picture().pixel(480, 270)).name() != "#b00020"


@pytest.mark.parametrize(
    ("loudness", "colour", "cls"),
    [
        (Loudness.BANNER_WARNING, "#b00020", ScreenClass.OUTDOOR_LARGE),
        (Loudness.BANNER_NOTICE, "#1d3557", ScreenClass.INDOOR_SMALL),
    ],
)
def test_a_banner_alert_leaves_the_programme_visible_beneath(
    qtbot: QtBot, media_dir: Path, fake_backend: FakeMediaBackend, loudness: Loudness, colour: str,
    cls: ScreenClass,
) -> None:  # fmt: skip
    view = _view(qtbot, fake_backend, cls)
    landscape = Playable(_item(ItemKind.IMAGE, "l"), media_dir / "landscape.png")
    view.main.show_prepared(view.main.prepare(landscape))
    before = view.picture()
    words = {"zh": "暴雨黄色预警\n请勿前往地下车库", "en": "Yellow rainstorm warning"}
    alert = _item(ItemKind.TEXT, "e", text=words)
    view.emergency.set_item(alert, loudness)
    img = view.picture()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    img.save(str(ARTIFACTS / f"alert_{loudness.value}_{cls.value}.png"))
    assert QColor(img.pixel(3, 3)).name() == colour  # the banner across the top
    x, middle = img.width() // 2, img.height() // 2
    assert QColor(img.pixel(x, middle)).name() == QColor(before.pixel(x, middle)).name()  # the programme
    assert view.emergency.height() < img.height() // 3
    view.emergency.set_item(alert, Loudness.FULL_SCREEN)  # louder: the whole screen
    assert QColor(view.picture().pixel(x, middle)).name() == "#b00020"


@pytest.mark.vlc
def test_video_plays_through_libvlc_into_the_widget(qtbot: QtBot, media_dir: Path,
                                                     vlc_backend: VlcBackend) -> None:
    view = _view(qtbot, vlc_backend, ScreenClass.KIOSK, 640, 480)
    prepared = view.main.prepare(Playable(_item(ItemKind.VIDEO, "v"), media_dir / "clip.mp4"))
    assert prepared.video is not None and prepared.video.width == 320
    assert prepared.video.duration_s is not None and 2.5 < prepared.video.duration_s < 3.5
    with qtbot.waitSignal(view.main.frame_painted, timeout=20_000):
        view.main.show_prepared(prepared)
    img = view.picture()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    img.save(str(ARTIFACTS / "layout_kiosk_video.png"))
    assert _distinct_colours(img) > 5  # the testsrc pattern, not black
    with qtbot.waitSignal(view.main.video_finished, timeout=20_000):
        pass


@pytest.mark.vlc
def test_truncated_video_is_refused(qtbot: QtBot, media_dir: Path, vlc_backend: VlcBackend) -> None:
    view = _view(qtbot, vlc_backend, ScreenClass.KIOSK, 640, 480)
    with pytest.raises(MediaError):
        view.main.prepare(Playable(_item(ItemKind.VIDEO, "t"), media_dir / "truncated.mp4"))


def test_crossfade_blends_the_previous_picture(qtbot: QtBot, media_dir: Path,
                                               fake_backend: FakeMediaBackend) -> None:
    view = SignageView(fake_backend, ScreenClass.OUTDOOR_LARGE, crossfade_ms=400)
    qtbot.addWidget(view)
    view.resize(320, 180)
    view.show()
    first = view.main.prepare(Playable(_item(ItemKind.IMAGE, "a"), media_dir / "landscape.png"))
    second = view.main.prepare(Playable(_item(ItemKind.IMAGE, "b"), media_dir / "portrait.png"))
    view.main.show_prepared(first)
    a = view.picture().pixel(5, 90)
    view.main.show_prepared(second)
    mid = view.picture().pixel(5, 90)  # left edge: landscape picture fading out over a black bar
    qtbot.waitUntil(lambda: QColor(view.picture().pixel(5, 90)).name() == "#000000", timeout=20_000)  # faded
    end = view.picture().pixel(5, 90)
    assert mid not in (a, end)
