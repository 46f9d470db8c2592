"""Operator pages: approval queue (campaigns and accounts), screens, pairing claims."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from content_server.core import auth
from content_server.core.deps import NowDep, SessionDep
from content_server.core.errors import ServerError
from content_server.models import CampaignRow, Device
from content_server.portal import forms, insight, queries, screen_view
from content_server.portal.routes import advertiser
from content_server.portal.svg import timeline_picture
from content_server.portal.web import OperatorPage, PortalError
from content_server.services import bookings, library, screens
from schedules.errors import ScheduleError
from schedules.model import Orientation, Priority, ScreenClass

log = logging.getLogger(__name__)
router = APIRouter()

Csrf = Annotated[str, Form(max_length=128)]
SCREEN_CLASSES = [c.value for c in ScreenClass]
OPERATOR_TZ = forms.COMMUNITY_TZ


@dataclass(frozen=True)
class PendingCampaign:
    campaign: CampaignRow
    advertiser: str
    targeting_text: str
    availability_text: str
    preview_src: str | None


def _availability_text(page: OperatorPage, availability: dict[str, Any] | None) -> str:
    if not availability:
        return "—"
    if availability.get("fits"):
        return page.t("approvals.fits")
    return page.t("availability.no_fit", max=f"{availability.get('max_share_percent', 0):g}")


@router.get("/approvals")
def approvals(page: OperatorPage, session: SessionDep) -> Response:
    assert page.user is not None
    pending = [
        PendingCampaign(
            campaign=c,
            advertiser=queries.account_name(session, c.advertiser_id),
            targeting_text=advertiser.targeting_text(page, c.targeting),
            availability_text=_availability_text(page, c.availability),
            preview_src=advertiser.preview_src(session, page.user, c.media_ids),
        )
        for c in bookings.list_campaigns(session, page.user, "pending")
    ]
    context = {"section": "approvals", "pending": pending, "accounts": queries.pending_accounts(session)}
    return page.render("approvals.html", context, title_key="approvals.title")


@router.post("/approvals/campaigns/{campaign_id}/{action}")
def decide_campaign(
    page: OperatorPage,
    session: SessionDep,
    now: NowDep,
    campaign_id: str,
    action: Literal["approve", "reject"],
    reason: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Csrf = "",
) -> Response:
    page.require_csrf(csrf_token)
    assert page.user is not None
    if action == "reject" and not reason.strip():
        raise PortalError("approvals.need_reason", 422)
    bookings.decide_campaign(session, page.user, campaign_id, action, reason=reason, now=now)
    session.commit()
    notice = "campaign_approved" if action == "approve" else "campaign_rejected"
    return page.redirect("/portal/approvals", notice=notice)


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


def _health_view(page: OperatorPage, session: Any, d: Device, now: dt.datetime) -> screen_view.ScreenView:
    latest, _ = page.request.app.state.manifests.get(session, d, now, days=page.settings.manifest_days)
    health = screens.health(session, d, now=now, settings=page.settings, latest=latest.version)
    current = queries.item_title(session, (d.last_heartbeat or {}).get("current_item_id"))
    return screen_view.view(d, health, current)


@router.get("/screens")
def screens_page(page: OperatorPage, session: SessionDep, now: NowDep) -> Response:
    rows = [_health_view(page, session, d, now) for d in queries.all_screens(session) if d.revoked_at is None]
    session.commit()  # the manifest cache may have recorded what it served
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


def _screen_page(
    page: OperatorPage, session: Any, d: Device, now: dt.datetime, form: dict[str, Any], errors: list[str]
) -> Response:
    tz = ZoneInfo(d.timezone)
    problem = ""
    try:
        blocks = insight.day_blocks(session, d, now)
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
    session.commit()
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
        session.commit()
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
    screens.get_device(session, screen_id).screenshot_requested = True
    session.commit()
    return page.redirect(f"/portal/screens/{screen_id}", notice="screenshot_requested")


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


# ---- announcements and emergencies ------------------------------------------------------------


def _announcement_form(now: dt.datetime, **over: Any) -> dict[str, Any]:
    local = now.astimezone(OPERATOR_TZ)
    form: dict[str, Any] = {
        "title": "", "text_zh": "", "text_en": "", "media_id": "", "priority": "normal",
        "screen_classes": [], "groups": [], "tag_expr": "",
        "valid_from": local.strftime("%Y-%m-%dT%H:%M"), "valid_until": "",
    }  # fmt: skip
    form.update(over)
    return form


def _announcements_page(
    page: OperatorPage, session: Any, now: dt.datetime, form: dict[str, Any], errors: list[str]
) -> Response:
    assert page.user is not None
    context = {
        "section": "announcements",
        "form": form,
        "form_errors": errors,
        "announcements": [a for a in queries.announcements(session) if a.priority != "emergency"],
        "images": [m for m in library.list_for(session, page.user) if m.kind == "image"],
        "screen_classes": SCREEN_CLASSES,
        "groups": queries.screen_groups(session),
    }
    status_code = 422 if errors else 200
    return page.render(
        "announcements.html", context, title_key="announcements.title", status_code=status_code
    )


@router.get("/announcements")
def announcements_page(page: OperatorPage, session: SessionDep, now: NowDep) -> Response:
    return _announcements_page(page, session, now, _announcement_form(now), [])


def _texts(text_zh: str, text_en: str) -> dict[str, str]:
    return {k: v.strip() for k, v in (("zh", text_zh), ("en", text_en)) if v.strip()}


@router.post("/announcements")
def publish_announcement(
    page: OperatorPage,
    session: SessionDep,
    now: NowDep,
    title: Annotated[str, Form(max_length=200)] = "",
    text_zh: Annotated[str, Form(max_length=2000)] = "",
    text_en: Annotated[str, Form(max_length=2000)] = "",
    media_id: Annotated[str, Form(max_length=64)] = "",
    priority: Annotated[Literal["normal", "important"], Form()] = "normal",
    screen_classes: Annotated[list[str] | None, Form()] = None,
    groups: Annotated[list[str] | None, Form()] = None,
    tag_expr: Annotated[str, Form(max_length=300)] = "",
    valid_from: Annotated[str, Form(max_length=32)] = "",
    valid_until: Annotated[str, Form(max_length=32)] = "",
    csrf_token: Csrf = "",
) -> Response:
    page.require_csrf(csrf_token)
    assert page.user is not None
    form = _announcement_form(
        now, title=title, text_zh=text_zh, text_en=text_en, media_id=media_id, priority=priority,
        screen_classes=screen_classes or [], groups=groups or [], tag_expr=tag_expr, valid_from=valid_from,
        valid_until=valid_until,
    )  # fmt: skip
    try:
        texts = _texts(text_zh, text_en)
        if not texts and not media_id:
            raise forms.FormError("announcements.need_text")
        body = bookings.AnnouncementIn(
            title=title.strip(),
            text=texts,
            ticker_text=texts,
            media_ids=[media_id] if media_id else [],
            priority=Priority(priority),
            valid_from=forms.parse_local_datetime(valid_from, OPERATOR_TZ),
            valid_until=forms.parse_local_datetime(valid_until, OPERATOR_TZ),
            targeting=forms.targeting(screen_classes or [], groups or [], tag_expr=tag_expr),
        )
        bookings.create_announcement(session, page.user, body, now=now)
        session.commit()
    except (ServerError, ValueError) as exc:
        session.rollback()
        return _announcements_page(page, session, now, form, [advertiser.problem_text(page, exc)])
    return page.redirect("/portal/announcements", notice="announcement_published")


@router.post("/announcements/{ann_id}/end")
def end_announcement(
    page: OperatorPage, session: SessionDep, now: NowDep, ann_id: str, csrf_token: Csrf = ""
) -> Response:
    page.require_csrf(csrf_token)
    _end(page, session, now, ann_id)
    return page.redirect("/portal/announcements", notice="announcement_ended")


def _end(page: OperatorPage, session: Any, now: dt.datetime, ann_id: str) -> None:
    """End an announcement; an emergency's end reaches the screens' long-polls at once."""
    row = bookings.move_announcement(session, ann_id, "end", now=now)
    session.commit()
    if row.priority == Priority.EMERGENCY.value:
        page.request.app.state.emergency.invalidate()


def _emergency_page(
    page: OperatorPage, session: Any, now: dt.datetime, form: dict[str, Any], errors: list[str], confirm: bool
) -> Response:
    active = [a for a in queries.announcements(session) if a.priority == "emergency" and a.state == "active"]
    context = {
        "section": "emergency",
        "active": active,
        "form": form,
        "form_errors": errors,
        "confirm": confirm,
        "screen_classes": SCREEN_CLASSES,
        "groups": queries.screen_groups(session),
        "targeting_text": advertiser.targeting_text(
            page,
            forms.targeting(form["screen_classes"], form["groups"], tag_expr=form["tag_expr"]).model_dump(),
        ),
    }
    status_code = 422 if errors else 200
    return page.render("emergency.html", context, title_key="emergency.title", status_code=status_code)


@router.get("/emergency")
def emergency_page(page: OperatorPage, session: SessionDep, now: NowDep) -> Response:
    return _emergency_page(page, session, now, _announcement_form(now), [], confirm=False)


@router.post("/emergency/send")
def send_emergency(
    page: OperatorPage,
    session: SessionDep,
    now: NowDep,
    title: Annotated[str, Form(max_length=200)] = "",
    text_zh: Annotated[str, Form(max_length=500)] = "",
    text_en: Annotated[str, Form(max_length=500)] = "",
    screen_classes: Annotated[list[str] | None, Form()] = None,
    groups: Annotated[list[str] | None, Form()] = None,
    tag_expr: Annotated[str, Form(max_length=300)] = "",
    confirmed: Annotated[str, Form(max_length=8)] = "",
    csrf_token: Csrf = "",
) -> Response:
    """First post shows a confirmation step; only the confirmed second post broadcasts."""
    page.require_csrf(csrf_token)
    assert page.user is not None
    form = _announcement_form(
        now, title=title, text_zh=text_zh, text_en=text_en, screen_classes=screen_classes or [],
        groups=groups or [], tag_expr=tag_expr,
    )  # fmt: skip
    try:
        if not text_zh.strip() or not title.strip():
            raise forms.FormError("emergency.need_text")
        body = bookings.AnnouncementIn(
            title=title.strip(),
            text=_texts(text_zh, text_en),
            priority=Priority.EMERGENCY,
            valid_from=now,
            targeting=forms.targeting(screen_classes or [], groups or [], tag_expr=tag_expr),
        )
        if confirmed != "yes":
            return _emergency_page(page, session, now, form, [], confirm=True)
        bookings.create_announcement(session, page.user, body, now=now)
        session.commit()
    except (ServerError, ValueError) as exc:
        session.rollback()
        return _emergency_page(page, session, now, form, [advertiser.problem_text(page, exc)], confirm=False)
    page.request.app.state.emergency.invalidate()  # wake the screens' long-polls now
    log.warning("emergency broadcast %r sent by %s", title, page.user.username)
    return page.redirect("/portal/emergency", notice="emergency_sent")


@router.post("/emergency/{ann_id}/end")
def end_emergency(
    page: OperatorPage, session: SessionDep, now: NowDep, ann_id: str, csrf_token: Csrf = ""
) -> Response:
    page.require_csrf(csrf_token)
    _end(page, session, now, ann_id)
    return page.redirect("/portal/emergency", notice="emergency_ended")


# ---- offline bundles ---------------------------------------------------------------------------


@router.get("/bundles")
def bundles_page(page: OperatorPage, session: SessionDep) -> Response:
    context = {"section": "bundles", "groups": queries.screen_groups(session), "form_errors": []}
    return page.render("bundles.html", context, title_key="bundles.title")
