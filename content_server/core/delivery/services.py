"""The delivery queue's services: enqueue, claim under a lease, finish, send again, cancel, listings.

Enqueueing joins the caller's transaction (the message exists exactly when the change that
caused it does); the rest commit what they changed. Claiming is a compare-and-set ``UPDATE`` per
row (``WHERE`` it is still due), so of two processes reaching for the same row only one wins, on
SQLite and PostgreSQL alike (PostgreSQL also skips rows another process has locked).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from content_server.core.audit import services as audit
from content_server.core.delivery.models import Delivery, DeliveryAttempt
from content_server.core.delivery.policy import DeliveryState, Outcome, RetryPolicy, after_attempt
from content_server.core.errors import Conflict, NotFound

log = logging.getLogger(__name__)

ENQUEUED = "delivery_enqueued"  # session.info flag: wake this process's worker after the commit


@dataclass(frozen=True)
class Message:
    """A claimed message as its sender sees it (plain data: no session is open while sending)."""

    id: str
    key: str
    sender: str
    target: str
    topic: str
    payload: dict[str, Any]
    attempt: int  # 1 for the first try
    urgent: bool
    created_at: dt.datetime


def enqueue(
    session: Session,
    *,
    key: str,
    sender: str,
    target: str,
    payload: dict[str, Any],
    source: str,
    now: dt.datetime,
    topic: str = "",
    not_before: dt.datetime | None = None,
    urgent: bool = False,
) -> Delivery:
    """Queue a message in the caller's transaction; the same ``key`` again returns the first one
    (a dead letter is revived: asking again is a "send again")."""
    existing = session.scalar(select(Delivery).where(Delivery.key == key))
    if existing is not None:
        if existing.state == DeliveryState.DEAD.value:
            _revive(existing, now)
            session.info[ENQUEUED] = True
        return existing
    row = Delivery(
        key=key,
        sender=sender,
        target=target,
        topic=topic[:300],
        payload=payload,
        source=source,
        urgent=urgent,
        state=DeliveryState.PENDING.value,
        attempts=0,
        failures=0,
        next_attempt_at=max(now, not_before) if not_before else now,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    session.info[ENQUEUED] = True
    return row


def _revive(row: Delivery, now: dt.datetime) -> None:
    row.state = DeliveryState.PENDING.value
    row.failures = 0
    row.next_attempt_at = now
    row.lease_owner = row.lease_until = None
    row.updated_at = now


def _due(now: dt.datetime) -> Any:
    return or_(
        and_(Delivery.state == DeliveryState.PENDING.value, Delivery.next_attempt_at <= now),
        and_(Delivery.state == DeliveryState.SENDING.value, Delivery.lease_until < now),
    )


def claim(
    session: Session,
    *,
    owner: str,
    senders: Collection[str],
    now: dt.datetime,
    lease: dt.timedelta,
    limit: int,
) -> list[Message]:
    """Take up to ``limit`` due messages for the senders this process has; commits.

    A message whose lease ran out (its process died mid-send) is due again. Each claim counts as
    an attempt and opens its attempt row, finished by :func:`finish`.
    """
    if limit <= 0 or not senders:
        return []
    candidates = list(
        session.scalars(
            select(Delivery.id)
            .where(_due(now), Delivery.sender.in_(list(senders)))
            .order_by(Delivery.urgent.desc(), Delivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    claimed: list[Message] = []
    for delivery_id in candidates:
        won = cast(
            CursorResult[Any],
            session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, _due(now))
                .values(
                    state=DeliveryState.SENDING.value,
                    lease_owner=owner,
                    lease_until=now + lease,
                    attempts=Delivery.attempts + 1,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        if not won:
            continue
        row = session.get(Delivery, delivery_id, populate_existing=True)
        assert row is not None
        session.add(DeliveryAttempt(delivery_id=row.id, number=row.attempts, started_at=now, worker=owner))
        claimed.append(
            Message(
                row.id,
                row.key,
                row.sender,
                row.target,
                row.topic,
                dict(row.payload),
                row.attempts,
                row.urgent,
                row.created_at,
            )
        )
    session.commit()
    return claimed


def finish(
    session: Session,
    message: Message,
    outcome: Outcome,
    *,
    owner: str,
    policy: RetryPolicy,
    started: dt.datetime,
    now: dt.datetime,
) -> DeliveryState:
    """Record an attempt's outcome and the message's next state; commits.

    If the lease was lost meanwhile (the send took longer than the lease and another process
    took the message), only the attempt is recorded: the other process decides the state.
    """
    attempt = session.scalar(
        select(DeliveryAttempt).where(
            DeliveryAttempt.delivery_id == message.id, DeliveryAttempt.number == message.attempt
        )
    )
    if attempt is None:  # the claim's row was lost with a rolled-back claim: write it now
        attempt = DeliveryAttempt(
            delivery_id=message.id, number=message.attempt, started_at=started, worker=owner
        )
        session.add(attempt)
    attempt.finished_at, attempt.ok, attempt.detail = now, outcome.ok, outcome.detail[:500]
    row = session.get(Delivery, message.id, populate_existing=True)
    if row is None:
        session.commit()
        return DeliveryState.CANCELLED
    if row.state != DeliveryState.SENDING.value or row.lease_owner != owner:
        log.warning("delivery %s: lease lost during attempt %d; recorded only", message.id, message.attempt)
        session.commit()
        return DeliveryState(row.state)
    step = after_attempt(policy, outcome, failures=row.failures, key=row.key, now=now)
    row.state = step.state.value
    row.failures = step.failures
    row.lease_owner = row.lease_until = None
    row.updated_at = now
    if step.next_attempt_at is not None:
        row.next_attempt_at = step.next_attempt_at
    if outcome.ok:
        row.delivered_at = now
        row.last_error = ""
    else:
        row.last_error = outcome.detail[:500]
    session.commit()
    if step.state is DeliveryState.DEAD:
        log.warning(
            "delivery %s (%s) is a dead letter after %d attempt(s): %s",
            row.id,
            row.topic,
            row.attempts,
            outcome.detail[:200],
        )
    return step.state


def release(session: Session, owner: str, ids: Collection[str], now: dt.datetime) -> None:
    """Hand back messages this process claimed but never started (at shutdown); commits."""
    if ids:
        session.execute(
            update(Delivery)
            .where(
                Delivery.id.in_(list(ids)),
                Delivery.lease_owner == owner,
                Delivery.state == DeliveryState.SENDING.value,
            )
            .values(
                state=DeliveryState.PENDING.value,
                lease_owner=None,
                lease_until=None,
                attempts=Delivery.attempts - 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        session.execute(
            delete(DeliveryAttempt).where(
                DeliveryAttempt.delivery_id.in_(list(ids)), DeliveryAttempt.ok.is_(None)
            )
        )
        session.commit()


def get(session: Session, delivery_id: str) -> Delivery:
    row = session.get(Delivery, delivery_id)
    if row is None:
        raise NotFound("unknown delivery")
    return row


def send_again(session: Session, delivery_id: str, *, now: dt.datetime) -> Delivery:
    """An operator sends a dead letter again (a fresh round of attempts); commits."""
    row = get(session, delivery_id)
    if row.state != DeliveryState.DEAD.value:
        raise Conflict("only a dead letter can be sent again")
    _revive(row, now)
    session.info[ENQUEUED] = True
    audit.record(
        session,
        action="delivery.sent_again",
        entity="delivery",
        entity_id=row.id,
        at=now,
        before={"state": DeliveryState.DEAD.value},
        after={"state": row.state, "topic": row.topic},
    )
    session.commit()
    return row


def cancel(session: Session, key: str, *, now: dt.datetime) -> bool:
    """Withdraw a message not yet tried (a held alert whose problem healed); in the caller's transaction."""
    result = cast(
        CursorResult[Any],
        session.execute(
            update(Delivery)
            .where(Delivery.key == key, Delivery.state == DeliveryState.PENDING.value, Delivery.attempts == 0)
            .values(state=DeliveryState.CANCELLED.value, updated_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    return bool(result.rowcount)


def by_key(session: Session, key: str) -> Delivery | None:
    return session.scalar(select(Delivery).where(Delivery.key == key))


def with_key_prefix(session: Session, prefix: str, *, limit: int = 200) -> list[Delivery]:
    """Messages whose key starts with ``prefix`` (one alert's messages), oldest first."""
    query = select(Delivery).where(Delivery.key.startswith(prefix, autoescape=True))
    return list(session.scalars(query.order_by(Delivery.created_at).limit(limit)))


def listing(
    session: Session,
    *,
    state: str | None = None,
    source: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Delivery]:
    """Messages, newest first (dead letters: ``state="dead"``)."""
    query = select(Delivery).order_by(Delivery.created_at.desc(), Delivery.id)
    if state:
        query = query.where(Delivery.state == state)
    if source:
        query = query.where(Delivery.source == source)
    return list(session.scalars(query.limit(max(1, min(limit, 500))).offset(max(0, offset))))


def attempts(session: Session, delivery_id: str) -> list[DeliveryAttempt]:
    return list(
        session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id == delivery_id)
            .order_by(DeliveryAttempt.number)
        )
    )


def counts(session: Session) -> dict[str, int]:
    """Messages per state (every state present, zero when none)."""
    found = dict(session.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all())
    return {s.value: int(found.get(s.value, 0)) for s in DeliveryState}


def failed_attempts(session: Session, since: dt.datetime) -> int:
    """Attempts that failed since ``since`` (for the metrics)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(DeliveryAttempt)
            .where(DeliveryAttempt.ok.is_(False), DeliveryAttempt.finished_at >= since)
        )
        or 0
    )


@dataclass(frozen=True)
class Failing:
    """How a sender's messages fare: dead letters since a time, messages now failing in a row."""

    dead: int
    failing: int
    last_error: str


def failing(session: Session, sender: str, *, since: dt.datetime, min_failures: int) -> Failing:
    dead = (
        session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.sender == sender,
                Delivery.state == DeliveryState.DEAD.value,
                Delivery.updated_at >= since,
            )
        )
        or 0
    )
    retrying = (
        session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.sender == sender,
                Delivery.state.in_([DeliveryState.PENDING.value, DeliveryState.SENDING.value]),
                Delivery.failures >= min_failures,
            )
        )
        or 0
    )
    last = session.scalar(
        select(Delivery.last_error)
        .where(Delivery.sender == sender, Delivery.last_error != "")
        .order_by(Delivery.updated_at.desc())
        .limit(1)
    )
    return Failing(int(dead), int(retrying), last or "")


def prune(session: Session, *, now: dt.datetime, keep: dt.timedelta) -> int:
    """Forget delivered and cancelled messages older than ``keep`` (dead letters stay); commits."""
    result = cast(
        CursorResult[Any],
        session.execute(
            delete(Delivery).where(
                Delivery.state.in_([DeliveryState.DELIVERED.value, DeliveryState.CANCELLED.value]),
                Delivery.updated_at < now - keep,
            )
        ),
    )
    session.commit()
    return result.rowcount or 0
