"""Play loop: follows the timeline, skips broken items without going black, records proof of play."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from pathlib import Path

import pytest
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from schedules.clock import MovableClock
from schedules.model import ItemKind, ScreenClass
from schedules.protocol.device import PlayRecord
from signage_player.media import FakeMediaBackend
from signage_player.outbox import Outbox
from signage_player.playloop import PLAYS_TOPIC, PlayLoop
from signage_player.program import ManifestProgram
from signage_player.view import SignageView
from tests.signage_player.manifests import T0, asset_item, emergency, manifest, office_hours, text_item

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "player"


def _loop(qtbot: QtBot, backend: FakeMediaBackend, files: dict[str, Path], clock: MovableClock,
          outbox: Outbox | None = None, cls: ScreenClass = ScreenClass.OUTDOOR_LARGE) -> PlayLoop:
    view = SignageView(backend, cls)
    qtbot.addWidget(view)
    view.resize(640, 360)
    view.show()
    return PlayLoop(view, files.get, clock=clock, outbox=outbox)


@pytest.mark.parametrize("engine", ["fake", pytest.param("vlc", marks=pytest.mark.vlc)])
def test_broken_items_are_skipped_and_the_screen_is_never_black(
    qtbot: QtBot, media_dir: Path, tmp_path: Path, engine: str, request: pytest.FixtureRequest
) -> None:
    """With the fake back end and with real libVLC decoding the truncated video."""
    backend = request.getfixturevalue("fake_backend" if engine == "fake" else "vlc_backend")
    good, good_ref = asset_item("good", ItemKind.IMAGE, media_dir / "landscape.png")
    zero, zero_ref = asset_item("zero", ItemKind.IMAGE, media_dir / "zero.png")
    trunc, trunc_ref = asset_item("trunc", ItemKind.IMAGE, media_dir / "not_an_image.png")
    cut, cut_ref = asset_item("cut", ItemKind.VIDEO, media_dir / "truncated.mp4")
    entries = [(zero, zero_ref), (good, good_ref), (trunc, trunc_ref), (cut, cut_ref)]
    m = manifest(entries, default_item_id="good")  # type: ignore[arg-type]
    files = {r.sha256: media_dir / name for r, name in
             [(good_ref, "landscape.png"), (zero_ref, "zero.png"), (trunc_ref, "not_an_image.png"),
              (cut_ref, "truncated.mp4")]}
    clock = MovableClock(T0)
    box = Outbox(tmp_path / "o.db")
    loop = _loop(qtbot, backend, files, clock, box)
    loop.set_program(ManifestProgram(m))
    loop.start()
    seen = []
    for _ in range(12):
        img = loop.view.picture()
        colours = {img.pixel(x, y) for x in range(0, 640, 40) for y in range(0, 360, 40)}
        assert len(colours) > 1, "black screen"
        seen.append(loop.current.item.id if loop.current else None)
        clock.advance(10)
        loop.step()
    assert set(seen) == {"good"}
    assert set(loop.failed_items) == {"zero", "trunc", "cut"}
    records = [PlayRecord.model_validate_json(e.payload) for e in box.pending(PLAYS_TOPIC)]
    assert records and all(r.item_id == "good" for r in records)
    assert len({r.id for r in records}) == len(records)
    box.close()


def test_empty_schedule_shows_default_slide_and_operating_hours_turn_screen_off(
    qtbot: QtBot, fake_backend: FakeMediaBackend
) -> None:
    hello = text_item("hello", "欢迎回家", "Welcome home")
    m = manifest([(hello, None)], hours=office_hours(), default_item_id="hello")
    clock = MovableClock(T0)  # 10:00 local: on
    powered: list[bool] = []
    loop = _loop(qtbot, fake_backend, {}, clock)
    loop.screen_power.connect(powered.append)
    loop.set_program(ManifestProgram(m))
    loop.start()
    assert not loop.view.off and loop.current is not None and loop.current.item.id == "hello"
    clock.set(T0.replace(hour=15))  # 23:00 local: off
    loop.step()
    assert loop.view.off and loop.current is None and powered[-1] is False
    assert QColor(loop.view.picture().pixel(320, 180)).name() == "#000000"
    clock.set(T0 + dt.timedelta(days=1))
    loop.step()
    assert not loop.view.off and powered[-1] is True


def test_a_banner_alert_plays_over_the_programme_and_full_screen_stops_it(
    qtbot: QtBot, fake_backend: FakeMediaBackend, tmp_path: Path
) -> None:
    hello = text_item("hello", "欢迎回家", "Welcome home")
    rain = text_item("rain", "暴雨黄色预警", "Yellow rainstorm warning")
    box = Outbox(tmp_path / "o.db")
    clock = MovableClock(T0)
    loop = _loop(qtbot, fake_backend, {}, clock, box)
    loop.set_program(ManifestProgram(manifest([(hello, None)], default_item_id="hello")))
    loop.start()
    loop.set_remote_emergency(rain, "banner_warning")
    assert loop.view.emergency.isVisible() and loop.view.emergency.is_banner
    for _ in range(4):  # the programme goes on beneath the banner, and its plays count
        clock.advance(30)
        loop.step()
        assert loop.current is not None and loop.current.item.id == "hello"
    records = [PlayRecord.model_validate_json(e.payload) for e in box.pending(PLAYS_TOPIC)]
    assert records and all(r.completed for r in records)
    loop.set_remote_emergency(rain, "full_screen")  # upgraded: the programme stops
    assert loop.current is None and not loop.view.emergency.is_banner
    picture = loop.view.picture()
    assert QColor(picture.pixel(3, picture.height() - 3)).name() == "#b00020"  # the bottom too: full screen
    loop.set_remote_emergency(None)
    assert not loop.view.emergency.isVisible()
    box.close()


def test_emergency_in_the_manifest_overrides_and_ends(qtbot: QtBot, fake_backend: FakeMediaBackend) -> None:
    hello = text_item("hello", "欢迎回家")
    alarm = text_item("alarm", "燃气泄漏，请立即撤离", "Gas leak: leave now")
    m = manifest([(hello, None), (alarm, None)],
                 announcements=(emergency("e1", "alarm", T0 + dt.timedelta(minutes=5)),))
    clock = MovableClock(T0)
    loop = _loop(qtbot, fake_backend, {}, clock, cls=ScreenClass.INDOOR_SMALL)
    loop.set_program(ManifestProgram(m))
    loop.start()
    assert not loop.view.emergency.isVisible()
    clock.advance(6 * 60)
    loop.step()
    assert loop.view.emergency.isVisible()
    assert QColor(loop.view.picture().pixel(5, 5)).name() == "#b00020"
    assert loop.current is not None and loop.current.item.id == "alarm"  # the main zone's schedule too
    loop.set_remote_emergency(None)  # the operator ended it on the server
    assert not loop.view.emergency.isVisible()
    # issue 14: the schedule made during the emergency is not followed into its text slide (blue) until
    # the next manifest arrives: the default slide stands in at once
    assert loop.current is not None and loop.current.item.id != "alarm"
    clock.advance(60)
    loop.step()
    assert loop.current is not None and loop.current.item.id != "alarm"


def test_video_items_play_and_switch(qtbot: QtBot, media_dir: Path, fake_backend: FakeMediaBackend,
                                     tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    shutil.copy(media_dir / "clip.mp4", clip)
    vid, ref = asset_item("vid", ItemKind.VIDEO, clip, duration_s=3)
    hello = text_item("hello", "你好")
    m = manifest([(vid, ref), (hello, None)])
    loop = _loop(qtbot, fake_backend, {ref.sha256: clip}, MovableClock(T0))
    loop.set_program(ManifestProgram(m))
    shown: list[str] = []
    loop.frame_shown.connect(lambda item_id, gap: shown.append(item_id))
    with qtbot.waitSignal(loop.frame_shown, timeout=20_000):
        loop.start()
    assert shown


def test_kiosk_attract_loop_cycles_its_items(
    qtbot: QtBot, media_dir: Path, fake_backend: FakeMediaBackend
) -> None:
    from signage_player.program import LoopProgram

    img, ref = asset_item("poster", ItemKind.IMAGE, media_dir / "portrait.png", duration_s=6)
    hello = text_item("hello", "社区服务 一站办理", "Community services in one place", duration_s=6)
    clock = MovableClock(T0)
    loop = _loop(qtbot, fake_backend, {ref.sha256: media_dir / "portrait.png"}, clock, cls=ScreenClass.KIOSK)
    loop.view.resize(540, 960)
    loop.set_program(LoopProgram([img, hello], anchor=T0))
    loop.start()
    order = []
    for _ in range(4):
        assert loop.current is not None
        order.append(loop.current.item.id)
        if loop.current.item.id == "hello":
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            loop.view.picture().save(str(ARTIFACTS / "layout_kiosk_attract.png"))
        clock.advance(6)
        loop.step()
    assert order == ["poster", "hello", "poster", "hello"]
    assert not loop.view.ticker.isVisible()


def test_screen_hash_tells_pictures_apart(qapp: object) -> None:
    from PySide6.QtGui import QImage, QPainter

    from signage_player.reporting import average_hash

    a = QImage(320, 180, QImage.Format.Format_RGB32)
    a.fill(QColor("navy"))
    b = a.copy()
    p = QPainter(b)
    p.fillRect(0, 0, 160, 180, QColor("white"))
    p.end()
    assert average_hash(a) == average_hash(a.copy())
    assert average_hash(a) != average_hash(b) and len(average_hash(b)) == 16


def test_wall_clock_steps_forwards_and_backwards_are_followed_within_a_second(
    qtbot: QtBot, fake_backend: FakeMediaBackend, tmp_path: Path
) -> None:
    """An NTP step (wall clock only; monotonic untouched) re-plans at once, both ways."""
    hello = text_item("hello", "欢迎回家", "Welcome home")
    m = manifest([(hello, None)], hours=office_hours(), default_item_id="hello")
    clock = MovableClock(T0.replace(hour=15), running=True)  # 23:00 local: off until 07:00, 8 h away
    box = Outbox(tmp_path / "o.db")
    loop = _loop(qtbot, fake_backend, {}, clock, box)
    loop.set_program(ManifestProgram(m))
    loop.start()
    assert loop.view.off
    clock.step_wall(10 * 3600)  # the real time was 09:00 the next morning
    qtbot.waitUntil(lambda: not loop.view.off, timeout=2500)  # not nine hours later
    assert loop.current is not None and loop.current.item.id == "hello"
    started = loop.current.started_wall
    clock.advance(0.3)  # it plays a while
    clock.step_wall(-3 * 3600)  # and back to 06:00: off again, at once
    qtbot.waitUntil(lambda: loop.view.off, timeout=2500)
    records = [PlayRecord.model_validate_json(e.payload) for e in box.pending(PLAYS_TOPIC)]
    assert [r.started_at for r in records] == [started]
    assert 0.25 <= records[0].duration_s < 5  # measured on the monotonic clock, not the stepped wall
    loop.stop()
    box.close()


def _not_black(loop: PlayLoop) -> bool:
    img = loop.view.picture()
    return len({img.pixel(x, y) for x in range(0, 640, 20) for y in range(0, 360, 20)}) > 1


def test_an_empty_manifest_shows_the_builtin_slide_not_black(
    qtbot: QtBot, fake_backend: FakeMediaBackend
) -> None:
    m = manifest([])  # nothing scheduled, no filler, no default item
    loop = _loop(qtbot, fake_backend, {}, MovableClock(T0))
    loop.set_program(ManifestProgram(m))
    loop.start()
    assert loop.current is not None and loop.current.item.id == "builtin-default"
    assert not loop.view.off and _not_black(loop)
    loop.stop()


class _Broken(ManifestProgram):
    """A program whose timeline blows up at one moment (a bug, a corrupt rule): the loop must go on."""

    def __init__(self, m: object, bad_from: dt.datetime, bad_until: dt.datetime) -> None:
        super().__init__(m)  # type: ignore[arg-type]
        self.bad = (bad_from, bad_until)

    def entry_at(self, now: dt.datetime):  # type: ignore[no-untyped-def]
        if self.bad[0] <= now < self.bad[1]:
            raise RuntimeError("timeline exploded")
        return super().entry_at(now)


def test_an_error_in_the_play_loop_shows_a_fallback_and_playback_recovers(
    qtbot: QtBot, fake_backend: FakeMediaBackend, caplog: pytest.LogCaptureFixture
) -> None:
    hello = text_item("hello", "欢迎回家", "Welcome home")
    m = manifest([(hello, None)], default_item_id="hello")
    clock = MovableClock(T0)
    loop = _loop(qtbot, fake_backend, {}, clock)
    loop.set_program(_Broken(m, T0 + dt.timedelta(seconds=60), T0 + dt.timedelta(seconds=120)))
    loop.start()
    clock.advance(60)
    with caplog.at_level(logging.ERROR, logger="signage_player.playloop"):
        loop.step()  # raises inside: logged, not propagated
    assert "play loop error" in caplog.text and any("timeline exploded" in e for e in loop.errors)
    assert loop.current is not None and _not_black(loop)  # a fallback slide, never black
    clock.advance(70)
    loop.step()
    assert loop.current is not None and loop.current.item.id == "hello" and not loop.current.entry.is_default
    loop.stop()
