"""Child processes of the demo: started in their own process group, logged to files, stopped cleanly.

Each child gets a new session (process group), so stopping it also stops anything it spawned
(a VLC helper, a shell): SIGTERM to the group, a grace period, then SIGKILL. Should the launcher
itself be killed outright, each child gets SIGTERM from the kernel (``PR_SET_PDEATHSIG``), so
nothing survives the launcher either way.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from signage_demo.errors import DemoError

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class ChildError(DemoError):
    """A demo child process could not be started or died."""


@dataclass
class Child:
    """One running program and the log file its output goes to."""

    name: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes]
    _log_file: IO[bytes] = field(repr=False)
    terminated: bool = False  # SIGTERM already sent (a second one makes some servers skip clean-up)

    def terminate(self) -> None:
        if not self.terminated and self.alive():
            self.terminated = True
            _signal_group(self.popen, signal.SIGTERM)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Supervisor:
    """Starts children and guarantees they are all gone when :meth:`stop_all` returns."""

    def __init__(self, logs_dir: Path, grace_s: float = 8.0) -> None:
        self.logs_dir = logs_dir
        self.grace_s = grace_s
        self.children: list[Child] = []

    def start(
        self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> Child:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.logs_dir / f"{name}.log"
        log_file = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        log_file.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(argv)}\n".encode())
        log_file.flush()
        try:
            popen = subprocess.Popen(
                list(argv),
                preexec_fn=_die_with_parent,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as exc:
            log_file.close()
            raise ChildError(f"cannot start {name} ({argv[0]}): {exc}") from exc
        child = Child(name, list(argv), log_path, popen, log_file)
        self.children.append(child)
        log.info("started %s (pid %d), log: %s", name, popen.pid, log_path)
        return child

    def dead(self) -> list[Child]:
        """Children that exited on their own."""
        return [c for c in self.children if not c.alive()]

    def stop(self, child: Child) -> None:
        """SIGTERM the child's process group, wait the grace period, then SIGKILL it."""
        if child.alive():
            child.terminate()
            try:
                child.popen.wait(timeout=self.grace_s)
            except subprocess.TimeoutExpired:
                log.warning(
                    "%s (pid %d) ignored SIGTERM for %.0f s; killing it", child.name, child.pid, self.grace_s
                )
        # Always sweep the group: a grandchild may outlive its parent.
        _signal_group(child.popen, signal.SIGKILL)
        child.popen.wait()
        child._log_file.close()
        log.info("stopped %s (exit code %s)", child.name, child.popen.returncode)

    def stop_all(self) -> None:
        """Ask every child to stop at once (their shutdowns overlap), then wait for each, devices first."""
        for child in self.children:  # ask all at once so their shutdowns overlap
            child.terminate()
        for child in reversed(self.children):
            self.stop(child)
        self.children.clear()


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the launcher dies, even by SIGKILL (Linux)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _signal_group(popen: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, sig)  # start_new_session: the group id is the child's pid
