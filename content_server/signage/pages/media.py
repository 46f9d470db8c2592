"""Signage pages: the media library (upload with progress; rename, replace, delete; operators pick
the default slides and add web pages and live streams)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from content_server.core.deps import NowDep, SessionDep
from content_server.core.errors import ServerError
from content_server.portal import forms
from content_server.portal.page import Csrf, MediaPage, OperatorPage, Page, PortalError, problem_text
from content_server.signage.services import library
from schedules.model import ItemKind

router = APIRouter()


def _upload_context(page: Page) -> dict[str, Any]:
    return {"upload_endpoint": "/api/v1/media", "max_mb": page.settings.max_upload_bytes // (1024 * 1024)}


LIVE_FORM = {"kind": "web", "url": "", "allowed_hosts": "", "load_timeout_s": "", "title": "",
             "duration_s": "30"}  # fmt: skip


def _library_page(page: Page, session: Any, live_form: dict[str, str], errors: list[str]) -> Response:
    user = page.user
    assert user is not None
    media = [m for m in library.list_for(session, user) if m.owner_id == user.id or m.filler]
    context = {
        "section": "media",
        "media": media,
        "operator": user.role == "operator",
        "live_form": live_form,
        "form_errors": errors,
        **_upload_context(page),
    }
    return page.render("media.html", context, title_key="media.title", status_code=422 if errors else 200)


@router.get("/media")
def media_page(page: MediaPage, session: SessionDep) -> Response:
    """Advertisers see their library; operators theirs plus the community's default slides."""
    return _library_page(page, session, dict(LIVE_FORM), [])


@router.post("/media/live")
def add_live(
    page: OperatorPage,
    session: SessionDep,
    now: NowDep,
    kind: Annotated[str, Form(max_length=8)] = "web",
    url: Annotated[str, Form(max_length=2000)] = "",
    allowed_hosts: Annotated[str, Form(max_length=2000)] = "",
    load_timeout_s: Annotated[str, Form(max_length=8)] = "",
    title: Annotated[str, Form(max_length=200)] = "",
    duration_s: Annotated[str, Form(max_length=8)] = "30",
    csrf_token: Csrf = "",
) -> Response:
    """An operator's web page or live stream (no file: its address); a refused address keeps the form."""
    page.require_csrf(csrf_token)
    assert page.user is not None
    form = {"kind": kind, "url": url, "allowed_hosts": allowed_hosts, "load_timeout_s": load_timeout_s,
            "title": title, "duration_s": duration_s}  # fmt: skip
    if kind not in ("web", "stream"):  # the form offers only these
        raise PortalError("error.invalid_form", 422)
    try:
        seconds = forms.parse_number(duration_s, "duration_s", low=5, high=3600) or 30.0
        timeout = forms.parse_number(load_timeout_s, "load_timeout_s", low=1, high=120)
        library.add_live(
            session, page.user, ItemKind(kind), url,
            allowed_hosts=[h for h in re.split(r"[\s,，]+", allowed_hosts) if h],
            load_timeout_s=timeout, title=title, duration_s=seconds, now=now,
        )  # fmt: skip
    except (ServerError, forms.FormError) as exc:
        session.rollback()
        return _library_page(page, session, form, [problem_text(page, exc)])
    return page.redirect("/portal/media", notice="media_live_added")



def _media_page(page: Page, session: Any, media_id: str, errors: list[str]) -> Response:
    assert page.user is not None
    m = library.visible(session, page.user, media_id)
    campaigns, announcements = library.users_of(session, m.id)
    context = {
        "section": "media", "m": m, "campaigns": campaigns, "announcements": announcements,
        "form_errors": errors, **_upload_context(page),
    }  # fmt: skip
    return page.render(
        "media_detail.html", context, title_key="media.title", status_code=409 if errors else 200
    )


@router.get("/media/{media_id}")
def media_detail(page: MediaPage, session: SessionDep, media_id: str) -> Response:
    """One library entry: what uses it; rename, replace or delete it."""
    return _media_page(page, session, media_id, [])


@router.post("/media/{media_id}/rename")
def rename(
    page: MediaPage,
    session: SessionDep,
    now: NowDep,
    media_id: str,
    title: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Csrf = "",
) -> Response:
    page.require_csrf(csrf_token)
    assert page.user is not None
    if not title.strip():
        return _media_page(page, session, media_id, [page.t("campaign.need_name")])
    library.edit(session, page.user, media_id, title=title.strip(), duration_s=None, filler=None, now=now)
    return page.redirect(f"/portal/media/{media_id}", notice="media_renamed")


@router.post("/media/{media_id}/replace")
def replace(
    page: MediaPage,
    session: SessionDep,
    now: NowDep,
    media_id: str,
    upload_id: Annotated[str, Form(max_length=64)] = "",
    fresh: Annotated[str, Form(max_length=8)] = "",
    csrf_token: Csrf = "",
) -> Response:
    """The page's script uploaded the new file (the one upload path); it takes the old one's place."""
    page.require_csrf(csrf_token)
    assert page.user is not None
    try:
        requeued = library.replace(
            session, page.user, media_id, upload_id, discard_upload=fresh == "yes", now=now
        )
    except ServerError as exc:
        session.rollback()
        return _media_page(page, session, media_id, [problem_text(page, exc)])
    return page.redirect(
        f"/portal/media/{media_id}", notice="media_requeued" if requeued else "media_replaced"
    )


@router.post("/media/{media_id}/delete")
def delete(
    page: MediaPage,
    session: SessionDep,
    now: NowDep,
    media_id: str,
    confirm: Annotated[str, Form(max_length=8)] = "",
    csrf_token: Csrf = "",
) -> Response:
    """Delete an entry; refused, naming them, while a campaign or an announcement still shows it."""
    page.require_csrf(csrf_token)
    assert page.user is not None
    if confirm != "yes":
        raise PortalError("media.delete_need_confirm", 422)
    try:
        library.delete(session, page.user, media_id, now=now)
    except ServerError as exc:
        session.rollback()
        return _media_page(page, session, media_id, [problem_text(page, exc)])
    return page.redirect("/portal/media", notice="media_deleted")


@router.post("/media/{media_id}/filler")
def set_filler(
    page: OperatorPage,
    session: SessionDep,
    now: NowDep,
    media_id: str,
    filler: Annotated[bool, Form()] = False,
    csrf_token: Csrf = "",
) -> Response:
    """Operators choose the community's default slides: what screens show when nothing is booked."""
    page.require_csrf(csrf_token)
    assert page.user is not None
    library.edit(session, page.user, media_id, title=None, duration_s=None, filler=filler, now=now)
    return page.redirect("/portal/media", notice="filler_saved")
