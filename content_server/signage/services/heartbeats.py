"""Heartbeats: what changed is written before the reply; the last-seen time waits a few seconds.

Every screen beats once a minute. Most beats say what the last one said (the same player, the
same manifest in play, the same picture, no new errors) and differ only in when they were sent
and in the numbers that drift (cache size, free disk, the item on screen). Writing each into its
device row cost a transaction per beat. Here a beat whose *status* (:func:`status_of`) differs
from what this process last wrote, from a device this process does not know yet, or that must
fetch something from the database (a screenshot is wanted or due by ``ScreenshotPolicy``, the
manifest version for the reply is not known current), is written before the reply, as before.
Any other beat is answered from memory and kept as the device's latest; every
``heartbeat_flush_s`` seconds the latest beat of every device heard from is written in one
statement (:func:`write`) through the group-commit writer. "Offline" is decided over minutes
(``offline_after_s``, at least four flush periods), so every process, the portal included, sees
the same online state a few seconds later at most; a crash loses at most those seconds of
last-seen times, and the next beat brings them back.

A beat that carries a software-update report, while the updates feature answers them
(``update_hook``), is always written and answered through the hook: which version a device should
run depends on rollouts that move on by themselves, so it is never answered from memory. Devices
that were not started by the update guard send no report and keep the cheap path.

Cross-process news reaches the memory too: each flush reads which screens owe a screenshot (an
operator may have asked another process), and a change to a device's screenshot columns through
the ORM in this process forgets that device at once (``ChangeTracker.on_row_change``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import JSON, Connection, String, Table, and_, bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from content_server.core.errors import Unauthorized
from content_server.core.group_commit import GroupCommit, WriteKind
from content_server.core.models import UTCDateTime
from content_server.signage.device_lane import DeviceLane
from content_server.signage.models import Device
from content_server.signage.screenshots import ScreenshotPolicy
from content_server.signage.services.manifest_cache import ManifestCache
from schedules.clock import Clock
from schedules.protocol.device import Heartbeat, HeartbeatReply
from schedules.protocol.release import UpdateAssignment, UpdateReport

log = logging.getLogger(__name__)

# the device columns a beat's screenshot answer depends on: a change to them forgets the device
SCREENSHOT_COLUMNS = frozenset({"screenshot_requested", "screenshot_at"})

Status = tuple[object, ...]

# what another feature (software updates) answers to a heartbeat's update report: the version the
# device should run, or None; set on ``app.state.update_hook`` by that feature, None without it
UpdateHook = Callable[[Session, Device, UpdateReport | None, dt.datetime], UpdateAssignment | None]


def status_of(hb: Heartbeat) -> Status:
    """What of a beat is news when it changes (written before the reply): everything the screen's
    health is judged on. The rest (sent_at, sizes, the current item) is kept as the latest beat."""
    return (
        hb.player_version,
        hb.manifest_version,
        hb.screen_hash,
        hb.missing_assets,
        hb.failed_items,
        hb.errors,
    )


@dataclass(frozen=True)
class Beat:
    """A heartbeat as received: from which device and when."""

    device_id: str
    heartbeat: Heartbeat
    seen_at: dt.datetime


_DEVICES = cast(Table, Device.__table__)
_T = _DEVICES.c
# One statement writes a beat into its device row, for one beat or a flush of thousands. A beat
# older than what the row has (another process wrote a newer one first) changes nothing; the
# picture hash keeps the time it first showed, so a frozen screen is noticed.
_WRITE = (
    update(_DEVICES)
    .where(
        _T.id == bindparam("b_id", type_=String()),
        or_(_T.last_seen_at.is_(None), _T.last_seen_at <= bindparam("b_seen", type_=UTCDateTime())),
    )
    .values(
        last_seen_at=bindparam("b_seen", type_=UTCDateTime()),
        player_version=bindparam("b_version", type_=String()),
        playing_manifest=bindparam("b_manifest", type_=String()),
        last_heartbeat=bindparam("b_beat", type_=JSON()),
        screen_hash=func.coalesce(bindparam("b_hash", type_=String()), _T.screen_hash),
        screen_hash_since=case(
            (
                and_(
                    bindparam("b_hash", type_=String()).is_not(None),
                    or_(_T.screen_hash.is_(None), _T.screen_hash != bindparam("b_hash", type_=String())),
                ),
                bindparam("b_seen", type_=UTCDateTime()),
            ),
            else_=_T.screen_hash_since,
        ),
    )
)


def write(conn: Connection, beats: Sequence[Beat]) -> None:
    """Write each beat into its device's row (the one place heartbeats are stored); no commit."""
    if not beats:
        return
    params = [
        {
            "b_id": b.device_id,
            "b_seen": b.seen_at,
            "b_version": b.heartbeat.player_version,
            "b_manifest": b.heartbeat.manifest_version,
            "b_beat": b.heartbeat.model_dump(mode="json"),
            "b_hash": b.heartbeat.screen_hash,
        }
        for b in beats
    ]
    conn.execute(_WRITE, params)


def _flush(conn: Connection, flushes: list[list[Beat]]) -> list[frozenset[str]]:
    """The group-commit writer's part of a flush: the beats, then who owes a screenshot now."""
    write(conn, [b for beats in flushes for b in beats])
    owed = frozenset(conn.execute(select(_T.id).where(_T.screenshot_requested.is_(True))).scalars())
    return [owed] * len(flushes)


FLUSH: WriteKind[list[Beat], frozenset[str]] = WriteKind("heartbeat-flush", _flush)


