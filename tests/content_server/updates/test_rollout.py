"""Staged rollouts, pure: canary first, waves behind health gates, auto-pause, pins, downgrades, counts."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from content_server.updates import rollout as ro
from schedules.protocol.release import UpdateFailure, UpdatePhase, UpdateReport

NOW = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
OFFLINE = dt.timedelta(minutes=10)


def _fleet(n: int = 200) -> list[ro.Device]:
    devices = []
    for i in range(n):
        groups = {"lobby" if i % 2 else "elevator", "canary"} if i < 5 else {"lobby" if i % 2 else "elevator"}
        devices.append(ro.Device(f"d{i:03}", frozenset(groups), UpdateReport(running_version="1.0.0"), NOW))
    return devices


def _plan(**kw: object) -> ro.Rollout:
    waves = (ro.Wave("canary", groups=("canary",)), ro.Wave("10%", percent=10), ro.Wave("all", percent=100))
    return ro.Rollout("r1", "1.1.0", waves, **kw)  # type: ignore[arg-type]


def _report(device: ro.Device, **kw: object) -> ro.Device:
    assert device.report is not None
    return replace(device, report=device.report.model_copy(update=kw), last_seen=NOW)


def _device_acts(devices: list[ro.Device], rollout: ro.Rollout, broken: bool = False) -> list[ro.Device]:
    """Each device assigned the version updates; broken builds roll back by themselves."""
    out = []
    for d in devices:
        a = ro.assignment(d, [rollout], [])
        if a is None or d.running == a.version:
            out.append(d)
        elif broken:
            failure = UpdateFailure(version=a.version, reason="crash_loop: exited 3 times", at=NOW)
            out.append(_report(d, phase=UpdatePhase.ROLLED_BACK, failure=failure))
        else:
            out.append(
                _report(d, running_version=a.version, phase=UpdatePhase.HEALTHY, previous_version=d.running)
            )
    return out


def test_waves_are_stable_disjoint_and_cover_the_scope() -> None:
    rollout, devices = _plan(), _fleet()
    waves = [ro.wave_index(rollout, d) for d in devices]
    assert waves[:5] == [0] * 5  # the canary group
    assert all(w in (1, 2) for w in waves[5:])
    assert 5 < waves.count(1) < 40  # about 10 % of the rest
    assert [ro.wave_index(rollout, d) for d in devices] == waves  # the same every time
    scoped = replace(rollout, scope_groups=frozenset({"lobby"}))
    assert {ro.wave_index(scoped, d) is None for d in devices if "lobby" not in d.groups} == {True}


def test_a_good_release_goes_wave_by_wave_to_every_device() -> None:
    rollout, devices = _plan(), _fleet()
    assert sum(ro.assignment(d, [rollout], []) is not None for d in devices) == 5  # canary only
    events_seen = []
    for _ in range(10):
        devices = _device_acts(devices, rollout)
        rollout, events = ro.advance(rollout, devices, NOW, OFFLINE)
        events_seen += [e.kind for e in events]
        if rollout.state is ro.RolloutState.COMPLETED:
            break
    assert events_seen == ["wave_opened", "wave_opened", "completed"]
    assert {d.running for d in devices} == {"1.1.0"}
    counts = ro.version_counts(devices)
    assert counts["1.1.0"].running == 200 and "1.0.0" not in counts


def test_a_wave_waits_for_devices_still_updating_but_not_for_offline_ones() -> None:
    rollout, devices = _plan(), _fleet()
    devices = _device_acts(devices, rollout)
    devices[0] = _report(devices[0], running_version="1.1.0", phase=UpdatePhase.PROBATION)
    rollout, events = ro.advance(rollout, devices, NOW, OFFLINE)
    assert rollout.opened == 1 and events == []  # one canary is still on probation
    devices[0] = replace(devices[0], last_seen=NOW - dt.timedelta(hours=1))
    rollout, events = ro.advance(rollout, devices, NOW, OFFLINE)
    assert rollout.opened == 2 and [e.kind for e in events] == ["wave_opened"]


def test_a_broken_release_pauses_in_the_canary_wave_and_reaches_no_one_else() -> None:
    rollout, devices = _plan(), _fleet()
    devices = _device_acts(devices, rollout, broken=True)
    rollout, events = ro.advance(rollout, devices, NOW, OFFLINE)
    assert rollout.state is ro.RolloutState.PAUSED and rollout.opened == 1
    assert [e.kind for e in events] == ["paused"] and len(events[0].devices) == 5
    assert "5 of 5 devices failed" in rollout.reason
    assert all(ro.assignment(d, [rollout], []) is None for d in devices)  # paused: nobody starts
    counts = ro.version_counts(devices)
    assert counts["1.1.0"].rolled_back == 5 and counts["1.0.0"].running == 200


def test_a_few_failures_under_the_threshold_do_not_pause() -> None:
    rollout, devices = _plan(max_failure_share=0.25), _fleet()
    devices = _device_acts(devices, rollout)
    failure = UpdateFailure(version="1.1.0", reason="health_timeout: never heartbeat", at=NOW)
    devices[1] = _report(devices[1], running_version="1.0.0", phase=UpdatePhase.ROLLED_BACK, failure=failure)
    rollout, _ = ro.advance(rollout, devices, NOW, OFFLINE)
    assert rollout.state is ro.RolloutState.RUNNING and rollout.opened == 2  # 1 of 5 = 20 %


def test_pause_resume_abort() -> None:
    rollout, devices = _plan(), _fleet()
    devices = _device_acts(devices, rollout, broken=True)
    rollout, _ = ro.advance(rollout, devices, NOW, OFFLINE)
    resumed = ro.resume(rollout)
    resumed, events = ro.advance(
        resumed, devices, NOW, OFFLINE
    )  # the operator accepted the canary's failures
    assert (
        resumed.state is ro.RolloutState.RUNNING and resumed.opened == 2 and events[0].kind == "wave_opened"
    )
    with pytest.raises(ValueError):
        ro.resume(resumed)
    aborted = ro.abort(ro.pause(resumed))
    assert all(ro.assignment(d, [aborted], []) is None for d in devices)
    with pytest.raises(ValueError):
        ro.abort(aborted)


def test_a_paused_rollout_lets_devices_already_on_their_way_finish() -> None:
    rollout, devices = _plan(), _fleet()
    on_its_way = _report(devices[0], target_version="1.1.0", phase=UpdatePhase.DOWNLOADING)
    paused = ro.pause(rollout)
    assert ro.assignment(on_its_way, [paused], []) == ro.Assignment("1.1.0", "rollout:r1")
    assert ro.assignment(devices[1], [paused], []) is None


def test_pins_win_and_downgrades_need_an_explicit_decision() -> None:
    rollout, devices = _plan(), _fleet()
    lobby = next(d for d in devices if "lobby" in d.groups and "canary" in d.groups)
    assert ro.assignment(lobby, [rollout], [ro.Pin("lobby", "1.0.5")]) == ro.Assignment("1.0.5", "pin:lobby")
    assert ro.assignment(lobby, [rollout], [ro.Pin("lobby", "0.9.0")]) is None  # older than it runs
    assert ro.assignment(lobby, [rollout], [ro.Pin("lobby", "0.9.0", allow_downgrade=True)]) == ro.Assignment(
        "0.9.0", "pin:lobby"
    )
    back = ro.Rollout("r2", "0.9.0", (ro.Wave("all", percent=100),))
    assert ro.assignment(lobby, [back], []) is None
    assert ro.assignment(lobby, [replace(back, allow_downgrade=True)], []) == ro.Assignment(
        "0.9.0", "rollout:r2"
    )


def test_wave_and_rollout_definitions_are_checked() -> None:
    with pytest.raises(ValueError):
        ro.Wave("x")
    with pytest.raises(ValueError):
        ro.Wave("x", groups=("a",), percent=10)
    with pytest.raises(ValueError):
        ro.Wave("x", percent=0)
    with pytest.raises(ValueError):
        ro.Rollout("r", "1.0.0", ())
