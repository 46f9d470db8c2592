"""The update journal: one JSON file holding :class:`UpdateState`, changed under a lock, written atomically.

Two processes change it: the app (download, install, switch, health marks) and the guard that
starts the app (starts, exits, rollback). Each change is read–modify–write under an exclusive
``flock``, and the file is replaced atomically (fsync, rename, fsync of the directory), so a
power cut leaves the old or the new state, never a torn one.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import ValidationError

from signage_player.files import atomic_write
from signage_player.updater.state import UpdateState

log = logging.getLogger(__name__)


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def exists(self) -> bool:
        return self.path.is_file()

    def _read(self) -> UpdateState:
        try:
            return UpdateState.model_validate_json(self.path.read_bytes())
        except FileNotFoundError:
            return UpdateState()
        except ValidationError as exc:  # only a foreign or newer-format file gets here: writes are atomic
            log.error("update journal %s is unreadable (%s); starting from the links", self.path, exc)
            return UpdateState()

    def read(self) -> UpdateState:
        with self._locked():
            return self._read()

    def update(self, change: Callable[[UpdateState], UpdateState]) -> UpdateState:
        with self._locked():
            before = self._read()
            after = change(before)
            if after != before or not self.path.exists():
                atomic_write(self.path, after.model_dump_json(indent=1).encode(), 0o644)
            return after

    def write(self, state: UpdateState) -> UpdateState:
        return self.update(lambda _s: state)
