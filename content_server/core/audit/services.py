"""The audit log's services: who is acting, the ORM hooks, explicit records, queries, CSV, verify, retention.

A request's dependencies say who is acting on its session (:func:`act_as`: the logged-in person,
the device behind a device key); code that opens its own session (a worker thread, a job) says it
there too, or acts as ``system``. Every audited change joins the session's pending entries; at
commit they are chained and written in the same transaction (see the package docstring).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, func, insert, inspect, or_, select, update
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, sessionmaker

from content_server.core.audit.chain import GENESIS, Chained, Entry, Verdict, jsonable, link
from content_server.core.audit.chain import verify as verify_chain
from content_server.core.audit.models import AuditHead, AuditPrunePermit, AuditRecord
from content_server.core.csvfile import Cell, write_csv
from content_server.core.db import in_savepoint
from content_server.core.models import User
from schedules.clock import Clock

log = logging.getLogger(__name__)

ACTOR_KEY = "audit_actor"
PENDING_KEY = "audit_pending"
MARKS_KEY = "audit_marks"  # session.info: how many entries were pending as each open savepoint began
COVERED = "audited"  # execution option: "the caller records this bulk statement itself"
RECORDED_BY_CALLER = {COVERED: True}  # .execution_options(**RECORDED_BY_CALLER)
REDACTED = "***"


@dataclass(frozen=True)
class Actor:
    """Who is acting: a person (with their role), a device, a feed, a payer, a provider or the system."""

    kind: str
    id: str
    name: str = ""
    role: str = ""
    address: str = ""

    @classmethod
    def of_user(cls, user: User, address: str = "") -> Actor:
        return cls("user", user.id, user.username, user.role, address)

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.id}"


SYSTEM = Actor("system", "system", "system", "system")
# the prefixes services use in explicit records ("kiosk:<id>", "provider:community_pay", ...)
LABEL_KINDS = {
    "user": "user",
    "kiosk": "device",
    "device": "device",
    "player": "device",
    "provider": "provider",
    "feed": "feed",
    "payer": "payer",
    "system": "system",
}


def act_as(session: Session, actor: Actor) -> None:
    """Everything this session changes from now on is done by ``actor``."""
    session.info[ACTOR_KEY] = actor


def actor_of(session: Session) -> Actor:
    actor: Actor = session.info.get(ACTOR_KEY, SYSTEM)
    return actor


def _resolve(session: Session, actor: Actor | str | None) -> Actor:
    """An explicit actor, or the session's; a label naming the session's actor gets its details."""
    current = actor_of(session)
    if actor is None:
        return current
    if isinstance(actor, Actor):
        return actor
    prefix, _, ident = actor.partition(":")
    kind = LABEL_KINDS.get(prefix, prefix)
    if kind == "system":
        return SYSTEM
    if current.kind == kind and current.id == ident:
        return current
    if kind == "user":
        user = session.get(User, ident)
        if user is not None:
            return Actor.of_user(user)
    return Actor(kind, ident or prefix, ident, kind)


@dataclass
class _Pending:
    entry: Entry
    generic: bool  # made by the hook from a row's columns (an explicit record of the same row wins)


def _pending(session: Session) -> list[_Pending]:
    pending: list[_Pending] = session.info.setdefault(PENDING_KEY, [])
    return pending


def record(
    session: Session,
    *,
    action: str,
    entity: str,
    entity_id: str,
    at: dt.datetime,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    actor: Actor | str | None = None,
) -> None:
    """Add an explicit record to the caller's transaction (it is written when the change commits)."""
    who = _resolve(session, actor)
    entry = Entry(
        at,
        who.kind,
        who.id,
        who.name,
        who.role,
        who.address,
        action,
        entity,
        str(entity_id),
        jsonable(before) if before is not None else None,
        jsonable(after) if after is not None else None,
    )
    _pending(session).append(_Pending(entry, generic=False))


@dataclass(frozen=True)
class Watch:
    """How one table is audited: its entity name, columns left out (telemetry), hidden, or masked."""

    entity: str
    ignore: frozenset[str]
    redact: frozenset[str]
    mask: Mapping[str, Callable[[Any], Any]]


