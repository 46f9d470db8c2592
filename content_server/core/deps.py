"""Typed FastAPI dependencies every feature shares: clock, settings, DB session, store, current user/role.

Users authenticate with the portal's session cookie or ``Authorization: Bearer <api token>``.
(Devices authenticate with their device key: ``content_server.signage.deps``.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from content_server.core import auth, security
from content_server.core.audit.services import Actor, act_as
from content_server.core.db import get_session, release_connection
from content_server.core.errors import Forbidden, Unauthorized
from content_server.core.login_guard import KNOWN_DEVICE_COOKIE, KNOWN_DEVICE_LIFETIME
from content_server.core.models import User
from content_server.core.settings import Settings
from content_server.core.store import MediaStore
from schedules.clock import Clock

SESSION_COOKIE = "signage_session"


# The dependencies that only read the app's state are coroutines: FastAPI runs a plain function
# dependency on a worker thread, a hop that costs more than the look-up itself.


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_clock(request: Request) -> Clock:
    """The app's one clock (tests move it)."""
    clock: Clock = request.app.state.clock
    return clock


async def get_now(request: Request) -> dt.datetime:
    """Now on the app's clock; always timezone-aware UTC."""
    clock: Clock = request.app.state.clock
    return clock.now()


async def get_store(request: Request) -> MediaStore:
    store: MediaStore = request.app.state.store
    return store


SessionDep = Annotated[Session, Depends(get_session)]
NowDep = Annotated[dt.datetime, Depends(get_now)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[MediaStore, Depends(get_store)]


def client_address(request: Request) -> str:
    """The client's address (log-in throttling, the audit trail); a proxy's ``X-Forwarded-For``
    counts only from SIGNAGE_TRUSTED_PROXIES (uvicorn has already applied it to ``request.client``)."""
    return request.client.host if request.client else "unknown"


def set_known_device(response: Response, value: str, *, secure: bool) -> None:
    response.set_cookie(
        KNOWN_DEVICE_COOKIE,
        value,
        max_age=int(KNOWN_DEVICE_LIFETIME.total_seconds()),
        httponly=True,
        secure=secure,
        samesite="lax",
        path="/",
    )


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def current_user(request: Request, session: SessionDep, now: NowDep) -> User:
    """The logged-in user from the session cookie or a bearer API token; 401 otherwise.

    A write authenticated by the portal's session cookie must carry the page's CSRF token in
    ``X-CSRF-Token`` (the portal's scripts send it): a cookie is sent by the browser for any
    site's request, a bearer token only by code that holds it.
    """
    token = bearer_token(request)
    if token is None:
        token = request.cookies.get(SESSION_COOKIE)
        if token and request.method.upper() not in SAFE_METHODS:
            settings: Settings = request.app.state.settings
            if not security.csrf_valid(
                settings.secret_key,
                request.cookies.get(security.CSRF_COOKIE),
                token,
                request.headers.get(security.CSRF_HEADER),
            ):
                raise Forbidden("a write with the portal's session cookie needs its X-CSRF-Token header")
    if not token:
        raise Unauthorized("log in first (session cookie or Authorization: Bearer token)")
    user = auth.user_for_token(session, token, now)
    act_as(session, Actor.of_user(user, client_address(request)))  # what this request changes is theirs
    release_connection(session)
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(*roles: str, approved: bool = True) -> Callable[[User], User]:
    """Dependency factory: the user must hold one of ``roles`` (and be approved unless told otherwise)."""
    allowed = frozenset(auth.Role(r).value for r in roles)

    def dependency(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise Forbidden(f"this needs the role {' or '.join(sorted(allowed))}")
        if approved and not user.approved:
            raise Forbidden("your account is waiting for an operator's approval")
        return user

    return dependency


Operator = Annotated[User, Depends(require_role("operator"))]
Advertiser = Annotated[User, Depends(require_role("advertiser"))]
OperatorOrAdvertiser = Annotated[User, Depends(require_role("operator", "advertiser"))]
