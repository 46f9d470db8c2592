"""Government-affairs cases: clerks create and move them; residents look them up from kiosks.

A lookup needs the case number plus the last 4 of the ID card (or the phone). A wrong answer
and an unknown case number give the same :class:`~content_server.core.errors.NotFound`, and both
count as failures (``lookup``), so a wait reveals nothing either.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from content_server.core import throttle_store
from content_server.core.audit import services as audit
from content_server.core.auth import RateLimited
from content_server.core.errors import Invalid, NotFound
from content_server.core.throttle_store import ThrottleStore
from content_server.kiosk.case_states import CaseChange, check_change
from content_server.kiosk.case_types import CASE_TYPES, NEXT_STEP
from content_server.kiosk.identity import (
    mask_id_number,
    mask_name,
    mask_phone,
    normalize_id_number,
    normalize_phone,
)
from content_server.kiosk.lookup_guard import LookupPolicy, LookupStates
from content_server.kiosk.models import CaseEventRow, CaseRow
from schedules.protocol.kiosk import CaseEvent, CaseLookup, CaseState, CaseStatus, LocalizedText


class LookupLocked(RateLimited):
    """Recent wrong answers for this case here, in this session or for this case: wait (429)."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(retry_after_s)
        self.args = ("too many wrong answers; try again later",)


@dataclass(frozen=True)
class NewCase:
    """What a clerk types in for a new application."""

    case_type: str
    applicant_name: str
    id_number: str
    phone: str


@dataclass(frozen=True)
class CaseDetail:
    """The clerk's (unmasked) view of a case with its full timeline."""

    case: CaseRow
    events: list[CaseEventRow] = field(default_factory=list)


def new_case_number(now: dt.datetime, tz: dt.tzinfo) -> str:
    """``GA-YYYYMMDD-NNNNNN``: the community's date of submission plus 6 random digits (unique in
    the table); the UTC date numbered a case handed in at 00:30 in Shanghai with the day before."""
    return f"GA-{now.astimezone(tz):%Y%m%d}-{secrets.randbelow(10**6):06d}"


def _case_snapshot(case: CaseRow) -> dict[str, Any]:
    return {"state": case.state}


def create_case(session: Session, clerk_id: str, data: NewCase, now: dt.datetime, tz: dt.tzinfo) -> CaseRow:
    """Validate and store a submitted case; its first timeline entry is 'submitted'. Its number and
    legal time limit count from the submission's date in ``tz``, the community's zone."""
    case_type = CASE_TYPES.get(data.case_type)
    if case_type is None:
        raise Invalid(f"unknown case type {data.case_type!r}")
    name = data.applicant_name.strip()
    if not 1 <= len(name) <= 50:
        raise Invalid("applicant_name: 1 to 50 characters")
    id_number, phone = normalize_id_number(data.id_number), normalize_phone(data.phone)
    for _attempt in range(5):
        case = CaseRow(
            case_number=new_case_number(now, tz),
            case_type=case_type.code,
            applicant_name=name,
            id_number=id_number,
            phone=phone,
            state=CaseState.SUBMITTED.value,
            created_at=now,
            created_by=clerk_id,
            due_by=now.astimezone(tz).date() + dt.timedelta(days=case_type.time_limit_days),
        )
        session.add(case)
        try:
            session.flush()
        except IntegrityError:  # case number collision: draw again
            session.rollback()
            continue
        session.add(CaseEventRow(case_id=case.id, state=case.state, at=now, clerk_id=clerk_id))
        audit.record(
            session,
            actor=f"user:{clerk_id}",
            action="case.created",
            entity="case",
            entity_id=case.id,
            at=now,
            after=_case_snapshot(case) | {"case_type": case.case_type},
        )
        session.commit()
        return case
    raise Invalid("could not allocate a case number, please retry")


def get_case(session: Session, case_number: str) -> CaseDetail:
    case = session.scalar(select(CaseRow).where(CaseRow.case_number == case_number.strip().upper()))
    if case is None:
        raise NotFound("no such case")
    events = list(
        session.scalars(
            select(CaseEventRow)
            .where(CaseEventRow.case_id == case.id)
            .order_by(CaseEventRow.at, CaseEventRow.id)
        )
    )
    return CaseDetail(case, events)


