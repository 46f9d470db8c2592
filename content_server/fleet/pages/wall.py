"""The fleet wall: every screen and kiosk by building, coloured by state, open alerts on top."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from content_server.core.blobs import serve_blob
from content_server.core.deps import NowDep, SessionDep, StoreDep
from content_server.core.errors import NotFound
from content_server.fleet import wall as wall_model
from content_server.fleet.pages import common
from content_server.fleet.services import incidents
from content_server.fleet.services import wall as wall_service
from content_server.portal.page import OperatorPage
from schedules.model import ScreenClass

router = APIRouter()

REFRESH_S = 30


@router.get("/fleet")
def wall_page(
    page: OperatorPage,
    session: SessionDep,
    now: NowDep,
    state: Annotated[str, Query(max_length=16)] = "",
    screen_class: Annotated[str, Query(alias="class", max_length=32)] = "",
    kind: Annotated[str, Query(max_length=16)] = "",
    refresh: Annotated[int, Query(ge=2, le=600)] = REFRESH_S,
) -> Response:
    """``refresh``: seconds between the wall's own refreshes (a wall display may want it slower)."""
    view = wall_service.view(
        session, now=now, settings=page.settings, state=state, screen_class=screen_class, kind=kind
    )
    context = common.context(
        "wall",
        wall=view,
        states=wall_model.STATES,
        classes=[c.value for c in ScreenClass],
        open_alerts=incidents.open_incidents(session),
        refresh_s=refresh,
        now=now,
    )
    return page.render("fleet_wall.html", context, title_key="fleet.wall.title")


@router.get("/fleet/screens/{screen_id}/screenshot")
def screenshot(
    screen_id: str, request: Request, page: OperatorPage, session: SessionDep, store: StoreDep
) -> Response:
    """A device's latest screenshot (the wall shows it as a thumbnail)."""
    sha = wall_service.screenshot_of(session, screen_id)
    if sha is None:
        raise NotFound("no screenshot yet")
    return page.finish(serve_blob(request, store, sha, "image/png", private=True))
