"""Proof-of-play ingest: believed plays only (``proof_of_play``), idempotent by record id,
set-based and group-committed; reports that add up exactly."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, delete, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from content_server.core.csvfile import write_csv
from content_server.core.db import insert_new
from content_server.core.errors import NotFound
from content_server.core.group_commit import WriteKind
from content_server.core.models import User
from content_server.signage import proof_of_play as proof
from content_server.signage.models import CampaignRow, Device, PlayRefusalRow, PlayRow, ServedManifestRow
from content_server.signage.proof_of_play import Interval, PlayPolicy, ServedManifest
from schedules.protocol.device import Manifest, PlayBatch, PlayBatchResult, PlayRecord

log = logging.getLogger(__name__)


LONGEST_PLAY = dt.timedelta(hours=2)  # above any slot (items last at most an hour): the overlap query's reach
_PLAYS = cast(Table, PlayRow.__table__)
_SERVED = cast(Table, ServedManifestRow.__table__)
_REFUSALS = cast(Table, PlayRefusalRow.__table__)


@dataclass(frozen=True)
class PlaySubmission:
    """One request's batch, from the device its key belongs to, received at ``now``, judged by
    ``policy``."""

    device_id: str
    batch: PlayBatch
    now: dt.datetime
    policy: PlayPolicy


def _row(device_id: str, r: PlayRecord, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": str(r.id),
        "device_id": device_id,
        "item_id": r.item_id,
        "campaign_id": r.campaign_id,
        "announcement_id": r.announcement_id,
        "started_at": r.started_at.astimezone(dt.UTC),
        "duration_s": r.duration_s,
        "completed": r.completed,
        "received_at": now,
    }


def remember_served(session: Session, device: Device, manifest: Manifest, now: dt.datetime) -> bool:
    """Keep that ``manifest`` was served to ``device`` (once per version); True when it is new.

    Plays are checked against these records (``proof_of_play``). A version the device had before
    the records existed counts from when the server first computed it for the device.
    """
    exists = session.scalar(
        select(ServedManifestRow.version).where(
            ServedManifestRow.device_id == device.id, ServedManifestRow.version == manifest.version
        )
    )
    if exists is not None:
        return False
    since = now
    if device.served_manifest == manifest.version and device.served_manifest_since is not None:
        since = min(now, device.served_manifest_since)
    record = proof.served_record(manifest, since)
    try:
        with session.begin_nested():
            session.add(
                ServedManifestRow(
                    device_id=device.id,
                    version=manifest.version,
                    served_from=since,
                    valid_until=manifest.valid_until,
                    record=record.model_dump(mode="json"),
                )
            )
    except IntegrityError:
        return False  # another process recorded it first
    return True


Key = tuple[str, str, dt.datetime, dt.datetime]  # (device, version, served from, valid until)


class _ServedMemory:
    """Served-manifest records as this process last read them: parsed once, and each device's
    list, so a steady device's batch is judged without reading them again.

    A (device, version) row's record never changes (when it was served and until when are
    columns, part of the key), and parsing its JSON for every batch cost more than judging the
    batch. A device's list can be behind the database (a manifest served since, perhaps by
    another process), never ahead of what was served: a play is believed when *any* record
    vouches for it (``proof_of_play``), so a list that is behind can only refuse. A batch judged
    from memory is therefore kept only when nothing in it is refused; otherwise its device's
    records are read afresh and it is judged again, as if memory were not there.
    """

    def __init__(self, size: int = 20_000) -> None:
        self._size = size
        self._records: dict[Key, ServedManifest] = {}
        self._devices: dict[str, tuple[Key, ...]] = {}

    def get(self, key: Key) -> ServedManifest | None:
        return self._records.get(key)

    def put(self, key: Key, record: ServedManifest) -> None:
        _bounded(self._records, self._size)
        self._records[key] = record

    def of_device(self, device_id: str, now: dt.datetime, policy: PlayPolicy) -> list[ServedManifest] | None:
        """The device's records still able to vouch (as last read), or None when not known here."""
        keys = self._devices.get(device_id)
        if keys is None:
            return None
        records = [self._records.get(k) for k in keys]
        if any(r is None for r in records):
            return None
        return [r for r in records if r is not None and proof.still_needed(r, now, policy)]

    def remember(self, device_id: str, keys: list[Key]) -> None:
        _bounded(self._devices, self._size)
        self._devices[device_id] = tuple(keys)


def _bounded(entries: dict[Any, Any], size: int) -> None:
    """Make room for one more entry: the oldest goes."""
    if len(entries) >= size:
        del entries[next(iter(entries))]


_MEMORY = _ServedMemory()


