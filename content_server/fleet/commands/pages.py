"""Commands in the portal: send one (with a preview of the screens it reaches), follow each screen's.

Sending is two steps: the form shows which screens the selector names now, and a second press
sends. A send's page lists every screen's command as pending, done, failed or expired.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from content_server.core.deps import NowDep, SessionDep, client_address
from content_server.core.errors import ServerError
from content_server.fleet.commands import services
from content_server.fleet.commands.notifier import CommandNotifier
from content_server.fleet.commands.selector import (
    BUILDING,
    DEFAULT_TTL_MINUTES,
    STATES,
    CommandRequest,
    Selector,
)
from content_server.portal.forms import FormError
from content_server.portal.page import Csrf, OperatorPage, problem_text
from content_server.portal.shell import NavLink
from content_server.signage.services import screens
from schedules.model import ScreenClass
from schedules.protocol.device import CommandKind

log = logging.getLogger(__name__)
router = APIRouter()
TEMPLATES = Path(__file__).resolve().parent / "templates"
NAV = (NavLink("operator", "commands", "nav.commands", "/portal/commands"),)
KINDS = [k.value for k in CommandKind]


def _blank_form(**over: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "kind": CommandKind.IDENTIFY.value, "screen_on": "off", "volume": 50, "screen_ids": [],
        "groups": [], "kinds": [], "screen_classes": [], "building": "", "tag_expr": "",
        "all_screens": False, "ttl_minutes": DEFAULT_TTL_MINUTES,
    }  # fmt: skip
    form.update(over)
    return form


def command_fields(
    kind: Annotated[str, Form(max_length=32)] = CommandKind.IDENTIFY.value,
    screen_on: Annotated[str, Form(max_length=8)] = "off",
    volume: Annotated[int, Form(ge=0, le=100)] = 50,
    screen_ids: Annotated[list[str] | None, Form()] = None,
    groups: Annotated[list[str] | None, Form()] = None,
    kinds: Annotated[list[str] | None, Form()] = None,
    screen_classes: Annotated[list[str] | None, Form()] = None,
    building: Annotated[str, Form(max_length=32)] = "",
    tag_expr: Annotated[str, Form(max_length=300)] = "",
    all_screens: Annotated[str, Form(max_length=8)] = "",
    ttl_minutes: Annotated[int, Form(ge=1, le=7 * 24 * 60)] = DEFAULT_TTL_MINUTES,
) -> dict[str, Any]:
    """The send form's fields, as typed."""
    return _blank_form(
        kind=kind, screen_on=screen_on, volume=volume, screen_ids=screen_ids or [], groups=groups or [],
        kinds=kinds or [], screen_classes=screen_classes or [], building=building.strip(),
        tag_expr=tag_expr.strip(), all_screens=all_screens == "yes", ttl_minutes=ttl_minutes,
    )  # fmt: skip


CommandFields = Annotated[dict[str, Any], Depends(command_fields)]


def _request(form: dict[str, Any]) -> CommandRequest:
    """The form as a request; what an operator can get wrong is said in their language."""
    if form["kind"] not in KINDS:
        raise FormError("commands.bad_kind")
    kind = CommandKind(form["kind"])
    named = any(form[k] for k in ("screen_ids", "groups", "kinds", "screen_classes", "building", "tag_expr"))
    if not named and not form["all_screens"]:
        raise FormError("commands.need_target")
    if form["building"] and not BUILDING.match(form["building"]):
        raise FormError("commands.bad_building")
    selector = Selector(
        screen_ids=tuple(form["screen_ids"]), groups=tuple(form["groups"]), kinds=tuple(form["kinds"]),
        screen_classes=tuple(ScreenClass(c) for c in form["screen_classes"] if c in ScreenClass),
        building=form["building"] or None, tag_expr=form["tag_expr"] or None, all_screens=form["all_screens"],
    )
    return CommandRequest(
        kind=kind, selector=selector, ttl_minutes=form["ttl_minutes"],
        screen_on=(form["screen_on"] == "on") if kind is CommandKind.SCREEN_POWER else None,
        volume=form["volume"] if kind is CommandKind.SET_VOLUME else None,
    )


def _problem(page: OperatorPage, exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(str(e.get("msg", "")).removeprefix("Value error, ") for e in exc.errors())
    return problem_text(page, exc)


def _commands_page(page: OperatorPage, session: Any, now: Any, form: dict[str, Any], errors: list[str],
                   preview: list[Any] | None = None, status_code: int = 200) -> Response:
    live = [d for d in screens.all_devices(session) if d.revoked_at is None]
    context = {
        "section": "commands",
        "form": form,
        "form_errors": errors,
        "kinds": KINDS,
        "states": STATES,
        "devices": live,
        "groups": screens.group_names(session),
        "buildings": screens.building_tags(session),
        "screen_classes": [c.value for c in ScreenClass],
        "preview": preview,
        "sends": services.list_sends(session, now),
    }
    return page.render("commands.html", context, title_key="commands.title", status_code=status_code)


@router.get("/commands")
def commands_page(page: OperatorPage, session: SessionDep, now: NowDep, screen: str = "") -> Response:
    """The send form (``?screen=<id>`` picks one screen) and the latest sends with their states."""
    return _commands_page(page, session, now, _blank_form(screen_ids=[screen[:64]] if screen else []), [])


@router.post("/commands")
def send_command(
    page: OperatorPage,
    request: Request,
    session: SessionDep,
    now: NowDep,
    form: CommandFields,
    confirm: Annotated[str, Form(max_length=8)] = "",
    csrf_token: Csrf = "",
) -> Response:
    """First press: show which screens the selector names. Second (``confirm=yes``): send."""
    page.require_csrf(csrf_token)
    assert page.user is not None
    try:
        req = _request(form)
        if confirm != "yes":
            found = services.matching_devices(session, req.selector)
            if not found:
                raise FormError("commands.none_match")
            return _commands_page(page, session, now, form, [], preview=found)
        notifier: CommandNotifier = request.app.state.command_notifier
        sent = services.send(session, req, user=page.user, address=client_address(request), now=now,
                             notify=notifier.poke)
    except (ServerError, ValueError) as exc:
        session.rollback()
        return _commands_page(page, session, now, form, [_problem(page, exc)], status_code=422)
    return page.redirect(f"/portal/commands/{sent.id}", notice="command_sent")


@router.get("/commands/{send_id}")
def send_page(page: OperatorPage, session: SessionDep, now: NowDep, send_id: str) -> Response:
    view, rows = services.send_detail(session, send_id[:64], now)
    context = {"section": "commands", "view": view, "rows": rows, "states": STATES}
    return page.render("command_detail.html", context, title_key="commands.title")
