"""Senders and the per-process worker that claims due messages, sends them and records the outcome.

Each feature registers a :class:`Sender` for its kind of message at start-up. The worker thread
looks for due messages every ``poll_s`` (sooner when this process enqueued one: the queue's
after-commit hook wakes it), claims as many as it has free sending threads, and sends each on a
thread of its own with no database session open (a merchant's notify URL may be this very
server, writing to the same database). Tests call :meth:`DeliveryWorker.run_due` instead of
starting the thread.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from content_server.core.db import in_savepoint
from content_server.core.delivery import services
from content_server.core.delivery.policy import DeliveryState, Outcome, RetryPolicy
from content_server.core.delivery.services import ENQUEUED, Message
from schedules.clock import Clock

log = logging.getLogger(__name__)


class Sender(Protocol):
    """Sends one message; reports the outcome instead of raising (a raise counts as a failure)."""

    def send(self, message: Message, now: dt.datetime) -> Outcome: ...


class FunctionSender:
    """A sender made of a function, for senders that need no state of their own."""

    def __init__(self, fn: Callable[[Message, dt.datetime], Outcome]) -> None:
        self._fn = fn

    def send(self, message: Message, now: dt.datetime) -> Outcome:
        return self._fn(message, now)


class DeliveryWorker:
    """This process's side of the queue: its senders, its lease name and its sending threads."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        policy: RetryPolicy,
        *,
        owner: str,
        lease: dt.timedelta,
        poll_s: float,
        threads: int = 4,
        on_outcome: Callable[[Message, Outcome], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.policy = policy
        self.owner = owner
        self._lease = lease
        self._poll_s = poll_s
        self._threads = threads
        self._senders: dict[str, Sender] = {}
        self._on_outcome = on_outcome  # e.g. counting sends and failures for the metrics
        self._wake = threading.Condition()
        self._woken = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._in_flight: dict[str, Future[Any]] = {}
        self.passes = 0  # claiming passes of the worker thread (tests see it wait, not spin)

    def register(self, name: str, sender: Sender) -> None:
        """Messages whose ``sender`` is ``name`` are sent by ``sender`` in this process."""
        self._senders[name] = sender

    @property
    def senders(self) -> list[str]:
        return sorted(self._senders)

    def install(self, sessions: sessionmaker[Session]) -> None:
        """Wake the worker after a commit that enqueued something in this process."""

        def committed(session: Session) -> None:
            if in_savepoint(session):  # a savepoint's release: nothing is committed yet
                return
            if session.info.pop(ENQUEUED, False):
                self.wake()

        def rolled_back(session: Session) -> None:
            if not in_savepoint(session):  # a savepoint's: the enqueue before it stands
                session.info.pop(ENQUEUED, None)

        event.listen(sessions, "after_commit", committed)
        event.listen(sessions, "after_rollback", rolled_back)

    def wake(self) -> None:
        with self._wake:
            self._woken = True
            self._wake.notify()

    # ---- one message ------------------------------------------------------------------------

    def _send_one(self, message: Message) -> DeliveryState:
        started = self._clock.now()
        sender = self._senders.get(message.sender)
        try:  # boundary: a sender's bug is one failed attempt, never a dead worker
            outcome = (
                sender.send(message, started)
                if sender is not None
                else Outcome(False, f"no sender {message.sender!r} in this process")
            )
        except Exception as exc:
            log.exception("delivery %s: sender %s failed", message.id, message.sender)
            outcome = Outcome(False, f"{type(exc).__name__}: {exc}")
        if self._on_outcome is not None:
            self._on_outcome(message, outcome)
        with self._sessions() as session:
            return services.finish(
                session,
                message,
                outcome,
                owner=self.owner,
                policy=self.policy,
                started=started,
                now=self._clock.now(),
            )

    def _claim(self, limit: int) -> list[Message]:
        with self._sessions() as session:
            return services.claim(
                session,
                owner=self.owner,
                senders=self.senders,
                now=self._clock.now(),
                lease=self._lease,
                limit=limit,
            )

    def run_due(self, limit: int = 100) -> list[DeliveryState]:
        """Claim and send what is due now, one after another in the calling thread (tests, tools)."""
        states: list[DeliveryState] = []
        for message in self._claim(limit):
            states.append(self._send_one(message))
        return states

    # ---- the thread -------------------------------------------------------------------------

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="delivery-send")
        self._thread = threading.Thread(target=self._run, name="delivery-worker", daemon=True)
        self._thread.start()
        log.info("delivery worker %s started (%s)", self.owner, ", ".join(self.senders) or "no senders")

    def _run(self) -> None:
        assert self._pool is not None
        while not self._stopping:
            self.passes += 1
            self._in_flight = {k: f for k, f in self._in_flight.items() if not f.done()}
            free = self._threads - len(self._in_flight)
            try:  # boundary: a database hiccup must not end the worker; it tries again at the next poll
                claimed = self._claim(free) if free > 0 else []
            except Exception:
                log.exception("delivery worker: claiming failed")
                claimed = []
            for message in claimed:
                self._in_flight[message.id] = self._pool.submit(self._send_logged, message)
            with self._wake:
                # a full claim may leave more due: claim again at once; every sending thread busy:
                # wait for one to finish (it wakes us), never spin on the futures meanwhile
                if not self._woken and not self._stopping and (free <= 0 or len(claimed) < free):
                    self._wake.wait(self._poll_s)
                self._woken = False

    def _send_logged(self, message: Message) -> None:
        try:  # boundary: recording failed (database gone): the lease runs out and it is sent again
            self._send_one(message)
        except Exception:
            log.exception("delivery %s: could not record the attempt", message.id)
        finally:
            self.wake()  # a sending thread is free again

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop claiming, let the sends in flight finish (up to ``timeout_s``)."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._thread = self._pool = None