def _served(
    conn: Connection, device_ids: set[str], now: dt.datetime, policy: PlayPolicy
) -> dict[str, list[ServedManifest]]:
    """Each device's served manifests that can still vouch for a play, read afresh (the columns
    are authoritative for when each was served and until when); the older ones are deleted."""
    c = _SERVED.c
    q = select(c.device_id, c.version, c.served_from, c.valid_until).where(c.device_id.in_(device_ids))
    keys: list[Key] = [(d, v, f, u) for d, v, f, u in conn.execute(q)]
    missing = {(k[0], k[1]): k for k in keys if _MEMORY.get(k) is None}
    if missing:
        records = select(c.device_id, c.version, c.record).where(
            tuple_(c.device_id, c.version).in_(list(missing))
        )
        for device_id, version, raw in conn.execute(records):
            key = missing[(device_id, version)]
            parsed = ServedManifest.model_validate(raw)
            _MEMORY.put(key, parsed.model_copy(update={"served_from": key[2], "valid_until": key[3]}))
    served: dict[str, list[ServedManifest]] = {d: [] for d in device_ids}
    kept: dict[str, list[Key]] = {d: [] for d in device_ids}
    expired: list[tuple[str, str]] = []
    for key in keys:
        record = _MEMORY.get(key)
        if record is None:  # deleted meanwhile (an older one, by another process)
            continue
        if proof.still_needed(record, now, policy):
            served[key[0]].append(record)
            kept[key[0]].append(key)
        else:
            expired.append((key[0], key[1]))
    if expired:
        conn.execute(delete(_SERVED).where(tuple_(c.device_id, c.version).in_(expired)))
    for device_id, device_keys in kept.items():
        _MEMORY.remember(device_id, device_keys)
    return served


def _judged(
    conn: Connection,
    fresh: dict[str, list[tuple[int, PlayRecord]]],
    stored_near: dict[str, list[Interval]],
    now: dict[str, dt.datetime],
    policy: PlayPolicy,
) -> dict[str, proof.Judgement]:
    """Each device's verdicts on its new records: from the served records in memory when they
    refuse nothing, else from the records read afresh (see :class:`_ServedMemory`)."""
    verdicts: dict[str, proof.Judgement] = {}
    unsure: set[str] = set()
    for device_id, claims in fresh.items():
        remembered = _MEMORY.of_device(device_id, now[device_id], policy)
        if remembered is None:
            unsure.add(device_id)
            continue
        judgement = proof.judge([r for _, r in claims], remembered, stored_near[device_id],
                                now=now[device_id], policy=policy)  # fmt: skip
        if any(why is not None for why in judgement.verdicts):
            unsure.add(device_id)
        else:
            verdicts[device_id] = judgement
    if unsure:
        served = _served(conn, unsure, max(now[d] for d in unsure), policy)
        for device_id in unsure:
            records = [r for _, r in fresh[device_id]]
            verdicts[device_id] = proof.judge(
                records, served[device_id], stored_near[device_id], now=now[device_id], policy=policy
            )
    return verdicts


def _stored(
    conn: Connection,
    claims: dict[str, list[PlayRecord]],
    ids: list[str],
    now: dict[str, dt.datetime],
    policy: PlayPolicy,
) -> tuple[set[str], dict[str, list[Interval]]]:
    """Which of ``ids`` are stored already, and each device's stored plays that can overlap its
    ``claims`` (``proof_of_play.span``): one statement for the whole group, not one per device."""
    reaches: dict[str, Interval] = {}
    near = []
    for device_id, records in claims.items():
        reach = proof.span(records, LONGEST_PLAY, now=now[device_id], policy=policy)
        if reach is not None:
            reaches[device_id] = reach
            near.append(
                and_(
                    _PLAYS.c.device_id == device_id,
                    _PLAYS.c.started_at >= reach.start,
                    _PLAYS.c.started_at < reach.end,
                )
            )
    q = select(_PLAYS.c.id, _PLAYS.c.device_id, _PLAYS.c.started_at, _PLAYS.c.duration_s).where(
        or_(_PLAYS.c.id.in_(ids), *near)
    )
    stored: set[str] = set()
    intervals: dict[str, list[Interval]] = {d: [] for d in claims}
    for play_id, device_id, started_at, seconds in conn.execute(q):
        stored.add(play_id)
        reach = reaches.get(device_id)
        if reach is not None and reach.start <= started_at < reach.end:
            intervals[device_id].append(Interval.of(started_at, seconds))
    return stored, intervals


def minute_of(at: dt.datetime) -> dt.datetime:
    """The start of ``at``'s UTC minute: the refusal counters' bucket."""
    return at.astimezone(dt.UTC).replace(second=0, microsecond=0)


