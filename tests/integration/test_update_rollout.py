"""End to end: real releases of this project rolled out by a real server to a real player, a real
kiosk and simulated devices together.

The scenario (``tests/fixtures/update_e2e.py``, also ``bench/update_rollout.py``'s): 1.0.0, 2.0.0
(another welcome text) and 3.0.0 (exits at start) built from this checkout and published through
the update API; a real player and a real kiosk (``community-kiosk``) on 1.0.0, each under its
update guard, offscreen, in the canary group with three simulated devices, and five more simulated
devices in the later waves. Rolling out 2.0.0 brings every device to 2.0.0 (their heartbeats
report it; the player paints the new text, the kiosk's 2.0.0 process paints its page); rolling out
3.0.0 makes the canaries crash at start, each returns to 2.0.0 by itself and the rollout pauses
before the later waves get it. The releases are built once; the kiosk's installs run beside the
player's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.fixtures.server import LiveServer, free_port
from tests.fixtures.update_e2e import APPS, update_and_roll_back
from tests.fixtures.update_fleet import seed
from tests.fixtures.updates import FullReleaseFactory

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # three builds, three installs

SIMULATED, CANARIES = 8, 3


@pytest.fixture(scope="module")
def server_and_fleet(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, list[tuple[str, str]]]]:
    """The server, with the simulated devices seeded in its database before it starts."""
    srv = LiveServer(
        data_dir=tmp_path_factory.mktemp("server"),
        port=free_port(),
        extra_env={"SIGNAGE_UPDATE_CHECK_S": "1"},
    )
    simulated = seed(srv.data_dir, SIMULATED, canaries=CANARIES)
    srv.create_operator()
    srv.start()
    yield srv, simulated
    srv.stop()


def test_a_player_a_kiosk_and_simulated_devices_update_and_roll_back_a_broken_release_by_themselves(
    server_and_fleet: tuple[LiveServer, list[tuple[str, str]]],
    full_release_factory: FullReleaseFactory,
    tmp_path: Path,
    qtbot: QtBot,
) -> None:
    server, simulated = server_and_fleet
    outcome = update_and_roll_back(
        server, full_release_factory, tmp_path, apps=APPS, keep=qtbot.addWidget, sims=simulated
    )
    assert outcome.devices == len(APPS) + SIMULATED
    assert outcome.real_got_broken == len(APPS)
    assert len(outcome.got_broken) == len(APPS) + CANARIES  # the later waves never got 3.0.0
    assert sorted(outcome.rolled_back_of_broken) == sorted(outcome.got_broken)
    assert outcome.bricked == ()
    assert outcome.sim_wheels_downloaded == 1  # only the project's own wheel changes between releases
    print("update e2e phases (s):", {k: round(v, 1) for k, v in outcome.timings.items()})
