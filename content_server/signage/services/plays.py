"""Proof-of-play ingest (idempotent by record id, set-based, group-committed); reports that add up."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, select
from sqlalchemy.orm import Session

from content_server.core.db import insert_new
from content_server.core.errors import NotFound
from content_server.core.group_commit import WriteKind
from content_server.core.models import User
from content_server.signage.models import CampaignRow, PlayRow
from schedules.protocol.device import PlayBatch, PlayBatchResult, PlayRecord


@dataclass(frozen=True)
class PlaySubmission:
    """One request's batch, from the device its key belongs to, received at ``now``."""

    device_id: str
    batch: PlayBatch
    now: dt.datetime


def _row(device_id: str, r: PlayRecord, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": str(r.id),
        "device_id": device_id,
        "item_id": r.item_id[:64],
        "campaign_id": r.campaign_id[:32] if r.campaign_id else None,
        "announcement_id": r.announcement_id[:32] if r.announcement_id else None,
        "started_at": r.started_at.astimezone(dt.UTC),
        "duration_s": r.duration_s,
        "completed": r.completed,
        "received_at": now,
    }


def ingest(conn: Connection, submissions: list[PlaySubmission]) -> list[PlayBatchResult]:
    """Store each record id once, whichever batch, request, retry or process brings it; one
    result per submission. Every proof-of-play write goes through here (the group-commit writer
    calls it with the batches of many requests: see ``INGEST``); it does not commit.

    One statement for all: ``INSERT … ON CONFLICT (id) DO NOTHING RETURNING id`` says which ids
    are new, so a record already stored (an earlier send of the same batch, here or in another
    process) is a duplicate and nothing is counted twice. Within one call the first submission
    of an id counts.
    """
    rows: list[dict[str, Any]] = []
    owner: list[int] = []  # which submission each row came from
    taken: set[str] = set()
    for n, sub in enumerate(submissions):
        for r in sub.batch.records:
            row = _row(sub.device_id, r, sub.now)
            if row["id"] not in taken:
                taken.add(row["id"])
                rows.append(row)
                owner.append(n)
    stored = set(insert_new(conn, cast(Table, PlayRow.__table__), rows, key="id")) if rows else set()
    accepted = [0] * len(submissions)
    for row, n in zip(rows, owner, strict=True):
        if row["id"] in stored:
            accepted[n] += 1
    return [
        PlayBatchResult(accepted=a, duplicates=len(sub.batch.records) - a)
        for a, sub in zip(accepted, submissions, strict=True)
    ]


INGEST: WriteKind[PlaySubmission, PlayBatchResult] = WriteKind("plays", ingest)


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