def recent_cases(session: Session, state: str | None = None, limit: int = 200) -> list[CaseDetail]:
    """The newest cases (optionally in one state), for the clerk's work list."""
    query = select(CaseRow).order_by(CaseRow.created_at.desc()).limit(limit)
    if state:
        try:
            query = query.where(CaseRow.state == CaseState(state).value)
        except ValueError:
            raise Invalid(f"unknown state {state!r}") from None
    found = list(session.scalars(query))
    events: dict[str, list[CaseEventRow]] = {c.id: [] for c in found}
    for e in session.scalars(  # one query for all timelines, not one per case
        select(CaseEventRow)
        .where(CaseEventRow.case_id.in_(events))
        .order_by(CaseEventRow.at, CaseEventRow.id)
    ):
        events[e.case_id].append(e)
    return [CaseDetail(c, events[c.id]) for c in found]


def change_case(session: Session, case_number: str, change: CaseChange) -> CaseDetail:
    """Apply a clerk's change after the state machine allows it; timeline + audit in one commit."""
    detail = get_case(session, case_number)
    case = detail.case
    check_change(CaseState(case.state), change)
    before = _case_snapshot(case)
    case.state = change.target.value
    event = CaseEventRow(
        case_id=case.id,
        state=change.target.value,
        at=change.at,
        clerk_id=change.clerk,
        note_zh=change.note_zh.strip(),
        note_en=change.note_en.strip(),
        missing_documents=[d.strip() for d in change.missing_documents if d.strip()],
        deadline=change.deadline,
    )
    session.add(event)
    audit.record(
        session,
        actor=f"user:{change.clerk}",
        action=f"case.{change.target.value}",
        entity="case",
        entity_id=case.id,
        at=change.at,
        before=before,
        after=_case_snapshot(case) | {"note_zh": event.note_zh, "note_en": event.note_en},
    )
    session.commit()
    return get_case(session, case_number)


def public_status(detail: CaseDetail, now: dt.datetime) -> CaseStatus:
    """The masked view a kiosk may show (and cache for offline display 'as of')."""
    case = detail.case
    state = CaseState(case.state)
    timeline = tuple(
        CaseEvent(
            state=CaseState(e.state),
            at=e.at,
            note=LocalizedText(zh=e.note_zh, en=e.note_en) if (e.note_zh or e.note_en) else None,
            missing_documents=tuple(e.missing_documents),
            deadline=e.deadline,
        )
        for e in detail.events
    )
    return CaseStatus(
        case_number=case.case_number,
        case_type=CASE_TYPES[case.case_type].name,
        applicant_masked=mask_name(case.applicant_name),
        id_masked=mask_id_number(case.id_number),
        phone_masked=mask_phone(case.phone),
        state=state,
        timeline=timeline,
        next_step=NEXT_STEP.get(state),
        due_by=case.due_by,
        as_of=now,
    )


def lookup(
    session: Session,
    device_id: str,
    query: CaseLookup,
    policy: LookupPolicy,
    store: ThrottleStore,
    now: dt.datetime,
) -> CaseStatus:
    """Answer a resident's look-up, or raise NotFound / LookupLocked (a wrong answer is committed).

    Wrong answers make the next try wait (``kiosk.lookup_guard``): per case and kiosk, per kiosk
    session (``query.session``, new at each idle reset) and per case; never a lockout.
    """
    if (query.id_last4 is None) == (query.phone is None):
        raise Invalid("give either the last 4 characters of the ID card or the phone number")
    number = query.case_number.strip().upper()
    keys = policy.keys(number, device_id, query.session)
    with store.locked(session, group=keys.case, keys=list(keys.all)) as rows:
        states = LookupStates(
            pair=throttle_store.strikes(rows.get(keys.pair)),
            session=throttle_store.strikes(rows.get(keys.session)),
            case=throttle_store.strikes(rows.get(keys.case)),
        )
        verdict = policy.verdict(states, now)
        if not verdict.allowed:
            session.rollback()
            raise LookupLocked(verdict.wait_s)
        case = session.scalar(select(CaseRow).where(CaseRow.case_number == number))
        expected = "" if case is None else (case.id_number[-4:] if query.id_last4 else case.phone)
        given = (query.id_last4 or query.phone or "").upper()
        # compare even for an unknown case, so timing does not tell the two apart
        matches = (
            hmac.compare_digest(expected.encode() or b"\0" * len(given), given.encode()) and case is not None
        )
        if not matches:
            after = policy.after_failure(states, now)
            for key, state in zip(keys.all, (after.pair, after.session, after.case), strict=True):
                if state is not None:
                    throttle_store.save(session, key, state)
            session.commit()
            raise NotFound("no case matches this number and answer")
        throttle_store.forget(session, keys.pair)  # this kiosk's mistakes on this case are forgiven
        session.commit()
    return public_status(get_case(session, number), now)
