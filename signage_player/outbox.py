"""Durable outbox on SQLite: records survive process kills until the server acknowledges them.

Used for proof of play by the player and for orders/events by the kiosk. WAL journal with
``synchronous=FULL`` means a ``put`` that returned has reached the disk; keys are unique per
topic, so re-putting after a crash is harmless (idempotent).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from signage_player.errors import PlayerError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    topic TEXT NOT NULL,
    key TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    UNIQUE (topic, key)
);
CREATE INDEX IF NOT EXISTS outbox_topic_seq ON outbox (topic, seq);
"""


class OutboxError(PlayerError):
    """The outbox file cannot be opened or written."""


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    key: str
    topic: str
    payload: bytes
    created_at: dt.datetime
    attempts: int


class Outbox:
    """A topic-partitioned queue of opaque payloads, oldest first, thread-safe."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open outbox {self.path}: {exc}") from exc

    def put(self, topic: str, key: str, payload: bytes, now: dt.datetime | None = None) -> bool:
        """Store one payload; False (and nothing changes) when ``key`` is already in the topic."""
        created = (now or dt.datetime.now(dt.UTC)).isoformat()
        with self._lock:
            try:
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO outbox (topic, key, payload, created_at) VALUES (?, ?, ?, ?)",
                    (topic, key, bytes(payload), created),
                )
            except sqlite3.Error as exc:
                raise OutboxError(f"outbox write failed: {exc}") from exc
            return cur.rowcount == 1

    def pending(self, topic: str, limit: int = 500) -> list[OutboxEntry]:
        """Up to ``limit`` unacknowledged entries of ``topic``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, topic, payload, created_at, attempts FROM outbox WHERE topic = ? "
                "ORDER BY seq LIMIT ?",
                (topic, limit),
            ).fetchall()
        return [OutboxEntry(r[0], r[1], bytes(r[2]), dt.datetime.fromisoformat(r[3]), r[4]) for r in rows]

    def ack(self, topic: str, keys: Iterable[str]) -> None:
        """Forget entries the server has accepted (or reported as duplicates)."""
        self._many("DELETE FROM outbox WHERE topic = ? AND key = ?", topic, keys)

    def record_attempt(self, topic: str, keys: Iterable[str]) -> None:
        """Count a failed delivery attempt, for diagnostics and backoff."""
        self._many("UPDATE outbox SET attempts = attempts + 1 WHERE topic = ? AND key = ?", topic, keys)

    def count(self, topic: str | None = None) -> int:
        with self._lock:
            if topic is None:
                row = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()
            else:
                row = self._db.execute("SELECT COUNT(*) FROM outbox WHERE topic = ?", (topic,)).fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _many(self, sql: str, topic: str, keys: Iterable[str]) -> None:
        params = [(topic, k) for k in keys]
        if not params:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(sql, params)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise OutboxError(f"outbox update failed: {exc}") from exc