def _count_refusals(
    conn: Connection,
    refused: dict[tuple[str, dt.datetime], Counter[str]],
    at: dict[tuple[str, dt.datetime], dt.datetime],
) -> None:
    """Add the refused records to their (device, UTC minute, reason) counters, one statement."""
    rows = [
        {"device_id": device_id, "minute": minute, "reason": reason, "count": n,
         "last_at": at[(device_id, minute)]}
        for (device_id, minute), reasons in refused.items()
        for reason, n in reasons.items()
    ]  # fmt: skip
    if not rows:
        return
    build = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = build(_REFUSALS)
    stmt = stmt.on_conflict_do_update(
        index_elements=[_REFUSALS.c.device_id, _REFUSALS.c.minute, _REFUSALS.c.reason],
        set_={"count": _REFUSALS.c.count + stmt.excluded.count, "last_at": stmt.excluded.last_at},
    )
    conn.execute(stmt, rows)


def ingest(conn: Connection, submissions: list[PlaySubmission]) -> list[PlayBatchResult]:
    """Store each believable record once (``proof_of_play.judge``), whichever batch, request,
    retry or process brings it; count the others by reason; one result per submission. Every
    proof-of-play write goes through here (the group-commit writer calls it with the batches of
    many requests: see ``INGEST``); it does not commit.

    A record already stored (an earlier send of the same batch, here or in another process) is a
    duplicate; within one call the first submission of an id counts. A device's new records of
    the whole group are judged together, so two overlapping claims in two requests of the same
    group are caught as they would be one after the other. Refused records are acknowledged too
    (sending them again would not change the verdict) and counted per device and UTC minute. The
    believed ones go in with ``INSERT … ON CONFLICT (id) DO NOTHING RETURNING id``: one another
    process stored a moment ago is a duplicate, not an error.
    """
    ids = list({str(r.id) for sub in submissions for r in sub.batch.records})
    claims: dict[str, list[PlayRecord]] = defaultdict(list)
    now: dict[str, dt.datetime] = {}
    for sub in submissions:
        claims[sub.device_id].extend(sub.batch.records)
        now[sub.device_id] = max(sub.now, now.get(sub.device_id, sub.now))
    policy = submissions[0].policy  # one policy per process
    stored_before, stored_near = _stored(conn, claims, ids, now, policy) if ids else (set(), {})
    seen = set(stored_before)
    fresh: dict[str, list[tuple[int, PlayRecord]]] = defaultdict(list)  # device -> (submission, record)
    for n, sub in enumerate(submissions):
        for r in sub.batch.records:
            if str(r.id) not in seen:
                seen.add(str(r.id))
                fresh[sub.device_id].append((n, r))
    accepted = [0] * len(submissions)
    refused = [Counter[str]() for _ in submissions]
    rows: list[dict[str, Any]] = []
    owner: list[int] = []
    if fresh:
        for device_id, judgement in _judged(conn, fresh, stored_near, now, policy).items():
            for (n, r), why in zip(fresh[device_id], judgement.verdicts, strict=True):
                if why is None:
                    rows.append(_row(device_id, r, submissions[n].now))
                    owner.append(n)
                else:
                    refused[n][str(why)] += 1
    by_minute: dict[tuple[str, dt.datetime], Counter[str]] = defaultdict(Counter)
    last_at: dict[tuple[str, dt.datetime], dt.datetime] = {}
    for sub, reasons in zip(submissions, refused, strict=True):
        if reasons:
            log.info("device %s: refused %d play(s): %s", sub.device_id, sum(reasons.values()), dict(reasons))
            key = (sub.device_id, minute_of(sub.now))
            by_minute[key].update(reasons)
            last_at[key] = max(sub.now, last_at.get(key, sub.now))
    _count_refusals(conn, by_minute, last_at)
    inserted = set(insert_new(conn, _PLAYS, rows, key="id")) if rows else set()
    for row, n in zip(rows, owner, strict=True):
        if row["id"] in inserted:
            accepted[n] += 1
    return [
        PlayBatchResult(
            accepted=a,
            duplicates=len(sub.batch.records) - a - sum(why.values()),
            refused=sum(why.values()),
            refused_reasons=dict(why),
        )
        for a, why, sub in zip(accepted, refused, submissions, strict=True)
    ]


LINGER_S = 0.05  # a batch waits this long for others to share its transaction (players do not wait on it)
INGEST: WriteKind[PlaySubmission, PlayBatchResult] = WriteKind("plays", ingest, linger_s=LINGER_S)


