"""Signage pages for operators: screens (health, timeline, explanations), claims, offline bundles."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form
from fastapi.responses import FileResponse, Response

from content_server.core.deps import NowDep, SessionDep, StoreDep
from content_server.core.errors import ServerError
from content_server.portal import forms
from content_server.portal.page import Csrf, OperatorPage, PortalError, problem_text
from content_server.portal.svg import KINDS, TimelineBlock, summarise, timeline_legend, timeline_picture
from content_server.signage import forms as signage_forms
from content_server.signage import screen_view
from content_server.signage.models import Device
from content_server.signage.services import catalogue, insight, screens
from schedules.errors import ScheduleError
from schedules.model import Orientation, ScreenClass
from schedules.wallclock import hour_start

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


def _health_view(page: OperatorPage, session: Any, d: Device, now: dt.datetime) -> screen_view.ScreenView:
    latest, _ = page.request.app.state.manifests.get(session, d, now, days=page.settings.manifest_days)
    health = screens.health(session, d, now=now, settings=page.settings, latest=latest.version)
    current = catalogue.item_title(session, (d.last_heartbeat or {}).get("current_item_id"))
    return screen_view.view(d, health, current)


def _screens_live(page: OperatorPage, session: Any, now: dt.datetime) -> dict[str, Any]:
    rows = [_health_view(page, session, d, now) for d in screens.all_devices(session) if d.revoked_at is None]
    return {"screens": rows, "alerts": screen_view.alerts(rows)}


@router.get("/screens")
def screens_page(page: OperatorPage, session: SessionDep, now: NowDep) -> Response:
    """Every screen's health and latest screenshot; the list refreshes itself while it is open."""
    live = page.live_block("screens_live.html", _screens_live(page, session, now), url="/portal/screens/live")
    return page.render("screens.html", {"section": "screens", "live": live}, title_key="screens.title")


@router.get("/screens/live")
def screens_live(page: OperatorPage, session: SessionDep, now: NowDep, v: str | None = None) -> Response:
    """The screens list's refresh: 204 while nothing changed."""
    live = _screens_live(page, session, now)
    return page.live("screens_live.html", live, url="/portal/screens/live", known=v)


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
            "form_errors": [problem_text(page, exc)],
            "screen_classes": SCREEN_CLASSES,
        }
        return page.render("claim.html", context, title_key="claim.title", status_code=422)
    return page.redirect(f"/portal/screens/{device.id}", notice="screen_claimed")


def _screen_page(
    page: OperatorPage, session: Any, d: Device, now: dt.datetime, form: dict[str, Any], errors: list[str]
) -> Response:
    tz = ZoneInfo(d.timezone)
    # the picture, its rows and the slots on them begin at the top of the local hour: from now, the
    # first row at xx:59 was a sliver that read "nothing plays" and the day's shares were short
    origin = hour_start(now, d.timezone)
    problem = ""
    try:
        day = insight.day_slots(session, d, origin)
        blocks = [TimelineBlock(s.start, s.end, s.source.value, label) for s, label in day]
    except (ScheduleError, ServerError) as exc:  # e.g. no default slide yet: say so over an empty day
        log.info("no timeline for %s: %s", d.id, exc)
        blocks, problem = [], page.t("timeline.unavailable", reason=problem_text(page, exc))
    kind_labels = {k: page.t(f"timeline.kind.{k}") for k in KINDS}
    summary = summarise(blocks, start=origin, tz=tz)
    in_words = page.t("timeline.summary", shares=_shares(page, summary.shares, kind_labels))
    picture = timeline_picture(
        blocks, start=origin, tz=tz, title=page.t("timeline.svg_title", name=d.name), summary=in_words,
        kind_labels=kind_labels,
    )  # fmt: skip
    context = {
        "section": "screens",
        "screen": d,
        "status": page.live_block(
            "screen_status.html", _status(page, session, d, now), url=f"/portal/screens/{d.id}/live"
        ),
        "form": form,
        "form_errors": errors,
        "screen_classes": SCREEN_CLASSES,
        "timeline_svg": picture,
        "timeline_legend": timeline_legend(kind_labels),
        "timeline_summary": in_words,
        "timeline_hours": [(h, _shares(page, h.shares, kind_labels)) for h in summary.hours],
        "timeline_problem": problem,
        "explain_default": now.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
    }
    return page.render(
        "screen_detail.html", context, title_key="screens.title", status_code=422 if errors else 200
    )