class AuditLog:
    """The hooks that turn every flushed change to a watched table into a pending record."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._watches: dict[type[Any], Watch] = {}

    def watch(
        self,
        model: type[Any],
        *,
        entity: str,
        ignore: Sequence[str] = (),
        redact: Sequence[str] = (),
        mask: Mapping[str, Callable[[Any], Any]] | None = None,
    ) -> None:
        """Audit ``model``'s rows as ``entity``: ``ignore`` columns that are telemetry, not changes;
        store ``redact`` columns as ``***``; pass ``mask`` columns through their function."""
        self._watches[model] = Watch(entity, frozenset(ignore), frozenset(redact), dict(mask or {}))

    def entities(self) -> list[str]:
        return sorted({w.entity for w in self._watches.values()})

    def install(self, sessions: sessionmaker[Session]) -> None:
        from sqlalchemy import event

        event.listen(sessions, "after_flush", self._after_flush)
        event.listen(sessions, "do_orm_execute", self._on_statement)
        event.listen(sessions, "before_commit", self._before_commit)
        event.listen(sessions, "after_rollback", self._after_rollback)
        event.listen(sessions, "after_transaction_create", self._savepoint_began)
        event.listen(sessions, "after_transaction_end", self._savepoint_ended)

    # ---- what changed -------------------------------------------------------------------------

    def _value(self, watch: Watch, key: str, value: Any) -> Any:
        if key in watch.redact:
            return None if value is None else REDACTED
        if key in watch.mask and value is not None:
            return watch.mask[key](value)
        return jsonable(value)

    def _snapshot(self, obj: Any, watch: Watch) -> dict[str, Any]:
        state = inspect(obj)
        return {
            attr.key: self._value(watch, attr.key, getattr(obj, attr.key))
            for attr in state.mapper.column_attrs
            if attr.key not in watch.ignore
        }

    def _changes(self, obj: Any, watch: Watch) -> tuple[dict[str, Any], dict[str, Any]]:
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        state = inspect(obj)
        for attr in state.mapper.column_attrs:
            if attr.key in watch.ignore:
                continue
            history = state.attrs[attr.key].history
            if not history.has_changes():
                continue
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            if jsonable(old) == jsonable(new):
                continue
            before[attr.key] = self._value(watch, attr.key, old)
            after[attr.key] = self._value(watch, attr.key, new)
        return before, after

    def _entry(
        self,
        session: Session,
        action: str,
        watch: Watch,
        entity_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        who = actor_of(session)
        entry = Entry(
            self._clock.now(),
            who.kind,
            who.id,
            who.name,
            who.role,
            who.address,
            action,
            watch.entity,
            entity_id,
            before,
            after,
        )
        _pending(session).append(_Pending(entry, generic=True))

    @staticmethod
    def _identity(obj: Any) -> str:
        """The row's primary key (set by now, even for a row this flush inserted)."""
        state = inspect(obj)
        return ":".join(str(part) for part in state.mapper.primary_key_from_instance(obj))

    def _after_flush(self, session: Session, _context: Any) -> None:
        for obj in session.new:
            watch = self._watches.get(type(obj))
            if watch is not None:
                self._entry(
                    session,
                    f"{watch.entity}.created",
                    watch,
                    self._identity(obj),
                    None,
                    self._snapshot(obj, watch),
                )
        for obj in session.dirty:
            watch = self._watches.get(type(obj))
            if watch is None:
                continue
            before, after = self._changes(obj, watch)
            if after or before:
                self._entry(session, f"{watch.entity}.updated", watch, self._identity(obj), before, after)
        for obj in session.deleted:
            watch = self._watches.get(type(obj))
            if watch is not None:
                self._entry(
                    session,
                    f"{watch.entity}.deleted",
                    watch,
                    self._identity(obj),
                    self._snapshot(obj, watch),
                    None,
                )

    def _on_statement(self, state: ORMExecuteState) -> None:
        if not (state.is_update or state.is_delete or state.is_insert):
            return
        mapper = state.bind_mapper
        watch = self._watches.get(mapper.class_) if mapper is not None else None
        if watch is None or state.execution_options.get(COVERED):
            return
        kind = "update" if state.is_update else "delete" if state.is_delete else "insert"
        self._entry(
            state.session, f"{watch.entity}.bulk_{kind}", watch, "*", None, self._statement(state, watch)
        )

    def _statement(self, state: ORMExecuteState, watch: Watch) -> dict[str, Any]:
        """What a bulk statement did, as far as it can be told without running it: its rows or
        values (secrets hidden as for single rows) and its condition."""
        described: dict[str, Any] = {}
        params = state.parameters
        if isinstance(params, Mapping):
            described["values"] = {str(k): self._value(watch, str(k), v) for k, v in params.items()}
        elif isinstance(params, Sequence):
            described["rows"] = len(params)
        values = getattr(state.statement, "_values", None)
        if values:
            described["set"] = {
                getattr(k, "key", str(k)): self._value(watch, getattr(k, "key", str(k)), v)
                for k, v in values.items()
                if not hasattr(v, "compile")
            }
        where = getattr(state.statement, "whereclause", None)
        if where is not None:
            try:
                described["where"] = str(where)[:500]
            except Exception:  # boundary: a clause that cannot be shown still leaves its record
                described["where"] = "(condition)"
        return described

    # ---- writing at commit --------------------------------------------------------------------

    def _before_commit(self, session: Session) -> None:
        if in_savepoint(session):  # a savepoint's release: the outer commit writes (and
            return  # locks the chain's head only then)
        session.flush()  # the last changes' entries join before the chain is written
        pending: list[_Pending] = session.info.pop(PENDING_KEY, None) or []
        if not pending:
            return
        explicit = {(p.entry.entity, p.entry.entity_id) for p in pending if not p.generic}
        entries = [
            p.entry for p in pending if not p.generic or (p.entry.entity, p.entry.entity_id) not in explicit
        ]
        append(session, entries)

    @staticmethod
    def _after_rollback(session: Session) -> None:
        if in_savepoint(session):  # a savepoint: its changes are undone, the ones before stay
            marks: list[int] = session.info.get(MARKS_KEY) or [0]
            del _pending(session)[marks[-1]:]
            return
        session.info.pop(PENDING_KEY, None)
        session.info.pop(MARKS_KEY, None)

    @staticmethod
    def _savepoint_began(session: Session, transaction: SessionTransaction) -> None:
        if transaction.nested:
            session.info.setdefault(MARKS_KEY, []).append(len(_pending(session)))

    @staticmethod
    def _savepoint_ended(session: Session, transaction: SessionTransaction) -> None:
        marks: list[int] | None = session.info.get(MARKS_KEY)
        if transaction.nested and marks:
            marks.pop()


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str
    anchor_seq: int
    anchor_hash: str


