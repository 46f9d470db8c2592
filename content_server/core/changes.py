"""Change tracking: the counters behind cheap "has anything changed?" checks, bumped automatically.

One row (``manifest_state``) holds two counters: ``generation`` moves on every change to
anything a cache is built from, ``emergency_generation`` on every change that can start or end
an emergency. Each change also stamps the *scopes* it touches (``change_scopes``: a row per
scope key such as ``group:lobby``, ``screen:<id>``, ``media:<id>``, ``kiosk-catalogue``, or
``all``) with the generation it made. A cache entry remembers the generation it was built at
and the few scopes its inputs come from; it is current while none of those scopes was stamped
later, so a change costs work only for the entries whose inputs it touched. Processes keep a
view of the stamps (:class:`CachedGenerations`: the counters, and the scopes stamped since it
last looked) to answer unchanged polls from memory.

Nobody has to remember to bump. A feature declares, once, which of its tables (and which
columns) feed the caches and which scopes a changed row touches (:meth:`ChangeTracker.watch`);
the tracker, installed on the app's sessionmaker, notes every flush, bulk statement
(conservatively: every scope the table can touch) or deletion touching a watched row, stamps
them as the transaction's last statements before its commit, and after the commit tells this
process's caches at once. Other processes see the
stamps within their view's time to live, or at once when told (:meth:`ChangeTracker.changed_elsewhere`,
the entry point for a cross-process notifier). Device keys are also guarded in the database
itself: a trigger (migrations s0002, s0005) bumps the counter and stamps ``keys``, so even SQL
written by hand cannot revoke a key behind the caches' back.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    Integer,
    String,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, sessionmaker

from content_server.core import change_notify
from content_server.core.db import in_savepoint
from content_server.core.models import Base, UTCDateTime
from schedules.clock import Clock

ORIGIN = "change_origin"  # session.info: this process's name, sent with its changes to the others
ALL = "all"  # every cache entry depends on it: house-wide changes, and bulk statements
KEYS = "keys"  # which device keys open the API (revocations, replaced keys, deleted devices)
TOUCHES = "change_scopes"  # a bulk statement's execution option: the scopes it touches (see touching)
PENDING, PENDING_EMERGENCY = "change_pending", "change_pending_emergency"  # session.info: to stamp at commit
SEALED = "change_sealed"  # session.info: this transaction's commit has stamped; later changes stamp at once


class ManifestState(Base):
    """One row: the change counters (cheap 304 checks, emergency long-polls)."""

    __tablename__ = "manifest_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    emergency_generation: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ChangeScope(Base):
    """The generation of the last change that touched one scope (a row per scope key)."""

    __tablename__ = "change_scopes"

    scope: Mapped[str] = mapped_column(String(200), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, index=True)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


Generations = tuple[int, int]  # (generation, emergency generation)


def generations(session: Session) -> Generations:
    """(generation, emergency generation) as the database has them now."""
    row = session.execute(select(ManifestState.generation, ManifestState.emergency_generation)).first()
    return (row[0], row[1]) if row else (0, 0)


def last_stamp(session: Session, scopes: Iterable[str]) -> int:
    """The newest generation that stamped any of ``scopes`` as the database has it now (0: none
    kept). Stamps can be forgotten (``forget_stamps_before``), so compare it with ``!=``."""
    newest = session.scalar(
        select(func.max(ChangeScope.generation)).where(ChangeScope.scope.in_(list(scopes)))
    )
    return int(newest or 0)


@dataclass(frozen=True)
class Change:
    """What one committed transaction changed: each scope with the generation that stamped it,
    and whether an emergency may have started or ended."""

    scopes: tuple[tuple[str, int], ...]
    emergency: bool = False


def bump(
    session: Session, now: dt.datetime, *, emergency: bool = False, scopes: Iterable[str] = (ALL,)
) -> None:
    """Stamp ``scopes`` in the caller's transaction, for changes the tracker cannot see (rows
    written with Core ``insert()`` by bulk loaders); ORM changes are tracked by themselves."""
    _record(session, now, set(scopes), emergency)


def forget_stamps_before(session: Session, before: dt.datetime) -> int:
    """Delete scope stamps written before ``before``; commits. Safe once every running process has
    read them (within ``poll_cache_s``, or told at once): a process keeps the stamps it has read,
    and one starting afresh needs only the stamps written after it starts. Without this, a row per
    screen, picture and campaign that ever changed would stay for ever."""
    result = cast(
        CursorResult[Any], session.execute(delete(ChangeScope).where(ChangeScope.changed_at < before))
    )
    session.commit()
    return result.rowcount or 0


def _bump(conn: Connection, now: dt.datetime, emergency: bool) -> int:
    """Move the counters; the new generation (the row is locked until the transaction ends, so
    generations are handed out in commit order)."""
    values: dict[str, Any] = {"generation": ManifestState.generation + 1, "changed_at": now}
    if emergency:
        values["emergency_generation"] = ManifestState.emergency_generation + 1
    moved = conn.execute(
        update(ManifestState)
        .where(ManifestState.id == 1)
        .values(**values)
        .returning(ManifestState.generation)
    ).scalar()  # one statement: this runs in every changing commit, with the row locked
    if moved is not None:
        return int(moved)
    # the row is made by migration s0002; without it, the first change makes it
    conn.execute(
        insert(ManifestState).values(id=1, generation=1, emergency_generation=int(emergency), changed_at=now)
    )
    return 1


def _stamp(conn: Connection, scopes: Iterable[str], generation: int, now: dt.datetime) -> None:
    rows = [{"scope": s, "generation": generation, "changed_at": now} for s in sorted(scopes)]
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(ChangeScope).values(rows)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[ChangeScope.scope],
            set_={"generation": stmt.excluded.generation, "changed_at": stmt.excluded.changed_at},
        )
    )


def _record(session: Session, now: dt.datetime, scopes: set[str], emergency: bool) -> None:
    """Stamp the scopes this transaction has not stamped yet (and bump the emergency counter
    once); a transaction that touches nothing new writes nothing."""
    stamped: dict[str, int] = session.info.setdefault("scopes", {})
    new = scopes - stamped.keys()
    emergency = emergency and not session.info.get("emergency", False)
    if not new and not emergency:
        return
    conn = session.connection()
    generation = _bump(conn, now, emergency)
    _stamp(conn, new, generation, now)
    origin = session.info.get(ORIGIN)
    if origin is not None and conn.dialect.name == "postgresql":  # delivered at commit (change_notify)
        told = change_notify.encode(origin, [(s, generation) for s in sorted(new)], emergency)
        conn.execute(select(func.pg_notify(change_notify.CHANNEL, told)))
    for s in new:
        stamped[s] = generation
    if emergency:
        session.info["emergency"] = True
    session.info["changed"] = True


How = Literal["new", "dirty", "deleted"]
# (row, its values before this flush (dirty rows; else the row itself), how) -> scopes it touches
ScopeRule = Callable[[Any, Any, How], Iterable[str]]


def everywhere(_row: Any, _before: Any, _how: How) -> Iterable[str]:
    return (ALL,)


def each_state(scopes_of: Callable[[Any], Iterable[str]]) -> ScopeRule:
    """A rule from a function of one row's values: the scopes of the row before and after a change
    (moving a campaign from group A to B touches both)."""

    def rule(row: Any, before: Any, _how: How) -> Iterable[str]:
        out = set(scopes_of(row))
        if before is not row:
            out.update(scopes_of(before))
        return out

    return rule


class Before:
    """A dirty row's values before this flush (attribute access reads the history)."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj
        self._attrs = inspect(obj).attrs

    def __getattr__(self, name: str) -> Any:
        history = self._attrs[name].history
        if history.deleted:
            return history.deleted[0]
        return getattr(self._obj, name)


