"""The audit trail: filters (person, screen, action, dates), newest records first, CSV, the chain's check."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from content_server.core.audit import services as audit
from content_server.core.deps import SessionDep
from content_server.fleet.pages import common
from content_server.portal import forms
from content_server.portal.page import OperatorPage

router = APIRouter()
PAGE = 100


def _filter(
    person: str, screen: str, action: str, date_from: str, date_to: str, tz: dt.tzinfo
) -> tuple[audit.AuditFilter, bool]:
    """The filter from the form's fields (local dates, ``to`` inclusive); whether a date was unreadable."""
    bad = False

    def day(text: str) -> dt.date | None:
        nonlocal bad
        if not text.strip():
            return None
        try:
            return forms.parse_date(text)
        except forms.FormError:
            bad = True
            return None

    start, end = day(date_from), day(date_to)
    since = dt.datetime.combine(start, dt.time(), tz).astimezone(dt.UTC) if start else None
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC) if end else None
    f = audit.AuditFilter(
        person=person.strip(), screen=screen.strip(), action=action.strip(), since=since, until=until
    )
    return f, bad


Field = Annotated[str, Query(max_length=100)]


@router.get("/fleet/audit")
def audit_page(
    page: OperatorPage,
    session: SessionDep,
    person: Field = "",
    screen: Field = "",
    action: Field = "",
    date_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=10)] = "",
    offset: Annotated[int, Query(ge=0, le=10**7)] = 0,
) -> Response:
    f, bad = _filter(person, screen, action, date_from, date_to, page.tz)
    query: dict[str, Any] = {
        "person": person,
        "screen": screen,
        "action": action,
        "from": date_from,
        "to": date_to,
    }
    context = common.context("audit") | {
        "records": audit.search(session, f, limit=PAGE, offset=offset),
        "total": audit.count(session, f),
        "query": query,
        "bad_date": bad,
        "role_name": lambda role: common.label_of(page, role, ("role", "fleet.device", "fleet.actor")),
        "action_label": lambda action: common.action_label(page, action),
        "offset": offset,
        "page_size": PAGE,
    }
    return page.render("fleet_audit.html", context, title_key="fleet.audit.title")


@router.get("/fleet/audit.csv")
def audit_csv(
    page: OperatorPage,
    session: SessionDep,
    person: Field = "",
    screen: Field = "",
    action: Field = "",
    date_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    f, _ = _filter(person, screen, action, date_from, date_to, page.tz)
    response = Response(audit.export_csv(session, f), media_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="audit.csv"'
    return page.finish(response)


@router.get("/fleet/audit/verify")
def verify_page(page: OperatorPage, session: SessionDep) -> Response:
    """The chain walked now: intact, or the first broken record."""
    context = common.context("audit") | {"verdict": audit.verify(session)}
    return page.render("fleet_audit_verify.html", context, title_key="fleet.audit.verify_title")
