"""Proof-of-play ingest (idempotent by record id) and reports that add up exactly."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from content_server.core.errors import NotFound
from content_server.core.models import User
from content_server.signage.models import CampaignRow, Device, PlayRow
from schedules.protocol.device import PlayBatch, PlayBatchResult, PlayRecord


def _row(device: Device, r: PlayRecord, now: dt.datetime) -> PlayRow:
    return PlayRow(
        id=str(r.id),
        device_id=device.id,
        item_id=r.item_id[:64],
        campaign_id=r.campaign_id[:32] if r.campaign_id else None,
        announcement_id=r.announcement_id[:32] if r.announcement_id else None,
        started_at=r.started_at.astimezone(dt.UTC),
        duration_s=r.duration_s,
        completed=r.completed,
        received_at=now,
    )


def ingest(session: Session, device: Device, batch: PlayBatch, *, now: dt.datetime) -> PlayBatchResult:
    """Store each record id once; a replayed or overlapping batch only counts the new ones."""
    ids = [str(r.id) for r in batch.records]
    seen = set(session.scalars(select(PlayRow.id).where(PlayRow.id.in_(ids)))) if ids else set()
    accepted = duplicates = 0
    for r in batch.records:
        rid = str(r.id)
        if rid in seen:
            duplicates += 1
            continue
        seen.add(rid)
        session.add(_row(device, r, now))
        accepted += 1
    try:
        session.commit()
    except IntegrityError:
        # a concurrent retry of the same batch won the race: count record by record
        session.rollback()
        return _ingest_one_by_one(session, device, batch, now=now)
    return PlayBatchResult(accepted=accepted, duplicates=duplicates)


def _ingest_one_by_one(
    session: Session, device: Device, batch: PlayBatch, *, now: dt.datetime
) -> PlayBatchResult:
    accepted = duplicates = 0
    for r in batch.records:
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
    return PlayBatchResult(accepted=accepted, duplicates=duplicates)


@dataclass(frozen=True)
class ReportRow:
    campaign_id: str
    screen_id: str
    day: dt.date
    hour: int | None  # UTC hour when grouped by hour
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
) -> list[ReportRow]:
    """Plays and seconds on air per campaign, screen and UTC day (or hour); advertisers see their own."""
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
        t = p.started_at.astimezone(dt.UTC)
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
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["campaign_id", "screen_id", "date_utc", "hour_utc", "plays", "completed_plays", "seconds"])
    for r in rows:
        w.writerow([r.campaign_id, r.screen_id, r.day.isoformat(), "" if r.hour is None else r.hour,
                    r.plays, r.completed_plays, f"{r.seconds:.3f}"])  # fmt: skip
    return out.getvalue()