@dataclass(frozen=True)
class _Known:
    """What this process last wrote (or read) of a device's row."""

    status: Status
    screenshot_requested: bool
    screenshot_at: dt.datetime | None  # the last screenshot received (for a policy that asks on a schedule)


class HeartbeatBook:
    """One process's memory of heartbeats: who is known, whose latest beat is not written yet."""

    def __init__(
        self,
        writes: GroupCommit,
        sessions: sessionmaker[Session],
        manifests: ManifestCache,
        clock: Clock,
        screenshots: ScreenshotPolicy,
        lane: DeviceLane,
        *,
        flush_s: float,
        manifest_days: int,
        update_hook: UpdateHook | None = None,
    ) -> None:
        self._writes = writes
        self._sessions = sessions
        self._manifests = manifests
        self._clock = clock
        self._screenshots = screenshots
        self._lane = lane
        self._flush_s = flush_s
        self._days = manifest_days
        self._update_hook = update_hook
        self._known: dict[str, _Known] = {}
        self._pending: dict[str, Beat] = {}
        self._due = clock.monotonic() + flush_s
        self._flushing = False
        self.flushes = 0  # flushes written (tests wait for the next one)

    async def record(self, device_id: str, hb: Heartbeat, now: dt.datetime) -> HeartbeatReply:
        """Take one beat of an authorised device; the reply to send it."""
        steady = await self.steady(device_id, hb, now)
        if steady is not None:
            return steady
        beat = Beat(device_id, hb, now)
        self._pending[device_id] = beat
        reply, self._known[device_id] = await self._lane.run(self._write_now, beat)
        if self._pending.get(device_id) is beat:  # written: unless a newer one came meanwhile
            del self._pending[device_id]
        return reply

    async def steady(self, device_id: str, hb: Heartbeat, now: dt.datetime) -> HeartbeatReply | None:
        """The reply to a beat that says nothing new (kept in memory, written with the next
        flush), or None when it must be written now (:meth:`record` does). The one rule for
        both the route and the fast path (``signage.fastpath``)."""
        known = self._known.get(device_id)
        fresh = self._manifests.fresh_manifest(device_id, now)
        if (
            known is None
            or known.status != status_of(hb)
            or self._screenshots.due(known.screenshot_requested, known.screenshot_at, now)
            or fresh is None
            or (hb.update is not None and self._update_hook is not None)
        ):
            return None
        self._pending[device_id] = Beat(device_id, hb, now)
        if self._clock.monotonic() >= self._due:
            await self.flush()
        return HeartbeatReply(server_time=now, screenshot_requested=False, manifest_version=fresh.version)

    def _write_now(self, beat: Beat) -> tuple[HeartbeatReply, _Known]:
        """Blocking (a worker thread): the beat written, the device's manifest version for the reply."""
        with self._sessions() as session:
            device = session.get(Device, beat.device_id)
            if device is None or device.revoked_at is not None:
                raise Unauthorized("unknown or revoked device")
            write(session.connection(), [beat])
            session.commit()
            manifest, _ = self._manifests.get(session, device, beat.seen_at, days=self._days)
            known = _Known(status_of(beat.heartbeat), device.screenshot_requested, device.screenshot_at)
            hook = self._update_hook
            update = hook(session, device, beat.heartbeat.update, beat.seen_at) if hook is not None else None
        wanted = self._screenshots.due(known.screenshot_requested, known.screenshot_at, beat.seen_at)
        reply = HeartbeatReply(
            server_time=beat.seen_at,
            screenshot_requested=wanted,
            manifest_version=manifest.version,
            update=update,
        )
        return reply, known

    async def flush(self) -> None:
        """Write every device's latest beat not written yet (one transaction)."""
        if self._flushing:
            return
        self._flushing = True
        self._due = self._clock.monotonic() + self._flush_s
        beats, self._pending = list(self._pending.values()), {}
        try:
            owed = await self._writes.write(FLUSH, beats)
        except Exception:  # boundary: a flush that fails keeps its beats for the next one
            log.exception("could not write %d heartbeat(s); keeping them for the next flush", len(beats))
            for b in beats:
                self._pending.setdefault(b.device_id, b)
            return
        finally:
            self._flushing = False
        self._learn(beats, owed)

    def flush_blocking(self) -> None:
        """The last flush, at shutdown (the event loop no longer serves requests)."""
        beats, self._pending = list(self._pending.values()), {}
        if beats:
            self._learn(beats, self._writes.write_blocking(FLUSH, beats))

    def _learn(self, beats: list[Beat], owed: frozenset[str]) -> None:
        for b in beats:
            before = self._known.get(b.device_id)
            at = before.screenshot_at if before is not None else None
            self._known[b.device_id] = _Known(status_of(b.heartbeat), b.device_id in owed, at)
        for device_id in owed:  # asked in another process: answered by the next beat
            known = self._known.get(device_id)
            if known is not None and not known.screenshot_requested:
                self._known[device_id] = _Known(known.status, True, known.screenshot_at)
        self.flushes += 1

    def forget(self, device_ids: set[Any]) -> None:
        """Rows changed here through the ORM (a screenshot asked for or received): ask again."""
        for device_id in device_ids:
            self._known.pop(device_id, None)

    async def run(self) -> None:
        """The background flush: the beats of a quiet spell are written within ``flush_s`` too."""
        while True:
            await asyncio.sleep(self._flush_s)
            if self._pending:
                await self.flush()
