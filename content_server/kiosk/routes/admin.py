"""Operators' view of the kiosk back end: its part of the audit trail and a reconciliation pass on demand."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request

from content_server.core.deps import NowDep, SessionDep
from content_server.kiosk import runtime
from content_server.kiosk.deps import API, Operator, Runtime
from content_server.kiosk.schemas import AuditView, ReconcileView
from content_server.kiosk.services import trail

admin_router = APIRouter(prefix=f"{API}/kiosk-admin", tags=["kiosk admin"])


@admin_router.get("/audit", response_model=list[AuditView])
def audit_trail(
    operator: Operator, session: SessionDep, entity_id: str | None = None, limit: int = 200
) -> list[AuditView]:
    """The kiosk back end's records in the one audit trail, newest first."""
    return trail.kiosk_records(session, entity_id=entity_id, limit=limit)


@admin_router.post("/reconcile", response_model=ReconcileView)
def reconcile_now(request: Request, operator: Operator, now: NowDep, rt: Runtime) -> ReconcileView:
    """Run a reconciliation pass now (without the grace period the scheduled job leaves)."""
    counts = runtime.reconcile_all(rt, request.app.state.sessions, now, grace=dt.timedelta(0))
    return ReconcileView(**counts)
