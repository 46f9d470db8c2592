"""When a failed outbound message is tried again, and when it becomes a dead letter. Pure; time passed in."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from enum import StrEnum


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its (next) attempt
    SENDING = "sending"  # claimed by a process, under its lease
    DELIVERED = "delivered"  # the receiver acknowledged it
    DEAD = "dead"  # given up: a dead letter until someone sends it again
    CANCELLED = "cancelled"  # withdrawn before its first attempt (a held alert that healed)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``first_retry``, then doubling, at most ``max_retry``, ``max_attempts`` in all."""

    max_attempts: int
    first_retry: dt.timedelta
    max_retry: dt.timedelta
    factor: float = 2.0
    jitter: float = 0.2  # +-20 %, so a receiver that was down is not hit by every retry at once


@dataclass(frozen=True)
class Outcome:
    """What a sender reports about one attempt; ``permanent`` failures are not retried."""

    ok: bool
    detail: str = ""
    permanent: bool = False


@dataclass(frozen=True)
class NextStep:
    state: DeliveryState
    failures: int
    next_attempt_at: dt.datetime | None


def retry_delay(policy: RetryPolicy, failures: int, key: str) -> dt.timedelta:
    """Wait after the ``failures``-th failure in a row; the jitter is derived from the key (repeatable)."""
    base = policy.first_retry.total_seconds() * policy.factor ** max(0, failures - 1)
    base = min(base, policy.max_retry.total_seconds())
    digest = hashlib.sha256(f"{key}:{failures}".encode()).digest()
    spread = (int.from_bytes(digest[:4], "big") / 0xFFFFFFFF) * 2 - 1  # -1 .. 1
    return dt.timedelta(seconds=max(0.0, base * (1 + policy.jitter * spread)))


def after_attempt(
    policy: RetryPolicy, outcome: Outcome, *, failures: int, key: str, now: dt.datetime
) -> NextStep:
    """The message's state after an attempt, given the failures in a row before it."""
    if outcome.ok:
        return NextStep(DeliveryState.DELIVERED, 0, None)
    failures += 1
    if outcome.permanent or failures >= policy.max_attempts:
        return NextStep(DeliveryState.DEAD, failures, None)
    return NextStep(DeliveryState.PENDING, failures, now + retry_delay(policy, failures, key))
