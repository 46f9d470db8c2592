"""Where throttle counters live: the ``throttle_state`` table, so every server process agrees.

``locked(session, group, keys)`` reads the rows for one attempt under a lock that spans the
secret's check: a lock per group (an account, a case) inside this process, plus ``FOR UPDATE``
on the rows in PostgreSQL, so parallel guesses at one account are counted one after another
instead of all passing the check before any has failed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from content_server.core.models import ThrottleRow
from content_server.core.throttle import Level, Strikes

_STRIPES = 64
HORIZON = dt.timedelta(days=8)  # longer than every policy's forget_after: older rows count for nothing


class ThrottleStore:
    def __init__(self) -> None:
        self._locks = [threading.Lock() for _ in range(_STRIPES)]

    @contextmanager
    def locked(self, session: Session, group: str, keys: list[str]) -> Iterator[dict[str, ThrottleRow]]:
        """The existing rows of ``keys``, locked until the block ends (the caller commits in it)."""
        stripe = int.from_bytes(hashlib.sha256(group.encode()).digest()[:2], "big") % _STRIPES
        with self._locks[stripe]:
            rows = session.scalars(
                select(ThrottleRow).where(ThrottleRow.key.in_(keys)).with_for_update()
            ).all()
            yield {r.key: r for r in rows}


def strikes(row: ThrottleRow | None) -> Strikes | None:
    return None if row is None else Strikes(row.count, row.last_at)


def level(row: ThrottleRow | None) -> Level | None:
    return None if row is None else Level(row.level, row.last_at)


def save(session: Session, key: str, state: Strikes | Level) -> None:
    """Insert or overwrite one counter (an upsert: another process may have created it meanwhile)."""
    if isinstance(state, Strikes):
        values = {"key": key, "count": state.count, "level": 0.0, "last_at": state.last}
    else:
        values = {"key": key, "count": 0, "level": state.amount, "last_at": state.at}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(ThrottleRow).values(**values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={name: stmt.excluded[name] for name in ("count", "level", "last_at")},
        )
    )


def forget(session: Session, *keys: str) -> None:
    session.execute(delete(ThrottleRow).where(ThrottleRow.key.in_(keys)))


def prune(session: Session, before: dt.datetime) -> int:
    """Drop counters untouched since ``before`` (every policy has forgotten them by then)."""
    result = session.execute(delete(ThrottleRow).where(ThrottleRow.last_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