def _head(session: Session) -> Head:
    """The head row, locked for this transaction (PostgreSQL; SQLite's writer lock is already ours)."""
    conn = session.connection()
    row = conn.execute(select(AuditHead.__table__).where(AuditHead.id == 1).with_for_update()).first()
    if row is None:  # made by migration c0001; a database built without it gets it on first use
        conn.execute(insert(AuditHead).values(id=1, seq=0, hash=GENESIS, anchor_seq=0, anchor_hash=GENESIS))
        return Head(0, GENESIS, 0, GENESIS)
    return Head(row.seq, row.hash, row.anchor_seq, row.anchor_hash)


def append(session: Session, entries: Sequence[Entry]) -> None:
    """Chain ``entries`` after the head and write them, in the caller's transaction."""
    head = _head(session)
    seq, prev = head.seq, head.hash
    rows: list[dict[str, Any]] = []
    for entry in entries:
        chained = link(seq + 1, prev, entry)
        seq, prev = chained.seq, chained.hash
        rows.append(_row(chained))
    conn = session.connection()
    conn.execute(insert(AuditRecord), rows)
    conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))


def _row(c: Chained) -> dict[str, Any]:
    e = c.entry
    return {
        "seq": c.seq,
        "at": e.at,
        "actor_kind": e.actor_kind,
        "actor_id": e.actor_id[:100],
        "actor_name": e.actor_name[:200],
        "role": e.role[:32],
        "address": e.address[:64],
        "action": e.action[:64],
        "entity": e.entity[:32],
        "entity_id": e.entity_id[:64],
        "before": e.before,
        "after": e.after,
        "prev_hash": c.prev_hash,
        "hash": c.hash,
    }


def as_chained(r: AuditRecord) -> Chained:
    entry = Entry(
        r.at,
        r.actor_kind,
        r.actor_id,
        r.actor_name,
        r.role,
        r.address,
        r.action,
        r.entity,
        r.entity_id,
        r.before,
        r.after,
    )
    return Chained(r.seq, entry, r.prev_hash, r.hash)


# ---- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    """What the portal's filters ask for; empty fields do not filter."""

    person: str = ""  # a person's (or device's) name or id
    screen: str = ""  # a screen's id: changes to it and changes it made
    action: str = ""  # an action, or the start of one ("order." for every order change)
    entity_id: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    kinds: tuple[str, ...] = field(default_factory=tuple)  # actor kinds
    entities: tuple[str, ...] = field(default_factory=tuple)


