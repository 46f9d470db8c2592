"""Change tracking: the counters behind cheap "has anything changed?" checks, bumped automatically.

One row (``manifest_state``) holds two counters: ``generation`` moves on every change to
anything manifests are built from (and to every device key), ``emergency_generation`` on every
change that can start or end an emergency. Processes cache them (:class:`CachedGenerations`) to
answer unchanged polls from memory.

Nobody has to remember to bump them. A feature declares, once, which of its tables (and which
columns) feed the caches with :meth:`ChangeTracker.watch`; the tracker, installed on the app's
sessionmaker, bumps the counters in the same transaction as any flush, bulk statement or
deletion touching a watched row, and after the commit tells this process's caches at once.
Other processes see the new counter within their cache's time to live. (Device keys are also
guarded in the database itself: migration s0002 bumps the counter from a trigger, so even SQL
written by hand cannot revoke a key behind the caches' back.)
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, event, insert, inspect, select, update
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, sessionmaker

from content_server.core.models import Base, UTCDateTime
from schedules.clock import Clock


class ManifestState(Base):
    """One row: the change counters (cheap 304 checks, emergency long-polls)."""

    __tablename__ = "manifest_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    emergency_generation: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


Generations = tuple[int, int]  # (generation, emergency generation)


def generations(session: Session) -> Generations:
    """(generation, emergency generation) as the database has them now."""
    row = session.execute(select(ManifestState.generation, ManifestState.emergency_generation)).first()
    return (row[0], row[1]) if row else (0, 0)


def bump(session: Session, now: dt.datetime, *, emergency: bool = False) -> None:
    """Bump the counters in the caller's transaction, for changes the tracker cannot see
    (rows written with Core ``insert()`` by bulk loaders); ORM changes are tracked by themselves."""
    _bump(session, now, emergency)
    _mark(session, emergency)


def _bump(session: Session, now: dt.datetime, emergency: bool) -> None:
    values: dict[str, Any] = {"generation": ManifestState.generation + 1, "changed_at": now}
    if emergency:
        values["emergency_generation"] = ManifestState.emergency_generation + 1
    result = session.connection().execute(update(ManifestState).where(ManifestState.id == 1).values(**values))
    if result.rowcount == 0:  # the row is made by migration s0002; without it, the first change makes it
        row = {"id": 1, "generation": 1, "emergency_generation": int(emergency), "changed_at": now}
        session.connection().execute(insert(ManifestState).values(**row))


def _mark(session: Session, emergency: bool) -> None:
    marks = session.info.setdefault("changes", set())
    marks.add("content")
    if emergency:
        marks.add("emergency")


@dataclass(frozen=True)
class Watch:
    """What of one table feeds the caches: new rows or not, which ``columns`` of changed rows
    (None = all; deleted rows always count), and which rows are emergencies."""

    inserts: bool
    columns: frozenset[str] | None
    emergency: Callable[[Any], bool]


def _never(_row: Any) -> bool:
    return False


class ChangeTracker:
    """Bumps the counters for changes to watched tables and tells this process after commit."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._watches: dict[type[Any], Watch] = {}
        self._listeners: list[Callable[[bool], None]] = []
        self._row_listeners: list[tuple[type[Any], frozenset[str], Callable[[set[Any]], None]]] = []

    def watch(
        self,
        model: type[Any],
        *,
        inserts: bool = True,
        columns: frozenset[str] | set[str] | None = None,
        emergency: Callable[[Any], bool] = _never,
    ) -> None:
        """Changes to ``model`` rows feed the caches: new rows (unless ``inserts`` is false),
        deleted ones, and changes to ``columns`` (all when None); ``emergency(row)`` says whether
        a change to that row is also an emergency change."""
        self._watches[model] = Watch(inserts, frozenset(columns) if columns is not None else None, emergency)

    def on_commit(self, listener: Callable[[bool], None]) -> None:
        """``listener(emergency)`` runs after each commit of this process that changed something."""
        self._listeners.append(listener)

    def on_row_change(
        self, model: type[Any], columns: frozenset[str] | set[str], listener: Callable[[set[Any]], None]
    ) -> None:
        """``listener(ids)`` runs after each commit of this process that changed ``columns`` of
        ``model`` rows through the ORM, with their primary keys; it bumps nothing (for a cache of
        a few rows' columns, such as the heartbeat's memory of which screens owe a screenshot)."""
        self._row_listeners.append((model, frozenset(columns), listener))

    def install(self, sessions: sessionmaker[Session]) -> None:
        event.listen(sessions, "after_flush", self._after_flush)
        event.listen(sessions, "do_orm_execute", self._on_statement)
        event.listen(sessions, "after_commit", self._after_commit)
        event.listen(sessions, "after_rollback", self._after_rollback)

    # ---- what changed -------------------------------------------------------------------------

    def _changed(self, obj: Any, how: str) -> tuple[bool, bool]:
        """(whether this new, deleted or dirty object feeds the caches, whether as an emergency)."""
        watch = self._watches.get(type(obj))
        if watch is None or (how == "new" and not watch.inserts):
            return False, False
        if how == "dirty" and watch.columns is not None:
            attrs = inspect(obj).attrs
            if not any(attrs[name].history.has_changes() for name in watch.columns):
                return False, False
        return True, watch.emergency(obj)

    def _after_flush(self, session: Session, _context: Any) -> None:
        changed = emergency = False
        for objs, how in ((session.new, "new"), (session.deleted, "deleted"), (session.dirty, "dirty")):
            for obj in objs:
                c, e = self._changed(obj, how)
                changed, emergency = changed or c, emergency or e
        if changed:
            self._record(session, emergency)
        for n, (model, columns, _listener) in enumerate(self._row_listeners):
            for obj in session.dirty:
                if type(obj) is model:
                    attrs = inspect(obj).attrs
                    if any(attrs[name].history.has_changes() for name in columns):
                        session.info.setdefault("rows", {}).setdefault(n, set()).add(inspect(obj).identity[0])

    def _on_statement(self, state: ORMExecuteState) -> None:
        if not (state.is_update or state.is_delete or state.is_insert):
            return
        mapper = state.bind_mapper
        if mapper is not None and mapper.class_ in self._watches:
            # a bulk statement: which rows and columns it touches is not known here, so assume all
            self._record(state.session, emergency=True)

    def _record(self, session: Session, emergency: bool) -> None:
        """Bump once per transaction (and once more for its first emergency change)."""
        marks = session.info.get("changes", set())
        if "content" in marks and (not emergency or "emergency" in marks):
            return
        _bump(session, self._clock.now(), emergency and "emergency" not in marks)
        _mark(session, emergency)

    # ---- telling this process ---------------------------------------------------------------

    def _after_commit(self, session: Session) -> None:
        marks = session.info.pop("changes", None)
        if marks:
            for listener in self._listeners:
                listener("emergency" in marks)
        for n, ids in session.info.pop("rows", {}).items():
            self._row_listeners[n][2](ids)

    def _after_rollback(self, session: Session) -> None:
        session.info.pop("changes", None)
        session.info.pop("rows", None)


class CachedGenerations:
    """This process's view of the counters, trusted for ``ttl_s`` of the clock's monotonic time.

    :meth:`current` answers from memory (None when the view is stale or was invalidated);
    :meth:`read` refreshes it from a session. An invalidation (a local commit changed the
    counters) wins over a read that started before it, so a stale value is never trusted again.
    """

    def __init__(self, clock: Clock, ttl_s: float) -> None:
        self._clock = clock
        self._ttl = ttl_s
        self._value: tuple[float, Generations] | None = None  # (monotonic read time, generations)
        self._epoch = 0
        self._lock = threading.Lock()

    def current(self) -> Generations | None:
        value = self._value  # one atomic read: no lock on the fast path
        if value is None or self._ttl <= 0 or self._clock.monotonic() - value[0] > self._ttl:
            return None
        return value[1]

    def read(self, session: Session) -> Generations:
        epoch = self._epoch
        read_at = self._clock.monotonic()
        value = generations(session)
        with self._lock:
            if epoch == self._epoch:
                self._value = (read_at, value)
        return value

    def invalidate(self) -> None:
        with self._lock:
            self._epoch += 1
            self._value = None
