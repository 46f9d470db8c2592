"""Adding this process's counts to the district's totals and reading them back (each commits its writes)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import CursorResult, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from content_server.core.metrics.counters import Counters
from content_server.core.metrics.models import MetricTotal, ProcessGauge


def flush(session: Session, counters: Counters, *, process: str, now: dt.datetime) -> None:
    """Add what this process counted since the last flush, and write its gauges; commits.
    Counts are given back to ``counters`` if the write fails, so a failed flush loses nothing."""
    counts = counters.take()
    try:
        for name, n in sorted(counts.items()):
            if n:
                _add(session, name, n)
        for name, value in counters.gauges().items():
            done = cast(
                CursorResult[Any],
                session.execute(
                    update(ProcessGauge)
                    .where(ProcessGauge.process == process, ProcessGauge.name == name)
                    .values(value=value, updated_at=now)
                ),
            ).rowcount
            if not done:
                session.add(ProcessGauge(process=process, name=name, value=value, updated_at=now))
        session.commit()
    except Exception:
        session.rollback()
        counters.give_back(counts)
        raise


def _add(session: Session, name: str, n: int) -> None:
    stmt = update(MetricTotal).where(MetricTotal.name == name).values(value=MetricTotal.value + n)
    if cast(CursorResult[Any], session.execute(stmt)).rowcount:
        return
    try:
        with session.begin_nested():
            session.execute(insert(MetricTotal).values(name=name, value=n))
    except IntegrityError:  # another process made the row first
        session.execute(stmt)


def totals(session: Session) -> dict[str, int]:
    return {name: int(value) for name, value in session.execute(select(MetricTotal.name, MetricTotal.value))}


def gauges(session: Session, *, now: dt.datetime, fresh: dt.timedelta) -> dict[str, float]:
    """Each gauge summed over the processes that wrote it within ``fresh``."""
    rows = session.execute(
        select(ProcessGauge.name, func.sum(ProcessGauge.value))
        .where(ProcessGauge.updated_at >= now - fresh)
        .group_by(ProcessGauge.name)
    )
    return {name: float(value or 0) for name, value in rows}


def forget_process(session: Session, process: str) -> None:
    """A stopping process's gauges no longer count; commits."""
    session.query(ProcessGauge).filter(ProcessGauge.process == process).delete()
    session.commit()
