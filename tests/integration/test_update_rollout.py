"""End to end: real releases of this project rolled out by a real server to a real player and kiosk.

Three releases are built from this checkout with ``scripts/build_release.py`` (every dependency
as a wheel): 1.0.0, 2.0.0 whose welcome slide says something else, and 3.0.0 whose apps exit at
start. An operator publishes them through the update API (signed offline with temporary keys).
A player and a kiosk are provisioned with 1.0.0 in their own install prefixes and run by the
update guard (from ``good``, as the systemd units run it), offscreen. Rolling out 2.0.0 brings
both to it (their heartbeats report it; the player paints the new text); rolling out 3.0.0 makes
both crash at start, and each returns to 2.0.0 by itself while the rollout pauses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from schedules.model import ContentItem, ItemKind, ScreenClass
from signage_player.identity import DeviceIdentity
from signage_player.media import FakeMediaBackend
from signage_player.updater.guard import provision
from signage_player.updater.layout import InstallLayout
from signage_player.view import Playable, SignageView
from tests.fixtures.server import LiveServer, PairedDevice, free_port, pair_device
from tests.fixtures.updates import FullReleaseFactory, ServerUpdates
from tests.fixtures.waiting import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # three builds, six installs, two devices

V1, V2, V3 = "1.0.0", "2.0.0", "3.0.0"
WELCOME_V2 = "Welcome to version two"
SIZE = (640, 360)


@dataclass
class GuardedApp:
    """One device: its install prefix, data dir and the guard process running its app."""

    name: str
    prefix: Path
    data_dir: Path
    screenshots: Path
    guard: subprocess.Popen[bytes]

    def journal(self) -> dict[str, Any]:
        try:
            doc: dict[str, Any] = json.loads(InstallLayout(self.prefix).journal_path.read_text())
        except (OSError, ValueError):
            return {}
        return doc

    def log(self, version: str) -> str:
        try:
            return InstallLayout(self.prefix).log_file(version).read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.guard.poll() is None:
            self.guard.send_signal(signal.SIGTERM)
            try:
                self.guard.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.guard.pid, signal.SIGKILL)
                self.guard.wait()


def _start(name: str, app: str, base: Path, release: Path, root: bytes, env: dict[str, str]) -> GuardedApp:
    prefix, data, shots = base / name / "opt-signage", base / name / "data", base / name / "shots"
    provision(InstallLayout(prefix), release, root)
    log = open(base / name / "guard.log", "ab")  # noqa: SIM115 - the guard process owns it
    guard = subprocess.Popen(
        [
            str(prefix / "good" / "bin" / "signage-update-guard"),
            "run",
            "--prefix",
            str(prefix),
            "--app",
            app,
            "--health-timeout-s",
            "240",
            "--restart-delay-s",
            "0.5",
        ],
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **env},
        stdout=log,
        stderr=log,
        start_new_session=True,
        cwd=base,
    )
    return GuardedApp(name, prefix, data, shots, guard)


def _store_identity(data_dir: Path, device: PairedDevice) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    DeviceIdentity(device.private_key, device.device_id, device.device_key, device.server_public_key).save(
        data_dir
    )


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


def _reference(qtbot: QtBot, text: dict[str, str]) -> QImage:
    """The default slide with ``text`` as this checkout's player paints it, offscreen."""
    view = SignageView(FakeMediaBackend(), ScreenClass.OUTDOOR_LARGE)
    qtbot.addWidget(view)
    view.resize(*SIZE)
    view.show()
    item = ContentItem(id="builtin-default", kind=ItemKind.TEXT, duration_s=30, text=text)
    with qtbot.waitSignal(view.main.frame_painted, timeout=5000):
        view.main.show_prepared(view.main.prepare(Playable(item, None)))
    return view.picture()


def _difference(a: QImage, b: QImage) -> float:
    """Share of sampled pixels that differ (the images are the same size)."""
    if a.size() != b.size():
        return 1.0
    points = [(x, y) for x in range(0, a.width(), 2) for y in range(0, a.height(), 2)]
    return sum(a.pixel(x, y) != b.pixel(x, y) for x, y in points) / len(points)


def _releases(http: httpx.Client, ops: ServerUpdates) -> dict[str, dict[str, Any]]:
    return {r["version"]: r for r in http.get("/api/v1/updates/releases", headers=ops.headers).json()}


