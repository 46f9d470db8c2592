"""One evaluation pass: every enabled rule over the facts, alert state saved, notices queued; commits.

The scheduled job runs it in one server process at a time (the ``fleet-evaluator`` lease, taken
in the same transaction), and everything a pass decides (subject states, incidents, queued
messages with their idempotency keys) commits together, so a pass cut short by a crash leaves
nothing half done and the next pass simply decides again.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select
from sqlalchemy.orm import Session

from content_server.core import leases
from content_server.core.models import new_id
from content_server.core.settings import Settings
from content_server.fleet.evaluation import IncidentState, Member, Result, SubjectState, evaluate
from content_server.fleet.models import AlertRule, AlertSubject, Channel, Incident
from content_server.fleet.rule_kinds import RuleKind, due
from content_server.fleet.services import notify, observe, rules
from content_server.fleet.services.directory import DeviceDirectory
from schedules.bilingual import Bilingual

log = logging.getLogger(__name__)

LEASE = "fleet-evaluator"


@dataclass(frozen=True)
class PassSummary:
    evaluated: bool  # False: another process holds the evaluator's lease
    rules: int = 0
    notices: int = 0
    messages: int = 0
    open_incidents: int = 0
    took_s: float = 0.0


def _bilingual(value: Mapping[str, str] | None) -> Bilingual | None:
    return Bilingual(value.get("zh", ""), value.get("en", "")) if value else None


SUBJECT_COLUMNS = (
    "subject",
    "name",
    "group",
    "detail",
    "pending_since",
    "firing",
    "fired_at",
    "clear_since",
    "fires",
    "incident_id",
    "late",
)


def _values(st: SubjectState) -> dict[str, Any]:
    """A subject's state as its row's columns (what is compared, written and read back)."""
    return {
        "subject": st.subject,
        "name": st.name[:200],
        "group": st.group[:100],
        "detail": st.detail.as_dict() if st.detail else None,
        "pending_since": st.pending_since,
        "firing": st.firing,
        "fired_at": st.fired_at,
        "clear_since": st.clear_since,
        "fires": [t.isoformat() for t in st.fires],
        "incident_id": st.incident,
        "late": st.late,
    }


def _state(row: Mapping[str, Any]) -> SubjectState:
    return SubjectState(
        subject=row["subject"],
        name=row["name"],
        group=row["group"],
        detail=_bilingual(row["detail"]),
        pending_since=row["pending_since"],
        firing=row["firing"],
        fired_at=row["fired_at"],
        clear_since=row["clear_since"],
        fires=tuple(dt.datetime.fromisoformat(t) for t in row["fires"] or ()),
        incident=row["incident_id"],
        late=row["late"],
    )


def _load_subjects(session: Session, rule: AlertRule) -> dict[str, dict[str, Any]]:
    """The rule's remembered subjects as plain rows (thousands in an outage: no ORM objects)."""
    columns = [getattr(AlertSubject, c) for c in SUBJECT_COLUMNS]
    rows = session.execute(select(*columns).where(AlertSubject.rule_id == rule.id))
    return {row.subject: dict(zip(SUBJECT_COLUMNS, row, strict=True)) for row in rows}


def _member_json(m: Member) -> dict[str, Any]:
    return {
        "subject": m.subject,
        "name": m.name,
        "late": m.late,
        "detail": m.detail.as_dict() if m.detail else None,
    }


def _members(rows: list[dict[str, Any]] | None) -> tuple[Member, ...]:
    return tuple(
        Member(m["subject"], m.get("name", ""), _bilingual(m.get("detail")), bool(m.get("late")))
        for m in rows or ()
    )


def _incident(row: Incident) -> IncidentState:
    return IncidentState(
        id=row.id,
        rule=row.rule_id or "",
        group=row.group,
        opened_at=row.opened_at,
        members=_members(row.members),
        left=_members(row.left_members),
        notified_at=row.notified_at,
        named=tuple(row.named or ()),
        last_notice_at=row.last_notice_at,
        acknowledged_at=row.acknowledged_at,
        escalated_at=row.escalated_at,
        resolved_at=row.resolved_at,
        flapping=row.flapping,
        urgent=row.urgent,
        updates=row.updates,
    )


def _save_subjects(
    session: Session, rule: AlertRule, rows: dict[str, dict[str, Any]], result: Result
) -> None:
    """Write only what changed, in bulk statements."""
    table = cast(Table, AlertSubject.__table__)
    gone = [s for s in rows if s not in result.subjects]
    if gone:
        session.execute(
            delete(AlertSubject).where(AlertSubject.rule_id == rule.id, AlertSubject.subject.in_(gone))
        )
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for subject, st in result.subjects.items():
        values = _values(st)
        old = rows.get(subject)
        if old is None:
            new.append({"rule_id": rule.id, **values})
        elif _state(old) != st:
            changed.append({"b_rule": rule.id, "b_subject": subject, **values})
    conn = session.connection()
    if new:
        conn.execute(table.insert(), new)
    if changed:
        conn.execute(
            table.update()
            .where(table.c.rule_id == bindparam("b_rule"), table.c.subject == bindparam("b_subject"))
            .values({c: bindparam(c) for c in SUBJECT_COLUMNS if c != "subject"}),
            changed,
        )


