"""Installing a fetched release into its own virtual environment, offline, from exactly its wheels.

``versions/<v>/`` is created with ``python -m venv``, filled by ``pip install --no-index
--find-links <only this release's wheels> <package>==<v>``, checked (the installed distribution
reports the version), and only then marked ``.installed`` (fsynced). A kill at any point leaves
a directory without the marker, which :meth:`InstallLayout.clean_leftovers` removes at boot; the
running version is never touched.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from signage_player.errors import PlayerError
from signage_player.files import atomic_write, fsync_dir
from signage_player.updater.fetch import FetchedRelease
from signage_player.updater.layout import INSTALLED_MARKER, InstallLayout

log = logging.getLogger(__name__)


class InstallError(PlayerError):
    """pip or venv failed; ``output`` holds their last lines for the failure report."""

    def __init__(self, message: str, output: list[str]) -> None:
        super().__init__(message)
        self.output = output


def base_python() -> str:
    """The interpreter new environments are made from (not this venv's own python)."""
    return str(getattr(sys, "_base_executable", "") or sys.executable)


class Installer:
    def __init__(
        self,
        layout: InstallLayout,
        python: str | None = None,
        timeout_s: float = 1800,
        checkpoint: Callable[[str], None] | None = None,
    ) -> None:
        self.layout = layout
        self.python = python or base_python()
        self.timeout_s = timeout_s
        self._checkpoint = checkpoint or (lambda _step: None)

    def _run(self, cmd: list[str], what: str) -> None:
        try:
            env = {**os.environ, "PIP_NO_INPUT": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
            # run outside any source tree: a checkout's egg-info in the working directory would
            # otherwise look like the installed package to pip and importlib.metadata
            proc = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
                env=env,
                cwd=self.layout.versions_dir,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InstallError(f"{what}: {exc}", []) from exc
        if proc.returncode != 0:
            lines = (proc.stdout + proc.stderr).strip().splitlines()[-40:]
            raise InstallError(f"{what} failed with exit code {proc.returncode}", lines)

    def install(self, release: FetchedRelease) -> Path:
        index = release.index
        target = self.layout.version_dir(index.version)
        if self.layout.is_installed(index.version):
            return target
        if target.exists():
            self.layout.remove_version(index.version)  # a half-finished earlier attempt
        staging = self.layout.versions_dir / f".wheels-{index.version}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            for name, path in release.wheels.items():
                try:
                    os.link(path, staging / name)
                except OSError:
                    shutil.copyfile(path, staging / name)
            self._checkpoint("install:staged")
            self._run([self.python, "-m", "venv", str(target)], "python -m venv")
            self._checkpoint("install:venv")
            self._run(
                [
                    str(target / "bin" / "python"),
                    "-I",
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--no-index",
                    "--no-cache-dir",
                    "--find-links",
                    str(staging),
                    f"{index.package}=={index.version}",
                ],
                "pip install",
            )
            self._checkpoint("install:pip")
            self._run(
                [
                    str(target / "bin" / "python"),
                    "-I",
                    "-c",
                    "import sys, importlib.metadata as m; sys.exit(m.version(sys.argv[1]) != sys.argv[2])",
                    index.package,
                    index.version,
                ],
                "version check",
            )
            marker = {"package": index.package, "version": index.version, "platform": index.platform}
            atomic_write(target / INSTALLED_MARKER, json.dumps(marker).encode(), 0o644)
            fsync_dir(self.layout.versions_dir)
            self._checkpoint("install:marked")
        except BaseException:
            if not self.layout.is_installed(index.version):
                shutil.rmtree(target, ignore_errors=True)
            raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        log.info("update: %s %s installed in %s", index.package, index.version, target)
        return target
