"""Alerts: open and recent incidents; one alert with its messages; acknowledging with a note."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from content_server.core.delivery import services as deliveries
from content_server.core.deps import NowDep, SessionDep
from content_server.core.errors import ServerError
from content_server.fleet.pages import common
from content_server.fleet.pages.common import problem
from content_server.fleet.services import incidents
from content_server.portal.page import Csrf, OperatorPage

router = APIRouter()

RECENT = dt.timedelta(days=7)


@router.get("/fleet/alerts")
def alerts_page(page: OperatorPage, session: SessionDep, now: NowDep) -> Response:
    rows = incidents.recent(session, since=now - RECENT)
    context = common.context("alerts") | {
        "open": [i for i in rows if i.resolved_at is None],
        "resolved": [i for i in rows if i.resolved_at is not None],
    }
    return page.render("fleet_alerts.html", context, title_key="fleet.alerts.title")


def _alert_page(
    page: OperatorPage, session: SessionDep, incident_id: str, errors: list[str], note: str
) -> Response:
    incident = incidents.get(session, incident_id)
    context = common.context("alerts") | {
        "incident": incident,
        "messages": deliveries.with_key_prefix(session, f"fleet:{incident.id}:"),
        "form_errors": errors,
        "note": note,
    }
    status = 422 if errors else 200
    return page.render("fleet_alert.html", context, title_key="fleet.alert.title", status_code=status)


@router.get("/fleet/alerts/{incident_id}")
def alert_page(page: OperatorPage, session: SessionDep, incident_id: str) -> Response:
    return _alert_page(page, session, incident_id, [], "")


@router.post("/fleet/alerts/{incident_id}/acknowledge")
def acknowledge(
    page: OperatorPage,
    session: SessionDep,
    now: NowDep,
    incident_id: str,
    note: Annotated[str, Form(max_length=incidents.MAX_NOTE)] = "",
    csrf_token: Csrf = "",
) -> Response:
    """Someone on duty takes it: no escalation; the note says what they are doing."""
    page.require_csrf(csrf_token)
    assert page.user is not None
    try:
        incidents.acknowledge(session, incident_id, user=page.user, note=note, now=now)
    except ServerError as exc:
        session.rollback()
        return _alert_page(page, session, incident_id, [problem(page, exc)], note)
    return page.redirect(f"/portal/fleet/alerts/{incident_id}", notice="alert_acknowledged")
