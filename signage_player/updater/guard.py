"""The guard: starts the app from ``current``, watches the new version's health gate, rolls back by itself.

The systemd units run ``/opt/signage/good/bin/signage-update-guard run --app signage-player``:
the guard comes from the last version known to work, so a release that cannot even start cannot
take its own safety net down. Before every start it runs :func:`recover` (finishes or undoes
whatever a kill or power cut interrupted), then starts ``current/bin/<app>`` with its output
copied to ``logs/<version>.log``. A version on probation that exits ``crash_exits`` times within
``crash_window``, or is not healthy by its deadline, is stopped and ``current`` switched back to
the previous version, with the failure and its last log lines in the journal for the server.

    signage-update-guard provision --prefix /opt/signage --release DIR --root root.json
    signage-update-guard run --prefix /opt/signage --app signage-player [-- app args]
    signage-update-guard status --prefix /opt/signage
    signage-update-guard recover --prefix /opt/signage
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from schedules.clock import Clock, SystemClock
from schedules.protocol.release import ReleaseIndex, version_key
from signage_player import __version__
from signage_player.files import atomic_write
from signage_player.updater import state as sm
from signage_player.updater.agent import PREFIX_ENV
from signage_player.updater.fetch import FetchedRelease
from signage_player.updater.installer import Installer
from signage_player.updater.journal import Journal
from signage_player.updater.layout import InstallLayout

log = logging.getLogger(__name__)
LOG_TAIL_LINES = 40
MAX_LOG_BYTES = 2 * 1024 * 1024


class NoWorkingVersion(RuntimeError):
    """Nothing installed can be started: the device needs provisioning."""


def _newest(versions: list[str]) -> str | None:
    try:
        return max(versions, key=version_key) if versions else None
    except ValueError:
        return sorted(versions)[-1] if versions else None


def recover(
    layout: InstallLayout,
    journal: Journal,
    now: dt.datetime,
    policy: sm.Policy,
    own_version: str | None = None,
) -> sm.UpdateState:
    """Boot-time recovery: after this, ``current`` and ``good`` name complete versions and the
    journal agrees with them, whatever step a kill or power cut interrupted."""
    layout.create_dirs()
    removed = layout.clean_leftovers()
    if removed:
        log.warning("update: removed leftovers of an interrupted step: %s", ", ".join(removed))

    def fix(s: sm.UpdateState) -> sm.UpdateState:
        installed = layout.installed_versions()
        current = layout.points_to(layout.current_link)
        if s.step == "switching":
            s = sm.switched(s, now, policy) if current == s.target else sm.switch_abandoned(s)
        if s.step == "rolling_back":
            if s.previous is not None and s.previous in installed and current != s.previous:
                layout.point(layout.current_link, s.previous)
            s = sm.rolled_back(s)
        if s.phase is sm.UpdatePhase.DOWNLOADING:
            s = sm.fetch_failed(s)
        if s.phase is sm.UpdatePhase.INSTALLED and (s.target is None or s.target not in installed):
            s = sm.fetch_failed(s)
        current = layout.points_to(layout.current_link)
        if current not in installed:
            fallback = next((v for v in (s.good, s.previous, s.running) if v in installed), None)
            fallback = fallback or _newest(installed)
            if fallback is None:
                raise NoWorkingVersion(f"no installed version under {layout.versions_dir}")
            log.error("update: current named %s, not an installed version: back to %s", current, fallback)
            layout.point(layout.current_link, fallback)
            current = fallback
        if s.running != current:
            s = sm.provisioned(current).model_copy(update={"failed": s.failed, "failure": s.failure})
        good = s.good if s.good in installed else current
        if good is not None and layout.points_to(layout.good_link) != good:
            layout.point(layout.good_link, good)
        keep = {v for v in (current, s.previous, good, s.target, own_version) if v}
        for version in installed:
            if version not in keep:
                layout.remove_version(version)
                log.info("update: removed version %s", version)
        return s.model_copy(update={"guard_version": own_version}) if own_version else s

    return journal.update(fix)


def provision(
    layout: InstallLayout, release_dir: Path, trusted_root: bytes, installer: Installer | None = None
) -> str:
    """First install of a device from a release directory (``scripts/build_release.py`` output).

    Trust starts here: the root given is the device's bootstrap root for every later update.
    """
    layout.create_dirs()
    index = ReleaseIndex.model_validate_json((release_dir / "release.json").read_bytes())
    wheels: dict[str, Path] = {}
    for ref in index.wheels:
        dest = layout.wheels_dir / ref.filename
        shutil.copyfile(release_dir / "wheels" / ref.filename, dest)
        wheels[ref.filename] = dest
    index_copy = layout.releases_dir / f"{index.version}-{index.platform}.json"
    shutil.copyfile(release_dir / "release.json", index_copy)
    atomic_write(layout.trusted_root, trusted_root, 0o644)
    (installer or Installer(layout)).install(FetchedRelease(index, wheels, tuple(wheels)))
    layout.point(layout.current_link, index.version)
    layout.point(layout.good_link, index.version)
    Journal(layout.journal_path).update(
        lambda s: sm.provisioned(index.version).model_copy(update={"failed": s.failed})
    )
    return index.version


class Guard:
    """Runs the app from ``current`` under the health gate; one instance per device."""

    def __init__(
        self,
        layout: InstallLayout,
        app: str,
        policy: sm.Policy,
        clock: Clock | None = None,
        app_args: list[str] | None = None,
        poll_s: float = 0.5,
        stop_grace_s: float = 10.0,
        own_version: str | None = None,
    ) -> None:
        self.layout = layout
        self.journal = Journal(layout.journal_path)
        self.app = app
        self.policy = policy
        self.clock = clock or SystemClock()
        self.app_args = list(app_args or [])
        self.poll_s = poll_s
        self.stop_grace_s = stop_grace_s
        self.own_version = own_version or __version__
        self._child: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Stop the app and the supervise loop (SIGTERM to the guard)."""
        self._stopping.set()
        child = self._child
        if child is not None and child.poll() is None:
            child.terminate()

    def supervise(self, restart_delay_s: float = 3.0, max_runs: int | None = None) -> int:
        runs, code = 0, 0
        while not self._stopping.is_set() and (max_runs is None or runs < max_runs):
            code = self.run_once()
            runs += 1
            if code == sm.RESTART_EXIT_CODE:
                continue  # an update asked for it: start the new version at once
            self._stopping.wait(restart_delay_s)
        # a stop (SIGTERM: shutdown) between a rollback's restart and the next start is still a stop
        return 0 if self._stopping.is_set() else code

    def run_once(self) -> int:
        state = recover(self.layout, self.journal, self.clock.now(), self.policy, self.own_version)
        version = self.layout.points_to(self.layout.current_link)
        assert version is not None  # recover() guarantees it
        state = self.journal.update(lambda s: sm.started(s, self.clock.now(), self.policy))
        if state.phase is sm.UpdatePhase.PROBATION:
            log.info("update: starting %s on probation until %s", version, state.deadline)
        spawned = self._spawn(version)
        if spawned is None:
            code: int | None = 127
        else:
            child, pump = spawned
            try:
                code = self._watch(child)
            finally:
                pump.join(timeout=5)
                self._child = None
        if code is None:  # stopped because its health gate failed, and rolled back: start at once
            return sm.RESTART_EXIT_CODE
        if self._stopping.is_set():  # stopped with the guard (shutdown): not the app's failure
            return 0
        now = self.clock.now()
        verdict = sm.Verdict.CONTINUE

        def on_exit(s: sm.UpdateState) -> sm.UpdateState:
            nonlocal verdict
            s, verdict = sm.exited(s, code, now, self.policy)
            return s

        self.journal.update(on_exit)
        log.log(
            logging.INFO if code in (0, sm.RESTART_EXIT_CODE) else logging.WARNING,
            "update: %s %s exited with %s",
            self.app,
            version,
            code,
        )
        if verdict is sm.Verdict.ROLL_BACK:
            window = self.policy.crash_window.total_seconds()
            self.roll_back(f"crash_loop: exited {self.policy.crash_exits} times within {window:.0f} s")
            return sm.RESTART_EXIT_CODE
        return code

    def _spawn(self, version: str) -> tuple[subprocess.Popen[bytes], threading.Thread] | None:
        exe = self.layout.executable(version, self.app)
        logfile = self.layout.log_file(version)
        if logfile.exists() and logfile.stat().st_size > MAX_LOG_BYTES:
            logfile.unlink()
        out = open(logfile, "ab")  # noqa: SIM115 - closed by the pump thread
        out.write(f"=== {self.clock.now().isoformat()} start {self.app} {version} ===\n".encode())
        out.flush()
        env = {**os.environ, PREFIX_ENV: str(self.layout.prefix)}
        try:
            child = subprocess.Popen(
                [str(exe), *self.app_args],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        except OSError as exc:
            out.write(f"cannot start {exe}: {exc}\n".encode())
            out.close()
            log.error("update: cannot start %s: %s", exe, exc)
            return None
        self._child = child
        pump = threading.Thread(target=_pump, args=(child.stdout, out), name="guard-log", daemon=True)
        pump.start()
        return child, pump

    def _watch(self, child: subprocess.Popen[bytes]) -> int | None:
        """Wait for the app to exit; None when it was stopped because its health gate failed."""
        while True:
            try:
                return child.wait(timeout=self.poll_s)
            except subprocess.TimeoutExpired:
                pass
            if self._stopping.is_set():  # a stop that came while the app was being started
                self._terminate(child)
                continue
            state = self.journal.read()
            verdict = sm.tick(state, self.clock.now(), self.policy)
            if verdict is sm.Verdict.ROLL_BACK:
                self._terminate(child)
                self.roll_back(sm.rollback_reason(state, self.clock.now()))
                return None
            if verdict is sm.Verdict.PRUNE_PREVIOUS:
                self.prune_previous()

    def _terminate(self, child: subprocess.Popen[bytes]) -> None:
        child.terminate()
        try:
            child.wait(timeout=self.stop_grace_s)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    def roll_back(self, reason: str) -> None:
        state = self.journal.read()
        if state.previous is None or not self.layout.is_installed(state.previous):
            log.error("update: %s failed (%s) and there is nothing to roll back to", state.running, reason)
            return
        bad = state.running or "unknown"
        tail = log_tail(self.layout.log_file(bad)) if state.running else []
        now = self.clock.now()
        self.journal.update(lambda s: sm.rolling_back(s, reason, tail, now))
        self.layout.point(self.layout.current_link, state.previous)
        self.layout.point(self.layout.good_link, state.previous)
        self.journal.update(sm.rolled_back)
        log.error("update: %s failed (%s): rolled back to %s", bad, reason, state.previous)

    def prune_previous(self) -> None:
        """The new version has been healthy long enough: it becomes ``good``, the previous one goes."""
        state = self.journal.read()
        if state.running is None or state.previous is None:
            return
        self.layout.point(self.layout.good_link, state.running)
        previous = state.previous
        self.journal.update(sm.pruned)
        if previous != self.own_version:  # else at the next start, from the new guard
            self.layout.remove_version(previous)
        log.info(
            "update: %s healthy for %s: previous %s released",
            state.running,
            self.policy.keep_previous,
            previous,
        )


def _pump(stream: IO[bytes] | None, out: IO[bytes]) -> None:
    """Copy the app's output to its version's log file and to the guard's own stderr (journald)."""
    try:
        if stream is None:
            return
        for line in iter(stream.readline, b""):
            out.write(line)
            out.flush()
            sys.stderr.buffer.write(line)
            sys.stderr.buffer.flush()
    finally:
        out.close()


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last lines a version printed in its latest run (after its last start marker)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - 256 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return []
    all_lines = text.splitlines()
    starts = [i for i, line in enumerate(all_lines) if line.startswith("=== ") and " start " in line]
    return (all_lines[starts[-1] + 1 :] if starts else all_lines)[-lines:]


def _policy(args: argparse.Namespace) -> sm.Policy:
    return sm.Policy(
        health_timeout=dt.timedelta(seconds=args.health_timeout_s),
        crash_exits=args.crash_exits,
        crash_window=dt.timedelta(seconds=args.crash_window_s),
        keep_previous=dt.timedelta(hours=args.keep_previous_h),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="signage-update-guard", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="run the app from current under the health gate; restart it on exit")
    p_run.add_argument("--app", required=True, help="console script to run, e.g. signage-player")
    p_run.add_argument("--once", action="store_true", help="run the app once (systemd restarts the guard)")
    p_run.add_argument("--health-timeout-s", type=float, default=300, help="healthy by then, or rolled back")
    p_run.add_argument("--crash-exits", type=int, default=3, help="this many exits …")
    p_run.add_argument("--crash-window-s", type=float, default=60, help="… within this is a crash loop")
    p_run.add_argument("--keep-previous-h", type=float, default=24, help="keep the previous version so long")
    p_run.add_argument("--restart-delay-s", type=float, default=3, help="pause before restarting the app")
    p_run.add_argument("app_args", nargs="*", help="arguments for the app (after --)")
    p_prov = sub.add_parser("provision", help="first install of a device from a release directory")
    p_prov.add_argument("--release", type=Path, required=True)
    p_prov.add_argument("--root", type=Path, required=True, help="the repository's root.json (trust anchor)")
    sub.add_parser("status", help="print the update journal")
    sub.add_parser("recover", help="finish or undo an interrupted update step (what run does at start)")
    for p in (p_run, p_prov, *sub.choices.values()):
        if not any(a.dest == "prefix" for a in p._actions):
            p.add_argument("--prefix", type=Path, default=Path(os.environ.get(PREFIX_ENV, "/opt/signage")))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    layout = InstallLayout(args.prefix)
    if args.command == "provision":
        version = provision(layout, args.release, args.root.read_bytes())
        print(f"provisioned {version} in {layout.prefix}")
        return 0
    if args.command == "status":
        print(json.dumps(json.loads(Journal(layout.journal_path).read().model_dump_json()), indent=2))
        return 0
    if args.command == "recover":
        now = dt.datetime.now(dt.UTC)
        state = recover(layout, Journal(layout.journal_path), now, sm.Policy(), __version__)
        print(
            f"current {layout.points_to(layout.current_link)}, good {layout.points_to(layout.good_link)}, "
            f"phase {state.phase}"
        )
        return 0
    guard = Guard(layout, args.app, _policy(args), app_args=args.app_args)
    signal.signal(signal.SIGTERM, lambda *_: guard.stop())
    signal.signal(signal.SIGINT, lambda *_: guard.stop())
    try:
        return guard.run_once() if args.once else guard.supervise(args.restart_delay_s)
    except NoWorkingVersion as exc:
        log.critical("%s", exc)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
