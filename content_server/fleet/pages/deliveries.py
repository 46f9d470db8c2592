"""Outbound messages: the queue by state (the dead letters among them), one message's attempts, send again."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from content_server.core.delivery import services as deliveries
from content_server.core.delivery.policy import DeliveryState
from content_server.core.deps import NowDep, SessionDep
from content_server.fleet.pages import common
from content_server.portal.page import Csrf, OperatorPage

router = APIRouter()
STATES = [s.value for s in DeliveryState]
PAGE = 100


@router.get("/fleet/deliveries")
def deliveries_page(
    page: OperatorPage,
    session: SessionDep,
    state: Annotated[str, Query(max_length=16)] = "",
    offset: Annotated[int, Query(ge=0, le=10**6)] = 0,
) -> Response:
    state = state if state in STATES else ""
    context = common.context("deliveries") | {
        "rows": deliveries.listing(session, state=state or None, limit=PAGE, offset=offset),
        "counts": deliveries.counts(session),
        "states": STATES,
        "state": state,
        "offset": offset,
        "page_size": PAGE,
    }
    return page.render("fleet_deliveries.html", context, title_key="fleet.deliveries.title")


@router.get("/fleet/deliveries/{delivery_id}")
def delivery_page(page: OperatorPage, session: SessionDep, delivery_id: str) -> Response:
    context = common.context("deliveries") | {
        "d": deliveries.get(session, delivery_id),
        "attempts": deliveries.attempts(session, delivery_id),
    }
    return page.render("fleet_delivery.html", context, title_key="fleet.delivery.title")


@router.post("/fleet/deliveries/{delivery_id}/send-again")
def send_again(
    page: OperatorPage, session: SessionDep, now: NowDep, delivery_id: str, csrf_token: Csrf = ""
) -> Response:
    page.require_csrf(csrf_token)
    deliveries.send_again(session, delivery_id, now=now)
    return page.redirect(f"/portal/fleet/deliveries/{delivery_id}", notice="sent_again")
