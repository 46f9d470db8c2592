"""Staged rollouts: which device gets which version when, and when a rollout pauses itself. Pure.

A rollout brings the devices in its scope to one signed version in waves: usually a canary group
first, then shares of the rest (10 %, 50 %, 100 %) or further groups. A wave opens only when the
one before has passed its health gate: each of its devices is healthy on the new version, failed
(rolled back by itself), or offline. When more than ``max_failure_share`` of a wave has failed the
rollout pauses and the operator is alerted; devices already updating finish, no new one starts.

A group can be pinned to a version (it then takes no part in rollouts). Going to an older
version than a device runs needs ``allow_downgrade``, an explicit operator decision.

Time is passed in; the inputs are what the server knows (device groups and their last
:class:`UpdateReport`), the outputs are assignments and events for the service to store and send.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from schedules.protocol.release import UpdatePhase, UpdateReport, version_key


class RolloutState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    ABORTED = "aborted"


class Outcome(StrEnum):
    """Where one device stands with one version."""

    HEALTHY = "healthy"
    FAILED = "failed"
    UPDATING = "updating"
    PENDING = "pending"
    OFFLINE = "offline"


@dataclass(frozen=True)
class Wave:
    """Devices in ``groups``, or the first ``percent`` % of the scope by a stable hash; not earlier waves'."""

    name: str
    groups: tuple[str, ...] = ()
    percent: float | None = None

    def __post_init__(self) -> None:
        if bool(self.groups) == (self.percent is not None):
            raise ValueError(f"wave {self.name}: give groups or a percentage, not both or neither")
        if self.percent is not None and not 0 < self.percent <= 100:
            raise ValueError(f"wave {self.name}: percentage must be in (0, 100]")


@dataclass(frozen=True)
class Rollout:
    id: str
    version: str
    waves: tuple[Wave, ...]
    scope_groups: frozenset[str] = frozenset()  # empty: every device
    max_failure_share: float = 0.2
    allow_downgrade: bool = False
    state: RolloutState = RolloutState.RUNNING
    opened: int = 1  # waves open so far (the first opens at the start)
    accepted_failures_wave: int = -1  # the operator resumed despite this wave's failures
    reason: str = ""  # why it paused, aborted or completed

    def __post_init__(self) -> None:
        if not self.waves:
            raise ValueError("a rollout needs at least one wave")
        if not 0 <= self.max_failure_share < 1:
            raise ValueError("max_failure_share must be in [0, 1)")


@dataclass(frozen=True)
class Device:
    """What the server knows of one device."""

    id: str
    groups: frozenset[str]
    report: UpdateReport | None = None
    last_seen: dt.datetime | None = None

    @property
    def running(self) -> str | None:
        return self.report.running_version if self.report else None


@dataclass(frozen=True)
class Pin:
    group: str
    version: str
    allow_downgrade: bool = False


@dataclass(frozen=True)
class Assignment:
    version: str
    source: str  # "pin:<group>" or "rollout:<id>"


@dataclass(frozen=True)
class WaveStatus:
    index: int
    name: str
    size: int
    counts: Mapping[Outcome, int]
    open: bool

    @property
    def failed_share(self) -> float:
        return self.counts.get(Outcome.FAILED, 0) / self.size if self.size else 0.0

    @property
    def settled(self) -> bool:
        """No device of the wave is still on its way (healthy, failed or offline)."""
        return self.counts.get(Outcome.UPDATING, 0) == 0 and self.counts.get(Outcome.PENDING, 0) == 0


@dataclass(frozen=True)
class Event:
    kind: str  # "wave_opened", "paused", "completed"
    rollout_id: str
    message: str
    devices: tuple[str, ...] = field(default=())


