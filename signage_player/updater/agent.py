"""The app's side of updates: fetch, install and switch to an assigned version; report health marks.

Runs inside the player or the kiosk (the sync thread calls :meth:`UpdateAgent.update_to` with the
version the server assigns; the app's events call :meth:`UpdateAgent.mark`). Every step goes
through the journal first, so the guard (``guard.py``), which starts the app, can finish or undo
it after a kill. After the switch the agent asks for a restart: by default the app exits with
:data:`RESTART_EXIT_CODE` and the guard starts ``current`` again; a device may configure a
command instead (e.g. ``systemctl restart signage-player``).
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from schedules.clock import Clock
from schedules.protocol.release import ReleaseIndex, UpdateReport
from signage_player.updater import state as sm
from signage_player.updater.fetch import FetchError, ReleaseFetcher, Source
from signage_player.updater.installer import Installer, InstallError
from signage_player.updater.journal import Journal
from signage_player.updater.layout import InstallLayout

log = logging.getLogger(__name__)
PREFIX_ENV = "SIGNAGE_UPDATE_PREFIX"  # set by the guard for the app it starts


class Outcome(StrEnum):
    SKIPPED = "skipped"
    FETCH_FAILED = "fetch_failed"
    REFUSED = "refused"
    INSTALL_FAILED = "install_failed"
    SWITCHED = "switched"


@dataclass(frozen=True)
class UpdateResult:
    outcome: Outcome
    detail: str = ""


def command_restart(command: str) -> Callable[[], None]:
    """A restart through a configured command (its own process; the app is stopped by it)."""

    def restart() -> None:
        log.info("update: restarting with %r", command)
        subprocess.Popen(shlex.split(command), start_new_session=True)

    return restart


class UpdateAgent:
    def __init__(
        self,
        layout: InstallLayout,
        own_version: str,
        platform: str,
        clock: Clock,
        restart: Callable[[], None],
        policy: sm.Policy | None = None,
        fetcher: ReleaseFetcher | None = None,
        installer: Installer | None = None,
        checkpoint: Callable[[str], None] | None = None,
    ) -> None:
        self.layout = layout
        self.journal = Journal(layout.journal_path)
        self.own_version = own_version
        self.platform = platform
        self.clock = clock
        self.policy = policy or sm.Policy()
        self._restart = restart
        # called with the name of each step as it is reached: progress logging, and the tests'
        # kill -9 at every step
        self._checkpoint = checkpoint or (lambda _step: None)
        self.fetcher = fetcher or ReleaseFetcher(
            layout.tuf_dir,
            layout.wheels_dir,
            layout.releases_dir,
            layout.trusted_root.read_bytes(),
            self._checkpoint,
        )
        self.installer = installer or Installer(layout, checkpoint=self._checkpoint)

    @classmethod
    def from_environment(
        cls,
        own_version: str,
        platform: str,
        clock: Clock,
        restart: Callable[[], None],
        policy: sm.Policy | None = None,
        checkpoint: Callable[[str], None] | None = None,
    ) -> UpdateAgent | None:
        """The agent when the app was started by the guard (which names the prefix), else None."""
        prefix = os.environ.get(PREFIX_ENV)
        if not prefix or not InstallLayout(Path(prefix)).trusted_root.is_file():
            return None
        return cls(
            InstallLayout(Path(prefix)), own_version, platform, clock, restart, policy, checkpoint=checkpoint
        )

    def report(self) -> UpdateReport:
        return self.journal.read().report(self.platform)

    def mark(self, mark: str) -> None:
        """This process reached a health mark (first frame, manifest synced, heartbeat accepted)."""
        now = self.clock.now()
        before = self.journal.read()
        after = self.journal.update(lambda s: sm.marked(s, mark, self.own_version, now))
        if after.phase != before.phase:
            log.info("update: version %s is healthy (%s)", self.own_version, ", ".join(after.health))

    def update_to(self, version: str, source: Source, retry: bool = False) -> UpdateResult:
        """Fetch, install and switch to ``version``, then ask for a restart. Blocks: not on the GUI thread."""
        state = self.journal.update(lambda s: sm.retry_allowed(s, version)) if retry else self.journal.read()
        why_not = sm.may_update_to(state, version)
        if why_not is not None:
            return UpdateResult(Outcome.SKIPPED, why_not)
        self.journal.update(lambda s: sm.downloading(s, version))
        log.info("update: fetching %s for %s", version, self.platform)
        try:
            fetched = self.fetcher.fetch(source, version, self.platform)
        except FetchError as exc:
            self.journal.update(sm.fetch_failed)
            log.warning("update: %s", exc)
            return UpdateResult(Outcome.REFUSED if exc.refused else Outcome.FETCH_FAILED, str(exc))
        try:
            self.installer.install(fetched)
        except InstallError as exc:
            now, reason, output = self.clock.now(), f"install_failed: {exc}", exc.output
            self.journal.update(lambda s: sm.install_failed(s, reason, output, now))
            log.error("update: %s could not be installed: %s", version, exc)
            return UpdateResult(Outcome.INSTALL_FAILED, str(exc))
        self.journal.update(sm.installed)
        self._checkpoint("install:recorded")
        self.switch()
        self.housekeeping()
        self._restart()
        return UpdateResult(Outcome.SWITCHED, version)

    def switch(self) -> None:
        """Point ``current`` at the installed target: intent first, then the link, then the record."""
        state = self.journal.update(sm.switching)
        assert state.target is not None
        self._checkpoint("switch:intent")
        self.layout.point(self.layout.current_link, state.target)
        self._checkpoint("switch:linked")
        now = self.clock.now()
        self.journal.update(lambda s: sm.switched(s, now, self.policy))
        self._checkpoint("switch:recorded")
        log.info("update: switched to %s (previous %s kept)", state.target, state.running)

    def housekeeping(self) -> list[str]:
        """Delete versions and cached wheels nothing needs any more (never a version in use)."""
        s = self.journal.read()
        keep = {v for v in (s.running, s.previous, s.good, s.target, s.guard_version, self.own_version) if v}
        removed = [v for v in self.layout.installed_versions() if v not in keep]
        for version in removed:
            self.layout.remove_version(version)
        needed: set[str] = set()
        for index_file in self.layout.releases_dir.glob("*.json"):
            version = index_file.name.split("-", 1)[0]
            if version not in keep:
                index_file.unlink(missing_ok=True)
                continue
            try:
                index = ReleaseIndex.model_validate_json(index_file.read_bytes())
            except ValueError:
                index_file.unlink(missing_ok=True)
                continue
            needed |= {w.filename for w in index.wheels}
        for wheel in self.layout.wheels_dir.glob("*.whl"):
            if wheel.name not in needed:
                wheel.unlink(missing_ok=True)
        if removed:
            log.info("update: removed versions %s", ", ".join(removed))
        return removed
