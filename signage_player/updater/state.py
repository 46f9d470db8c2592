"""The update state machine: idle → downloading → installed → switched → probation → healthy | rolled_back.

Pure: no files, no processes, time passed in. The journal (``journal.py``) stores an
:class:`UpdateState` atomically after every step; the agent (in the app) and the guard (the
process that starts the app) apply these functions and then do what the result says, so a
kill at any point is resumed or undone by :func:`signage_player.updater.guard.recover` at boot.

Intent steps (``step``) are written *before* the file-system change they announce (the switch of
the ``current`` link, or the switch back), so recovery can tell "about to" from "done".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from schedules.protocol.release import UpdateFailure, UpdatePhase, UpdateReport

JOURNAL_FORMAT = 1
RESTART_EXIT_CODE = 75  # the app exits with this to be started again on purpose (EX_TEMPFAIL)
PAINTED, SYNCED, HEARTBEAT = "painted", "synced", "heartbeat"
PLAYER_HEALTH = (PAINTED, SYNCED, HEARTBEAT)


@dataclass(frozen=True)
class Policy:
    """When a new version counts as failed, and how long the previous one is kept."""

    health_timeout: dt.timedelta = dt.timedelta(minutes=5)
    crash_exits: int = 3
    crash_window: dt.timedelta = dt.timedelta(minutes=1)
    keep_previous: dt.timedelta = dt.timedelta(days=1)
    required_health: tuple[str, ...] = PLAYER_HEALTH


class Verdict(StrEnum):
    CONTINUE = "continue"
    ROLL_BACK = "roll_back"
    PRUNE_PREVIOUS = "prune_previous"


class UpdateState(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: int = JOURNAL_FORMAT
    phase: UpdatePhase = UpdatePhase.IDLE
    running: str | None = None  # the version ``current`` points to
    previous: str | None = None  # kept to switch back to
    target: str | None = None  # the version being downloaded, installed or tried
    step: Literal["switching", "rolling_back"] | None = None
    switched_at: dt.datetime | None = None
    deadline: dt.datetime | None = None  # healthy by then, or rolled back
    exits: tuple[dt.datetime, ...] = ()
    health: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    healthy_at: dt.datetime | None = None
    failed: tuple[str, ...] = ()  # versions that rolled back or would not install: not tried again
    failure: UpdateFailure | None = None
    guard_version: str | None = None  # the version whose guard process runs the app (never deleted)

    @property
    def good(self) -> str | None:
        """The version known to work: the guard runs from it, a rollback returns to it."""
        if self.phase in (UpdatePhase.SWITCHED, UpdatePhase.PROBATION) or self.step == "rolling_back":
            return self.previous
        if self.phase is UpdatePhase.HEALTHY and self.previous is not None:
            return self.previous  # the new one earns it after keep_previous
        return self.running

    def report(self, platform: str | None = None) -> UpdateReport:
        return UpdateReport(
            running_version=self.running or "unknown",
            phase=self.phase,
            target_version=self.target,
            previous_version=self.previous,
            platform=platform,
            failure=self.failure,
        )


def provisioned(version: str) -> UpdateState:
    """The state of a device freshly installed with ``version``."""
    return UpdateState(running=version)


def may_update_to(s: UpdateState, version: str) -> str | None:
    """Why not to start an update to ``version`` now (None: go ahead)."""
    if s.step is not None:
        return f"{s.step} not finished"
    if s.phase in (UpdatePhase.SWITCHED, UpdatePhase.PROBATION):
        return f"{s.running} is still on probation"
    if version == s.running:
        return "already running"
    if version in s.failed:
        return f"{version} failed here before"
    return None


def downloading(s: UpdateState, version: str) -> UpdateState:
    return s.model_copy(update={"phase": UpdatePhase.DOWNLOADING, "target": version})


def fetch_failed(s: UpdateState) -> UpdateState:
    """A download that did not verify or could not finish: try again next cycle."""
    return s.model_copy(update={"phase": UpdatePhase.IDLE, "target": None})


def installed(s: UpdateState) -> UpdateState:
    return s.model_copy(update={"phase": UpdatePhase.INSTALLED})


def install_failed(s: UpdateState, reason: str, log_tail: Sequence[str], now: dt.datetime) -> UpdateState:
    version = s.target or "unknown"
    failure = UpdateFailure(version=version, reason=reason, at=now, log_tail=tuple(log_tail)[-50:])
    return s.model_copy(
        update={"phase": UpdatePhase.IDLE, "target": None, "failed": (*s.failed, version), "failure": failure}
    )


def switching(s: UpdateState) -> UpdateState:
    if s.phase is not UpdatePhase.INSTALLED or s.target is None:
        raise ValueError(f"cannot switch from {s.phase}")
    return s.model_copy(update={"step": "switching"})


def switched(s: UpdateState, now: dt.datetime, policy: Policy) -> UpdateState:
    """``current`` now points to the target: its probation starts when the guard first starts it."""
    return s.model_copy(
        update={
            "phase": UpdatePhase.SWITCHED,
            "step": None,
            "previous": s.running,
            "running": s.target,
            "switched_at": now,
            "deadline": None,
            "exits": (),
            "health": (),
            "healthy_at": None,
            "required": tuple(policy.required_health),
            "failure": None,
        }
    )


def switch_abandoned(s: UpdateState) -> UpdateState:
    """Killed before the link moved: the target stays installed, the switch is tried again."""
    return s.model_copy(update={"step": None, "phase": UpdatePhase.INSTALLED})


def started(s: UpdateState, now: dt.datetime, policy: Policy) -> UpdateState:
    """The guard starts ``current``; the first start of a switched version opens its probation."""
    if s.phase is UpdatePhase.SWITCHED:
        return s.model_copy(update={"phase": UpdatePhase.PROBATION, "deadline": now + policy.health_timeout})
    return s


def _on_trial(s: UpdateState) -> bool:
    trial = (UpdatePhase.SWITCHED, UpdatePhase.PROBATION, UpdatePhase.HEALTHY)
    return s.previous is not None and s.phase in trial


def exited(s: UpdateState, code: int | None, now: dt.datetime, policy: Policy) -> tuple[UpdateState, Verdict]:
    """The app exited: a version still on trial that exits ``crash_exits`` times in the window failed."""
    if code == RESTART_EXIT_CODE or not _on_trial(s):
        return s, Verdict.CONTINUE
    recent = (*(t for t in s.exits if now - t < policy.crash_window), now)
    s = s.model_copy(update={"exits": recent})
    return s, (Verdict.ROLL_BACK if len(recent) >= policy.crash_exits else Verdict.CONTINUE)


def marked(s: UpdateState, mark: str, version: str, now: dt.datetime) -> UpdateState:
    """The app on ``version`` reached a health mark; all required marks make it healthy."""
    on_probation = s.phase in (UpdatePhase.SWITCHED, UpdatePhase.PROBATION)
    if not on_probation or version != s.running or mark in s.health:
        return s
    health = tuple(sorted({*s.health, mark}))
    if set(s.required) <= set(health):
        return s.model_copy(
            update={
                "health": health,
                "phase": UpdatePhase.HEALTHY,
                "healthy_at": now,
                "deadline": None,
                "exits": (),
            }
        )
    return s.model_copy(update={"health": health})


def tick(s: UpdateState, now: dt.datetime, policy: Policy) -> Verdict:
    if s.step is not None:
        return Verdict.CONTINUE
    if (
        s.phase is UpdatePhase.PROBATION
        and s.previous is not None
        and s.deadline is not None
        and now >= s.deadline
    ):
        return Verdict.ROLL_BACK
    if (
        s.phase is UpdatePhase.HEALTHY
        and s.previous is not None
        and s.healthy_at is not None
        and now - s.healthy_at >= policy.keep_previous
    ):
        return Verdict.PRUNE_PREVIOUS
    return Verdict.CONTINUE


def rollback_reason(s: UpdateState, now: dt.datetime) -> str:
    if s.phase is UpdatePhase.PROBATION and s.deadline is not None and now >= s.deadline:
        missing = sorted(set(s.required) - set(s.health))
        return "health_timeout: never " + ", ".join(missing)
    return "crash_loop"


def rolling_back(s: UpdateState, reason: str, log_tail: Sequence[str], now: dt.datetime) -> UpdateState:
    if s.previous is None:
        raise ValueError("nothing to roll back to")
    failure = UpdateFailure(
        version=s.running or "unknown",
        reason=reason[:200],
        at=now,
        log_tail=tuple(line[:500] for line in log_tail)[-50:],
    )
    return s.model_copy(update={"step": "rolling_back", "failure": failure})


def rolled_back(s: UpdateState) -> UpdateState:
    """``current`` points to the previous version again; the failed one is never retried by itself."""
    bad = s.running or "unknown"
    return s.model_copy(
        update={
            "phase": UpdatePhase.ROLLED_BACK,
            "step": None,
            "running": s.previous,
            "previous": None,
            "target": None,
            "failed": tuple(dict.fromkeys((*s.failed, bad))),
            "deadline": None,
            "exits": (),
            "health": (),
            "healthy_at": None,
        }
    )


def pruned(s: UpdateState) -> UpdateState:
    return s.model_copy(update={"previous": None})


def retry_allowed(s: UpdateState, version: str) -> UpdateState:
    """The operator asked again for a version that failed here: forget that it failed."""
    return s.model_copy(update={"failed": tuple(v for v in s.failed if v != version)})
