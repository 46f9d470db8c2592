"""The audit trail's hash chain: canonical form of a record, its hash, and a check of a whole chain. Pure."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64  # the "previous hash" of the very first record


@dataclass(frozen=True)
class Entry:
    """One audited fact, before it gets its place in the chain."""

    at: dt.datetime
    actor_kind: str  # user | device | feed | payer | provider | system
    actor_id: str
    actor_name: str
    role: str
    address: str
    action: str  # e.g. "screen.updated", "order.paid_by_notification"
    entity: str  # e.g. "screen", "order"
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True)
class Chained:
    """A record as stored: its entry, its place and the two hashes."""

    seq: int
    entry: Entry
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Verdict:
    """The outcome of walking the chain: intact, or where it first breaks and how."""

    ok: bool
    checked: int
    first_seq: int | None
    last_seq: int | None
    broken_seq: int | None = None
    reason: str = ""


def jsonable(value: Any) -> Any:
    """``value`` in the plain JSON shapes the trail stores (and hashes): times as ISO text, sets sorted."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v) for v in value), key=repr)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


def canonical(seq: int, prev_hash: str, entry: Entry) -> bytes:
    """The bytes a record's hash covers: every field, in a fixed order, as canonical JSON."""
    fields = [
        seq,
        prev_hash,
        entry.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        entry.actor_kind,
        entry.actor_id,
        entry.actor_name,
        entry.role,
        entry.address,
        entry.action,
        entry.entity,
        entry.entity_id,
        jsonable(entry.before),
        jsonable(entry.after),
    ]
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(seq: int, prev_hash: str, entry: Entry) -> str:
    return hashlib.sha256(canonical(seq, prev_hash, entry)).hexdigest()


def link(seq: int, prev_hash: str, entry: Entry) -> Chained:
    """Give ``entry`` place ``seq`` after the record whose hash is ``prev_hash``."""
    return Chained(seq, entry, prev_hash, digest(seq, prev_hash, entry))


def verify(
    records: Iterable[Chained],
    *,
    anchor_seq: int = 0,
    anchor_hash: str = GENESIS,
    head_seq: int | None = None,
    head_hash: str | None = None,
) -> Verdict:
    """Walk ``records`` in order from the anchor (the last record retention removed, or the start).

    Each record must follow the one before without a gap, name its hash, and hash to what it
    says; the last one must be the head the database remembers (records cut from the end would
    otherwise go unnoticed).
    """
    expected_seq, prev = anchor_seq + 1, anchor_hash
    checked = 0
    first: int | None = None
    last: int | None = None
    for rec in records:
        first = rec.seq if first is None else first
        if rec.seq != expected_seq:
            why = f"record #{expected_seq} is missing" if rec.seq > expected_seq else "records out of order"
            return Verdict(False, checked, first, last, rec.seq, why)
        if rec.prev_hash != prev:
            return Verdict(False, checked, first, last, rec.seq, "does not follow the record before it")
        if digest(rec.seq, rec.prev_hash, rec.entry) != rec.hash:
            return Verdict(False, checked, first, last, rec.seq, "its content does not match its hash")
        checked += 1
        last, prev, expected_seq = rec.seq, rec.hash, rec.seq + 1
    if head_seq is not None and (
        head_seq != expected_seq - 1 or (head_hash is not None and head_hash != prev)
    ):
        return Verdict(
            False, checked, first, last, expected_seq, f"records after #{expected_seq - 1} are missing"
        )
    return Verdict(True, checked, first, last)
