"""The kiosk audit trail: one row per state change, with actor, time, before and after."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from content_server.kiosk.models import AuditRow


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    at: dt.datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Add an audit row to the caller's transaction (it commits with the change it describes)."""
    session.add(
        AuditRow(
            actor=actor, action=action, entity=entity, entity_id=entity_id, at=at, before=before, after=after
        )
    )