def _save_incident(session: Session, rule: AlertRule, st: IncidentState, row: Incident | None) -> Incident:
    if row is None:
        row = Incident(
            id=st.id,
            rule_id=rule.id,
            rule_name=rule.name,
            kind=rule.kind,
            group=st.group,
            opened_at=st.opened_at,
            urgent=st.urgent,
        )
        session.add(row)
    row.members = [_member_json(m) for m in st.members]
    row.left_members = [_member_json(m) for m in st.left]
    row.max_members = max(row.max_members or 0, len(st.members))
    row.named = list(st.named)
    row.notified_at, row.last_notice_at, row.updates = st.notified_at, st.last_notice_at, st.updates
    row.escalated_at, row.resolved_at, row.flapping = st.escalated_at, st.resolved_at, st.flapping
    row.rule_name = rule.name
    return row


def evaluate_rule(
    session: Session,
    rule: AlertRule,
    facts: observe.Facts,
    channels: list[Channel],
    *,
    settings: Settings,
    make_id: Callable[[], str] = new_id,
) -> tuple[int, int]:
    """Evaluate one rule at ``facts.now``; (notices, messages queued). Not committed."""
    now = facts.now
    rows = _load_subjects(session, rule)
    observations = observe.observe(session, rule, facts, settings, remembered=rows.keys())
    open_rows = {
        r.id: r
        for r in session.scalars(
            select(Incident).where(Incident.rule_id == rule.id, Incident.resolved_at.is_(None))
        )
    }
    result = evaluate(
        rules.spec(rule),
        observations,
        {s: _state(r) for s, r in rows.items()},
        [_incident(r) for r in open_rows.values()],
        now=now,
        new_id=make_id,
    )
    saved = {st.id: _save_incident(session, rule, st, open_rows.get(st.id)) for st in result.incidents}
    session.flush()  # incidents exist before subjects point at them
    _save_subjects(session, rule, rows, result)
    queued = 0
    for notice in result.notices:
        incident = saved.get(notice.incident) or open_rows[notice.incident]
        queued += notify.dispatch(
            session,
            rule,
            incident,
            notice,
            channels,
            now=now,
            portal_url=settings.public_url,
            tz=settings.community_tz,
        )
        log.info(
            "alert %s: %s %s (%s, %d member(s))",
            rule.name,
            notice.kind.value,
            notice.incident,
            notice.group or "-",
            len(notice.members),
        )
    return len(result.notices), queued


def evaluate_all(
    session: Session,
    *,
    now: dt.datetime,
    settings: Settings,
    owner: str | None = None,
    make_id: Callable[[], str] = new_id,
    last_run: dict[str, float] | None = None,
    monotonic: float = 0.0,
    directory: DeviceDirectory | None = None,
) -> PassSummary:
    """One pass over the enabled rules; with ``owner``, only if it holds the evaluator's lease. Commits.

    ``last_run`` (rule id -> monotonic seconds, kept by the caller) skips rules not yet due again
    (``rule_kinds.due``): the ones reading heartbeat contents run every 30 s. Without it, every
    rule runs (tests, tools). ``directory`` (the process's) remembers devices' settings between passes.
    """
    started = time.monotonic()
    if owner is not None:
        ttl = dt.timedelta(seconds=3 * settings.fleet_evaluate_every_s + 10)
        if not leases.try_hold(session, LEASE, owner, now=now, ttl=ttl):
            session.rollback()
            return PassSummary(False)
    enabled = list(
        session.scalars(select(AlertRule).where(AlertRule.enabled.is_(True)).order_by(AlertRule.id))
    )
    if last_run is not None:
        every = settings.fleet_evaluate_every_s
        enabled = [r for r in enabled if due(RuleKind(r.kind), last_run.get(r.id), monotonic, every)]
        last_run.update(dict.fromkeys((r.id for r in enabled), monotonic))
    facts = observe.gather(session, now, {RuleKind(r.kind) for r in enabled}, directory, monotonic)
    channels = list(session.scalars(select(Channel)))
    notices = queued = 0
    for rule in enabled:
        n, q = evaluate_rule(session, rule, facts, channels, settings=settings, make_id=make_id)
        notices, queued = notices + n, queued + q
    open_count = len(list(session.scalars(select(Incident.id).where(Incident.resolved_at.is_(None)))))
    session.commit()
    return PassSummary(True, len(enabled), notices, queued, open_count, time.monotonic() - started)
