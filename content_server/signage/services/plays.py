"""Proof-of-play ingest (believed plays only, idempotent by record id) and reports that add up exactly."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from content_server.core.csvfile import write_csv
from content_server.core.errors import NotFound
from content_server.core.models import User
from content_server.signage import proof_of_play as proof
from content_server.signage.models import CampaignRow, Device, PlayRefusalRow, PlayRow, ServedManifestRow
from content_server.signage.proof_of_play import Interval, PlayPolicy, ServedManifest
from schedules.protocol.device import Manifest, PlayBatch, PlayBatchResult, PlayRecord

log = logging.getLogger(__name__)


LONGEST_PLAY = dt.timedelta(hours=2)  # above any slot (items last at most an hour): the overlap query's reach


def _row(device: Device, r: PlayRecord, now: dt.datetime) -> PlayRow:
    return PlayRow(
        id=str(r.id),
        device_id=device.id,
        item_id=r.item_id,
        campaign_id=r.campaign_id,
        announcement_id=r.announcement_id,
        started_at=r.started_at.astimezone(dt.UTC),
        duration_s=r.duration_s,
        completed=r.completed,
        received_at=now,
    )


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


def _served(session: Session, device: Device, now: dt.datetime, policy: PlayPolicy) -> list[ServedManifest]:
    """The device's served manifests that can still vouch for a play (the columns are authoritative
    for when each was served and until when); the older ones are dropped."""
    rows = session.scalars(select(ServedManifestRow).where(ServedManifestRow.device_id == device.id)).all()
    served: list[ServedManifest] = []
    for row in rows:
        record = ServedManifest.model_validate(row.record).model_copy(
            update={"served_from": row.served_from, "valid_until": row.valid_until}
        )
        if proof.still_needed(record, now, policy):
            served.append(record)
        else:
            session.delete(row)
    return served


def _stored_near(session: Session, device: Device, records: list[PlayRecord]) -> list[Interval]:
    reach = proof.span(records, LONGEST_PLAY)
    if reach is None:
        return []
    q = select(PlayRow.started_at, PlayRow.duration_s).where(
        PlayRow.device_id == device.id, PlayRow.started_at >= reach.start, PlayRow.started_at < reach.end
    )
    return [Interval.of(start, seconds) for start, seconds in session.execute(q)]


def _count_refusals(session: Session, device: Device, refused: Counter[str], now: dt.datetime) -> None:
    day = now.astimezone(dt.UTC).date()
    for reason, n in refused.items():
        row = session.get(PlayRefusalRow, (device.id, day, reason))
        if row is None:
            session.add(PlayRefusalRow(device_id=device.id, day=day, reason=reason, count=n, last_at=now))
        else:
            row.count += n
            row.last_at = now


def ingest(
    session: Session, device: Device, batch: PlayBatch, *, now: dt.datetime, policy: PlayPolicy
) -> PlayBatchResult:
    """Store each believable record once (``proof_of_play``); count the others by reason.

    A replayed or overlapping batch counts only its new records; refused ones are acknowledged
    too (sending them again would not change the verdict) and counted per device and day.
    """
    ids = [str(r.id) for r in batch.records]
    seen = set(session.scalars(select(PlayRow.id).where(PlayRow.id.in_(ids)))) if ids else set()
    fresh: list[PlayRecord] = []
    for r in batch.records:
        if str(r.id) not in seen:
            seen.add(str(r.id))
            fresh.append(r)
    duplicates = len(batch.records) - len(fresh)
    served = _served(session, device, now, policy)
    judgement = proof.judge(fresh, served, _stored_near(session, device, fresh), now=now, policy=policy)
    believed = [r for r, why in zip(fresh, judgement.verdicts, strict=True) if why is None]
    refused = judgement.refused
    if refused:
        log.info("device %s: refused %d play(s): %s", device.id, sum(refused.values()), dict(refused))
        _count_refusals(session, device, refused, now)
    for r in believed:
        session.add(_row(device, r, now))
    try:
        session.commit()
    except IntegrityError:
        # a concurrent retry of the same batch won the race: store record by record
        session.rollback()
        return _ingest_one_by_one(session, device, believed, refused, duplicates, now=now)
    return _result(len(believed), duplicates, refused)


def _result(accepted: int, duplicates: int, refused: Counter[str]) -> PlayBatchResult:
    return PlayBatchResult(
        accepted=accepted, duplicates=duplicates, refused=sum(refused.values()), refused_reasons=dict(refused)
    )


def _ingest_one_by_one(
    session: Session,
    device: Device,
    believed: list[PlayRecord],
    refused: Counter[str],
    duplicates: int,
    *,
    now: dt.datetime,
) -> PlayBatchResult:
    accepted = 0
    if refused:
        _count_refusals(session, device, refused, now)
    for r in believed:
        if session.get(PlayRow, str(r.id)) is not None:
            duplicates += 1
            continue
        try:
            with session.begin_nested():
                session.add(_row(device, r, now))
            accepted += 1
        except IntegrityError:
            duplicates += 1
    session.commit()
    return _result(accepted, duplicates, refused)


def refusals_since(session: Session, since: dt.date) -> dict[str, dict[str, int]]:
    """Refused plays per device and reason from ``since`` (UTC days): what the fleet's alerts read."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    q = select(PlayRefusalRow).where(PlayRefusalRow.day >= since)
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
