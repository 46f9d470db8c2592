"""The update runner beside the app: one update at a time on its own thread, failures remembered."""

from __future__ import annotations

from pathlib import Path

import requests

from schedules.clock import SystemClock
from schedules.protocol.release import UpdateAssignment, UpdatePhase, running_platform
from signage_player.updater import state as sm
from signage_player.updater.agent import Outcome, UpdateAgent
from signage_player.updater.fetch import HttpFetcher, Source
from signage_player.updater.journal import Journal
from signage_player.updater.layout import InstallLayout
from signage_player.updater.runner import UpdateRunner
from tests.fixtures.updates import DEVICE_KEY, RepoServer, UpdateRepo


def _runner(update_repo: UpdateRepo, repo_server: RepoServer, tmp_path: Path) -> UpdateRunner:
    layout = InstallLayout(tmp_path / "prefix")
    layout.create_dirs()
    layout.trusted_root.write_bytes(update_repo.root_bytes())
    Journal(layout.journal_path).write(sm.provisioned("1.0.0"))
    restarts: list[str] = []
    agent = UpdateAgent(
        layout, "1.0.0", running_platform(), SystemClock(), lambda: restarts.append("restart")
    )
    session = requests.Session()
    return UpdateRunner(
        agent,
        lambda: Source.server(
            repo_server.url, HttpFetcher(session, {"Authorization": f"Bearer {DEVICE_KEY}"})
        ),
    )


def test_an_assignment_runs_once_off_the_callers_thread_and_a_failure_is_not_retried_by_itself(
    update_repo: UpdateRepo, repo_server: RepoServer, tmp_path: Path
) -> None:
    # signed and served, but its "wheels" are not wheels: pip refuses, the device stays on 1.0.0
    update_repo.publish(
        update_repo.fake_release("1.1.0", {"community_signage-1.1.0-py3-none-any.whl": b"junk"})
    )
    runner = _runner(update_repo, repo_server, tmp_path)
    assert not runner.offer(None) and not runner.offer(UpdateAssignment(version="1.0.0"))
    assert runner.offer(UpdateAssignment(version="1.1.0"))
    assert runner.done.wait(120)
    assert runner.last_result is not None and runner.last_result.outcome is Outcome.INSTALL_FAILED
    report = runner.report()
    assert report.running_version == "1.0.0" and report.phase is UpdatePhase.IDLE
    assert report.failure is not None and report.failure.version == "1.1.0"
    assert report.failure.reason.startswith("install_failed")
    assert not runner.offer(UpdateAssignment(version="1.1.0"))  # failed here: waits for the operator
    assert runner.offer(UpdateAssignment(version="1.1.0", retry=True))
    assert runner.done.wait(120)
    assert runner.last_result is not None and runner.last_result.outcome is Outcome.INSTALL_FAILED


def test_a_refused_download_is_reported_and_tried_again_next_time(
    update_repo: UpdateRepo, repo_server: RepoServer, tmp_path: Path
) -> None:
    update_repo.publish(
        update_repo.fake_release("1.1.0", {"community_signage-1.1.0-py3-none-any.whl": b"x" * 10})
    )
    stored = next((update_repo.repo.targets_dir / "wheels").iterdir())
    stored.write_bytes(b"y" * 10)  # tampered on the server
    runner = _runner(update_repo, repo_server, tmp_path)
    assert runner.offer(UpdateAssignment(version="1.1.0"))
    assert runner.done.wait(60)
    assert runner.last_result is not None and runner.last_result.outcome is Outcome.REFUSED
    assert runner.report().phase is UpdatePhase.IDLE
    assert runner.offer(UpdateAssignment(version="1.1.0"))  # not a failure of the release: again next cycle
    assert runner.done.wait(60)