@dataclass(frozen=True)
class Watch:
    """What of one table feeds the caches: new rows or not, which ``columns`` of changed rows
    (None = all; deleted rows always count), which rows are emergencies, which scopes a changed
    row touches, and which a bulk statement on the table touches (every one it could)."""

    inserts: bool
    columns: frozenset[str] | None
    emergency: Callable[[Any], bool]
    scopes: ScopeRule = everywhere
    bulk: frozenset[str] = field(default_factory=lambda: frozenset({ALL}))


def _never(_row: Any) -> bool:
    return False


def touching(*scopes: str) -> dict[str, Any]:
    """Execution options of a bulk statement that knows which scopes it touches, narrower than
    its table's ``bulk`` (a booking's count on a slot touches the slots' counts, not the whole
    catalogue): ``.execution_options(**touching(scope))``."""
    return {TOUCHES: frozenset(scopes)}


class ChangeTracker:
    """Stamps the scopes of changes to watched tables and tells this process after commit."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._watches: dict[type[Any], Watch] = {}
        self._listeners: list[Callable[[Change], None]] = []
        self._row_listeners: list[tuple[type[Any], frozenset[str], Callable[[set[Any]], None]]] = []

    def watch(
        self,
        model: type[Any],
        *,
        inserts: bool = True,
        columns: frozenset[str] | set[str] | None = None,
        emergency: Callable[[Any], bool] = _never,
        scopes: ScopeRule = everywhere,
        bulk: Iterable[str] = (ALL,),
    ) -> None:
        """Changes to ``model`` rows feed the caches: new rows (unless ``inserts`` is false),
        deleted ones, and changes to ``columns`` (all when None); ``emergency(row)`` says whether
        a change to that row is also an emergency change; ``scopes(row, before, how)`` which
        scopes it touches; ``bulk`` which scopes a bulk statement on the table touches."""
        cols = frozenset(columns) if columns is not None else None
        self._watches[model] = Watch(inserts, cols, emergency, scopes, frozenset(bulk))

    def on_commit(self, listener: Callable[[Change], None]) -> None:
        """``listener(change)`` runs after each commit of this process that changed something,
        and for each change another process reports (:meth:`changed_elsewhere`)."""
        self._listeners.append(listener)

    def changed_elsewhere(self, change: Change) -> None:
        """A change with these scopes (stamped with these generations) was committed by another
        process: tell this process's caches now, as if it had been committed here.

        For a cross-process notifier (PostgreSQL ``LISTEN``/``NOTIFY``); without one, the caches
        see the same stamps when their view next reads the database (within its time to live).
        """
        for listener in self._listeners:
            listener(change)

    def on_row_change(
        self, model: type[Any], columns: frozenset[str] | set[str], listener: Callable[[set[Any]], None]
    ) -> None:
        """``listener(ids)`` runs after each commit of this process that changed ``columns`` of
        ``model`` rows through the ORM, with their primary keys; it bumps nothing (for a cache of
        a few rows' columns, such as the heartbeat's memory of which screens owe a screenshot)."""
        self._row_listeners.append((model, frozenset(columns), listener))

    def install(self, sessions: sessionmaker[Session], *, origin: str | None = None) -> None:
        """Watch ``sessions``; with ``origin`` (this process's name), their changes are also sent to
        the other processes on PostgreSQL (``change_notify``)."""
        if origin is not None:
            sessions.configure(info={ORIGIN: origin})
        event.listen(sessions, "after_flush", self._after_flush)
        event.listen(sessions, "do_orm_execute", self._on_statement)
        event.listen(sessions, "before_commit", self._before_commit)
        event.listen(sessions, "after_commit", self._after_commit)
        event.listen(sessions, "after_rollback", self._after_rollback)

    # ---- what changed -------------------------------------------------------------------------

    def _changed(self, obj: Any, how: How) -> tuple[set[str], bool] | None:
        """(the scopes this new, deleted or dirty object touches, whether as an emergency), or
        None when it feeds no cache."""
        watch = self._watches.get(type(obj))
        if watch is None or (how == "new" and not watch.inserts):
            return None
        if how == "dirty" and watch.columns is not None:
            attrs = inspect(obj).attrs
            if not any(attrs[name].history.has_changes() for name in watch.columns):
                return None
        before = Before(obj) if how == "dirty" else obj
        return set(watch.scopes(obj, before, how)), watch.emergency(obj)

    def _after_flush(self, session: Session, _context: Any) -> None:
        scopes: set[str] = set()
        emergency = False
        for objs, how in ((session.new, "new"), (session.deleted, "deleted"), (session.dirty, "dirty")):
            for obj in objs:
                found = self._changed(obj, how)  # type: ignore[arg-type]
                if found is not None:
                    scopes |= found[0]
                    emergency = emergency or found[1]
        if scopes or emergency:
            self._note(session, scopes, emergency)
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
        watch = self._watches.get(mapper.class_) if mapper is not None else None
        if watch is not None:
            # a bulk statement: unless it says which scopes it touches (``touching``), which rows
            # and columns it changes is not known here, so assume all
            told: frozenset[str] | None = state.execution_options.get(TOUCHES)
            emergency = watch.emergency is not _never  # the table can hold emergencies
            self._note(state.session, set(watch.bulk if told is None else told), emergency)

    def _note(self, session: Session, scopes: set[str], emergency: bool) -> None:
        """Remember what this transaction touches, to stamp at its commit (:meth:`_before_commit`);
        a change flushed after that moment (by a later commit hook) is stamped at once."""
        if session.info.get(SEALED):
            _record(session, self._clock.now(), scopes, emergency)
            return
        session.info.setdefault(PENDING, set()).update(scopes)
        if emergency:
            session.info[PENDING_EMERGENCY] = True

    def _before_commit(self, session: Session) -> None:
        """Stamp what the transaction touched as its last statements: the counter row is locked
        from here to the commit only, not from a transaction's first change (a booking's order,
        audit and catalogue work would otherwise queue every other change behind it)."""
        if in_savepoint(session):  # a savepoint's release: the outer commit stamps
            return
        session.flush()  # the last changes join
        scopes: set[str] = session.info.pop(PENDING, set())
        emergency: bool = session.info.pop(PENDING_EMERGENCY, False)
        session.info[SEALED] = True
        if scopes or emergency:
            _record(session, self._clock.now(), scopes, emergency)

    # ---- telling this process ---------------------------------------------------------------

    def _after_commit(self, session: Session) -> None:
        if in_savepoint(session):  # a savepoint's release: nothing is committed yet
            return
        session.info.pop(SEALED, None)
        stamped: dict[str, int] = session.info.pop("scopes", {})
        emergency = session.info.pop("emergency", False)
        if session.info.pop("changed", False):
            change = Change(tuple(sorted(stamped.items())), emergency)
            for listener in self._listeners:
                listener(change)
        for n, ids in session.info.pop("rows", {}).items():
            self._row_listeners[n][2](ids)

    def _after_rollback(self, session: Session) -> None:
        if in_savepoint(session):  # a savepoint: what the transaction noted before it is still
            return  # to stamp (and anything noted inside it is stamped too, which is only conservative)
        for key in ("scopes", "emergency", "changed", "rows", PENDING, PENDING_EMERGENCY, SEALED):
            session.info.pop(key, None)


class CachedGenerations:
    """This process's view of the counters and of the scopes' stamps, trusted for ``ttl_s`` of
    the clock's monotonic time.

    :meth:`current` answers from memory (None when the view is stale or was invalidated);
    :meth:`read` refreshes it from a session (the counters, then only the scopes stamped since
    the last read); :meth:`unchanged_since` is the one rule every cache asks. Stamps only grow
    (a change told by :meth:`learn` before the database shows it is kept), so a read that started
    before a change can never make a stale entry look current. An invalidation wins over a read
    that started before it.
    """

    def __init__(self, clock: Clock, ttl_s: float, *, scopes: bool = True) -> None:
        self._clock = clock
        self._ttl = ttl_s
        self._scopes = scopes
        self._value: tuple[float, Generations] | None = None  # (monotonic read time, generations)
        self._epoch = 0
        self._stamps: dict[str, int] = {}
        self._cursor: int | None = None  # every stamp up to this generation is in _stamps
        self._lock = threading.Lock()

    def current(self) -> Generations | None:
        value = self._value  # one atomic read: no lock on the fast path
        if value is None or self._ttl <= 0 or self._clock.monotonic() - value[0] > self._ttl:
            return None
        return value[1]

    def unchanged_since(self, generation: int, scopes: Iterable[str], *, fresh: bool = False) -> bool:
        """Whether, as far as this process knows now, none of ``scopes`` changed after
        ``generation``; False when the view is stale (the caller asks the database), unless the
        caller has just read it (``fresh``)."""
        if not fresh and self.current() is None:
            return False
        stamps = self._stamps
        return all(stamps.get(s, 0) <= generation for s in scopes)

    def stamp(self, scope: str) -> int:
        return self._stamps.get(scope, 0)

    def read(self, session: Session) -> Generations:
        epoch = self._epoch
        read_at = self._clock.monotonic()
        value = generations(session)
        cursor = self._cursor
        found: list[tuple[str, int]] = []
        if self._scopes and cursor is not None and value[0] > cursor:
            # a new process starts with no entries, so it needs only the stamps from now on
            query = select(ChangeScope.scope, ChangeScope.generation).where(ChangeScope.generation > cursor)
            found = [(scope, int(gen)) for scope, gen in session.execute(query)]
        with self._lock:
            self._merge(found)
            self._cursor = value[0] if cursor is None else max(value[0], self._cursor or 0)
            if epoch == self._epoch:
                self._value = (read_at, value)
        return value

    def learn(self, change: Change) -> None:
        """Take the stamps of a change committed here or told by another process."""
        with self._lock:
            self._merge(change.scopes)

    def _merge(self, stamps: Iterable[tuple[str, int]]) -> None:
        for scope, generation in stamps:
            if generation > self._stamps.get(scope, 0):
                self._stamps[scope] = generation

    def invalidate(self) -> None:
        with self._lock:
            self._epoch += 1
            self._value = None
