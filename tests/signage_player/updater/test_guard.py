"""The guard as a real process: it starts the app from ``current``, enforces the health gate, rolls back.

The device is a real layout provisioned from real releases; the guard runs from ``good`` as the
systemd units run it; the app (``probe-app``) takes its update assignment from a file (the
server's stand-in here) and updates through the TUF repository on loopback. Waits are for
events in the journal, with deadlines.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from schedules.clock import SystemClock
from schedules.protocol.release import running_platform
from signage_player.updater.agent import Outcome, UpdateAgent
from signage_player.updater.guard import provision
from signage_player.updater.layout import InstallLayout
from signage_player.updater.stick import STICK_DIR, update_from_stick
from tests.fixtures.updates import DEVICE_KEY, ReleaseFactory, RepoServer, UpdateRepo, run_current
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.slow


@dataclass
class GuardedDevice:
    prefix: Path
    server: RepoServer
    guard: subprocess.Popen[bytes] | None = None

    @property
    def layout(self) -> InstallLayout:
        return InstallLayout(self.prefix)

    def journal(self) -> dict[str, Any]:
        try:
            doc: dict[str, Any] = json.loads(self.layout.journal_path.read_text())
        except (OSError, ValueError):
            return {}
        return doc

    def start_guard(self, health_timeout_s: float = 30, keep_previous_h: float = 24) -> None:
        exe = self.prefix / "good" / "bin" / "signage-update-guard"
        self.guard = subprocess.Popen(
            [
                str(exe),
                "run",
                "--prefix",
                str(self.prefix),
                "--app",
                "probe-app",
                "--restart-delay-s",
                "0.2",
                "--health-timeout-s",
                str(health_timeout_s),
                "--keep-previous-h",
                str(keep_previous_h),
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.prefix.parent / "guard.log", "ab"),  # noqa: SIM115
            start_new_session=True,
        )

    def in_phase(self, phase: str) -> dict[str, Any]:
        """The journal when the device is in ``phase``, else an empty (false) dict."""
        journal = self.journal()
        return journal if journal.get("phase") == phase else {}

    def assign(self, version: str) -> None:
        doc = {"version": version, "url": self.server.url, "key": DEVICE_KEY}
        (self.prefix / ".assign.tmp").write_text(json.dumps(doc))
        os.replace(self.prefix / ".assign.tmp", self.prefix / "assign.json")

    def log(self, version: str) -> str:
        try:
            return self.layout.log_file(version).read_text()
        except OSError:
            return ""

    def stop(self) -> int | None:
        if self.guard is None:
            return None
        self.guard.send_signal(signal.SIGTERM)
        code = self.guard.wait(timeout=30)
        self.guard = None
        return code

    def power_cut(self) -> None:
        assert self.guard is not None
        os.killpg(self.guard.pid, signal.SIGKILL)
        self.guard.wait(timeout=30)
        self.guard = None


@pytest.fixture(scope="module")
def repo(
    release_factory: ReleaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[UpdateRepo, RepoServer]]:
    ur = UpdateRepo.create(tmp_path_factory.mktemp("guard-repo"))
    ur.publish(release_factory("1.0.0", "version one"))
    ur.publish(release_factory("1.1.0", "version two"))
    ur.publish(release_factory("1.2.0", "version three", broken=True))
    ur.publish(release_factory("1.3.0", "version four", marks=("painted",)))
    server = RepoServer(ur.repo).start()
    yield ur, server
    server.stop()


@pytest.fixture
def device(
    repo: tuple[UpdateRepo, RepoServer], release_factory: ReleaseFactory, tmp_path: Path
) -> Iterator[GuardedDevice]:
    ur, server = repo
    prefix = tmp_path / "opt-signage"
    provision(InstallLayout(prefix), release_factory("1.0.0", "version one"), ur.root_bytes())
    dev = GuardedDevice(prefix, server)
    yield dev
    if dev.guard is not None:
        dev.power_cut()


def test_update_then_a_broken_release_rolls_back_by_itself(device: GuardedDevice) -> None:
    device.start_guard()
    eventually(lambda: "probe-app 1.0.0: version one" in device.log("1.0.0"), 60)
    device.assign("1.1.0")
    state = eventually(lambda: device.in_phase("healthy"), 60)
    assert state["running"] == "1.1.0" and state["previous"] == "1.0.0"
    assert "probe-app 1.1.0: version two" in device.log("1.1.0")
    assert device.layout.points_to(device.layout.current_link) == "1.1.0"
    assert device.layout.points_to(device.layout.good_link) == "1.0.0"  # until 1.1.0 has been healthy a day

    device.assign("1.2.0")  # exits at start
    state = eventually(lambda: device.in_phase("rolled_back"), 90)
    assert state["running"] == "1.1.0" and state["failed"] == ["1.2.0"]
    failure = state["failure"]
    assert failure["version"] == "1.2.0" and failure["reason"].startswith("crash_loop")
    assert "probe-app: deliberately broken build, exiting at start" in failure["log_tail"]
    assert device.layout.points_to(device.layout.current_link) == "1.1.0"
    # the guard started the good version again, and it is up
    eventually(lambda: device.log("1.1.0").count("probe-app 1.1.0: version two") >= 2, 60)
    assert device.log("1.2.0").count("deliberately broken") == 3
    assert device.stop() == 0


def test_a_version_that_never_becomes_healthy_is_rolled_back_at_its_deadline(device: GuardedDevice) -> None:
    device.start_guard(health_timeout_s=4)
    eventually(lambda: "probe-app 1.0.0" in device.log("1.0.0"), 60)
    device.assign("1.3.0")  # paints, but never syncs or gets a heartbeat through
    state = eventually(lambda: device.in_phase("rolled_back"), 90)
    assert state["running"] == "1.0.0"
    assert state["failure"]["reason"] == "health_timeout: never heartbeat, synced"
    assert "probe-app 1.3.0: version four" in state["failure"]["log_tail"]
    eventually(lambda: device.log("1.0.0").count("probe-app 1.0.0: version one") >= 2, 60)
    assert device.stop() == 0


def test_power_cut_during_probation_resumes_it_after_boot(device: GuardedDevice) -> None:
    device.start_guard(health_timeout_s=60)
    eventually(lambda: "probe-app 1.0.0" in device.log("1.0.0"), 60)
    device.assign("1.2.0")
    eventually(lambda: device.journal().get("phase") == "probation", 60)
    device.power_cut()  # guard and app gone at once; nothing recorded their end
    assert device.layout.points_to(device.layout.current_link) == "1.2.0"
    device.start_guard(health_timeout_s=60)  # power back: the same unit starts the guard again
    state = eventually(lambda: device.in_phase("rolled_back"), 90)
    assert state["running"] == "1.0.0" and state["failure"]["version"] == "1.2.0"
    assert device.stop() == 0


def test_after_its_day_of_probation_the_new_version_becomes_good_and_the_old_one_goes(
    device: GuardedDevice,
) -> None:
    device.start_guard(keep_previous_h=2 / 3600)  # a "day" of two seconds
    eventually(lambda: "probe-app 1.0.0" in device.log("1.0.0"), 60)
    device.assign("1.1.0")
    eventually(lambda: device.layout.points_to(device.layout.good_link) == "1.1.0", 60)
    eventually(lambda: device.journal()["previous"] is None, 60)  # written just after the link moves
    assert device.layout.installed_versions() == ["1.0.0", "1.1.0"]  # the running guard's own version stays
    assert device.stop() == 0
    device.start_guard()  # the next start runs the guard of 1.1.0, which removes 1.0.0
    eventually(lambda: device.layout.installed_versions() == ["1.1.0"], 60)
    eventually(lambda: device.journal().get("guard_version") == "1.1.0", 60)
    assert device.stop() == 0


def test_stopping_the_guard_stops_the_app_and_is_not_counted_as_a_crash(device: GuardedDevice) -> None:
    device.start_guard()
    eventually(lambda: "probe-app 1.0.0" in device.log("1.0.0"), 60)
    device.assign("1.1.0")
    eventually(lambda: device.journal().get("phase") == "healthy", 60)
    line = "probe-app 1.1.0: version two"
    for _ in range(3):
        runs = device.log("1.1.0").count(line)
        assert device.stop() == 0
        assert device.journal()["exits"] == []
        device.start_guard()

        def restarted(before: int = runs) -> bool:
            return device.log("1.1.0").count(line) > before

        eventually(restarted, 60)
    assert device.journal()["running"] == "1.1.0"
    assert device.stop() == 0


def _offline_device(
    ur: UpdateRepo, release_factory: ReleaseFactory, tmp_path: Path, version: str = "1.0.0"
) -> tuple[Path, UpdateAgent]:
    prefix = tmp_path / "offline"
    provision(InstallLayout(prefix), release_factory("1.0.0", "version one"), ur.root_bytes())
    agent = UpdateAgent(InstallLayout(prefix), version, running_platform(), SystemClock(), lambda: None)
    return prefix, agent


def test_usb_stick_updates_an_offline_device_and_never_downgrades(
    repo: tuple[UpdateRepo, RepoServer], release_factory: ReleaseFactory, tmp_path: Path
) -> None:
    ur, _server = repo
    prefix, agent = _offline_device(ur, release_factory, tmp_path)
    now = dt.datetime.now(dt.UTC)
    stick = tmp_path / "stick"
    ur.repo.export_usb(stick, "1.1.0", running_platform(), now)
    assert update_from_stick(agent, tmp_path / "empty").outcome is Outcome.SKIPPED
    result = update_from_stick(agent, stick)
    assert result.outcome is Outcome.SWITCHED, result
    assert "probe-app 1.1.0: version two" in run_current(prefix)

    old = tmp_path / "old-stick"
    ur.repo.export_usb(old, "1.0.0", running_platform(), now)
    newer_agent = UpdateAgent(
        InstallLayout(prefix), "1.1.0", running_platform(), SystemClock(), restart=lambda: None
    )
    result = update_from_stick(newer_agent, old)
    assert result.outcome is Outcome.SKIPPED and "not newer" in result.detail


def test_tampered_usb_stick_is_refused_and_nothing_changes(
    repo: tuple[UpdateRepo, RepoServer], release_factory: ReleaseFactory, tmp_path: Path
) -> None:
    ur, _server = repo
    prefix, agent = _offline_device(ur, release_factory, tmp_path)
    stick = tmp_path / "stick"
    ur.repo.export_usb(stick, "1.1.0", running_platform(), dt.datetime.now(dt.UTC))
    wheel = next((stick / STICK_DIR / "targets" / "wheels").glob("*.community_signage-*"))
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 0xFF
    wheel.write_bytes(bytes(data))
    result = update_from_stick(agent, stick)
    assert result.outcome is Outcome.REFUSED and "LengthOrHashMismatchError" in result.detail
    assert "probe-app 1.0.0: version one" in run_current(prefix)
    assert InstallLayout(prefix).installed_versions() == ["1.0.0"]


def test_provision_and_status_commands(
    repo: tuple[UpdateRepo, RepoServer], release_factory: ReleaseFactory, tmp_path: Path
) -> None:
    ur, _server = repo
    (tmp_path / "1.root.json").write_bytes(ur.root_bytes())
    release = release_factory("1.0.0", "version one")
    prefix = tmp_path / "opt-signage"
    args = [
        "provision",
        "--prefix",
        str(prefix),
        "--release",
        str(release),
        "--root",
        str(tmp_path / "1.root.json"),
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "signage_player.updater.guard", *args], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert (prefix / "trusted-root.json").read_bytes() == ur.root_bytes()
    assert "probe-app 1.0.0: version one" in run_current(prefix)
    status = subprocess.run(
        [str(prefix / "good" / "bin" / "signage-update-guard"), "status", "--prefix", str(prefix)],
        capture_output=True,
        text=True,
    )
    assert json.loads(status.stdout)["running"] == "1.0.0"
