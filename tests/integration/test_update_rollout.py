"""End to end: real releases of this project rolled out by a real server to a real player.

The scenario (``tests/fixtures/update_e2e.py``): 1.0.0, 2.0.0 (another welcome text) and 3.0.0
(exits at start) built from this checkout and published through the update API; a real player on
1.0.0 under the update guard, offscreen. Rolling out 2.0.0 brings it to 2.0.0 (its heartbeats
report it, it paints the new text); rolling out 3.0.0 makes it crash at start, it returns to 2.0.0
by itself and the rollout pauses. Here with the player alone (each device installs the whole
project three times); the kiosk goes through the same in ``bench/update_devices.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.fixtures.server import LiveServer, free_port
from tests.fixtures.update_e2e import update_and_roll_back
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


def test_a_player_updates_and_rolls_back_a_broken_release_by_itself(
    server: LiveServer, full_release_factory: FullReleaseFactory, tmp_path: Path, qtbot: QtBot
) -> None:
    update_and_roll_back(server, full_release_factory, tmp_path, apps=("player",), keep=qtbot.addWidget)