def _where(f: AuditFilter) -> list[Any]:
    conditions: list[Any] = []
    if f.person:
        like = f"%{f.person.strip().lower()}%"
        conditions.append(
            or_(func.lower(AuditRecord.actor_name).like(like), AuditRecord.actor_id == f.person)
        )
    if f.screen:
        conditions.append(
            or_(
                and_(AuditRecord.entity == "screen", AuditRecord.entity_id == f.screen),
                and_(AuditRecord.actor_kind == "device", AuditRecord.actor_id == f.screen),
            )
        )
    if f.action:
        conditions.append(AuditRecord.action.startswith(f.action.strip(), autoescape=True))
    if f.entity_id:
        conditions.append(AuditRecord.entity_id == f.entity_id)
    if f.since is not None:
        conditions.append(AuditRecord.at >= f.since)
    if f.until is not None:
        conditions.append(AuditRecord.at < f.until)
    if f.kinds:
        conditions.append(AuditRecord.actor_kind.in_(f.kinds))
    if f.entities:
        conditions.append(AuditRecord.entity.in_(f.entities))
    return conditions


def search(session: Session, f: AuditFilter, *, limit: int = 200, offset: int = 0) -> list[AuditRecord]:
    """Matching records, newest first."""
    query = select(AuditRecord).where(*_where(f)).order_by(AuditRecord.seq.desc())
    return list(session.scalars(query.limit(max(1, min(limit, 1000))).offset(max(0, offset))))


def count(session: Session, f: AuditFilter) -> int:
    return session.scalar(select(func.count()).select_from(AuditRecord).where(*_where(f))) or 0


CSV_HEADER = (
    "seq",
    "at_utc",
    "actor_kind",
    "actor_id",
    "actor_name",
    "role",
    "address",
    "action",
    "entity",
    "entity_id",
    "before",
    "after",
    "hash",
)
CSV_LIMIT = 100_000


def export_csv(session: Session, f: AuditFilter) -> str:
    """Matching records (oldest first, at most 100,000) as CSV, through the one CSV writer."""
    import json

    query = select(AuditRecord).where(*_where(f)).order_by(AuditRecord.seq.desc()).limit(CSV_LIMIT)
    records = list(session.scalars(query))
    records.reverse()

    def text(value: Any) -> str:
        return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    rows: Iterator[list[Cell]] = (
        [
            r.seq,
            r.at.isoformat(),
            r.actor_kind,
            r.actor_id,
            r.actor_name,
            r.role,
            r.address,
            r.action,
            r.entity,
            r.entity_id,
            text(r.before),
            text(r.after),
            r.hash,
        ]
        for r in records
    )
    return write_csv(CSV_HEADER, rows)


def _records(session: Session, after_seq: int, batch: int) -> Iterator[Chained]:
    last = after_seq
    while True:
        chunk = list(
            session.scalars(
                select(AuditRecord).where(AuditRecord.seq > last).order_by(AuditRecord.seq).limit(batch)
            )
        )
        if not chunk:
            return
        for r in chunk:
            yield as_chained(r)
        last = chunk[-1].seq
        session.expunge_all()


def verify(session: Session, *, batch: int = 2000) -> Verdict:
    """Walk the whole chain from retention's anchor to the head (reads only)."""
    head = session.get(AuditHead, 1)
    anchor_seq, anchor_hash = (head.anchor_seq, head.anchor_hash) if head else (0, GENESIS)
    return verify_chain(
        _records(session, anchor_seq, batch),
        anchor_seq=anchor_seq,
        anchor_hash=anchor_hash,
        head_seq=head.seq if head else 0,
        head_hash=head.hash if head else GENESIS,
    )


def prune(session: Session, *, now: dt.datetime, keep: dt.timedelta) -> int:
    """Retention: remove the oldest records (a prefix of the chain) older than ``keep``; commits.

    The last removed record becomes the head's anchor, so the rest still verifies, and the pruning
    itself is a record of the trail.
    """
    cutoff = now - keep
    head = _head(session)
    first_kept = session.scalar(
        select(func.min(AuditRecord.seq)).where(AuditRecord.seq > head.anchor_seq, AuditRecord.at >= cutoff)
    )
    upto = first_kept - 1 if first_kept is not None else head.seq
    if upto <= head.anchor_seq:
        session.rollback()
        return 0
    anchor_hash = session.scalar(select(AuditRecord.hash).where(AuditRecord.seq == upto))
    conn = session.connection()
    conn.execute(insert(AuditPrunePermit).values(id=1))
    removed = conn.execute(delete(AuditRecord).where(AuditRecord.seq <= upto)).rowcount or 0
    conn.execute(delete(AuditPrunePermit))
    conn.execute(update(AuditHead).where(AuditHead.id == 1).values(anchor_seq=upto, anchor_hash=anchor_hash))
    record(
        session,
        action="audit.pruned",
        entity="audit",
        entity_id="trail",
        at=now,
        actor=SYSTEM,
        after={"up_to_seq": upto, "removed": removed, "older_than": cutoff},
    )
    session.commit()
    log.info("audit retention removed %d record(s) up to #%d", removed, upto)
    return removed
