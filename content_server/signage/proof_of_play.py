"""Proof of play you can bill on: which plays a device claims are believed.

Advertisers pay for plays, so a device's word is checked against what the server itself sent it.
Each time a manifest version is first served to a device (poll, heartbeat hint or USB bundle) the
server keeps a compact :class:`ServedManifest`: the version, from when it was served until it
expires, each item's longest possible slot, and each campaign's and announcement's items and
dates. A claimed play is accepted only when

- its ids are well formed (:data:`ID_RE`), so nothing like ``=cmd|'/c calc'!A1`` is ever stored;
- it does not end in the future (beyond a small clock skew) and is not older than the offline
  window (players keep plays for 7 days);
- a manifest served to that device covered its start and held the item, and the campaign (or
  announcement) it names, with the item among its items and the play within its dates;
- it lasts no longer than the item's longest slot (a video: its length), plus a small tolerance;
- it does not overlap the device's other plays (one screen shows one thing at a time).

Pure: the service passes the device's served manifests and its stored plays near the batch, and
counts the refusals per :class:`Reason` for the response and the fleet's alerts.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from schedules.model import ItemKind
from schedules.protocol.device import Manifest, PlayRecord
from schedules.wallclock import local_to_utc, zone

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
SOURCE_ID_MAX = 32  # campaign and announcement ids (their columns' width)
PLAYER_ITEMS = {"builtin-default": 60.0}  # made by the player itself when a screen has no default slide
IDLE_RECHECK_S = 60.0  # the player re-plans a default slide at least this often


class Reason(StrEnum):
    BAD_ID = "bad_id"
    FUTURE = "future"
    TOO_OLD = "too_old"
    NOT_SERVED = "not_served"  # no manifest had been served to the device for that time
    UNKNOWN_ITEM = "unknown_item"
    UNKNOWN_CAMPAIGN = "unknown_campaign"  # or the item is not one of the campaign's
    UNKNOWN_ANNOUNCEMENT = "unknown_announcement"
    OUTSIDE_DATES = "outside_dates"  # before or after the campaign's flight / announcement's validity
    TOO_LONG = "too_long"
    OVERLAPS = "overlaps"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Window(_Model):
    """A campaign's or announcement's items and when they may play (UTC)."""

    item_ids: tuple[str, ...]
    start: dt.datetime
    end: dt.datetime | None = None


class ServedManifest(_Model):
    """What the server sent one device: kept for the offline window, stored as JSON."""

    version: str
    served_from: dt.datetime
    valid_until: dt.datetime
    items: dict[str, float]  # item id -> longest slot in seconds
    campaigns: dict[str, Window] = {}
    announcements: dict[str, Window] = {}


@dataclass(frozen=True)
class PlayPolicy:
    clock_skew: dt.timedelta = dt.timedelta(minutes=2)
    offline_window: dt.timedelta = dt.timedelta(days=7)
    overlap_tolerance_s: float = 1.0  # a wall-clock step or a late timer between two plays
    longer_by_s: float = 2.0  # a late timer: allowed above the slot ...
    longer_by_ratio: float = 0.05  # ... plus this share of it

    def longest(self, slot_s: float) -> float:
        return slot_s * (1 + self.longer_by_ratio) + self.longer_by_s


def served_record(manifest: Manifest, served_at: dt.datetime) -> ServedManifest:
    """The compact history entry for ``manifest``, first served at ``served_at``."""
    cat = manifest.catalogue
    rules = list(cat.house_rules.values())
    dwell = max((r.min_dwell_s for r in rules), default=0.0)
    loop = max((float(r.loop_seconds) for r in rules), default=0.0)
    stand_ins = set(cat.filler_item_ids) | ({manifest.default_item_id} if manifest.default_item_id else set())
    items: dict[str, float] = {}
    for item in cat.items.values():
        # a video is never stretched (cut short at most); a picture or text is shown at least the
        # dwell, and an announcement absorbs a remainder of a loop shorter than one dwell
        slot = item.duration_s if item.kind is ItemKind.VIDEO else max(item.duration_s, dwell) + dwell
        if item.id in stand_ins:
            # the last filler slide of a loop takes what is left of it; a default slide one re-plan
            slot = max(slot, loop, IDLE_RECHECK_S)
        items[item.id] = round(slot, 3)
    tz = zone(manifest.screen.timezone)
    campaigns = {
        c.id: Window(
            item_ids=c.item_ids,
            start=local_to_utc(c.flight_start, dt.time(), tz),
            end=local_to_utc(c.flight_end + dt.timedelta(days=1), dt.time(), tz),
        )
        for c in cat.campaigns
    }
    announcements = {
        a.id: Window(item_ids=a.item_ids, start=a.valid_from, end=a.valid_until) for a in cat.announcements
    }
    return ServedManifest(
        version=manifest.version,
        served_from=served_at,
        valid_until=manifest.valid_until,
        items=items,
        campaigns=campaigns,
        announcements=announcements,
    )


@dataclass(frozen=True)
class Interval:
    start: dt.datetime
    end: dt.datetime

    @classmethod
    def of(cls, started_at: dt.datetime, duration_s: float) -> Interval:
        return cls(started_at, started_at + dt.timedelta(seconds=duration_s))


@dataclass(frozen=True)
class Judgement:
    """One verdict per record, in the order given (``None``: accepted)."""

    verdicts: tuple[Reason | None, ...]

    @property
    def accepted(self) -> int:
        return sum(1 for v in self.verdicts if v is None)

    @property
    def refused(self) -> Counter[str]:
        return Counter(str(v) for v in self.verdicts if v is not None)


def _bad_ids(r: PlayRecord) -> bool:
    if not ID_RE.fullmatch(r.item_id):
        return True
    for source in (r.campaign_id, r.announcement_id):
        if source is not None and (len(source) > SOURCE_ID_MAX or not ID_RE.fullmatch(source)):
            return True
    return False


def _against(r: PlayRecord, m: ServedManifest, policy: PlayPolicy) -> Reason | None:
    """Why manifest ``m`` does not vouch for ``r`` (None: it does)."""
    slot = m.items.get(r.item_id)
    if slot is None and r.campaign_id is None and r.announcement_id is None:
        slot = PLAYER_ITEMS.get(r.item_id)
    if slot is None:
        return Reason.UNKNOWN_ITEM
    for source_id, windows, unknown in (
        (r.campaign_id, m.campaigns, Reason.UNKNOWN_CAMPAIGN),
        (r.announcement_id, m.announcements, Reason.UNKNOWN_ANNOUNCEMENT),
    ):
        if source_id is None:
            continue
        window = windows.get(source_id)
        if window is None or r.item_id not in window.item_ids:
            return unknown
        start = r.started_at
        if start < window.start - policy.clock_skew or (
            window.end is not None and start >= window.end + policy.clock_skew
        ):
            return Reason.OUTSIDE_DATES
    if r.duration_s > policy.longest(slot):
        return Reason.TOO_LONG
    return None


# the more checks a record passed against some manifest, the more precise the reason to give
_ORDER = (
    Reason.NOT_SERVED,
    Reason.UNKNOWN_ITEM,
    Reason.UNKNOWN_CAMPAIGN,
    Reason.UNKNOWN_ANNOUNCEMENT,
    Reason.OUTSIDE_DATES,
    Reason.TOO_LONG,
)


def _vouched(r: PlayRecord, served: Sequence[ServedManifest], policy: PlayPolicy) -> Reason | None:
    best = Reason.NOT_SERVED
    for m in served:
        if not m.served_from - policy.clock_skew <= r.started_at < m.valid_until + policy.clock_skew:
            continue
        why = _against(r, m, policy)
        if why is None:
            return None
        best = max(best, why, key=_ORDER.index)
    return best


def _overlaps(span: Interval, taken: Iterable[Interval], tolerance: dt.timedelta) -> bool:
    return any(span.start < t.end - tolerance and t.start < span.end - tolerance for t in taken)


def judge(
    records: Sequence[PlayRecord],
    served: Sequence[ServedManifest],
    stored: Sequence[Interval],
    *,
    now: dt.datetime,
    policy: PlayPolicy,
) -> Judgement:
    """Verdicts for new (not yet stored) records of one device.

    ``stored`` are the device's accepted plays that may touch the batch (see :func:`span`).
    Records are taken in time order, so of two overlapping claims the earlier one is believed.
    """
    verdicts: list[Reason | None] = [None] * len(records)
    taken = list(stored)
    tolerance = dt.timedelta(seconds=policy.overlap_tolerance_s)
    order = sorted(range(len(records)), key=lambda i: (records[i].started_at, str(records[i].id)))
    for i in order:
        r = records[i]
        why: Reason | None
        if _bad_ids(r):
            why = Reason.BAD_ID
        elif not believable_start(r, now, policy):
            # (compared without adding to a date a device chose: year 1 or 9999 must not overflow)
            too_old = r.started_at < now - policy.offline_window - policy.clock_skew
            why = Reason.TOO_OLD if too_old else Reason.FUTURE
        else:
            why = _vouched(r, served, policy)
        if why is None:
            play = Interval.of(r.started_at, r.duration_s)
            if _overlaps(play, taken, tolerance):
                why = Reason.OVERLAPS
            else:
                taken.append(play)
        verdicts[i] = why
    return Judgement(tuple(verdicts))


def believable_start(r: PlayRecord, now: dt.datetime, policy: PlayPolicy) -> bool:
    """Neither older than the offline window nor ending in the future (``FUTURE``/``TOO_OLD``)."""
    earliest = now - policy.offline_window - policy.clock_skew
    return earliest <= r.started_at <= now + policy.clock_skew - dt.timedelta(seconds=r.duration_s)


def span(
    records: Sequence[PlayRecord], longest_play: dt.timedelta, *, now: dt.datetime, policy: PlayPolicy
) -> Interval | None:
    """The time range whose stored plays can overlap the believable ``records`` (for the service's
    query); None when none is (a date a device made up never reaches the database)."""
    plausible = [r for r in records if believable_start(r, now, policy)]
    if not plausible:
        return None
    start = min(r.started_at for r in plausible) - longest_play
    end = max(r.started_at + dt.timedelta(seconds=r.duration_s) for r in plausible)
    return Interval(start, end)


def still_needed(m: ServedManifest, now: dt.datetime, policy: PlayPolicy) -> bool:
    """A served manifest older than the offline window can vouch for nothing any more."""
    return m.valid_until + policy.clock_skew > now - policy.offline_window - policy.clock_skew

