"""Screen health from the last heartbeat: online, in sync / behind / failing, frozen. Pure; time passed in.

Kiosks are screens too, judged by what they have: a kiosk without signage content (no video
engine) is in sync when its service catalogue is fresh; a kiosk is frozen only while its attract
loop shows (a resident reading a page for a minute is no frozen screen); a peripheral it reports
missing or not working is a problem.
"""

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
    kiosk: bool = False,
) -> Health:
    """Judge a screen the way an operator would want to be warned."""
    online = last_seen is not None and now - last_seen <= limits.offline_after
    problems: list[str] = []
    hb = heartbeat or {}
    if kiosk:
        problems += peripheral_problems(hb.get("peripherals"))
        if hb.get("page") not in (None, "attract") or hb.get("manifest_version") is None:
            schedule_changes = False  # a service page, or no attract loop: a still picture is right
        if last_seen is not None and hb.get("manifest_version") is None:
            return _kiosk_without_content(now, last_seen, hb, online, problems, limits)
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


def peripheral_states(reported: Any) -> list[tuple[str, str]]:
    """Each peripheral a kiosk reports (its heartbeat's ``peripherals``): ok, missing or broken."""
    out = []
    for p in reported if isinstance(reported, list) else ():
        if isinstance(p, dict):
            state = "missing" if not p.get("present", True) else "ok" if p.get("working", True) else "broken"
            out.append((str(p.get("name", "?")), state))
    return out


def peripheral_problems(reported: Any) -> list[str]:
    """The kiosk's peripherals that are missing or not working."""
    words = {"missing": "missing", "broken": "not working"}
    return [f"{name} {words[state]}" for name, state in peripheral_states(reported) if state != "ok"]


def _kiosk_without_content(now: dt.datetime, last_seen: dt.datetime, hb: dict[str, Any], online: bool,
                           problems: list[str], limits: Thresholds) -> Health:
    """A kiosk with no signage content: in sync while its catalogue is fresh."""
    synced_raw = hb.get("catalogue_synced_at")
    synced = dt.datetime.fromisoformat(synced_raw) if isinstance(synced_raw, str) else None
    if synced is None:
        sync = "unknown"
    elif now - synced > limits.behind_after:
        sync = "behind"
        problems.append("service catalogue not refreshed")
    else:
        sync = "in_sync"
    if not online:
        problems.append("offline")
    return Health(online, sync, False, tuple(problems))
