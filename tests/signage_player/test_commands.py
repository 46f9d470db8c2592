"""Remote commands on the whole player (Qt offscreen, real threads, the fake server): each kind
does what it says and is answered; a command for another device is refused; nothing runs twice,
across a lost answer and across a crash mid-command. Over the wire: ``test_commands_live.py``."""

from __future__ import annotations

import datetime as dt
import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from pytestqt.qtbot import QtBot

from schedules.clock import MovableClock
from schedules.model import ItemKind, ScreenClass
from schedules.protocol.device import CommandKind, CommandOutcome, DeviceCommand
from signage_player.app import Player, build_player
from signage_player.commands import CommandJournal, Done, Step, plan
from signage_player.device_api import FakeDeviceServer, FakeScreen
from signage_player.identify import IdentifyBanner
from signage_player.media import FakeMediaBackend
from tests.fixtures.waiting import eventually
from tests.signage_player.manifests import T0, asset_item, manifest, text_item
from tests.signage_player.serverkit import fake_paired, fake_settings

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "player"


@pytest.fixture
def fake() -> Iterator[FakeDeviceServer]:
    server = FakeDeviceServer(MovableClock(T0))
    yield server
    server.close()


def _online(qtbot: QtBot, fake: FakeDeviceServer, data: Path, players: list[Player], media_dir: Path,
            screen: FakeScreen | None = None, **kw: object) -> tuple[Player, str]:
    """A paired player playing an image and a text, its command long-poll running."""
    screen = screen or fake_paired(data, fake)
    img, ref = asset_item("img", ItemKind.IMAGE, media_dir / "landscape.png")
    m = manifest([(img, ref), (text_item("hello", "欢迎回家", "Welcome home"), None)],
                 screen_class=ScreenClass.INDOOR_SMALL, version="v1")
    fake.publish(screen.device_id, m, {ref.sha256: (media_dir / "landscape.png").read_bytes()})
    app = build_player(fake_settings(data, **kw), FakeMediaBackend(), fake.clock, api=fake.client())
    players.append(app)
    app.start()  # its first sync runs at once on a worker; this one waits for that
    app.sync_now()
    assert app.playback.syncer.live is not None and app.playback.syncer.live.version == "v1"
    qtbot.waitUntil(lambda: app.playback.loop.current is not None, timeout=20_000)
    return app, screen.device_id


def _answer(qtbot: QtBot, fake: FakeDeviceServer, device_id: str, cmd: DeviceCommand,
            timeout_s: float = 10) -> tuple[str, str]:
    """The device's answer, waited for while the GUI thread runs (handlers run there)."""
    acks = fake.screens[device_id].acks
    qtbot.waitUntil(lambda: cmd.id in acks, timeout=int(timeout_s * 1000))
    return acks[cmd.id].outcome.value, acks[cmd.id].detail


def test_identify_shows_name_and_id_large_for_30_seconds(qtbot: QtBot, fake: FakeDeviceServer,
                                                        media_dir: Path, tmp_path: Path,
                                                        players: list[Player]) -> None:
    app, device_id = _online(qtbot, fake, tmp_path / "data", players, media_dir)
    cmd = fake.send_command(device_id, CommandKind.IDENTIFY, screen_name="3号楼大堂 东")
    assert _answer(qtbot, fake, device_id, cmd) == ("done", "showing the name for 30 s")
    banner = app.window.findChild(IdentifyBanner, "identify")
    assert banner is not None
    qtbot.waitUntil(lambda: banner.isVisible(), timeout=20_000)
    assert (banner.name, banner.device_id) == ("3号楼大堂 东", device_id)
    shot = app.reporter.screenshot_png()  # what an operator's screenshot shows now
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    Image.open(io.BytesIO(shot)).save(ARTIFACTS / "identify.png")
    blue = Image.open(io.BytesIO(shot)).convert("RGB").getpixel((5, 5))
    assert blue == (11, 61, 145)  # the banner covers the screen, the programme underneath
    assert isinstance(fake.clock, MovableClock)
    fake.clock.advance(29)
    qtbot.wait(600)  # the banner checks twice a second: still up after 29 s
    assert banner.isVisible()
    fake.clock.advance(1.5)
    qtbot.waitUntil(lambda: not banner.isVisible(), timeout=20_000)


