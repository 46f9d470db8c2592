"""Named leases in the database: "only one server process does this job at a time".

Several server processes (a district on PostgreSQL) each run the same scheduled jobs; a job that
must run in one process only (the alert evaluator, audit retention) first takes its lease. The
lease is one row per name, taken with a compare-and-set ``UPDATE`` (the holder renews it, anyone
takes it once it has run out), so it works the same on SQLite and PostgreSQL and a process that
dies simply lets its lease run out. The caller's service commits.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from typing import Any, cast

from sqlalchemy import CursorResult, String, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from content_server.core.models import Base, UTCDateTime


class Lease(Base):
    """Who holds the job ``name`` until when."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(120))
    until: Mapped[dt.datetime] = mapped_column(UTCDateTime)


def process_name() -> str:
    """A name for this process that no other process (on any host) shares."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def try_hold(session: Session, name: str, owner: str, *, now: dt.datetime, ttl: dt.timedelta) -> bool:
    """Take or renew the lease ``name`` for ``ttl``; False if another owner holds it. Not committed."""
    result = cast(
        CursorResult[Any],
        session.execute(
            update(Lease)
            .where(Lease.name == name, or_(Lease.owner == owner, Lease.until < now))
            .values(owner=owner, until=now + ttl)
        ),
    )
    if result.rowcount:
        return True
    if session.get(Lease, name) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(Lease(name=name, owner=owner, until=now + ttl))
    except IntegrityError:  # another process made the row first: it holds the lease
        return False
    return True


def release(session: Session, name: str, owner: str) -> None:
    """Give the lease up now (at shutdown), if we hold it. Not committed."""
    gone = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    session.execute(update(Lease).where(Lease.name == name, Lease.owner == owner).values(until=gone))