def test_player_and_kiosk_update_and_roll_back_a_broken_release_by_themselves(
    server: LiveServer, full_release_factory: FullReleaseFactory, tmp_path: Path, qtbot: QtBot
) -> None:
    releases = {
        V1: full_release_factory(V1, "Welcome"),
        V2: full_release_factory(V2, WELCOME_V2),
        V3: full_release_factory(V3, WELCOME_V2, broken=True),
    }
    http = httpx.Client(base_url=server.url, timeout=120)
    ops = ServerUpdates(http, server.auth(server.operator), tmp_path)
    root = ops.set_up()
    for version in (V1, V2, V3):
        ops.publish(releases[version])

    player_id = pair_device(server, screen_class="outdoor_large", name="lobby screen", groups=["lobby"])
    kiosk_id = pair_device(server, kind="kiosk", name="lobby kiosk", groups=["lobby"])
    _store_identity(tmp_path / "player" / "data", player_id)  # as pairing on screen would have
    _store_identity(tmp_path / "kiosk" / "data", kiosk_id)
    player = _start(
        "player",
        "signage-player",
        tmp_path,
        releases[V1],
        root,
        {
            "SIGNAGE_PLAYER_SERVER_URL": server.url,
            "SIGNAGE_PLAYER_DATA_DIR": str(tmp_path / "player" / "data"),
            "SIGNAGE_PLAYER_SCREENSHOT_DIR": str(tmp_path / "player" / "shots"),
            "SIGNAGE_PLAYER_SCREENSHOT_EVERY_S": "0.5",
            "SIGNAGE_PLAYER_WIDTH": str(SIZE[0]),
            "SIGNAGE_PLAYER_HEIGHT": str(SIZE[1]),
            "SIGNAGE_PLAYER_HEARTBEAT_INTERVAL_S": "1",
            "SIGNAGE_PLAYER_POLL_INTERVAL_S": "2",
            "SIGNAGE_PLAYER_USB": "0",
        },
    )
    kiosk = _start(
        "kiosk",
        "community-kiosk",
        tmp_path,
        releases[V1],
        root,
        {
            "KIOSK_SERVER_URL": server.url,
            "KIOSK_DATA_DIR": str(tmp_path / "kiosk" / "data"),
            "KIOSK_SCREENSHOT_DIR": str(tmp_path / "kiosk" / "shots"),
            "KIOSK_HEARTBEAT_INTERVAL_S": "1",
        },
    )
    try:
        eventually(lambda: _releases(http, ops)[V1]["running"] == 2, 180, "both devices reporting 1.0.0")
        shot = player.screenshots / "screen.png"
        v1_ref = _reference(qtbot, {"zh": "lobby screen", "en": "Welcome"})
        v2_ref = _reference(qtbot, {"zh": "lobby screen", "en": WELCOME_V2})
        assert _difference(v1_ref, v2_ref) > 0.002  # the two texts look different

        ops.start_rollout(V2, [{"name": "all", "percent": 100}])
        for dev in (player, kiosk):
            eventually(
                lambda d=dev: d.journal().get("running") == V2 and d.journal().get("phase") == "healthy",  # type: ignore[misc]
                300,
                f"{dev.name} healthy on 2.0.0",
            )
        eventually(lambda: _releases(http, ops)[V2]["running"] == 2, 60, "the server seeing both on 2.0.0")
        assert "kiosk running" in kiosk.log(V2)

        def shows(ref: QImage) -> bool:
            img = QImage(str(shot))
            return not img.isNull() and _difference(img, ref) < 0.01

        eventually(lambda: shows(v2_ref), 60, "the player painting version two's welcome text")
        assert not shows(v1_ref)

        ops.start_rollout(V3, [{"name": "all", "percent": 100}])
        for dev in (player, kiosk):
            eventually(
                lambda d=dev: d.journal().get("phase") == "rolled_back", 300, f"{dev.name} rolled back"
            )  # type: ignore[misc]
            state = dev.journal()
            assert state["running"] == V2 and state["failure"]["version"] == V3
            assert state["failure"]["reason"].startswith("crash_loop")
            assert "deliberately broken build: exiting at start" in state["failure"]["log_tail"]
            assert InstallLayout(dev.prefix).points_to(InstallLayout(dev.prefix).current_link) == V2
        (rollout, *_) = http.get("/api/v1/updates/rollouts", headers=ops.headers).json()
        assert rollout["version"] == V3
        eventually(
            lambda: http.get("/api/v1/updates/rollouts", headers=ops.headers).json()[0]["state"] == "paused",
            60,
            "the rollout pausing itself",
        )
        (alert,) = http.get("/api/v1/updates/alerts", headers=ops.headers).json()
        assert alert["rollout_id"] == rollout["id"]  # the first failures paused it: they are named
        assert set(alert["devices"]) and set(alert["devices"]) <= {player_id.device_id, kiosk_id.device_id}
        counts = _releases(http, ops)
        eventually(
            lambda: _releases(http, ops)[V3]["rolled_back"] == 2, 60, "the server counting two rollbacks"
        )
        assert counts[V2]["running"] >= 1
        eventually(lambda: shows(v2_ref), 60, "the player painting version two again")
    finally:
        for dev in (player, kiosk):
            dev.stop()
        http.close()
