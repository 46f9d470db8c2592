"""Government-affairs case state machine, with what each change must carry.

submitted → accepted / rejected / materials needed → under review → approved / denied →
certificate in production → ready for pickup → closed. A change that needs a reason, a list
of missing documents or a pickup place refuses to happen without it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from content_server.kiosk.errors import IllegalTransition, InvalidInput
from schedules.protocol.kiosk import CaseState as S

_ALLOWED: dict[S, frozenset[S]] = {
    S.SUBMITTED: frozenset({S.ACCEPTED, S.REJECTED, S.MATERIALS_NEEDED}),
    S.MATERIALS_NEEDED: frozenset({S.SUBMITTED, S.ACCEPTED, S.REJECTED, S.UNDER_REVIEW}),
    S.ACCEPTED: frozenset({S.UNDER_REVIEW, S.MATERIALS_NEEDED}),
    S.UNDER_REVIEW: frozenset({S.APPROVED, S.DENIED, S.MATERIALS_NEEDED}),
    S.APPROVED: frozenset({S.IN_PRODUCTION, S.READY_FOR_PICKUP, S.CLOSED}),
    S.IN_PRODUCTION: frozenset({S.READY_FOR_PICKUP}),
    S.READY_FOR_PICKUP: frozenset({S.CLOSED}),
    S.REJECTED: frozenset({S.CLOSED}),
    S.DENIED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}

NEEDS_NOTE = frozenset({S.REJECTED, S.DENIED, S.READY_FOR_PICKUP})  # reason / where to pick up


@dataclass(frozen=True)
class CaseChange:
    """One requested change of a case, as a clerk submits it."""

    target: S
    clerk: str
    at: dt.datetime
    note_zh: str = ""
    note_en: str = ""
    missing_documents: tuple[str, ...] = field(default=())
    deadline: dt.date | None = None
    tz: dt.tzinfo = dt.UTC  # the community's zone: a deadline is a date on its calendar, not UTC's


def allowed_targets(state: S) -> frozenset[S]:
    """States reachable from ``state`` in one step (what the clerk UI offers)."""
    return _ALLOWED[state]


def check_change(state: S, change: CaseChange) -> None:
    """Raise unless ``change`` is legal from ``state`` and carries what its target needs."""
    if change.target not in _ALLOWED[state]:
        raise IllegalTransition("case", state.value, change.target.value)
    if change.at.tzinfo is None:
        raise InvalidInput("at", "must be timezone-aware")
    if not change.clerk:
        raise InvalidInput("clerk", "every change is attributed to a clerk")
    if change.target in NEEDS_NOTE and not (change.note_zh.strip() or change.note_en.strip()):
        what = "pickup place" if change.target is S.READY_FOR_PICKUP else "reason"
        raise InvalidInput("note", f"{change.target.value} needs a {what}")
    if change.target is S.MATERIALS_NEEDED:
        docs = [d for d in change.missing_documents if d.strip()]
        if not docs:
            raise InvalidInput("missing_documents", "list the missing documents")
        if change.deadline is None:
            raise InvalidInput("deadline", "materials needed requires a deadline")
        if change.deadline < change.at.astimezone(change.tz).date():
            raise InvalidInput("deadline", "deadline is in the past")
    elif change.missing_documents or change.deadline is not None:
        raise InvalidInput("missing_documents", "only a materials-needed change lists documents")
