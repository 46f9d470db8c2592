"""Operator pages: approval queue (campaigns and accounts), screens, pairing claims."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from content_server import auth
from content_server.api.deps import NowDep, SessionDep
from content_server.errors import ServerError
from content_server.models import Device
from content_server.portal import forms, queries, screen_view
from content_server.portal.web import OperatorPage
from content_server.services import screens
from schedules.model import Orientation, ScreenClass

log = logging.getLogger(__name__)
router = APIRouter()

Csrf = Annotated[str, Form(max_length=128)]
SCREEN_CLASSES = [c.value for c in ScreenClass]


@router.get("/approvals")
def approvals(page: OperatorPage, session: SessionDep) -> Response:
    context = {"section": "approvals", "pending": [], "accounts": queries.pending_accounts(session)}
    return page.render("approvals.html", context, title_key="approvals.title")


@router.post("/approvals/accounts/{user_id}/approve")
def approve_account(page: OperatorPage, session: SessionDep, user_id: str, csrf_token: Csrf = "") -> Response:
    page.require_csrf(csrf_token)
    user = auth.set_approved(session, user_id, True)
    session.commit()
    log.info("operator %s approved account %s", page.user and page.user.username, user.username)
    return page.redirect("/portal/approvals", notice="account_approved")


# ---- screens -------------------------------------------------------------------------------


def _screen_form(d: Device | None = None, **override: Any) -> dict[str, Any]:
    on, off = forms.hours_fields(d.hours if d else None)
    form: dict[str, Any] = {
        "code": "",
        "name": d.name if d else "",
        "screen_class": d.screen_class if d else ScreenClass.INDOOR_SMALL.value,
        "orientation": d.orientation if d else Orientation.LANDSCAPE.value,
        "width": d.width if d else 1920,
        "height": d.height if d else 1080,
        "groups": ", ".join(d.groups or ()) if d else "",
        "tags": ", ".join(d.tags or ()) if d else "",
        "timezone": d.timezone if d else "Asia/Shanghai",
        "hours_on": on,
        "hours_off": off,
    }
    form.update(override)
    return form


def _settings_from(form: dict[str, Any]) -> screens.ScreenSettings:
    return screens.ScreenSettings(
        name=form["name"].strip(),
        screen_class=ScreenClass(form["screen_class"]),
        orientation=Orientation(form["orientation"]),
        width=int(form["width"]),
        height=int(form["height"]),
        groups=forms.split_list(form["groups"]),
        tags=forms.split_list(form["tags"]),
        timezone=form["timezone"].strip() or "Asia/Shanghai",
        hours=forms.daily_hours(form["hours_on"], form["hours_off"]),
    )


def _problem(page: OperatorPage, exc: Exception) -> str:
    if isinstance(exc, forms.FormError):
        return page.t(exc.key, **exc.params)
    if isinstance(exc, ValueError) and hasattr(exc, "errors"):
        return page.t("error.fields", fields=", ".join(str(e["loc"][-1]) for e in exc.errors()))
    return str(exc)


@router.get("/screens")
def screens_page(page: OperatorPage, session: SessionDep, now: NowDep) -> Response:
    rows = [
        screen_view.view(d, page.settings, now) for d in queries.all_screens(session) if d.revoked_at is None
    ]
    return page.render("screens.html", {"section": "screens", "screens": rows}, title_key="screens.title")


@router.get("/screens/claim")
def claim_form(page: OperatorPage, code: str = "") -> Response:
    context = {
        "section": "screens",
        "form": _screen_form(code=code[:16]),
        "form_errors": [],
        "screen_classes": SCREEN_CLASSES,
    }
    return page.render("claim.html", context, title_key="claim.title")


@router.post("/screens/claim")
def claim(
    page: OperatorPage,
    session: SessionDep,
    now: NowDep,
    code: Annotated[str, Form(max_length=16)],
    name: Annotated[str, Form(max_length=200)] = "",
    screen_class: Annotated[str, Form(max_length=32)] = "indoor_small",
    orientation: Annotated[str, Form(max_length=16)] = "landscape",
    width: Annotated[int, Form(ge=64, le=16384)] = 1920,
    height: Annotated[int, Form(ge=64, le=16384)] = 1080,
    groups: Annotated[str, Form(max_length=500)] = "",
    tags: Annotated[str, Form(max_length=500)] = "",
    timezone: Annotated[str, Form(max_length=64)] = "Asia/Shanghai",
    hours_on: Annotated[str, Form(max_length=8)] = "",
    hours_off: Annotated[str, Form(max_length=8)] = "",
    csrf_token: Csrf = "",
) -> Response:
    page.require_csrf(csrf_token)
    form = {
        "code": code,
        "name": name,
        "screen_class": screen_class,
        "orientation": orientation,
        "width": width,
        "height": height,
        "groups": groups,
        "tags": tags,
        "timezone": timezone,
        "hours_on": hours_on,
        "hours_off": hours_off,
    }
    try:
        device = screens.claim(session, code, _settings_from(form), now=now)
        session.commit()
    except (ServerError, ValueError) as exc:
        session.rollback()
        context = {
            "section": "screens",
            "form": form,
            "form_errors": [_problem(page, exc)],
            "screen_classes": SCREEN_CLASSES,
        }
        return page.render("claim.html", context, title_key="claim.title", status_code=422)
    return page.redirect(f"/portal/screens/{device.id}", notice="screen_claimed")