def _status(page: OperatorPage, session: Any, d: Device, now: dt.datetime) -> dict[str, Any]:
    return {"screen": d, "status": _health_view(page, session, d, now)}


@router.get("/screens/{screen_id}/live")
def screen_live(
    page: OperatorPage, session: SessionDep, now: NowDep, screen_id: str, v: str | None = None
) -> Response:
    """The screen's status card refreshing itself (a requested screenshot appears when it arrives)."""
    d = screens.get_device(session, screen_id)
    url = f"/portal/screens/{d.id}/live"
    return page.live("screen_status.html", _status(page, session, d, now), url=url, known=v)


@router.get("/screens/{screen_id}/screenshot")
def screenshot(page: OperatorPage, session: SessionDep, store: StoreDep, screen_id: str) -> Response:
    """The screen's latest screenshot for operators (never cached: the next one replaces it)."""
    sha = screens.latest_screenshot(session, screen_id)
    path = store.path_for(sha)
    if not path.is_file():
        raise PortalError("error.not_found", 404)
    return page.finish(FileResponse(path, media_type="image/png", headers={"Cache-Control": "no-store"}))


def _shares(page: OperatorPage, shares: dict[str, float], labels: dict[str, str]) -> str:
    """``"公告 30%、广告 20%"``: the kinds that play, largest first."""
    parts = [
        page.t("timeline.share", kind=labels[k], percent=f"{v * 100:.0f}")
        for k, v in sorted(shares.items(), key=lambda kv: -kv[1])
        if v >= 0.005
    ]
    return ("、" if page.lang == "zh" else ", ").join(parts) or page.t("timeline.nothing")


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
        return _screen_page(page, session, d, now, form, [problem_text(page, exc)])
    return page.redirect(f"/portal/screens/{screen_id}", notice="screen_saved")


@router.post("/screens/{screen_id}/screenshot")
def request_screenshot(
    page: OperatorPage, session: SessionDep, screen_id: str, csrf_token: Csrf = ""
) -> Response:
    """Ask for a fresh screenshot: the screen hears it in its next heartbeat reply. The page's live
    status says "requested" until the picture arrives (a flash notice would outlive it)."""
    page.require_csrf(csrf_token)
    screens.request_screenshot(session, screen_id)
    return page.redirect(f"/portal/screens/{screen_id}")


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
    """The engine's explanation of what plays at ``at`` (JSON for the timeline's script). A time
    without an offset is the screen's own wall-clock time (the keyboard's "explain this time")."""
    d = screens.get_device(session, screen_id)
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(d.timezone))
    try:
        found = insight.explain_at(session, d, at.astimezone(dt.UTC), page.lang)
    except (ScheduleError, ServerError) as exc:
        return page.json({"detail": problem_text(page, exc)}, status_code=422)
    local = at.astimezone(ZoneInfo(d.timezone)).strftime("%H:%M:%S")
    if found is None:
        return page.json({"text": f"{local} · {page.t('timeline.nothing')}"})
    what, why = found
    return page.json({"text": f"{local} · {what}\n{why}"})


@router.get("/bundles")
def bundles_page(page: OperatorPage, session: SessionDep) -> Response:
    context = {"section": "bundles", "groups": screens.group_names(session), "form_errors": []}
    return page.render("bundles.html", context, title_key="bundles.title")
