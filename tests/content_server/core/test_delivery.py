"""The durable delivery queue on real databases (SQLite, PostgreSQL): enqueue with the change, claim
under a lease, retry with backoff, dead letters, send again, withdraw; two processes' workers on
PostgreSQL never send one message twice. Time moves on a movable clock."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from content_server.core import migrate
from content_server.core.audit.models import AuditRecord
from content_server.core.audit.services import AuditLog
from content_server.core.db import make_engine, make_sessionmaker
from content_server.core.delivery import services as queue
from content_server.core.delivery.models import Delivery
from content_server.core.delivery.policy import (
    DeliveryState,
    Outcome,
    RetryPolicy,
    after_attempt,
    retry_delay,
)
from content_server.core.delivery.services import Message
from content_server.core.delivery.worker import DeliveryWorker, FunctionSender
from content_server.core.errors import Conflict
from schedules.clock import MovableClock
from tests.fixtures.postgres import create_database
from tests.fixtures.waiting import eventually

T0 = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)
POLICY = RetryPolicy(max_attempts=4, first_retry=dt.timedelta(seconds=10), max_retry=dt.timedelta(minutes=5))
LEASE = dt.timedelta(seconds=60)


# ---- the policy, pure -------------------------------------------------------------------------


def test_backoff_doubles_up_to_its_cap_with_repeatable_jitter() -> None:
    policy = RetryPolicy(
        max_attempts=20, first_retry=dt.timedelta(seconds=10), max_retry=dt.timedelta(minutes=10)
    )
    waits = [retry_delay(policy, n, "k").total_seconds() for n in range(1, 10)]
    for n, wait in enumerate(waits, start=1):
        base = min(10 * 2 ** (n - 1), 600)
        assert 0.8 * base <= wait <= 1.2 * base
    assert waits == [retry_delay(policy, n, "k").total_seconds() for n in range(1, 10)]
    assert retry_delay(policy, 3, "a") != retry_delay(policy, 3, "b")  # receivers are not hit all at once


def test_after_an_attempt() -> None:
    ok = after_attempt(POLICY, Outcome(True), failures=2, key="k", now=T0)
    assert ok.state is DeliveryState.DELIVERED and ok.failures == 0
    retry = after_attempt(POLICY, Outcome(False, "HTTP 503"), failures=0, key="k", now=T0)
    assert (
        retry.state is DeliveryState.PENDING
        and retry.next_attempt_at is not None
        and retry.next_attempt_at > T0
    )
    assert after_attempt(POLICY, Outcome(False), failures=3, key="k", now=T0).state is DeliveryState.DEAD
    assert (
        after_attempt(POLICY, Outcome(False, permanent=True), failures=0, key="k", now=T0).state
        is DeliveryState.DEAD
    )


# ---- the queue on a database ------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    if request.param == "postgres":
        url = create_database(request.getfixturevalue("postgres_url"))
    engine = make_engine(url)
    migrate.upgrade(engine)
    factory = make_sessionmaker(engine)
    AuditLog(MovableClock(T0)).install(factory)  # as the app has it
    yield factory
    engine.dispose()


class Recorder:
    """A sender that answers from a script and remembers every message it was handed."""

    def __init__(self, *answers: Outcome) -> None:
        self.answers = list(answers)
        self.sent: list[Message] = []
        self.lock = threading.Lock()

    def send(self, message: Message, now: dt.datetime) -> Outcome:
        with self.lock:
            self.sent.append(message)
            return self.answers.pop(0) if self.answers else Outcome(True, "HTTP 200")


def worker(
    sessions: sessionmaker[Session], clock: MovableClock, sender: Recorder, owner: str = "p1"
) -> DeliveryWorker:
    w = DeliveryWorker(sessions, clock, POLICY, owner=owner, lease=LEASE, poll_s=0.05)
    w.register("test", sender)
    w.install(sessions)
    return w


def put(sessions: sessionmaker[Session], key: str, now: dt.datetime, **kw: object) -> str:
    with sessions() as s:
        row = queue.enqueue(
            s, key=key, sender="test", target="t", payload={"n": key}, source="test", now=now, **kw
        )  # type: ignore[arg-type]
        s.commit()
        return row.id


def state(sessions: sessionmaker[Session], delivery_id: str) -> Delivery:
    with sessions() as s:
        row = s.get(Delivery, delivery_id)
        assert row is not None
        return row


def test_a_message_exists_exactly_when_the_change_that_made_it_does(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        queue.enqueue(s, key="lost", sender="test", target="t", payload={}, source="test", now=T0)
        s.rollback()
    first = put(sessions, "k", T0)
    again = put(sessions, "k", T0 + dt.timedelta(seconds=5))  # the same key: the same message
    assert first == again
    with sessions() as s:
        assert [d.key for d in s.scalars(select(Delivery))] == ["k"]


def test_failures_are_retried_with_backoff_until_delivered_and_every_attempt_is_kept(
    sessions: sessionmaker[Session],
) -> None:
    clock = MovableClock(T0)
    sender = Recorder(Outcome(False, "HTTP 503: busy"), Outcome(False, "ConnectionError: refused"))
    w = worker(sessions, clock, sender)
    d = put(sessions, "alert-1", T0)
    assert w.run_due() == [DeliveryState.PENDING]
    assert w.run_due() == []  # not due yet: backing off
    clock.advance(7)
    assert w.run_due() == []  # 10 s +-20 %
    clock.advance(6)
    assert w.run_due() == [DeliveryState.PENDING]
    clock.advance(30)
    assert w.run_due() == [DeliveryState.DELIVERED]
    row = state(sessions, d)
    assert (
        row.state == "delivered"
        and row.attempts == 3
        and row.delivered_at is not None
        and row.last_error == ""
    )
    with sessions() as s:
        attempts = queue.attempts(s, d)
    assert [(a.number, a.ok) for a in attempts] == [(1, False), (2, False), (3, True)]
    assert attempts[0].detail == "HTTP 503: busy" and attempts[2].worker == "p1"
    assert [m.attempt for m in sender.sent] == [1, 2, 3] and {m.key for m in sender.sent} == {"alert-1"}


def test_the_last_failure_makes_a_dead_letter_which_an_operator_sends_again(
    sessions: sessionmaker[Session],
) -> None:
    clock = MovableClock(T0)
    sender = Recorder(*[Outcome(False, "HTTP 500")] * 4)
    w = worker(sessions, clock, sender)
    d = put(sessions, "k", T0)
    for _ in range(10):
        w.run_due()
        clock.advance(600)
    row = state(sessions, d)
    assert row.state == "dead" and row.attempts == POLICY.max_attempts and row.last_error == "HTTP 500"
    with sessions() as s:
        assert [x.id for x in queue.listing(s, state="dead")] == [d]
        queue.send_again(s, d, now=clock.now())
    assert w.run_due() == [DeliveryState.DELIVERED]
    row = state(sessions, d)
    assert row.state == "delivered" and row.attempts == POLICY.max_attempts + 1
    with sessions() as s:
        with pytest.raises(Conflict):
            queue.send_again(s, d, now=clock.now())  # only dead letters
        trail = [r.action for r in s.scalars(select(AuditRecord).where(AuditRecord.entity_id == d))]
    assert trail == ["delivery.sent_again"]


def test_a_permanent_refusal_is_not_retried(sessions: sessionmaker[Session]) -> None:
    clock = MovableClock(T0)
    w = worker(sessions, clock, Recorder(Outcome(False, "SMTP refused: 535 bad password", permanent=True)))
    d = put(sessions, "k", T0)
    assert w.run_due() == [DeliveryState.DEAD]
    assert state(sessions, d).attempts == 1


def test_a_process_that_died_mid_send_loses_its_message_only_until_its_lease_runs_out(
    sessions: sessionmaker[Session],
) -> None:
    clock = MovableClock(T0)
    d = put(sessions, "k", T0)
    with sessions() as s:  # process p1 claims it, then dies before recording anything
        assert [
            m.id for m in queue.claim(s, owner="p1", senders=["test"], now=T0, lease=LEASE, limit=10)
        ] == [d]
    survivor = Recorder()
    w2 = worker(sessions, clock, survivor, owner="p2")
    clock.advance(59)
    assert w2.run_due() == []  # p1's lease still holds
    clock.advance(2)
    assert w2.run_due() == [DeliveryState.DELIVERED]
    assert [m.attempt for m in survivor.sent] == [2] and survivor.sent[0].key == "k"
    with sessions() as s:
        attempts = queue.attempts(s, d)
    assert [(a.number, a.worker, a.ok, a.finished_at is None) for a in attempts] == [
        (1, "p1", None, True),  # cut off: shown as such in the portal
        (2, "p2", True, False),
    ]


def test_a_held_message_can_be_withdrawn_before_it_is_tried(sessions: sessionmaker[Session]) -> None:
    clock = MovableClock(T0)
    w = worker(sessions, clock, Recorder())
    held = put(sessions, "held", T0, not_before=T0 + dt.timedelta(hours=8))
    assert w.run_due() == []
    with sessions() as s:
        assert queue.cancel(s, "held", now=T0)
        s.commit()
    clock.advance(9 * 3600)
    assert w.run_due() == [] and state(sessions, held).state == "cancelled"


def test_urgent_messages_go_first(sessions: sessionmaker[Session]) -> None:
    clock = MovableClock(T0)
    sender = Recorder()
    w = worker(sessions, clock, sender)
    for i in range(3):
        put(sessions, f"routine-{i}", T0)
    put(sessions, "emergency", T0 + dt.timedelta(seconds=1), urgent=True)
    clock.advance(2)
    w.run_due(limit=1)
    assert sender.sent[0].key == "emergency"


@pytest.mark.postgres
def test_two_processes_racing_for_the_queue_never_send_a_message_twice(postgres_url: str) -> None:
    """Two workers (two engines: two processes' connection pools) claim at once, many times."""
    url = create_database(postgres_url)
    engines = [make_engine(url), make_engine(url)]
    migrate.upgrade(engines[0])
    factories = [make_sessionmaker(e) for e in engines]
    clock = MovableClock(T0)
    for i in range(200):
        put(factories[0], f"m{i}", T0)
    sender = Recorder()
    workers = [worker(f, clock, sender, owner=f"p{n}") for n, f in enumerate(factories)]
    start = threading.Barrier(2)

    def drain(w: DeliveryWorker) -> None:
        start.wait()
        while w.run_due(limit=7):
            pass

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    sends = Counter(m.key for m in sender.sent)
    assert len(sends) == 200 and set(sends.values()) == {1}
    with factories[0]() as s:
        assert queue.counts(s)["delivered"] == 200
    for e in engines:
        e.dispose()


def test_the_worker_thread_sends_what_this_process_enqueued_at_once(sessions: sessionmaker[Session]) -> None:
    """After a commit that enqueued something, the worker is woken (no waiting for its poll)."""
    clock = MovableClock(T0)
    done = threading.Event()

    def send(message: Message, now: dt.datetime) -> Outcome:
        done.set()
        return Outcome(True)

    w = DeliveryWorker(sessions, clock, POLICY, owner="p1", lease=LEASE, poll_s=30)
    w.register("test", FunctionSender(send))
    w.install(sessions)
    w.start()
    try:
        put(sessions, "now", T0)
        assert done.wait(10)
    finally:
        w.stop()


def test_a_savepoint_inside_the_enqueuing_transaction_does_not_spend_the_wake(
    sessions: sessionmaker[Session],
) -> None:
    """A savepoint released or rolled back after the enqueue (proof of play, leases and metrics use
    them) is not the commit: the worker is woken by the transaction's own commit."""
    clock = MovableClock(T0)
    done = threading.Event()

    def send(message: Message, now: dt.datetime) -> Outcome:
        done.set()
        return Outcome(True)

    w = DeliveryWorker(sessions, clock, POLICY, owner="p1", lease=LEASE, poll_s=30)
    w.register("test", FunctionSender(send))
    w.install(sessions)
    w.start()
    try:
        eventually(lambda: w.passes >= 1, what="the worker's first pass")
        with sessions() as s:
            queue.enqueue(s, key="k", sender="test", target="t", payload={}, source="test", now=T0)
            with s.begin_nested():
                pass
            # room for a wake spent here to be spent: the worker would find nothing committed and go
            # back to its 30 s poll (there is no event to wait for when the code is right)
            time.sleep(1.0)
            try:
                with s.begin_nested():
                    raise LookupError
            except LookupError:
                pass
            s.commit()
        assert done.wait(10)  # not the 30 s poll
    finally:
        w.stop()


def test_with_every_sending_thread_busy_the_worker_waits_instead_of_spinning(
    sessions: sessionmaker[Session],
) -> None:
    """A slow notify URL holds the only sending thread: the worker waits for it to come back
    (it is woken then), rather than looping over its futures and burning a core meanwhile."""
    clock = MovableClock(T0)
    entered, release = threading.Event(), threading.Event()
    sent: list[str] = []

    def send(message: Message, now: dt.datetime) -> Outcome:
        entered.set()
        release.wait(30)
        sent.append(message.payload["n"])
        return Outcome(True)

    w = DeliveryWorker(sessions, clock, POLICY, owner="p1", lease=LEASE, poll_s=30, threads=1)
    w.register("test", FunctionSender(send))
    w.install(sessions)
    w.start()
    try:
        put(sessions, "slow", T0)
        put(sessions, "next", T0)
        assert entered.wait(10)
        before = w.passes
        time.sleep(0.5)
        assert w.passes - before <= 2  # spinning made thousands of passes in half a second
        release.set()
        deadline = time.monotonic() + 10
        while len(sent) < 2 and time.monotonic() < deadline:  # the freed thread wakes the worker
            time.sleep(0.01)
        assert sorted(sent) == ["next", "slow"]
    finally:
        release.set()
        w.stop()
