"""End to end: real releases of this project rolled out by a real server to a real player and kiosk.

The scenario (``tests/fixtures/update_e2e.py``): 1.0.0, 2.0.0 (another welcome text) and 3.0.0
(exits at start) built from this checkout and published through the update API; a real player and
a real kiosk (``community-kiosk``) on 1.0.0, each under its update guard, offscreen. Rolling out
2.0.0 brings both to 2.0.0 (their heartbeats report it; the player paints the new text, the kiosk's
2.0.0 process paints its page); rolling out 3.0.0 makes both crash at start, each returns to 2.0.0
by itself and the rollout pauses. Both devices go through the same rollouts together: the releases
are built once, and the second device's installs run beside the first's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.fixtures.server import LiveServer, free_port
from tests.fixtures.update_e2e import APPS, update_and_roll_back
from tests.fixtures.updates import FullReleaseFactory

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # three builds, three installs


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = LiveServer(
        data_dir=tmp_path_factory.mktemp("server"),
        port=free_port(),
        extra_env={"SIGNAGE_UPDATE_CHECK_S": "1"},
    )
    srv.create_operator()
    srv.start()
    yield srv
    srv.stop()


def test_a_player_and_a_kiosk_update_and_roll_back_a_broken_release_by_themselves(
    server: LiveServer, full_release_factory: FullReleaseFactory, tmp_path: Path, qtbot: QtBot
) -> None:
    timings = update_and_roll_back(server, full_release_factory, tmp_path, apps=APPS, keep=qtbot.addWidget)
    print("update e2e phases (s):", {k: round(v, 1) for k, v in timings.items()})