def test_screen_off_now_runs_the_backlight_command_and_on_brings_it_back(
        qtbot: QtBot, fake: FakeDeviceServer, media_dir: Path, tmp_path: Path, players: list[Player]) -> None:
    off_marker, on_marker = tmp_path / "off", tmp_path / "on"
    app, device_id = _online(qtbot, fake, tmp_path / "data", players, media_dir,
                             backlight_off_cmd=f"touch {off_marker}", backlight_on_cmd=f"touch {on_marker}")
    view = app.playback.view
    off = fake.send_command(device_id, CommandKind.SCREEN_POWER, screen_on=False)
    assert _answer(qtbot, fake, device_id, off)[0] == "done"
    qtbot.waitUntil(lambda: view.off, timeout=20_000)
    eventually(off_marker.exists, 5, "the backlight-off command")
    assert app.playback.loop.current is None  # nothing plays (nor counts as played) while off
    on = fake.send_command(device_id, CommandKind.SCREEN_POWER, screen_on=True)
    assert _answer(qtbot, fake, device_id, on)[0] == "done"
    qtbot.waitUntil(lambda: not view.off and app.playback.loop.current is not None, timeout=20_000)
    eventually(on_marker.exists, 5, "the backlight-on command")


def test_volume_reboot_and_screenshot(qtbot: QtBot, fake: FakeDeviceServer, media_dir: Path, tmp_path: Path,
                                      players: list[Player]) -> None:
    volume_file, reboot_marker = tmp_path / "volume", tmp_path / "rebooted"
    write = f"{sys.executable} -c \"import sys; open(sys.argv[1], 'w').write(sys.argv[2])\" {volume_file}"
    app, device_id = _online(qtbot, fake, tmp_path / "data", players, media_dir,
                             volume_cmd=write + " {percent}", reboot_cmd=f"touch {reboot_marker}")
    vol = fake.send_command(device_id, CommandKind.SET_VOLUME, volume=35)
    assert _answer(qtbot, fake, device_id, vol) == ("done", "volume 35%")
    written = eventually(lambda: volume_file.exists() and volume_file.read_text(), 5, "the volume command")
    assert written == "35"
    shot = fake.send_command(device_id, CommandKind.SCREENSHOT)
    outcome, detail = _answer(qtbot, fake, device_id, shot)
    assert outcome == "done" and "screenshot sent" in detail
    png = fake.screens[device_id].screenshots[-1]
    picture = Image.open(io.BytesIO(png))
    assert picture.size == (app.window.width(), app.window.height())
    assert len(picture.convert("RGB").getcolors(1 << 20) or ()) > 50  # the programme, not a blank
    boot = fake.send_command(device_id, CommandKind.REBOOT)
    assert _answer(qtbot, fake, device_id, boot) == ("done", "rebooting")
    eventually(reboot_marker.exists, 5, "the reboot command")


def test_reboot_without_a_configured_command_fails_clearly(qtbot: QtBot, fake: FakeDeviceServer,
                                                           media_dir: Path, tmp_path: Path,
                                                           players: list[Player]) -> None:
    _app, device_id = _online(qtbot, fake, tmp_path / "data", players, media_dir)
    boot = fake.send_command(device_id, CommandKind.REBOOT)
    outcome, detail = _answer(qtbot, fake, device_id, boot)
    assert outcome == "failed" and "no reboot command" in detail


def test_sync_now_and_clear_cache_fetch_again(qtbot: QtBot, fake: FakeDeviceServer, media_dir: Path,
                                             tmp_path: Path, players: list[Player]) -> None:
    app, device_id = _online(qtbot, fake, tmp_path / "data", players, media_dir)
    img, ref = asset_item("portrait", ItemKind.IMAGE, media_dir / "portrait.png")
    fake.publish(device_id, manifest([(img, ref)], screen_class=ScreenClass.INDOOR_SMALL, version="v2"),
                 {ref.sha256: (media_dir / "portrait.png").read_bytes()})
    sync = fake.send_command(device_id, CommandKind.SYNC_NOW)
    outcome, detail = _answer(qtbot, fake, device_id, sync)
    # v2 is live after the command (its own sync, or the regular poll that heard of v2 first)
    assert outcome == "done" and "manifest v2" in detail and app.playback.syncer.live is not None
    assert app.playback.syncer.live.version == "v2"
    cache = app.playback.cache
    before = fake.calls.count("download")
    clear = fake.send_command(device_id, CommandKind.CLEAR_CACHE)
    outcome, detail = _answer(qtbot, fake, device_id, clear)
    assert outcome == "done" and "every asset verified" in detail
    assert fake.calls.count("download") == before + 1 and "manifest 200" in fake.calls[-2:]  # no ETag sent
    assert cache.verified() == {ref.sha256}


