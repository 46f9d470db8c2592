"""The device's update state machine, driven with a movable clock: health gate, crash loop, rollback."""

from __future__ import annotations

import datetime as dt

import pytest

from schedules.clock import MovableClock
from schedules.protocol.release import UpdatePhase
from signage_player.updater import state as sm

START = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
POLICY = sm.Policy()


def _switched_to_2(clock: MovableClock) -> sm.UpdateState:
    s = sm.provisioned("1.0.0")
    assert sm.may_update_to(s, "1.1.0") is None
    s = sm.installed(sm.downloading(s, "1.1.0"))
    assert s.phase is UpdatePhase.INSTALLED and s.target == "1.1.0"
    s = sm.switched(sm.switching(s), clock.now(), POLICY)
    assert (s.phase, s.running, s.previous, s.good) == (UpdatePhase.SWITCHED, "1.1.0", "1.0.0", "1.0.0")
    return s


def test_new_version_that_reports_every_health_mark_in_time_becomes_healthy_and_then_good() -> None:
    clock = MovableClock(START)
    s = sm.started(_switched_to_2(clock), clock.now(), POLICY)
    assert s.phase is UpdatePhase.PROBATION and s.deadline == START + POLICY.health_timeout
    clock.advance(30)
    s = sm.marked(s, sm.PAINTED, "1.1.0", clock.now())
    s = sm.marked(s, sm.SYNCED, "1.0.0", clock.now())  # the old version's word does not count
    s = sm.marked(s, sm.SYNCED, "1.1.0", clock.now())
    assert s.phase is UpdatePhase.PROBATION
    s = sm.marked(s, sm.HEARTBEAT, "1.1.0", clock.now())
    assert s.phase is UpdatePhase.HEALTHY and s.healthy_at == clock.now()
    assert s.good == "1.0.0" and s.previous == "1.0.0"  # kept for a day
    clock.advance(POLICY.keep_previous.total_seconds() - 1)
    assert sm.tick(s, clock.now(), POLICY) is sm.Verdict.CONTINUE
    clock.advance(1)
    assert sm.tick(s, clock.now(), POLICY) is sm.Verdict.PRUNE_PREVIOUS
    s = sm.pruned(s)
    assert (s.good, s.previous, s.running) == ("1.1.0", None, "1.1.0")
    assert s.report().running_version == "1.1.0" and s.report().phase is UpdatePhase.HEALTHY


def test_not_healthy_by_the_deadline_rolls_back_naming_what_was_missing() -> None:
    clock = MovableClock(START)
    s = sm.started(_switched_to_2(clock), clock.now(), POLICY)
    s = sm.marked(s, sm.PAINTED, "1.1.0", clock.now())
    clock.advance(POLICY.health_timeout.total_seconds() - 1)
    assert sm.tick(s, clock.now(), POLICY) is sm.Verdict.CONTINUE
    clock.advance(1)
    assert sm.tick(s, clock.now(), POLICY) is sm.Verdict.ROLL_BACK
    reason = sm.rollback_reason(s, clock.now())
    assert reason == "health_timeout: never heartbeat, synced"
    s = sm.rolling_back(s, reason, ["boom"], clock.now())
    assert s.step == "rolling_back" and s.good == "1.0.0"
    s = sm.rolled_back(s)
    assert (s.phase, s.running, s.previous, s.failed) == (UpdatePhase.ROLLED_BACK, "1.0.0", None, ("1.1.0",))
    assert s.failure is not None and s.failure.version == "1.1.0" and s.failure.log_tail == ("boom",)
    assert sm.may_update_to(s, "1.1.0") == "1.1.0 failed here before"
    assert sm.may_update_to(sm.retry_allowed(s, "1.1.0"), "1.1.0") is None  # the operator asks again


def test_three_exits_within_a_minute_is_a_crash_loop_but_three_spread_out_are_not() -> None:
    clock = MovableClock(START)
    s = sm.started(_switched_to_2(clock), clock.now(), POLICY)
    for _ in range(2):
        s, verdict = sm.exited(s, 1, clock.now(), POLICY)
        assert verdict is sm.Verdict.CONTINUE
        clock.advance(31)
    s, verdict = sm.exited(s, 1, clock.now(), POLICY)
    assert verdict is sm.Verdict.CONTINUE  # the first exit is 62 s old: two in the window
    clock.advance(5)
    s, verdict = sm.exited(s, -9, clock.now(), POLICY)
    assert verdict is sm.Verdict.ROLL_BACK and len(s.exits) == 3


def test_an_exit_to_restart_on_purpose_is_not_a_crash() -> None:
    clock = MovableClock(START)
    s = sm.started(_switched_to_2(clock), clock.now(), POLICY)
    for _ in range(5):
        s, verdict = sm.exited(s, sm.RESTART_EXIT_CODE, clock.now(), POLICY)
        assert verdict is sm.Verdict.CONTINUE
    assert s.exits == ()


def test_a_crash_loop_within_the_day_after_healthy_still_rolls_back_and_none_after() -> None:
    clock = MovableClock(START)
    s = sm.started(_switched_to_2(clock), clock.now(), POLICY)
    for mark in POLICY.required_health:
        s = sm.marked(s, mark, "1.1.0", clock.now())
    clock.advance(3600)
    verdicts = []
    for _ in range(3):
        s, verdict = sm.exited(s, 1, clock.now(), POLICY)
        verdicts.append(verdict)
    assert verdicts[-1] is sm.Verdict.ROLL_BACK
    settled = sm.pruned(s.model_copy(update={"exits": ()}))
    for _ in range(5):
        settled, verdict = sm.exited(settled, 1, clock.now(), POLICY)
        assert verdict is sm.Verdict.CONTINUE  # nothing left to go back to


def test_no_second_update_while_one_is_on_trial_or_half_done() -> None:
    clock = MovableClock(START)
    s = _switched_to_2(clock)
    assert sm.may_update_to(s, "1.2.0") == "1.1.0 is still on probation"
    assert sm.may_update_to(sm.provisioned("1.0.0"), "1.0.0") == "already running"
    half = sm.switching(sm.installed(sm.downloading(sm.provisioned("1.0.0"), "1.1.0")))
    assert sm.may_update_to(half, "1.2.0") == "switching not finished"
    with pytest.raises(ValueError):
        sm.switching(sm.provisioned("1.0.0"))


def test_install_failure_is_reported_and_not_retried_by_itself() -> None:
    s = sm.downloading(sm.provisioned("1.0.0"), "1.1.0")
    s = sm.install_failed(s, "install_failed: pip", ["ERROR: no matching distribution"], START)
    assert s.phase is UpdatePhase.IDLE and s.running == "1.0.0" and s.failed == ("1.1.0",)
    assert s.failure is not None and s.failure.reason == "install_failed: pip"
    assert sm.fetch_failed(sm.downloading(sm.provisioned("1.0.0"), "1.1.0")).failed == ()


def test_journal_round_trips_through_json() -> None:
    clock = MovableClock(START)
    s = sm.started(_switched_to_2(clock), clock.now(), POLICY)
    s = sm.marked(s, sm.PAINTED, "1.1.0", clock.now())
    assert sm.UpdateState.model_validate_json(s.model_dump_json()) == s