def bucket(rollout_id: str, device_id: str) -> float:
    """A device's stable place in [0, 100) for one rollout: who is in the first 10 % stays in it."""
    digest = hashlib.sha256(f"{rollout_id}:{device_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def in_scope(rollout: Rollout, device: Device) -> bool:
    return not rollout.scope_groups or bool(rollout.scope_groups & device.groups)


def wave_index(rollout: Rollout, device: Device) -> int | None:
    """The wave a device belongs to (the first that takes it), or None when out of scope."""
    if not in_scope(rollout, device):
        return None
    b = bucket(rollout.id, device.id)
    for i, wave in enumerate(rollout.waves):
        if wave.groups and set(wave.groups) & device.groups:
            return i
        if wave.percent is not None and b < wave.percent:
            return i
    return None


def outcome(version: str, device: Device, now: dt.datetime, offline_after: dt.timedelta) -> Outcome:
    r = device.report
    if r is not None and r.failure is not None and r.failure.version == version != r.running_version:
        return Outcome.FAILED
    if r is not None and r.running_version == version:
        on_trial = r.phase in (UpdatePhase.SWITCHED, UpdatePhase.PROBATION)
        if not on_trial:
            return Outcome.HEALTHY
    if device.last_seen is None or now - device.last_seen > offline_after:
        return Outcome.OFFLINE
    if r is not None and (r.target_version == version or r.running_version == version):
        return Outcome.UPDATING
    return Outcome.PENDING


def wave_statuses(
    rollout: Rollout, devices: Iterable[Device], now: dt.datetime, offline_after: dt.timedelta
) -> list[WaveStatus]:
    counts: list[dict[Outcome, int]] = [{} for _ in rollout.waves]
    for device in devices:
        i = wave_index(rollout, device)
        if i is not None:
            o = outcome(rollout.version, device, now, offline_after)
            counts[i][o] = counts[i].get(o, 0) + 1
    return [
        WaveStatus(i, w.name, sum(c.values()), c, i < rollout.opened)
        for i, (w, c) in enumerate(zip(rollout.waves, counts, strict=True))
    ]


def advance(
    rollout: Rollout, devices: Sequence[Device], now: dt.datetime, offline_after: dt.timedelta
) -> tuple[Rollout, list[Event]]:
    """Open the next wave when the open ones passed their gate; pause on too many failures."""
    if rollout.state is not RolloutState.RUNNING:
        return rollout, []
    events: list[Event] = []
    while True:
        statuses = wave_statuses(rollout, devices, now, offline_after)
        for st in statuses[: rollout.opened]:
            if st.failed_share > rollout.max_failure_share and st.index > rollout.accepted_failures_wave:
                failed = tuple(
                    sorted(
                        d.id
                        for d in devices
                        if wave_index(rollout, d) == st.index
                        and outcome(rollout.version, d, now, offline_after) is Outcome.FAILED
                    )
                )
                reason = (
                    f"wave {st.name}: {len(failed)} of {st.size} devices failed "
                    f"(more than {rollout.max_failure_share:.0%})"
                )
                rollout = replace(rollout, state=RolloutState.PAUSED, reason=reason)
                return rollout, [*events, Event("paused", rollout.id, reason, failed)]
        if not all(st.settled for st in statuses[: rollout.opened]):
            return rollout, events
        if rollout.opened >= len(rollout.waves):
            reason = "every wave passed its health gate"
            rollout = replace(rollout, state=RolloutState.COMPLETED, reason=reason)
            return rollout, [*events, Event("completed", rollout.id, reason)]
        rollout = replace(rollout, opened=rollout.opened + 1)
        nxt = rollout.waves[rollout.opened - 1]
        events.append(Event("wave_opened", rollout.id, f"wave {nxt.name} opened"))


def pause(rollout: Rollout, reason: str = "paused by the operator") -> Rollout:
    if rollout.state is not RolloutState.RUNNING:
        raise ValueError(f"a {rollout.state} rollout cannot be paused")
    return replace(rollout, state=RolloutState.PAUSED, reason=reason)


def resume(rollout: Rollout) -> Rollout:
    """Carry on; failures already seen in the open waves are accepted by the operator."""
    if rollout.state is not RolloutState.PAUSED:
        raise ValueError(f"a {rollout.state} rollout cannot be resumed")
    return replace(rollout, state=RolloutState.RUNNING, reason="", accepted_failures_wave=rollout.opened - 1)


def abort(rollout: Rollout) -> Rollout:
    if rollout.state in (RolloutState.COMPLETED, RolloutState.ABORTED):
        raise ValueError(f"a {rollout.state} rollout cannot be aborted")
    return replace(rollout, state=RolloutState.ABORTED, reason="aborted by the operator")


def is_downgrade(version: str, running: str | None) -> bool:
    """True when ``running`` is a newer release version; a version we cannot read (a developer
    build) is not called newer."""
    if running is None:
        return False
    try:
        return version_key(version) < version_key(running)
    except ValueError:
        return False


def assignment(device: Device, rollouts: Sequence[Rollout], pins: Sequence[Pin]) -> Assignment | None:
    """The version the server asks this device to run now, if any.

    A pin wins over rollouts. A paused rollout keeps the devices that already run or fetch its
    version on it but starts no new one; an aborted one assigns nothing. A downgrade is assigned
    only when the pin or rollout allows it. ``rollouts`` are newest first.
    """
    for pin in sorted(pins, key=lambda p: p.group):
        if pin.group in device.groups:
            if is_downgrade(pin.version, device.running) and not pin.allow_downgrade:
                return None
            return Assignment(pin.version, f"pin:{pin.group}")
    for rollout in rollouts:
        if rollout.state is RolloutState.ABORTED:
            continue
        i = wave_index(rollout, device)
        if i is None:
            continue
        if i >= rollout.opened:
            return None
        if is_downgrade(rollout.version, device.running) and not rollout.allow_downgrade:
            return None
        r = device.report
        started = r is not None and rollout.version in (r.running_version, r.target_version)
        if rollout.state is RolloutState.PAUSED and not started:
            return None
        return Assignment(rollout.version, f"rollout:{rollout.id}")
    return None


@dataclass(frozen=True)
class VersionCounts:
    running: int = 0
    updating: int = 0
    failed: int = 0
    rolled_back: int = 0


def version_counts(devices: Iterable[Device]) -> dict[str, VersionCounts]:
    """Per version: devices running it, updating to it, and where it failed or was rolled back."""
    out: dict[str, VersionCounts] = {}

    def bump(version: str | None, what: str) -> None:
        if version:
            c = out.get(version, VersionCounts())
            out[version] = replace(c, **{what: getattr(c, what) + 1})

    for d in devices:
        r = d.report
        if r is None:
            continue
        on_trial = r.phase in (UpdatePhase.SWITCHED, UpdatePhase.PROBATION)
        bump(r.running_version, "updating" if on_trial else "running")
        if r.phase in (UpdatePhase.DOWNLOADING, UpdatePhase.INSTALLED) and r.target_version:
            bump(r.target_version, "updating")
        if r.failure is not None:
            rolled = r.failure.reason.startswith(("crash_loop", "health_timeout"))
            bump(r.failure.version, "rolled_back" if rolled else "failed")
    return out