def test_a_command_for_another_device_is_refused_and_never_run(qtbot: QtBot, fake: FakeDeviceServer,
                                                               media_dir: Path, tmp_path: Path,
                                                               players: list[Player]) -> None:
    app, device_id = _online(qtbot, fake, tmp_path / "data", players, media_dir)
    ran: list[str] = []
    app.commands.finished.connect(lambda cid, outcome, detail: ran.append(cid))
    with qtbot.waitSignal(app.commands.refused, timeout=20_000) as refused:
        stray = fake.send_command(device_id, CommandKind.SCREEN_POWER, screen_on=False,
                                  addressed_to="player-99")
    assert refused.args == [stray.id, "player-99"]
    mine = fake.send_command(device_id, CommandKind.IDENTIFY)  # the next one still runs
    assert _answer(qtbot, fake, device_id, mine)[0] == "done"
    assert ran == [mine.id] and not app.playback.view.off
    assert stray.id not in fake.screens[device_id].acks and app.commands.journal.get(stray.id) is None


def test_a_lost_answer_is_sent_again_without_running_the_command_twice(
        qtbot: QtBot, fake: FakeDeviceServer, media_dir: Path, tmp_path: Path, players: list[Player]) -> None:
    app, device_id = _online(qtbot, fake, tmp_path / "data", players, media_dir)
    runs: list[str] = []
    runner = app.commands
    identify = runner.handlers[CommandKind.IDENTIFY]

    def run_offline(cmd: DeviceCommand, done: Done) -> None:
        runs.append(cmd.id)
        fake.online = False  # the network drops while the command runs: its answer cannot be sent
        identify(cmd, done)

    runner.handlers[CommandKind.IDENTIFY] = run_offline
    with qtbot.waitSignal(runner.finished, timeout=20_000):
        cmd = fake.send_command(device_id, CommandKind.IDENTIFY)
    assert runs == [cmd.id] and cmd.id not in fake.screens[device_id].acks
    fake.online = True  # back: the long-poll hands the unanswered command over again
    assert _answer(qtbot, fake, device_id, cmd, 30)[0] == "done"
    assert runs == [cmd.id]  # answered from the journal, not run again


def test_a_command_cut_short_by_a_crash_is_answered_failed_not_run_again(
        qtbot: QtBot, fake: FakeDeviceServer, media_dir: Path, tmp_path: Path, players: list[Player]) -> None:
    data = tmp_path / "data"
    screen = fake_paired(data, fake)
    cut = fake.send_command(screen.device_id, CommandKind.CLEAR_CACHE)
    restart = fake.send_command(screen.device_id, CommandKind.RESTART_APP)
    journal = CommandJournal(data / "commands.sqlite3")  # as the crashed run left it: both started
    assert journal.begin(cut, fake.clock.now()) and journal.begin(restart, fake.clock.now())
    assert not journal.begin(cut, fake.clock.now())  # known: never begun twice
    journal.close()
    _online(qtbot, fake, data, players, media_dir, screen)
    calls_before = len(fake.calls)
    assert _answer(qtbot, fake, screen.device_id, cut)[0] == "failed"
    assert "not run again" in _answer(qtbot, fake, screen.device_id, cut)[1]
    assert _answer(qtbot, fake, screen.device_id, restart) == ("done", "the app started again")
    assert "manifest 200" not in fake.calls[calls_before:]  # the cache was not cleared and refetched


def test_plan_is_the_one_rule() -> None:
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    cmd = DeviceCommand(id="c1", seq=1, device_id="me", kind=CommandKind.SYNC_NOW, issued_at=now,
                        expires_at=now + dt.timedelta(hours=1))
    assert plan(cmd, "me", None) is Step.RUN
    assert plan(cmd, "someone-else", None) is Step.REFUSE
    assert plan(cmd, None, None) is Step.REFUSE  # unpaired: nothing is ours
    from signage_player.commands import JournalEntry

    started = JournalEntry("c1", "sync_now", "started", "", None, False)
    done = JournalEntry("c1", "sync_now", CommandOutcome.DONE.value, "ok", now, True)
    assert plan(cmd, "me", started) is Step.WAIT and plan(cmd, "me", done) is Step.ANSWER_AGAIN
