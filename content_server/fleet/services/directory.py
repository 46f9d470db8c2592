"""The alert evaluator's memory of the fleet between passes: what rarely changes, read once.

A pass every few seconds looks at every live device. Their names, kinds, classes, groups and
tags change only when someone edits a screen, yet reading and decoding them again for 10,000
screens took about a second of CPU per pass, holding the GIL against the poll fast path. The
directory keeps them in this process and reads them again only when the scope that every edit
of a device's settings stamps (``signage.scopes.DEVICES``, bulk statements on devices too:
``core.changes``) was stamped again, when the live devices are not the ones it holds (a new,
revoked or deleted device), or after ``max_age_s`` (an edit made by hand-written SQL). Not on
the change counter: every booking, notice and campaign edit moves that, several times a second
in a busy district, and each move cost a full read. Each pass still reads every device's
last-seen time fresh.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from content_server.core.changes import last_stamp
from content_server.signage.models import Device
from content_server.signage.scopes import DEVICES
from content_server.signage.services.screens import to_screen
from schedules.model import Screen

BUILDING_TAG = "building:"


@dataclass(frozen=True)
class DeviceFacts:
    """What the rules read of a device (plain values: thousands are looked at every few seconds)."""

    id: str
    name: str
    kind: str
    screen_class: str
    groups: frozenset[str]
    tags: frozenset[str]
    created_at: dt.datetime
    building: str  # its ``building:<n>`` tag (the first in order), or ""
    first_group: str  # its first group in order, or ""
    last_seen_at: dt.datetime | None = None
    # what the last heartbeat said: read only when a rule that needs it is due
    last_heartbeat: dict[str, object] | None = None
    playing_manifest: str | None = None
    served_manifest: str | None = None
    served_manifest_since: dt.datetime | None = None
    screen_hash_since: dt.datetime | None = None


HEAVY = (
    "last_heartbeat",
    "playing_manifest",
    "served_manifest",
    "served_manifest_since",
    "screen_hash_since",
)


def listing(
    id: str,
    name: str,
    kind: str,
    screen_class: str,
    groups: list[str] | None,
    tags: list[str] | None,
    created_at: dt.datetime,
) -> DeviceFacts:
    """A device's settings as the rules read them (its building and first group worked out once)."""
    ordered_tags = sorted(tags or ())
    return DeviceFacts(
        id,
        name,
        kind,
        screen_class,
        frozenset(groups or ()),
        frozenset(ordered_tags),
        created_at,
        next((t for t in ordered_tags if t.startswith(BUILDING_TAG)), ""),
        min(groups) if groups else "",
    )


# what ``to_screen`` reads: the engine decides targeting from it
TARGETING = tuple(
    getattr(Device, c)
    for c in (
        "id",
        "name",
        "screen_class",
        "orientation",
        "width",
        "height",
        "groups",
        "tags",
        "timezone",
        "hours",
    )
)
SETTINGS = (
    Device.id,
    Device.name,
    Device.kind,
    Device.screen_class,
    Device.groups,
    Device.tags,
    Device.created_at,
)


class DeviceDirectory:
    """Live devices' settings, kept between passes (one per process; see the module's docstring)."""

    def __init__(self, max_age_s: float = 60.0) -> None:
        self.max_age_s = max_age_s
        self._held: dict[str, DeviceFacts] = {}  # by name, then id: the order messages list them in
        self._generation: int | None = None
        self._read_at = float("-inf")
        self._screens: dict[str, Screen] | None = None  # the engine's view, built when first asked
        self.reads = 0  # how often the settings were read again (tests and the benchmark look)

    def devices(self, session: Session, monotonic: float) -> list[DeviceFacts]:
        """Every live device with its last-seen time as the database has it now."""
        generation = last_stamp(session, (DEVICES,))  # before the rows: never older
        seen = dict(
            session.execute(select(Device.id, Device.last_seen_at).where(Device.revoked_at.is_(None))).all()
        )
        if (
            generation != self._generation
            or monotonic - self._read_at >= self.max_age_s
            or len(seen) != len(self._held)
            or not seen.keys() <= self._held.keys()
        ):
            self._read(session, generation, monotonic)
        out: list[DeviceFacts] = []
        for device_id, facts in self._held.items():
            if device_id not in seen:  # revoked or deleted since the read above
                continue
            at = seen[device_id]
            if facts.last_seen_at != at:
                facts = self._held[device_id] = replace(facts, last_seen_at=at)
            out.append(facts)
        return out

    def _read(self, session: Session, generation: int | None, monotonic: float) -> None:
        rows = session.execute(
            select(*SETTINGS).where(Device.revoked_at.is_(None)).order_by(Device.name, Device.id)
        )
        self._held = {row[0]: listing(*row) for row in rows}
        self._generation, self._read_at = generation, monotonic
        self._screens = None
        self.reads += 1

    def screens(self, session: Session) -> dict[str, Screen]:
        """The engine's view of the devices held at the last :meth:`devices` (for targeting)."""
        if self._screens is None:
            self._screens = read_screens(session, set(self._held))
        return self._screens


def read_screens(session: Session, ids: set[str] | None = None) -> dict[str, Screen]:
    """The engine's view of live devices (of ``ids`` only, when given), read in one query."""
    rows = session.execute(select(*TARGETING).where(Device.revoked_at.is_(None)))
    return {
        row.id: to_screen(cast(Device, row)) for row in rows if ids is None or row.id in ids
    }  # same names


def read_devices(session: Session) -> list[DeviceFacts]:
    """Every live device, read afresh (tools and tests without a directory)."""
    return DeviceDirectory(max_age_s=0).devices(session, 0.0)


def with_heartbeats(
    session: Session, devices: list[DeviceFacts], ids: set[str] | None = None
) -> list[DeviceFacts]:
    """``devices`` with what their last heartbeats said (of ``ids`` only, when given)."""
    query = select(Device.id, *(getattr(Device, f) for f in HEAVY)).where(Device.revoked_at.is_(None))
    if ids is not None:
        if not ids:
            return devices
        query = query.where(Device.id.in_(sorted(ids)))
    heavy = {row[0]: row[1:] for row in session.execute(query)}
    return [replace(d, **dict(zip(HEAVY, heavy[d.id], strict=True))) if d.id in heavy else d for d in devices]
