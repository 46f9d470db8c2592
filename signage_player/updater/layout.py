"""Where versions live on a device, and the atomic switch of the ``current`` and ``good`` links.

Under the install prefix (``/opt/signage``)::

    versions/<version>/          one virtual environment per version; ``.installed`` once complete
    current -> versions/<v>      what the app runs (systemd units start it through the guard)
    good -> versions/<v>         the last version that passed its health gate: the guard runs from it
    trusted-root.json            the TUF root shipped with the device (bootstrap of trust)
    state/update.json            the journal (``journal.py``); state/tuf/: the TUF client's metadata
    cache/wheels/<file>.whl      verified wheels, kept across versions (an unchanged one is fetched once)
    logs/<version>.log           what each version printed (the tail goes into a failure report)

A link is switched by creating a temporary link and renaming it over the old one: a reader sees
the old or the new target, never none. A version directory counts only with its ``.installed``
marker, written last; it is removed by renaming it aside first, so a half-deleted version never
looks installed.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

from signage_player.files import fsync_dir

INSTALLED_MARKER = ".installed"
_VERSION_DIR_RE = re.compile(r"^[0-9A-Za-z.+!-]+$")


class InstallLayout:
    def __init__(self, prefix: Path) -> None:
        self.prefix = Path(prefix)
        self.versions_dir = self.prefix / "versions"
        self.current_link = self.prefix / "current"
        self.good_link = self.prefix / "good"
        self.trusted_root = self.prefix / "trusted-root.json"
        self.state_dir = self.prefix / "state"
        self.journal_path = self.state_dir / "update.json"
        self.tuf_dir = self.state_dir / "tuf"
        self.cache_dir = self.prefix / "cache"
        self.wheels_dir = self.cache_dir / "wheels"
        self.releases_dir = self.cache_dir / "releases"
        self.logs_dir = self.prefix / "logs"

    def create_dirs(self) -> None:
        for d in (
            self.versions_dir,
            self.state_dir,
            self.tuf_dir,
            self.wheels_dir,
            self.releases_dir,
            self.logs_dir,
        ):
            d.mkdir(parents=True, exist_ok=True)

    def version_dir(self, version: str) -> Path:
        if not _VERSION_DIR_RE.match(version):
            raise ValueError(f"bad version {version!r}")
        return self.versions_dir / version

    def is_installed(self, version: str) -> bool:
        return (self.version_dir(version) / INSTALLED_MARKER).is_file()

    def installed_versions(self) -> list[str]:
        if not self.versions_dir.is_dir():
            return []
        return sorted(
            p.name
            for p in self.versions_dir.iterdir()
            if not p.name.startswith(".") and (p / INSTALLED_MARKER).is_file()
        )

    def executable(self, version: str, name: str) -> Path:
        return self.version_dir(version) / "bin" / name

    def log_file(self, version: str) -> Path:
        return self.logs_dir / f"{self.version_dir(version).name}.log"

    def points_to(self, link: Path) -> str | None:
        """The version a link names (``versions/<v>``), or None when it is missing or foreign."""
        try:
            target = os.readlink(link)
        except OSError:
            return None
        parts = Path(target).parts
        if len(parts) == 2 and parts[0] == "versions" and _VERSION_DIR_RE.match(parts[1]):
            return parts[1]
        return None

    def point(self, link: Path, version: str) -> None:
        """Atomically make ``link`` name ``versions/<version>`` (which must be installed)."""
        if not self.is_installed(version):
            raise FileNotFoundError(f"version {version} is not installed")
        tmp = link.with_name(f".{link.name}.tmp")
        tmp.unlink(missing_ok=True)
        os.symlink(f"versions/{version}", tmp)
        os.replace(tmp, link)
        fsync_dir(link.parent)

    def remove_version(self, version: str) -> None:
        """Delete a version directory: renamed aside first (atomic), then removed."""
        d = self.version_dir(version)
        if not d.exists():
            return
        aside = self.versions_dir / f".trash-{version}-{uuid.uuid4().hex[:8]}"
        os.replace(d, aside)
        fsync_dir(self.versions_dir)
        shutil.rmtree(aside, ignore_errors=True)

    def clean_leftovers(self) -> list[str]:
        """Remove what an interrupted step left: temp links, half-deleted or half-installed versions,
        partial downloads. Only safe while no update step runs (the guard calls it at start)."""
        removed = []
        for link in (self.current_link, self.good_link):
            tmp = link.with_name(f".{link.name}.tmp")
            if tmp.is_symlink() or tmp.exists():
                tmp.unlink()
                removed.append(tmp.name)
        if self.versions_dir.is_dir():
            for p in self.versions_dir.iterdir():
                if p.name.startswith(".") or not (p / INSTALLED_MARKER).is_file():
                    shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                    removed.append(p.name)
        for cache in (self.wheels_dir, self.releases_dir):
            if cache.is_dir():
                for p in cache.glob(".*.part"):
                    p.unlink(missing_ok=True)
                    removed.append(p.name)
        return removed
