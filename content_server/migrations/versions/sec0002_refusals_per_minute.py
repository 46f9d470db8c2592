"""security: refused plays counted per UTC minute, not per day

The fleet's ``refused_plays`` alert asks how many plays a device had refused in its last N
minutes; counts per day could not say. The counts kept so far move to their day's first minute
(the refused-plays report, which adds whole UTC days, shows the same numbers).

Revision ID: sec0002
Revises: sec0001
Create Date: 2026-12-16 10:00:00
"""

import datetime
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import content_server.core.models

revision: str = "sec0002"
down_revision: str | Sequence[str] | None = "sec0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _minute() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("minute", content_server.core.models.UTCDateTime(timezone=True), nullable=False)


def _day() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("day", sa.Date(), nullable=False)


def _shape(bucket: sa.Column) -> sa.TableClause:  # type: ignore[type-arg]
    return sa.table(
        "play_refusals",
        sa.column("device_id", sa.String),
        sa.column(bucket.name, bucket.type),
        sa.column("reason", sa.String),
        sa.column("count", sa.Integer),
        sa.column("last_at", content_server.core.models.UTCDateTime()),
    )


def _replace(new: sa.Column, rows: list[dict[str, object]]) -> None:  # type: ignore[type-arg]
    """Drop the table and make it again counting by ``new``, holding ``rows`` (a few hundred at most)."""
    op.drop_table("play_refusals")
    op.create_table(
        "play_refusals",
        sa.Column("device_id", sa.String(length=32), nullable=False),
        new,
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_at", content_server.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_play_refusals_device_id_devices"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("device_id", new.name, "reason", name=op.f("pk_play_refusals")),
    )
    if rows:
        op.bulk_insert(_shape(new), rows)


def upgrade() -> None:
    kept = list(op.get_bind().execute(sa.select(_shape(_day()))))
    midnight = datetime.time(tzinfo=datetime.UTC)
    rows = [
        {"device_id": d, "minute": datetime.datetime.combine(day, midnight), "reason": r, "count": n,
         "last_at": at}
        for d, day, r, n, at in kept
    ]  # fmt: skip
    _replace(_minute(), rows)


def downgrade() -> None:
    summed: dict[tuple[str, datetime.date, str], tuple[int, datetime.datetime]] = {}
    for d, minute, r, n, at in op.get_bind().execute(sa.select(_shape(_minute()))):
        key = (d, minute.date(), r)
        before = summed.get(key, (0, at))
        summed[key] = (before[0] + n, max(before[1], at))
    rows = [{"device_id": d, "day": day, "reason": r, "count": n, "last_at": at}
            for (d, day, r), (n, at) in summed.items()]  # fmt: skip
    _replace(_day(), rows)
