"""Power cut (kill -9 of the updater and its children) at every step of download, install and switch.

A real device layout: version 1.0.0 provisioned from a real release (its own virtual environment),
1.1.0 served by a TUF repository on loopback. The update runs in a process on the installed
1.0.0's interpreter, as inside the app, and is killed (its whole process group, like a power cut)
at one step. Then the boot-time recovery of the ``good`` version's guard runs, and the device must
start a complete version; where noted the update is run again and finishes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from signage_player.updater.guard import provision
from signage_player.updater.layout import INSTALLED_MARKER, InstallLayout
from tests.fixtures.updates import DEVICE_KEY, ReleaseFactory, RepoServer, UpdateRepo, run_current

pytestmark = pytest.mark.slow

CHILD = """
import os, signal, sys
from pathlib import Path
import requests
from schedules.clock import SystemClock
from schedules.protocol.release import running_platform
from signage_player.updater.agent import UpdateAgent
from signage_player.updater.fetch import HttpFetcher, Source
from signage_player.updater.layout import InstallLayout

prefix, url, key, version, kill_at = sys.argv[1:6]
armed = False

def power_cut():
    os.killpg(0, signal.SIGKILL)

def checkpoint(step):
    global armed
    print("step", step, flush=True)
    if kill_at == "mid-download" and step.startswith("fetch:community_signage"):
        armed = True
    elif step == kill_at or (kill_at.endswith("*") and step.startswith(kill_at[:-1])):
        power_cut()

def on_bytes(n):
    if armed:
        power_cut()

agent = UpdateAgent(InstallLayout(Path(prefix)), "1.0.0", running_platform(), SystemClock(),
                    restart=lambda: print("restart requested", flush=True), checkpoint=checkpoint)
fetcher = HttpFetcher(requests.Session(), {"Authorization": "Bearer " + key}, on_bytes=on_bytes)
result = agent.update_to(version, Source.server(url, fetcher))
print("outcome", result.outcome, result.detail, flush=True)
"""


@dataclass
class Device:
    prefix: Path
    template: Path
    server: RepoServer

    @property
    def layout(self) -> InstallLayout:
        return InstallLayout(self.prefix)

    def reset(self) -> None:
        shutil.rmtree(self.prefix, ignore_errors=True)
        shutil.copytree(self.template, self.prefix, symlinks=True)

    def updater(self, kill_at: str = "") -> subprocess.Popen[str]:
        python = self.prefix / "versions" / "1.0.0" / "bin" / "python"
        return subprocess.Popen(
            [str(python), "-c", CHILD, str(self.prefix), self.server.url, DEVICE_KEY, "1.1.0", kill_at],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            cwd=self.prefix,
        )

    def boot(self) -> str:
        """What the device does at power-on: the good version's guard recovers, then current starts."""
        guard = self.prefix / "good" / "bin" / "signage-update-guard"
        proc = subprocess.run(
            [str(guard), "recover", "--prefix", str(self.prefix)], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return run_current(self.prefix)

    def leftovers(self) -> list[str]:
        layout = self.layout
        found = [
            p.name
            for p in layout.versions_dir.iterdir()
            if p.name.startswith(".") or not (p / INSTALLED_MARKER).exists()
        ]
        found += [p.name for p in layout.wheels_dir.glob(".*")] + [p.name for p in self.prefix.glob(".*.tmp")]
        return found


@pytest.fixture(scope="module")
def device(release_factory: ReleaseFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Device]:
    v1 = release_factory("1.0.0", "version one")
    v2 = release_factory("1.1.0", "version two")
    base = tmp_path_factory.mktemp("faults")
    ur = UpdateRepo.create(base)
    ur.publish(v1)
    ur.publish(v2)
    server = RepoServer(ur.repo).start()
    prefix = base / "opt-signage"
    provision(InstallLayout(prefix), v1, ur.root_bytes())
    template = base / "template"
    shutil.copytree(prefix, template, symlinks=True)
    yield Device(prefix, template, server)
    server.stop()


# (where the power is cut, the version the device boots afterwards, run the update again to the end?)
KILL_POINTS = [
    ("fetch:refreshed", "1.0.0", False),
    ("fetch:1.1.0-*", "1.0.0", False),
    ("mid-download", "1.0.0", True),
    ("install:staged", "1.0.0", False),
    ("install:venv", "1.0.0", False),
    ("install:pip", "1.0.0", False),
    ("install:marked", "1.0.0", False),
    ("install:recorded", "1.0.0", True),
    ("switch:intent", "1.0.0", True),
    ("switch:linked", "1.1.0", False),
    ("switch:recorded", "1.1.0", False),
]


@pytest.mark.parametrize(("kill_at", "boots", "finish"), KILL_POINTS, ids=[k[0] for k in KILL_POINTS])
def test_power_cut_at_each_step_boots_a_working_version(
    device: Device, kill_at: str, boots: str, finish: bool
) -> None:
    device.reset()
    child = device.updater(kill_at)
    out, _ = child.communicate(timeout=300)
    assert child.returncode == -signal.SIGKILL, out
    assert f"step {kill_at.rstrip('*')}" in out or kill_at == "mid-download"
    assert f"probe-app {boots}:" in device.boot()
    assert device.leftovers() == []
    state = json.loads(device.layout.journal_path.read_text())
    assert state["running"] == boots and state["step"] is None
    assert device.layout.points_to(device.layout.good_link) == "1.0.0"
    if finish:
        again = device.updater()
        out, _ = again.communicate(timeout=300)
        assert "outcome switched" in out, out
        assert "version two" in run_current(device.prefix)


def test_power_cut_in_the_middle_of_pip(device: Device) -> None:
    device.reset()
    child = device.updater()
    site = device.prefix / "versions" / "1.1.0" / "lib"
    deadline = time.monotonic() + 120
    killed = False
    while time.monotonic() < deadline and child.poll() is None:
        if list(site.glob("python3*/site-packages/pydantic_core")):
            assert not (device.prefix / "versions" / "1.1.0" / INSTALLED_MARKER).exists()
            os.killpg(child.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.01)
    child.communicate(timeout=60)
    assert killed, "pip finished before the test could cut the power"
    assert "probe-app 1.0.0: version one" in device.boot()
    assert device.leftovers() == [] and not (device.prefix / "versions" / "1.1.0").exists()
    out, _ = device.updater().communicate(timeout=300)
    assert "outcome switched" in out, out
    assert "probe-app 1.1.0: version two" in run_current(device.prefix)
