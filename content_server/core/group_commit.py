"""Group commit: the writes of many requests in one transaction, each answered once it is committed.

A fleet's devices write all the time (proof-of-play batches, heartbeats), each write small. Done
one transaction per request on a worker thread, most of a write's cost is the transaction around
it (a thread hop, a pooled connection's check-out and ping, BEGIN, COMMIT and its WAL flush) and
ORM bookkeeping. Here one writer thread per process takes every write waiting for it, stores each
kind's items together (set-based statements, see :class:`WriteKind`), commits once and only then
answers each waiting request: a 2xx still means "durable", and under load one commit serves
dozens of requests. While a transaction commits the next writes queue up, so a busy server
commits in groups. A kind whose callers do not wait on the answer (a screen's proof of play goes
out in the background) may also ``linger``: a group it opens waits that long for more writes.
A transaction's fixed cost (BEGIN, the statements, COMMIT) is most of a lone write's CPU: groups
of five cost half as much per write as groups of one.

A group that fails (a constraint, a lost connection) is tried again one write at a time, so one
bad write fails only its own request. The writer keeps a connection of its own, not one of the
request pool's: it never waits behind requests for one, nor they behind it. Write kinds work on
that SQLAlchemy ``Connection`` with Core statements, not through an ORM ``Session``: at one
write per transaction (a quiet server) the session's bookkeeping cost as much as the write.
The change tracker does not see these statements, so a kind must not touch the tables that feed
manifests (none does: plays, and the heartbeat columns of devices, feed none).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine

log = logging.getLogger(__name__)

I = TypeVar("I")  # noqa: E741  (an item to write)
R = TypeVar("R")  # its result


@dataclass(frozen=True, eq=False)
class WriteKind(Generic[I, R]):
    """One kind of write: ``apply(connection, items)`` stores a group's items of this kind in the
    connection's transaction (without committing) and returns one result per item, in order."""

    name: str
    apply: Callable[[Connection, list[I]], Sequence[R]]
    linger_s: float = 0.0  # how long a group this kind opens waits for more writes


@dataclass(eq=False)
class _Pending:
    kind: WriteKind[Any, Any]
    item: Any
    answer: Callable[[Any, BaseException | None], None]  # called on the writer thread


_STOP = object()


class GroupCommitError(RuntimeError):
    """The writer is not running (not started, or stopped): nothing was written."""


class GroupCommit:
    """The process's writer thread; :meth:`write` from the event loop, :meth:`write_blocking`
    from any other thread."""

    def __init__(self, engine: Engine, *, max_group: int = 500) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self._max_group = max_group
        self._queue: queue.SimpleQueue[_Pending | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._accepting = False
        # what the benchmark and tests read: transactions committed and writes in them
        self.groups = 0
        self.writes = 0

    @property
    def engine(self) -> Engine:
        """The writer's own engine (its one connection): what watches its statements listens on."""
        return self._engine

    def start(self) -> None:
        if self._thread is not None:
            return
        self._accepting = True
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Write what was submitted, then stop the thread."""
        if self._thread is None:
            return
        self._accepting = False
        self._queue.put(_STOP)
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.error("the group-commit writer did not stop within %.0f s", timeout_s)
        self._thread = None

    async def write(self, kind: WriteKind[I, R], item: I) -> R:
        """Store ``item``; returns once it is committed (or raises what writing it raised)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()

        def answer(result: Any, error: BaseException | None) -> None:
            loop.call_soon_threadsafe(_settle, future, result, error)

        self._submit(_Pending(kind, item, answer))
        return await future

    def write_blocking(self, kind: WriteKind[I, R], item: I) -> R:
        """:meth:`write` for a thread that may block (a worker thread, a shutdown hook)."""
        future: Future[R] = Future()

        def answer(result: Any, error: BaseException | None) -> None:
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

        self._submit(_Pending(kind, item, answer))
        return future.result()

    def _submit(self, pending: _Pending) -> None:
        if not self._accepting:
            raise GroupCommitError("the writer is not running")
        self._queue.put(pending)

    # ---- the writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _serve(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            assert isinstance(first, _Pending)
            group = [first]
            until = time.monotonic() + first.kind.linger_s
            while len(group) < self._max_group:
                wait = until - time.monotonic()
                try:
                    more = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stopping = True
                    break
                assert isinstance(more, _Pending)
                group.append(more)
            self._commit(group)
        while True:  # submitted before the stop, queued behind it: write them too
            try:
                rest = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(rest, _Pending):
                self._commit([rest])

    def _commit(self, group: list[_Pending]) -> None:
        by_kind: dict[WriteKind[Any, Any], list[int]] = {}
        for i, pending in enumerate(group):
            by_kind.setdefault(pending.kind, []).append(i)
        results: list[Any] = [None] * len(group)
        try:
            if self._connection is None or self._connection.closed:
                self._connection = self._engine.connect()
            conn = self._connection
            with conn.begin():  # commits, or rolls back what raised
                for kind, positions in by_kind.items():
                    out = kind.apply(conn, [group[i].item for i in positions])
                    for i, result in zip(positions, out, strict=True):
                        results[i] = result
        except Exception as exc:  # boundary: every waiting request gets an answer
            if self._connection is not None and self._connection.invalidated:
                self._connection.close()  # lost: the next group connects again
                self._connection = None
            if len(group) == 1:
                log.info("write %s failed: %r", group[0].kind.name, exc)
                group[0].answer(None, exc)
                return
            log.info("a group of %d writes failed (%r): writing each alone", len(group), exc)
            for pending in group:
                self._commit([pending])
            return
        self.groups += 1
        self.writes += len(group)
        for pending, result in zip(group, results, strict=True):
            pending.answer(result, None)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the request was cancelled (client gone): the write stands regardless
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
