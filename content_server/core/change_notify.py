"""Changes told across server processes through PostgreSQL ``LISTEN``/``NOTIFY``.

Each process's caches trust their view of the change stamps for ``SIGNAGE_POLL_CACHE_S``, so
without help another process's change (a revoked key, an emergency) would reach them only
within that time. On PostgreSQL the change tracker also sends every stamp it writes on one
channel, in the same transaction (``core.changes``): PostgreSQL delivers it when the
transaction commits, and never for one rolled back. A thread in every server process listens
and hands what others committed to :meth:`ChangeTracker.changed_elsewhere`; the caches then
act at once, as for a change made in this process. SQLite runs one process and needs none.

A message too long for ``NOTIFY`` (8,000 bytes) says only its generation and stands for every
scope; so does (re)connecting, since messages sent while the listener was away are lost: the
process's caches then treat everything built before the current generation as changed.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psycopg

log = logging.getLogger(__name__)

CHANNEL = "signage_changes"
MAX_PAYLOAD = 7900  # PostgreSQL refuses payloads of 8,000 bytes or more
APPLICATION = "signage-change-listener"  # its name in pg_stat_activity


@dataclass(frozen=True)
class Told:
    """One message: who sent it, the scopes it stamped (None: every scope, up to ``generation``)."""

    origin: str
    generation: int
    scopes: tuple[tuple[str, int], ...] | None
    emergency: bool


def encode(origin: str, scopes: Sequence[tuple[str, int]], emergency: bool) -> str:
    """The message for stamps written in one flush (all with the same generation)."""
    generation = max((g for _s, g in scopes), default=0)
    text = json.dumps({"o": origin, "g": generation, "s": [s for s, _g in scopes], "e": emergency})
    if len(text.encode()) <= MAX_PAYLOAD:
        return text
    return json.dumps({"o": origin, "g": generation, "s": None, "e": emergency})


def decode(text: str) -> Told:
    data = json.loads(text)
    generation = int(data["g"])
    names = data.get("s")
    scopes = None if names is None else tuple((str(s), generation) for s in names)
    return Told(str(data["o"]), generation, scopes, bool(data.get("e")))


class ChangeListener:
    """A thread that listens on :data:`CHANNEL` and reports what other processes committed.

    ``on_told(told)`` runs on the listener's thread for each message not sent by ``origin``;
    ``on_connected(generation)`` after each (re)connection, with the generation the database has
    then (anything may have changed while no one listened).
    """

    def __init__(
        self,
        conninfo: str,
        origin: str,
        on_told: Callable[[Told], None],
        on_connected: Callable[[int], None],
        *,
        retry_s: float = 1.0,
    ) -> None:
        self._conninfo = conninfo
        self._origin = origin
        self._on_told = on_told
        self._on_connected = on_connected
        self._retry_s = retry_s
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="change-listener", daemon=True)
        self.told = 0  # messages from other processes handled (tests and /metrics look)

    def start(self) -> None:
        self._thread.start()

    def wait_listening(self, timeout: float) -> bool:
        return self._listening.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._conninfo, autocommit=True, connect_timeout=5, application_name=APPLICATION
                ) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    row = conn.execute("SELECT generation FROM manifest_state WHERE id = 1").fetchone()
                    self._on_connected(int(row[0]) if row else 0)
                    self._listening.set()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._handle(note.payload)
            except Exception:  # boundary: a lost connection is retried; until then the caches' TTL holds
                self._listening.clear()
                if not self._stop.is_set():
                    log.warning("change listener lost its connection; retrying", exc_info=True)
                    self._stop.wait(self._retry_s)

    def _handle(self, payload: str) -> None:
        try:
            told = decode(payload)
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed change message: %.200s", payload)
            return
        if told.origin == self._origin:
            return  # this process told its caches at commit
        self.told += 1
        self._on_told(told)
