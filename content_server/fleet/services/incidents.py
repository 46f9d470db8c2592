"""Incidents as operators see them: open ones first, recent ones after; acknowledging with a note."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from content_server.core.audit import services as audit
from content_server.core.errors import Conflict, NotFound
from content_server.core.models import User
from content_server.fleet.errors import FieldInvalid
from content_server.fleet.models import Incident

MAX_NOTE = 2000


def open_incidents(session: Session) -> list[Incident]:
    """Open incidents, urgent first, then newest."""
    rows = list(session.scalars(select(Incident).where(Incident.resolved_at.is_(None))))
    return sorted(rows, key=lambda i: (not i.urgent, i.acknowledged_at is not None, -i.opened_at.timestamp()))


def recent(session: Session, *, since: dt.datetime, limit: int = 100) -> list[Incident]:
    """Incidents open now or resolved since ``since``, newest first."""
    query = (
        select(Incident)
        .where(or_(Incident.resolved_at.is_(None), Incident.resolved_at >= since))
        .order_by(Incident.opened_at.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def get(session: Session, incident_id: str) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound("unknown alert")
    return incident


def acknowledge(session: Session, incident_id: str, *, user: User, note: str, now: dt.datetime) -> Incident:
    """Someone on duty takes the alert: it will not escalate; the note says what they do. Commits."""
    incident = get(session, incident_id)
    note = note.strip()
    if not note:
        raise FieldInvalid("note", "say what you are doing about it")
    if len(note) > MAX_NOTE:
        raise FieldInvalid("note", f"at most {MAX_NOTE} characters")
    if incident.acknowledged_at is not None:
        raise Conflict(f"already acknowledged by {incident.acknowledged_by}")
    incident.acknowledged_at, incident.acknowledged_by, incident.ack_note = now, user.username, note
    audit.record(
        session,
        action="alert.acknowledged",
        entity="alert",
        entity_id=incident.id,
        at=now,
        after={"note": note, "rule": incident.rule_name, "group": incident.group},
    )
    session.commit()
    return incident
