"""Boot-time recovery from every interrupted step, on a real directory layout (versions are marker dirs)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from schedules.protocol.release import UpdatePhase
from signage_player.updater import state as sm
from signage_player.updater.guard import NoWorkingVersion, recover
from signage_player.updater.journal import Journal
from signage_player.updater.layout import INSTALLED_MARKER, InstallLayout

NOW = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
POLICY = sm.Policy()


@pytest.fixture
def layout(tmp_path: Path) -> InstallLayout:
    layout = InstallLayout(tmp_path / "prefix")
    layout.create_dirs()
    for v in ("1.0.0", "1.1.0"):
        layout.version_dir(v).mkdir()
        (layout.version_dir(v) / INSTALLED_MARKER).write_text("{}")
    layout.point(layout.current_link, "1.0.0")
    layout.point(layout.good_link, "1.0.0")
    return layout


def _installed_target() -> sm.UpdateState:
    return sm.installed(sm.downloading(sm.provisioned("1.0.0"), "1.1.0"))


def _recover(layout: InstallLayout, state: sm.UpdateState) -> sm.UpdateState:
    journal = Journal(layout.journal_path)
    journal.write(state)
    return recover(layout, journal, NOW, POLICY, own_version="1.0.0")


def test_killed_while_downloading_goes_back_to_idle_and_drops_partial_files(layout: InstallLayout) -> None:
    (layout.wheels_dir / ".pydantic-2.whl.part").write_bytes(b"half")
    (layout.wheels_dir / "complete-1-py3-none-any.whl").write_bytes(b"kept: verified again before use")
    s = _recover(layout, sm.downloading(sm.provisioned("1.0.0"), "1.1.0"))
    assert (s.phase, s.running, s.target) == (UpdatePhase.IDLE, "1.0.0", None)
    assert [p.name for p in layout.wheels_dir.iterdir()] == ["complete-1-py3-none-any.whl"]


def test_killed_while_installing_removes_the_half_made_version(layout: InstallLayout) -> None:
    half = layout.version_dir("1.2.0")
    (half / "lib").mkdir(parents=True)  # venv made, pip killed: no marker
    (layout.versions_dir / ".wheels-1.2.0").mkdir()
    s = _recover(layout, sm.downloading(sm.provisioned("1.0.0"), "1.2.0"))
    assert not half.exists() and not (layout.versions_dir / ".wheels-1.2.0").exists()
    assert s.phase is UpdatePhase.IDLE and layout.points_to(layout.current_link) == "1.0.0"


def test_killed_after_install_keeps_it_for_the_switch(layout: InstallLayout) -> None:
    s = _recover(layout, _installed_target())
    assert s.phase is UpdatePhase.INSTALLED and layout.is_installed("1.1.0")


def test_killed_after_announcing_the_switch_but_before_the_link_moved(layout: InstallLayout) -> None:
    s = _recover(layout, sm.switching(_installed_target()))
    assert (s.phase, s.step, s.running) == (UpdatePhase.INSTALLED, None, "1.0.0")
    assert layout.points_to(layout.current_link) == "1.0.0"


def test_killed_after_the_link_moved_but_before_it_was_recorded(layout: InstallLayout) -> None:
    layout.point(layout.current_link, "1.1.0")
    s = _recover(layout, sm.switching(_installed_target()))
    assert (s.phase, s.running, s.previous, s.step) == (UpdatePhase.SWITCHED, "1.1.0", "1.0.0", None)
    assert layout.points_to(layout.good_link) == "1.0.0"  # the guard keeps running from the old version


def test_killed_while_creating_the_temporary_link(layout: InstallLayout) -> None:
    os.symlink("versions/1.1.0", layout.prefix / ".current.tmp")
    s = _recover(layout, sm.switching(_installed_target()))
    assert not (layout.prefix / ".current.tmp").is_symlink()
    assert s.phase is UpdatePhase.INSTALLED and layout.points_to(layout.current_link) == "1.0.0"


def test_killed_in_the_middle_of_a_rollback_finishes_it(layout: InstallLayout) -> None:
    layout.point(layout.current_link, "1.1.0")
    s = sm.switched(sm.switching(_installed_target()), NOW, POLICY)
    s = sm.rolling_back(sm.started(s, NOW, POLICY), "crash_loop", ["Traceback"], NOW)
    s = _recover(layout, s)
    assert (s.phase, s.running, s.failed) == (UpdatePhase.ROLLED_BACK, "1.0.0", ("1.1.0",))
    assert layout.points_to(layout.current_link) == "1.0.0"
    assert s.failure is not None and s.failure.log_tail == ("Traceback",)


def test_killed_while_deleting_an_old_version(layout: InstallLayout) -> None:
    aside = layout.versions_dir / ".trash-0.9.0-abcd1234"
    (aside / "lib").mkdir(parents=True)
    _recover(layout, sm.provisioned("1.0.0"))
    assert not aside.exists()


def test_a_link_to_a_missing_version_falls_back_to_the_good_one(layout: InstallLayout) -> None:
    os.replace(layout.version_dir("1.1.0"), layout.versions_dir / "gone")  # a disk error ate it
    os.symlink("versions/1.1.0", layout.prefix / "x")
    os.replace(layout.prefix / "x", layout.current_link)
    s = sm.started(sm.switched(sm.switching(_installed_target()), NOW, POLICY), NOW, POLICY)
    s = _recover(layout, s)
    assert layout.points_to(layout.current_link) == "1.0.0" and s.running == "1.0.0"


def test_a_fresh_journal_is_made_from_the_links(layout: InstallLayout) -> None:
    s = recover(layout, Journal(layout.journal_path), NOW, POLICY, own_version="1.0.0")
    assert (s.running, s.phase, s.guard_version) == ("1.0.0", UpdatePhase.IDLE, "1.0.0")
    assert not layout.version_dir("1.1.0").exists()  # neither current, good nor kept: removed


def test_nothing_installed_is_said_plainly(tmp_path: Path) -> None:
    layout = InstallLayout(tmp_path / "empty")
    with pytest.raises(NoWorkingVersion):
        recover(layout, Journal(layout.journal_path), NOW, POLICY)


def test_a_stop_that_comes_just_after_a_rollback_restart_ends_the_guard_cleanly(tmp_path: Path) -> None:
    """SIGTERM between a rollback's "start the old version now" and that start: exit 0, not 75.

    systemd treats 75 as "start me again"; a shutdown then looked like a crash loop in the journal
    of the unit (seen on a loaded CI machine, where the window is wide).
    """
    from signage_player.updater.guard import Guard

    class RollsBackAsTheStopArrives(Guard):
        def run_once(self) -> int:
            self.stop()  # the SIGTERM handler, on the signal's own schedule
            return sm.RESTART_EXIT_CODE

    guard = RollsBackAsTheStopArrives(InstallLayout(tmp_path / "prefix"), "app", sm.Policy())
    assert guard.supervise(restart_delay_s=0) == 0
