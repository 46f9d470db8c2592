#!/usr/bin/env python3
"""Build a release from a checkout: the project's wheel plus every dependency as wheels.

    python scripts/build_release.py --out DIR [--version 0.2.0] [--project PATH]

writes ``DIR/wheels/*.whl`` and ``DIR/release.json`` (``schedules.protocol.release.ReleaseIndex``),
so a device installs the release with no network except the content server:
``pip install --no-index --find-links DIR/wheels community-signage==VERSION``.

Dependencies are pinned by the project's ``constraints.txt``. Their wheels depend only on the
requirements, the constraints and the interpreter/platform, so they are built once into a cache
(``--wheelhouse-cache``, default ``~/.cache/community-signage/wheelhouse``) and reused byte for
byte by later builds: unchanged wheels keep their hashes, and a device that already holds one
(a TUF target named by its file name) never downloads it again. Sign and publish the result with
``signage-release release add`` (see docs/updates.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.parser
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from schedules.protocol.release import ReleaseIndex, WheelRef, running_platform  # noqa: E402

IGNORED = {
    ".git",
    ".venv",
    "var",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "build",
    "dist",
}


class BuildError(Exception):
    """The release could not be built; the message says why."""


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise BuildError(f"{' '.join(cmd[:4])} … failed ({proc.returncode}):\n{tail}")
    return proc


def _pip(*args: str) -> None:
    _run([sys.executable, "-m", "pip", *args, "--quiet", "--disable-pip-version-check"])


def stage_source(project: Path, dest: Path) -> str | None:
    """Copy the checkout's files (tracked and untracked-not-ignored) to ``dest``; returns the commit."""
    commit = None
    if (project / ".git").exists():
        listed = (
            subprocess.run(
                ["git", "-C", str(project), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                capture_output=True,
                check=True,
            )
            .stdout.decode()
            .split("\0")
        )
        for rel in filter(None, listed):
            src = project / rel
            if src.is_file():
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / rel)
        head = subprocess.run(
            ["git", "-C", str(project), "rev-parse", "HEAD"], capture_output=True, text=True
        )
        commit = head.stdout.strip() or None if head.returncode == 0 else None
    else:
        shutil.copytree(
            project,
            dest,
            dirs_exist_ok=True,
            ignore=lambda _d, names: [n for n in names if n in IGNORED or n.endswith(".pyc")],
        )
    return commit


def set_version(pyproject: Path, version: str) -> None:
    text = pyproject.read_text()
    new, n = re.subn(r'(?m)^version\s*=\s*"[^"]*"', f'version = "{version}"', text, count=1)
    if n != 1:
        raise BuildError(f'{pyproject}: no static `version = "…"` line to set')
    pyproject.write_text(new)


def wheel_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(zf.read(name).decode())


def runtime_requirements(meta: email.message.Message) -> list[str]:
    """``Requires-Dist`` without the optional extras' ones (tests, dev tools)."""
    reqs = meta.get_all("Requires-Dist") or []
    return sorted(r for r in reqs if "extra ==" not in r.replace('"', "'").replace("extra==", "extra =="))


def default_cache() -> Path:
    env = os.environ.get("SIGNAGE_WHEELHOUSE_CACHE")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "community-signage" / "wheelhouse"


def dependency_wheelhouse(requirements: list[str], constraints: Path, cache: Path) -> Path:
    """The dependency wheels for these requirements, built once per (requirements, constraints, platform)."""
    key = hashlib.sha256(
        "\n".join([running_platform(), constraints.read_text(), *requirements]).encode()
    ).hexdigest()[:24]
    ready = cache / key
    if (ready / ".complete").exists():
        return ready
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=cache, prefix=f".{key}-"))
    try:
        reqfile = work / ".requirements.txt"
        reqfile.write_text("\n".join(requirements) + "\n")
        if requirements:
            _pip("wheel", "-r", str(reqfile), "-c", str(constraints), "-w", str(work))
        (work / ".complete").write_text(key + "\n")
        try:
            work.rename(ready)
        except OSError:  # another build finished first: use theirs, identical by construction
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return ready


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _place(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def build_release(
    project: Path, out: Path, version: str | None, constraints: Path | None, cache: Path
) -> ReleaseIndex:
    project = project.resolve()
    constraints = (constraints or project / "constraints.txt").resolve()
    if not constraints.exists():
        raise BuildError(f"{constraints}: no constraints file; every dependency must be pinned")
    if (out / "release.json").exists() or (out / "wheels").exists():
        raise BuildError(f"{out}: already holds a release; choose an empty directory")
    with tempfile.TemporaryDirectory(prefix="signage-release-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        commit = stage_source(project, src)
        if version is not None:
            set_version(src / "pyproject.toml", version)
        own_dir = Path(tmp) / "own"
        _pip("wheel", "--no-deps", "-w", str(own_dir), str(src))
        (own_wheel,) = own_dir.glob("*.whl")
        meta = wheel_metadata(own_wheel)
        package, built_version = str(meta["Name"]), str(meta["Version"])
        if version is not None and built_version != version:
            raise BuildError(f"built {built_version}, asked for {version}")
        deps = dependency_wheelhouse(runtime_requirements(meta), constraints, cache)

        wheels_dir = out / "wheels"
        wheels_dir.mkdir(parents=True)
        _place(own_wheel, wheels_dir / own_wheel.name)
        for wheel in sorted(deps.glob("*.whl")):
            _place(wheel, wheels_dir / wheel.name)
    refs = tuple(
        WheelRef(filename=w.name, sha256=_sha256(w), size=w.stat().st_size)
        for w in sorted(wheels_dir.iterdir())
    )
    index = ReleaseIndex(
        package=package,
        version=built_version,
        platform=running_platform(),
        built_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
        commit=commit,
        wheels=refs,
    )
    # the release must install from these wheels alone, as a device will
    _pip(
        "install",
        "--dry-run",
        "--ignore-installed",
        "--no-index",
        "--find-links",
        str(wheels_dir),
        f"{package}=={built_version}",
    )
    (out / "release.json").write_text(index.model_dump_json(indent=2) + "\n")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, required=True, help="empty directory for wheels/ and release.json"
    )
    parser.add_argument(
        "--project", type=Path, default=REPO, help="the checkout to build (default: this one)"
    )
    parser.add_argument("--version", help="build as this version (default: pyproject.toml's)")
    parser.add_argument("--constraints", type=Path, help="pins (default: the project's constraints.txt)")
    parser.add_argument(
        "--wheelhouse-cache",
        type=Path,
        default=None,
        help="where dependency wheels are kept between builds "
        "(default: $SIGNAGE_WHEELHOUSE_CACHE or ~/.cache/community-signage/wheelhouse)",
    )
    args = parser.parse_args(argv)
    try:
        index = build_release(
            args.project, args.out, args.version, args.constraints, args.wheelhouse_cache or default_cache()
        )
    except BuildError as exc:
        print(f"build_release: {exc}", file=sys.stderr)
        return 1
    total = sum(w.size for w in index.wheels)
    print(
        f"{index.package} {index.version} for {index.platform}: {len(index.wheels)} wheels, "
        f"{total / 1e6:.1f} MB in {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
