"""Signage pages for operators: screens (health, timeline, explanations), claims, offline bundles."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from content_server.core.deps import NowDep, SessionDep
from content_server.core.errors import ServerError
from content_server.portal import forms
from content_server.portal.page import Csrf, OperatorPage, PortalError
from content_server.portal.svg import TimelineBlock, timeline_picture
from content_server.signage import forms as signage_forms
from content_server.signage import screen_view
from content_server.signage.models import Device
from content_server.signage.services import catalogue, insight, screens
from schedules.errors import ScheduleError
from schedules.model import Orientation, ScreenClass

log = logging.getLogger(__name__)
router = APIRouter()

SCREEN_CLASSES = [c.value for c in ScreenClass]


def _screen_form(d: Device | None = None, **override: Any) -> dict[str, Any]:
    on, off = signage_forms.hours_fields(d.hours if d else None)
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
        hours=signage_forms.daily_hours(form["hours_on"], form["hours_off"]),
    )


def _problem(page: OperatorPage, exc: Exception) -> str:
    if isinstance(exc, forms.FormError):
        return page.t(exc.key, **exc.params)
    if isinstance(exc, ValueError) and hasattr(exc, "errors"):
        return page.t("error.fields", fields=", ".join(str(e["loc"][-1]) for e in exc.errors()))
    return str(exc)


def _health_view(page: OperatorPage, session: Any, d: Device, now: dt.datetime) -> screen_view.ScreenView:
    latest, _ = page.request.app.state.manifests.get(session, d, now, days=page.settings.manifest_days)
    health = screens.health(session, d, now=now, settings=page.settings, latest=latest.version)
    current = catalogue.item_title(session, (d.last_heartbeat or {}).get("current_item_id"))
    return screen_view.view(d, health, current)


@router.get("/screens")
def screens_page(page: OperatorPage, session: SessionDep, now: NowDep) -> Response:
    rows = [_health_view(page, session, d, now) for d in screens.all_devices(session) if d.revoked_at is None]
    context = {"section": "screens", "screens": rows, "alerts": screen_view.alerts(rows)}
    return page.render("screens.html", context, title_key="screens.title")


@router.get("/screens/claim")
def claim_form(page: OperatorPage, code: str = "") -> Response:
    context = {
        "section": "screens",
        "form": _screen_form(code=code[:16]),
        "form_errors": [],
        "screen_classes": SCREEN_CLASSES,
    }
    return page.render("claim.html", context, title_key="claim.title")


def screen_fields(
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
) -> dict[str, Any]:
    """The screen settings fields shared by the claim and edit forms, as typed."""
    return {"name": name, "screen_class": screen_class, "orientation": orientation, "width": width,
            "height": height, "groups": groups, "tags": tags, "timezone": timezone, "hours_on": hours_on,
            "hours_off": hours_off}  # fmt: skip


ScreenFields = Annotated[dict[str, Any], Depends(screen_fields)]


@router.post("/screens/claim")
def claim(
    page: OperatorPage,
    session: SessionDep,
    now: NowDep,
    fields: ScreenFields,
    code: Annotated[str, Form(max_length=16)],
    csrf_token: Csrf = "",
) -> Response:
    page.require_csrf(csrf_token)
    form = {"code": code, **fields}
    try:
        device = screens.claim(session, code, _settings_from(form), now=now)
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


def _screen_page(
    page: OperatorPage, session: Any, d: Device, now: dt.datetime, form: dict[str, Any], errors: list[str]
) -> Response:
    tz = ZoneInfo(d.timezone)
    problem = ""
    try:
        day = insight.day_slots(session, d, now)
        blocks = [TimelineBlock(s.start, s.end, s.source.value, label) for s, label in day]
    except (ScheduleError, ServerError) as exc:  # e.g. no default slide yet: say so over an empty day
        log.info("no timeline for %s: %s", d.id, exc)
        blocks, problem = [], page.t("timeline.unavailable", reason=str(exc))
    kind_labels = {
        k: page.t(f"timeline.kind.{k}") for k in ("announcement", "campaign", "filler", "emergency")
    }
    picture = timeline_picture(
        blocks, start=now, tz=tz, title=page.t("timeline.svg_title", name=d.name), kind_labels=kind_labels
    )
    context = {
        "section": "screens",
        "screen": d,
        "status": _health_view(page, session, d, now),
        "form": form,
        "form_errors": errors,
        "screen_classes": SCREEN_CLASSES,
        "timeline_svg": picture,
        "timeline_problem": problem,
    }
    return page.render(
        "screen_detail.html", context, title_key="screens.title", status_code=422 if errors else 200
    )


@router.get("/screens/{screen_id}")
def screen_page(page: OperatorPage, session: SessionDep, now: NowDep, screen_id: str) -> Response:
    d = screens.get_device(session, screen_id)
    return _screen_page(page, session, d, now, _screen_form(d), [])


@router.post("/screens/{screen_id}")
def edit_screen(
    page: OperatorPage,
    session: SessionDep,
    now: NowDep,
    screen_id: str,
    form: ScreenFields,
    csrf_token: Csrf = "",
) -> Response:
    page.require_csrf(csrf_token)
    d = screens.get_device(session, screen_id)
    try:
        patch = screens.ScreenPatch.model_validate(_settings_from(form).model_dump())
        screens.update(session, screen_id, patch, now=now)
    except (ServerError, ValueError) as exc:
        session.rollback()
        return _screen_page(page, session, d, now, form, [_problem(page, exc)])
    return page.redirect(f"/portal/screens/{screen_id}", notice="screen_saved")


@router.post("/screens/{screen_id}/screenshot")
def request_screenshot(
    page: OperatorPage, session: SessionDep, screen_id: str, csrf_token: Csrf = ""
) -> Response:
    """Ask for a fresh screenshot: the screen hears it in its next heartbeat reply."""
    page.require_csrf(csrf_token)
    screens.request_screenshot(session, screen_id)
    return page.redirect(f"/portal/screens/{screen_id}", notice="screenshot_requested")


@router.post("/screens/{screen_id}/revoke")
def revoke_screen(
    page: OperatorPage,
    session: SessionDep,
    now: NowDep,
    screen_id: str,
    confirm: Annotated[str, Form(max_length=8)] = "",
    csrf_token: Csrf = "",
) -> Response:
    """A lost or replaced screen: its key stops working at once (the fast path included)."""
    page.require_csrf(csrf_token)
    if confirm != "yes":
        raise PortalError("screens.revoke_need_confirm", 422)
    screens.revoke(session, screen_id, now=now)
    return page.redirect("/portal/screens", notice="screen_revoked")


@router.get("/screens/{screen_id}/explain")
def explain(page: OperatorPage, session: SessionDep, screen_id: str, at: dt.datetime) -> Response:
    """The engine's explanation of what plays at ``at`` (JSON for the timeline's script)."""
    if at.tzinfo is None:
        return page.json({"detail": page.t("error.bad_date")}, status_code=422)
    d = screens.get_device(session, screen_id)
    try:
        found = insight.explain_at(session, d, at.astimezone(dt.UTC), page.lang)
    except (ScheduleError, ServerError) as exc:
        return page.json({"detail": str(exc)}, status_code=422)
    local = at.astimezone(ZoneInfo(d.timezone)).strftime("%H:%M:%S")
    if found is None:
        return page.json({"text": f"{local} · {page.t('timeline.nothing')}"})
    what, why = found
    return page.json({"text": f"{local} · {what}\n{why}"})


@router.get("/bundles")
def bundles_page(page: OperatorPage, session: SessionDep) -> Response:
    context = {"section": "bundles", "groups": screens.group_names(session), "form_errors": []}
    return page.render("bundles.html", context, title_key="bundles.title")
