"""Signage pages for operators: announcements and the emergency broadcast (with a confirmation step)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form
from fastapi.responses import Response

from content_server.core.deps import NowDep, SessionDep
from content_server.core.errors import ServerError
from content_server.portal import forms
from content_server.portal.page import Csrf, OperatorPage, problem_text
from content_server.signage import forms as signage_forms
from content_server.signage.pages.describe import targeting_text
from content_server.signage.pages.screens import SCREEN_CLASSES
from content_server.signage.services import bookings, delivery, library, screens
from schedules.model import Priority

log = logging.getLogger(__name__)
router = APIRouter()


def _announcement_form(now: dt.datetime, tz: dt.tzinfo, **over: Any) -> dict[str, Any]:
    local = now.astimezone(tz)
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
    listed = [a for a in bookings.list_announcements(session) if a.priority != "emergency"]
    context = {
        "section": "announcements",
        "form": form,
        "form_errors": errors,
        "announcements": listed,
        "where": {a.id: targeting_text(page, a.targeting) for a in listed},
        # pictures, and the operators' web pages and live streams
        "images": [m for m in library.list_for(session, page.user) if m.kind in ("image", "web", "stream")],
        "screen_classes": SCREEN_CLASSES,
        "groups": screens.group_names(session),
    }
    status_code = 422 if errors else 200
    return page.render(
        "announcements.html", context, title_key="announcements.title", status_code=status_code
    )


@router.get("/announcements")
def announcements_page(page: OperatorPage, session: SessionDep, now: NowDep) -> Response:
    return _announcements_page(page, session, now, _announcement_form(now, page.tz), [])


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
        now, page.tz, title=title, text_zh=text_zh, text_en=text_en, media_id=media_id, priority=priority,
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
            valid_from=forms.parse_local_datetime(valid_from, page.tz),
            valid_until=forms.parse_local_datetime(valid_until, page.tz),
            targeting=signage_forms.targeting(screen_classes or [], groups or [], tag_expr=tag_expr),
        )
        bookings.create_announcement(session, page.user, body, now=now)
    except (ServerError, ValueError) as exc:
        session.rollback()
        return _announcements_page(page, session, now, form, [problem_text(page, exc)])
    return page.redirect("/portal/announcements", notice="announcement_published")


@router.post("/announcements/{ann_id}/end")
def end_announcement(
    page: OperatorPage, session: SessionDep, now: NowDep, ann_id: str, csrf_token: Csrf = ""
) -> Response:
    page.require_csrf(csrf_token)
    _end(page, session, now, ann_id)
    return page.redirect("/portal/announcements", notice="announcement_ended")


def _end(page: OperatorPage, session: Any, now: dt.datetime, ann_id: str) -> None:
    """End an announcement (an emergency's end wakes the screens' long-polls: ``core.changes``)."""
    bookings.move_announcement(session, ann_id, "end", now=now)


def _on_air(session: Any, now: dt.datetime) -> dict[str, Any]:
    """The emergency broadcasts on air, each with who has it (``delivery``)."""
    active = [
        a for a in bookings.list_announcements(session) if a.priority == "emergency" and a.state == "active"
    ]
    return {"active": active, "deliveries": delivery.deliveries(session, now)}


@router.get("/emergency/live")
def emergency_live(page: OperatorPage, session: SessionDep, now: NowDep, v: str | None = None) -> Response:
    """The broadcasts on air refreshing themselves: screens report back as they show it."""
    return page.live("emergency_live.html", _on_air(session, now), url="/portal/emergency/live", known=v)


def _emergency_page(
    page: OperatorPage, session: Any, now: dt.datetime, form: dict[str, Any], errors: list[str], confirm: bool
) -> Response:
    targeting = signage_forms.targeting(form["screen_classes"], form["groups"], tag_expr=form["tag_expr"])
    on_air = _on_air(session, now)
    context = {
        "section": "emergency",
        "on_air": page.live_block("emergency_live.html", on_air, url="/portal/emergency/live")
        if on_air["active"] else None,
        "targets": delivery.targeted_names(session, targeting) if confirm else [],
        "form": form,
        "form_errors": errors,
        "confirm": confirm,
        "screen_classes": SCREEN_CLASSES,
        "groups": screens.group_names(session),
        "targeting_text": targeting_text(page, targeting.model_dump()),
    }
    status_code = 422 if errors else 200
    return page.render("emergency.html", context, title_key="emergency.title", status_code=status_code)


@router.get("/emergency")
def emergency_page(page: OperatorPage, session: SessionDep, now: NowDep) -> Response:
    return _emergency_page(page, session, now, _announcement_form(now, page.tz), [], confirm=False)


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
        now, page.tz, title=title, text_zh=text_zh, text_en=text_en, screen_classes=screen_classes or [],
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
            targeting=signage_forms.targeting(screen_classes or [], groups or [], tag_expr=tag_expr),
        )
        if confirmed != "yes":
            return _emergency_page(page, session, now, form, [], confirm=True)
        bookings.create_announcement(session, page.user, body, now=now)
    except (ServerError, ValueError) as exc:
        session.rollback()
        return _emergency_page(page, session, now, form, [problem_text(page, exc)], confirm=False)
    log.warning("emergency broadcast %r sent by %s", title, page.user.username)
    return page.redirect("/portal/emergency", notice="emergency_sent")


@router.post("/emergency/{ann_id}/end")
def end_emergency(
    page: OperatorPage, session: SessionDep, now: NowDep, ann_id: str, csrf_token: Csrf = ""
) -> Response:
    page.require_csrf(csrf_token)
    _end(page, session, now, ann_id)
    return page.redirect("/portal/emergency", notice="emergency_ended")
