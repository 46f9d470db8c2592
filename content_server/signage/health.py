"""Screen health from the last heartbeat: online, in sync / behind / failing, frozen. Pure; time passed in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from schedules.model import Slot


@dataclass(frozen=True)
class Thresholds:
    offline_after: dt.timedelta
    behind_after: dt.timedelta
    frozen_after: dt.timedelta


@dataclass(frozen=True)
class Health:
    online: bool
    sync: str  # in_sync | syncing | behind | failing | unknown
    frozen: bool
    problems: tuple[str, ...]


def expected_changes(slots: Sequence[Slot]) -> bool:
    """Whether the schedule shows more than one distinct main-zone item in the window."""
    return len({s.item_id for s in slots if s.zone == "main"}) > 1


def assess(
    *,
    now: dt.datetime,
    last_seen: dt.datetime | None,
    heartbeat: dict[str, Any] | None,
    playing: str | None,
    latest: str | None,
    latest_since: dt.datetime | None,
    hash_since: dt.datetime | None,
    schedule_changes: bool,
    limits: Thresholds,
) -> Health:
    """Judge a screen the way an operator would want to be warned."""
    online = last_seen is not None and now - last_seen <= limits.offline_after
    problems: list[str] = []
    hb = heartbeat or {}
    failed = list(hb.get("failed_items") or ())
    missing = list(hb.get("missing_assets") or ())
    errors = list(hb.get("errors") or ())
    if failed:
        problems.append(f"{len(failed)} item(s) fail to play")
    if missing:
        problems.append(f"{len(missing)} asset(s) still missing")
    if errors:
        problems.append(errors[-1][:200])
    if last_seen is None or latest is None:
        sync = "unknown"
    elif failed or errors:
        sync = "failing"
    elif playing == latest:
        sync = "in_sync"
    elif latest_since is not None and now - latest_since > limits.behind_after:
        sync = "behind"
        problems.append("still playing an old manifest")
    else:
        sync = "syncing"
    frozen = bool(
        online and schedule_changes and hash_since is not None and now - hash_since > limits.frozen_after
    )
    if frozen:
        problems.append("the picture has not changed although the schedule says it should")
    if not online and last_seen is not None:
        problems.append("offline")
    return Health(online, sync, frozen, tuple(problems))
