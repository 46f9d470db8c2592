"""The player with updates on (as the update guard starts it), on the fake server: its heartbeats
carry the update report, a new version's health gate is met by what the player does (a frame
painted, a manifest synced, a heartbeat accepted), and an assigned version is fetched."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from schedules.clock import MovableClock
from schedules.protocol.release import UpdatePhase
from signage_player import __version__
from signage_player.app import Player, build_player
from signage_player.device_api import FakeDeviceServer
from signage_player.media import FakeMediaBackend
from signage_player.updater import state as sm
from signage_player.updater.agent import PREFIX_ENV
from signage_player.updater.journal import Journal
from signage_player.updater.layout import InstallLayout
from tests.fixtures.updates import UpdateRepo
from tests.signage_player.manifests import T0, manifest, text_item
from tests.signage_player.serverkit import fake_paired, fake_settings


@pytest.fixture
def fake() -> Iterator[FakeDeviceServer]:
    server = FakeDeviceServer(MovableClock(T0), server_public_key="c2VydmVyLWtleQ==")
    yield server
    server.close()


@pytest.fixture
def on_probation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> InstallLayout:
    """An install prefix whose journal says this very version was just switched to."""
    layout = InstallLayout(tmp_path / "prefix")
    layout.create_dirs()
    layout.trusted_root.write_bytes(UpdateRepo.create(tmp_path / "repo").root_bytes())
    now = dt.datetime.now(dt.UTC)
    state = sm.switched(
        sm.switching(sm.installed(sm.downloading(sm.provisioned("0.0.1"), __version__))), now, sm.Policy()
    )
    Journal(layout.journal_path).write(sm.started(state, now, sm.Policy()))
    monkeypatch.setenv(PREFIX_ENV, str(layout.prefix))  # what the guard sets for the app it starts
    return layout


def test_a_new_version_passes_its_health_gate_by_playing_and_reporting(
    qtbot: QtBot, fake: FakeDeviceServer, tmp_path: Path, players: list[Player], on_probation: InstallLayout
) -> None:
    data = tmp_path / "data"
    screen = fake_paired(data, fake)
    fake.publish(screen.device_id, manifest([(text_item("hello", "欢迎", "Welcome"), None)]), {})
    app = build_player(fake_settings(data), FakeMediaBackend(), fake.clock, api=fake.client())
    players.append(app)
    assert app.reporter.updates is not None
    journal = Journal(on_probation.journal_path)
    app.reporter.heartbeat()  # before it runs: nothing painted or synced yet
    assert set(journal.read().health) == {sm.HEARTBEAT} and journal.read().phase is UpdatePhase.PROBATION
    assert screen.heartbeats[-1].update is not None
    assert screen.heartbeats[-1].update.phase is UpdatePhase.PROBATION
    app.start()
    app.sync_now()
    qtbot.waitUntil(lambda: app.playback.loop.current is not None, timeout=20_000)
    app.reporter.take_snapshot()
    app.reporter.heartbeat()
    assert journal.read().phase is UpdatePhase.HEALTHY
    app.reporter.heartbeat()
    assert screen.heartbeats[-1].update is not None
    assert screen.heartbeats[-1].update.phase is UpdatePhase.HEALTHY

    fake.assign_update(screen.device_id, "9.9.9")  # the fake server is no TUF repository: refused
    journal.update(lambda s: s.model_copy(update={"phase": UpdatePhase.IDLE, "previous": None}))
    app.reporter.heartbeat()
    runner = app.reporter.updates
    qtbot.waitUntil(lambda: runner.done.is_set(), timeout=30_000)
    assert runner.last_result is not None and runner.last_result.outcome.value in ("fetch_failed", "refused")
    assert journal.read().running == __version__  # nothing changed


def test_without_the_guard_updates_are_off(
    fake: FakeDeviceServer, tmp_path: Path, players: list[Player], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PREFIX_ENV, raising=False)
    data = tmp_path / "data"
    fake_paired(data, fake)
    app = build_player(fake_settings(data), FakeMediaBackend(), fake.clock, api=fake.client())
    players.append(app)
    assert app.reporter.updates is None and app.reporter.beat().update is None
