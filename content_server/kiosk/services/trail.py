"""The kiosk back end's part of the one audit trail (``core.audit``), as its operators read it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from content_server.core.audit import services as audit
from content_server.kiosk.schemas import AuditView

ENTITIES = ("order", "case", "provider", "service", "slot", "category")


def kiosk_records(session: Session, *, entity_id: str | None, limit: int) -> list[AuditView]:
    """Records about the kiosk back end's entities (one of them when ``entity_id`` is given), newest first."""
    found = audit.search(
        session, audit.AuditFilter(entity_id=entity_id or "", entities=ENTITIES), limit=limit
    )
    return [
        AuditView(
            at=r.at,
            actor=f"{r.actor_kind}:{r.actor_id}",
            action=r.action,
            entity=r.entity,
            entity_id=r.entity_id,
            before=r.before,
            after=r.after,
        )
        for r in found
    ]