def refusals_since(session: Session, since: dt.datetime) -> dict[str, dict[str, int]]:
    """Refused plays per device and reason counted from ``since`` (to the minute): the refused-plays
    report reads whole UTC days, the fleet's ``refused_plays`` alert its last N minutes."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    q = select(PlayRefusalRow).where(PlayRefusalRow.minute >= minute_of(since))
    for row in session.scalars(q):
        out[row.device_id][row.reason] = out[row.device_id].get(row.reason, 0) + row.count
    return dict(out)


@dataclass(frozen=True)
class ReportRow:
    campaign_id: str
    screen_id: str
    day: dt.date  # in the zone the report was asked in (UTC for the JSON API)
    hour: int | None  # that zone's hour when grouped by hour
    plays: int
    completed_plays: int
    seconds: float


def report(
    session: Session,
    user: User,
    *,
    campaign_id: str | None,
    screen_id: str | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    by_hour: bool,
    tz: dt.tzinfo = dt.UTC,
) -> list[ReportRow]:
    """Plays and seconds on air per campaign, screen and day (or hour) in ``tz``; advertisers see
    their own. The portal asks in the community's zone, so a day is the day people lived."""
    own = select(CampaignRow.id)
    if user.role != "operator":
        own = own.where(CampaignRow.advertiser_id == user.id)
    if campaign_id is not None:
        allowed = session.scalar(own.where(CampaignRow.id == campaign_id))
        if allowed is None:
            raise NotFound("unknown campaign")
    q = select(PlayRow).where(PlayRow.campaign_id.is_not(None))
    if user.role != "operator":
        q = q.where(PlayRow.campaign_id.in_(own))
    if campaign_id is not None:
        q = q.where(PlayRow.campaign_id == campaign_id)
    if screen_id is not None:
        q = q.where(PlayRow.device_id == screen_id)
    if start is not None:
        q = q.where(PlayRow.started_at >= start)
    if end is not None:
        q = q.where(PlayRow.started_at < end)
    totals: dict[tuple[str, str, dt.date, int | None], list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for p in session.scalars(q):
        t = p.started_at.astimezone(tz)
        key = (p.campaign_id or "", p.device_id, t.date(), t.hour if by_hour else None)
        acc = totals[key]
        acc[0] += 1
        acc[1] += 1 if p.completed else 0
        acc[2] += p.duration_s
    return [
        ReportRow(c, s, d, h, int(v[0]), int(v[1]), round(v[2], 3))
        for (c, s, d, h), v in sorted(
            totals.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2], kv[0][3] or 0)
        )
    ]


def to_csv(rows: list[ReportRow]) -> str:
    return write_csv(
        ["campaign_id", "screen_id", "date_utc", "hour_utc", "plays", "completed_plays", "seconds"],
        ([r.campaign_id, r.screen_id, r.day, r.hour, r.plays, r.completed_plays, f"{r.seconds:.3f}"]
         for r in rows),
    )  # fmt: skip


@dataclass(frozen=True)
class NamedRow:
    """A report row as people read it: names instead of ids."""

    row: ReportRow
    campaign: str
    advertiser: str
    screen: str
    screen_class: str  # the class code; pages and files name it from the translation table


def named(session: Session, rows: list[ReportRow]) -> list[NamedRow]:
    """The report's rows with campaign, advertiser and screen names (one query per table)."""
    campaigns = {c.id: c for c in session.scalars(select(CampaignRow).where(
        CampaignRow.id.in_({r.campaign_id for r in rows})))} if rows else {}  # fmt: skip
    screen_ids = {r.screen_id for r in rows}
    devices = {d.id: d for d in session.scalars(select(Device).where(Device.id.in_(screen_ids)))}
    owners = {u.id: u for u in session.scalars(select(User).where(
        User.id.in_({c.advertiser_id for c in campaigns.values()})))} if campaigns else {}  # fmt: skip
    out = []
    for r in rows:
        c, d = campaigns.get(r.campaign_id), devices.get(r.screen_id)
        owner = owners.get(c.advertiser_id) if c is not None else None
        out.append(
            NamedRow(
                r,
                campaign=(c.name or c.id) if c is not None else r.campaign_id,
                advertiser=(owner.display_name or owner.username) if owner is not None else "",
                screen=(d.name or d.id) if d is not None else r.screen_id,
                screen_class=d.screen_class if d is not None else "",
            )
        )
    return out


def named_csv(header: list[str], rows: list[NamedRow], class_names: dict[str, str]) -> str:
    """The portal's proof-of-play file: local date and hour, names, the reader's headers."""
    return write_csv(
        header,
        ([n.row.day, "" if n.row.hour is None else f"{n.row.hour:02d}:00", n.campaign, n.advertiser, n.screen,
          class_names.get(n.screen_class, n.screen_class), n.row.plays, n.row.completed_plays,
          round(n.row.seconds, 1)] for n in rows),
    )  # fmt: skip
