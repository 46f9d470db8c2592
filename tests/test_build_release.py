"""The release builder on this checkout, and the device units that run what it builds."""

from __future__ import annotations

import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from schedules.protocol.release import ReleaseIndex, running_platform
from signage_player.updater.guard import build_parser

ROOT = Path(__file__).resolve().parents[1]


def _build(out: Path, *extra: str) -> ReleaseIndex:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_release.py"), "--out", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return ReleaseIndex.model_validate_json((out / "release.json").read_bytes())


@pytest.mark.slow
def test_a_release_of_this_checkout_holds_every_wheel_and_unchanged_ones_keep_their_bytes(
    tmp_path: Path,
) -> None:
    pinned = {
        line.split("==")[0].lower().replace("_", "-"): line.split("==")[1]
        for line in (ROOT / "constraints.txt").read_text().split()
        if "==" in line
    }
    one = _build(tmp_path / "a", "--version", "0.9.1")
    assert (
        one.package == "community-signage" and one.version == "0.9.1" and one.platform == running_platform()
    )
    names = {w.filename.split("-")[0].lower().replace("_", "-"): w.filename.split("-")[1] for w in one.wheels}
    assert names["community-signage"] == "0.9.1"
    for dist in ("pyside6-essentials", "tuf", "securesystemslib", "fastapi", "pydantic", "python-vlc"):
        assert names[dist] == pinned[dist], dist  # every dependency, at the pinned version
    assert all((tmp_path / "a" / "wheels" / w.filename).stat().st_size == w.size for w in one.wheels)

    two = _build(tmp_path / "b", "--version", "0.9.2")
    same = {w.filename: w.sha256 for w in one.wheels}.items() & {
        w.filename: w.sha256 for w in two.wheels
    }.items()
    assert len(same) == len(one.wheels) - 1  # only the project's own wheel differs
    changed = {w.filename for w in two.wheels} - {w.filename for w in one.wheels}
    assert changed == {"community_signage-0.9.2-py3-none-any.whl"}

    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_release.py"), "--out", str(tmp_path / "a")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "already holds a release" in proc.stderr


@pytest.mark.parametrize(
    ("unit", "app"),
    [("signage-player.service", "signage-player"), ("community-kiosk.service", "community-kiosk")],
)
def test_device_units_start_the_update_guard_from_the_good_version(unit: str, app: str) -> None:
    text = (ROOT / "deploy" / "systemd" / unit).read_text()
    (exec_start,) = [line.split("=", 1)[1] for line in text.splitlines() if line.startswith("ExecStart=")]
    argv = shlex.split(exec_start)
    guard_at = argv.index("/opt/signage/good/bin/signage-update-guard")
    args = build_parser().parse_args(argv[guard_at + 1 :])
    assert (args.command, args.app, args.prefix) == ("run", app, Path("/opt/signage"))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert app in scripts and "signage-update-guard" in scripts
