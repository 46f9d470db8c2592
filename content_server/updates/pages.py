"""Portal page of software updates (operators): releases with their device counts, the upload of a
signed release, rollouts with their waves, pause/resume/abort, group pins, and the alert banner
when a rollout paused itself."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response
from sqlalchemy import select

from content_server.core.deps import NowDep, SessionDep
from content_server.core.errors import ServerError
from content_server.portal.page import Csrf, OperatorPage, Page
from content_server.portal.shell import NavLink
from content_server.signage.models import Device
from content_server.updates import services

router = APIRouter()
TEMPLATES = Path(__file__).resolve().parent / "templates"
NAV = (NavLink("operator", "updates", "nav.updates", "/portal/updates"),)
EMPTY_ROLLOUT = {
    "version": "",
    "canary": "canary",
    "waves": "10, 50, 100",
    "scope": "",
    "max_failure": "20",
    "allow_downgrade": "",
}


def _groups(session: Any) -> list[str]:
    groups: set[str] = set()
    for g in session.scalars(select(Device.groups).where(Device.revoked_at.is_(None))):
        groups.update(g or ())
    return sorted(groups)


def _page(page: Page, session: Any, now: dt.datetime, form: dict[str, str], errors: list[str]) -> Response:
    offline_after = dt.timedelta(seconds=page.settings.offline_after_s)
    repo = page.request.app.state.update_repository
    context = {
        "section": "updates",
        "repository": repo.status(now),
        "alerts": services.open_alerts(session),
        "releases": services.releases_overview(session),
        "unlisted": services.unlisted_versions(session),
        "rollouts": services.rollouts_overview(session, now, offline_after),
        "pins": services.pins(session),
        "groups": _groups(session),
        "form": form,
        "form_errors": errors,
        "upload_endpoint": "/api/v1/updates/releases",
        "max_mb": page.settings.max_upload_bytes // (1024 * 1024),
    }
    return page.render("updates.html", context, title_key="updates.title", status_code=422 if errors else 200)


@router.get("/updates")
def updates_page(page: OperatorPage, session: SessionDep, now: NowDep) -> Response:
    return _page(page, session, now, dict(EMPTY_ROLLOUT), [])


def _act(page: Page, session: Any, now: dt.datetime, change: Callable[[], object], notice: str) -> Response:
    """Run one change; on success back to the page with ``notice``, else the page with the reason."""
    try:
        change()
    except ServerError as exc:
        session.rollback()
        return _page(page, session, now, dict(EMPTY_ROLLOUT), [str(exc)])
    return page.redirect("/portal/updates", notice=notice)


def _split(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.replace("，", ",").split(",") if p.strip())


@router.post("/updates/rollouts")
def start_rollout(
    page: OperatorPage,
    session: SessionDep,
    now: NowDep,
    version: Annotated[str, Form(max_length=64)] = "",
    canary: Annotated[str, Form(max_length=500)] = "",
    waves: Annotated[str, Form(max_length=500)] = "",
    scope: Annotated[str, Form(max_length=500)] = "",
    max_failure: Annotated[str, Form(max_length=8)] = "20",
    allow_downgrade: Annotated[str, Form(max_length=8)] = "",
    csrf_token: Csrf = "",
) -> Response:
    """Canary group first, then the waves; each waits for the one before to pass its health gate."""
    page.require_csrf(csrf_token)
    assert page.user is not None
    form = {
        "version": version,
        "canary": canary,
        "waves": waves,
        "scope": scope,
        "max_failure": max_failure,
        "allow_downgrade": allow_downgrade,
    }
    try:
        share = float(max_failure or "20") / 100
        spec = services.RolloutSpec(
            version,
            services.parse_waves(_split(canary), waves),
            _split(scope),
            share,
            allow_downgrade == "on",
        )
        services.start_rollout(session, spec, page.user, now)
    except ValueError:
        return _page(page, session, now, form, [page.t("updates.bad_share")])
    except ServerError as exc:
        session.rollback()
        return _page(page, session, now, form, [str(exc)])
    return page.redirect("/portal/updates", notice="rollout_started")


@router.post("/updates/rollouts/{rollout_id}/{action}")
def change_rollout(
    page: OperatorPage, session: SessionDep, now: NowDep, rollout_id: str, action: str, csrf_token: Csrf = ""
) -> Response:
    page.require_csrf(csrf_token)
    user = page.user
    assert user is not None
    return _act(
        page,
        session,
        now,
        lambda: services.change_rollout(session, rollout_id, action, user, now),
        f"rollout_{action}",
    )


@router.post("/updates/pins")
def set_pin(
    page: OperatorPage,
    session: SessionDep,
    now: NowDep,
    group: Annotated[str, Form(max_length=100)] = "",
    version: Annotated[str, Form(max_length=64)] = "",
    allow_downgrade: Annotated[str, Form(max_length=8)] = "",
    csrf_token: Csrf = "",
) -> Response:
    page.require_csrf(csrf_token)
    user = page.user
    assert user is not None
    return _act(
        page,
        session,
        now,
        lambda: services.set_pin(session, group, version, allow_downgrade == "on", user, now),
        "pin_saved",
    )


@router.post("/updates/pins/{group}/remove")
def remove_pin(
    page: OperatorPage, session: SessionDep, now: NowDep, group: str, csrf_token: Csrf = ""
) -> Response:
    page.require_csrf(csrf_token)
    return _act(page, session, now, lambda: services.remove_pin(session, group), "pin_removed")


@router.post("/updates/alerts/{alert_id}/acknowledge")
def acknowledge(
    page: OperatorPage, session: SessionDep, now: NowDep, alert_id: int, csrf_token: Csrf = ""
) -> Response:
    page.require_csrf(csrf_token)
    user = page.user
    assert user is not None
    return _act(
        page,
        session,
        now,
        lambda: services.acknowledge(session, alert_id, user, now),
        "update_alert_acknowledged",
    )
